import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { agentAction, getAgent, listAgents } from './agents';
import { ApiError, CSRF_HEADER, buildQuery, configureClient, parseRetryAfter, readCookie, request } from './client';
import { getAuthConfig, getMe } from './identity';

// Error bodies as grpc-gateway (runtime.DefaultHTTPErrorHandler) and the
// gateway's own handlers write them.
const invalidArgumentBody = {
  code: 3,
  message: 'agent.name: value does not match regex pattern `^[a-z]([a-z0-9-]*[a-z0-9])?$`',
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'INVALID_ARGUMENT',
      domain: 'platformportal.dev',
      metadata: {},
    },
    {
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: 'agent.name', description: 'value does not match regex pattern' }],
    },
  ],
};

interface Call {
  url: string;
  init: RequestInit;
}

let calls: Call[];

function respondWith(status: number, body: unknown, headers: Record<string, string> = {}) {
  const fetchMock = vi.fn((url: string, init: RequestInit) => {
    calls.push({ url, init });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return Promise.resolve(
      new Response(status === 204 ? null : text, {
        status,
        headers: { 'Content-Type': 'application/json', ...headers },
      }),
    );
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('request succeeded, want an ApiError');
}

function header(call: Call | undefined, name: string): string | null {
  return new Headers(call?.init.headers).get(name);
}

beforeEach(() => {
  calls = [];
  configureClient({});
  document.cookie = 'portal_csrf=csrf-token-123; path=/';
  document.cookie = 'other=1; path=/';
});

afterEach(() => {
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
  document.cookie = 'other=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

describe('ApiError from grpc-gateway bodies', () => {
  it('parses code, message, ErrorInfo and BadRequest field violations (400)', async () => {
    respondWith(400, invalidArgumentBody);
    const err = await failure(request('/api/v1/agents', { method: 'POST', body: { name: 'Bad Name' } }));
    expect(err.status).toBe(400);
    expect(err.code).toBe(3);
    expect(err.codeName).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(invalidArgumentBody.message);
    expect(err.reason).toBe('INVALID_ARGUMENT');
    expect(err.domain).toBe('platformportal.dev');
    expect(err.metadata).toEqual({});
    expect(err.fieldViolations).toEqual([{ field: 'agent.name', description: 'value does not match regex pattern' }]);
    expect(err.fieldError('agent.name')).toBe('value does not match regex pattern');
    expect(err.fieldError('agent.kind')).toBeUndefined();
    expect(err.retryAfter).toBeUndefined();
    expect(err.errorId).toBeUndefined();
    expect(err.name).toBe('ApiError');
  });

  it('calls onUnauthenticated on a 401 and still throws', async () => {
    const onUnauthenticated = vi.fn();
    configureClient({ onUnauthenticated });
    respondWith(401, { code: 16, message: 'log in: no session cookie or API token' });
    const err = await failure(getMe());
    expect(err.status).toBe(401);
    expect(err.code).toBe(16);
    expect(err.codeName).toBe('UNAUTHENTICATED');
    expect(err.message).toBe('log in: no session cookie or API token');
    expect(err.fieldViolations).toEqual([]);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(onUnauthenticated).toHaveBeenCalledWith(err);
  });

  it('does not call onUnauthenticated for other errors', async () => {
    const onUnauthenticated = vi.fn();
    configureClient({ onUnauthenticated });
    respondWith(403, { code: 7, message: 'operator role required' });
    const err = await failure(getAgent('a1'));
    expect(err.codeName).toBe('PERMISSION_DENIED');
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('reads Retry-After on a 429', async () => {
    respondWith(
      429,
      { code: 8, message: 'rate limit of 20 requests a second (burst 40) exceeded; retry in 3 s' },
      { 'Retry-After': '3' },
    );
    const err = await failure(listAgents());
    expect(err.status).toBe(429);
    expect(err.codeName).toBe('RESOURCE_EXHAUSTED');
    expect(err.retryAfter).toBe(3);
  });

  it('extracts the error id of a 503', async () => {
    respondWith(503, {
      code: 14,
      message: 'cannot check credentials now; retry (error id 1234-abcd-5678)',
    });
    const err = await failure(getMe());
    expect(err.status).toBe(503);
    expect(err.code).toBe(14);
    expect(err.codeName).toBe('UNAVAILABLE');
    expect(err.errorId).toBe('1234-abcd-5678');
  });

  it('takes the reason of the login routes’ bodies', async () => {
    respondWith(404, { code: 5, message: 'OIDC login is not configured', reason: 'OIDC_DISABLED' });
    const err = await failure(getAuthConfig());
    expect(err.codeName).toBe('NOT_FOUND');
    expect(err.reason).toBe('OIDC_DISABLED');
  });

  it('keeps the status when the body is not JSON', async () => {
    respondWith(502, '<html>Bad Gateway</html>', { 'Content-Type': 'text/html' });
    const err = await failure(getMe());
    expect(err.status).toBe(502);
    expect(err.codeName).toBe('UNAVAILABLE');
    expect(err.message).toBe('<html>Bad Gateway</html>');
  });

  it('turns a network failure into status 0, UNAVAILABLE', async () => {
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('Failed to fetch'))));
    const err = await failure(getMe());
    expect(err.status).toBe(0);
    expect(err.codeName).toBe('UNAVAILABLE');
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('rethrows an abort as is', async () => {
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new DOMException('aborted', 'AbortError'))));
    await expect(getMe()).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('requests', () => {
  it('sends the CSRF token on writes only', async () => {
    respondWith(200, { agent: { id: 'a1' } });
    await getAgent('a1');
    await agentAction('a1', 'start', { etag: 'e1', reason: 'go' });
    await request('/api/v1/agents/a1', { method: 'PATCH', body: {} });
    await request('/api/v1/agents/a1', { method: 'DELETE' });
    await request('/api/v1/x', { method: 'PUT', body: {} });
    expect(calls.map((c) => [c.init.method, header(c, CSRF_HEADER)])).toEqual([
      ['GET', null],
      ['POST', 'csrf-token-123'],
      ['PATCH', 'csrf-token-123'],
      ['DELETE', 'csrf-token-123'],
      ['PUT', 'csrf-token-123'],
    ]);
  });

  it('sends no CSRF header when there is no cookie', async () => {
    document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
    respondWith(200, {});
    await agentAction('a1', 'stop');
    expect(header(calls[0], CSRF_HEADER)).toBeNull();
  });

  it('is same-origin JSON', async () => {
    respondWith(200, { agent: { id: 'a1', state: 'AGENT_STATE_RUNNING' } });
    const res = await agentAction('a1', 'restart', { etag: '"7"', reason: 'stuck' });
    expect(res.agent?.state).toBe('AGENT_STATE_RUNNING');
    const call = calls[0];
    expect(call?.url).toBe('/api/v1/agents/a1:restart');
    expect(call?.init.method).toBe('POST');
    expect(call?.init.credentials).toBe('same-origin');
    expect(header(call, 'Content-Type')).toBe('application/json');
    expect(header(call, 'Accept')).toBe('application/json');
    expect(JSON.parse(call?.init.body as string)).toEqual({ etag: '"7"', reason: 'stuck' });
  });

  it('encodes listAgents parameters as grpc-gateway reads them', async () => {
    respondWith(200, { agents: [], nextPageToken: '', totalSize: 0 });
    await listAgents({
      pageSize: 25,
      pageToken: 'tok/1',
      states: ['AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED'],
      query: 'memory',
      orderBy: 'name desc',
    });
    const url = new URL(calls[0]?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/agents');
    expect(url.searchParams.get('page_size')).toBe('25');
    expect(url.searchParams.get('page_token')).toBe('tok/1');
    expect(url.searchParams.getAll('states')).toEqual(['AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED']);
    expect(url.searchParams.get('query')).toBe('memory');
    expect(url.searchParams.get('order_by')).toBe('name desc');
    expect([...url.searchParams.keys()].sort()).toEqual([
      'order_by',
      'page_size',
      'page_token',
      'query',
      'states',
      'states',
    ]);
  });

  it('sends no query for no parameters, and escapes the id', async () => {
    respondWith(200, {});
    await listAgents();
    await getAgent('a/b');
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/agents', '/api/v1/agents/a%2Fb']);
  });

  it('returns undefined for an empty body', async () => {
    respondWith(204, '');
    await expect(request('/api/v1/agents/a1', { method: 'DELETE' })).resolves.toBeUndefined();
  });

  it('reads the auth config', async () => {
    const cfg = {
      oidc_enabled: false,
      oidc_issuer: '',
      login_url: '/auth/login',
      dev_login_enabled: true,
      dev_login_url: '/auth/dev/login',
      logout_url: '/auth/logout',
      csrf_header: 'X-CSRF-Token',
      csrf_cookie: 'portal_csrf',
    };
    respondWith(200, cfg);
    await expect(getAuthConfig()).resolves.toEqual(cfg);
    expect(calls[0]?.url).toBe('/auth/config');
  });
});

describe('helpers', () => {
  it('parseRetryAfter reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10);
  });

  it('readCookie finds one cookie among many', () => {
    expect(readCookie('portal_csrf', 'a=1; portal_csrf=x%2By; b=2')).toBe('x+y');
    expect(readCookie('portal_csrf', 'a=1')).toBeUndefined();
  });

  it('buildQuery skips empty values and repeats arrays', () => {
    expect(buildQuery({ a: undefined, b: '', c: null, d: [1, 2], e: true })).toBe('?d=1&d=2&e=true');
    expect(buildQuery({})).toBe('');
  });

  it('a RetryInfo detail sets retryAfter without the header', async () => {
    respondWith(503, {
      code: 14,
      message: 'busy',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' }],
    });
    const err = await failure(getMe());
    expect(err.retryAfter).toBe(3);
  });
});
