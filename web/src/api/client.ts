// The one fetch wrapper every REST call goes through: same-origin, JSON in and
// out, the CSRF token on writes, and one typed error (ApiError) for every
// failure, parsed from grpc-gateway's google.rpc.Status bodies.

/** gRPC status code names, indexed by number (google.rpc.Code). */
export const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export type GrpcCodeName = (typeof GRPC_CODES)[number];

/** The CSRF cookie and header the gateway uses (also in GET /auth/config). */
export const CSRF_COOKIE = 'portal_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** One invalid field, from a google.rpc.BadRequest detail. */
export interface FieldViolation {
  field: string;
  description: string;
}

export interface ApiErrorInit {
  status: number;
  code: number;
  message: string;
  reason?: string | undefined;
  domain?: string | undefined;
  metadata?: Record<string, string> | undefined;
  fieldViolations?: FieldViolation[] | undefined;
  retryAfter?: number | undefined;
  errorId?: string | undefined;
  cause?: unknown;
}

/**
 * ApiError is every failed REST call: the HTTP status, the gRPC code (number
 * and name), the message, and what the details carry.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no response arrived (network failure). */
  readonly status: number;
  /** gRPC code number, from the body's `code` (or derived from the status). */
  readonly code: number;
  /** gRPC code name, e.g. "INVALID_ARGUMENT". */
  readonly codeName: GrpcCodeName;
  /** google.rpc.ErrorInfo reason, e.g. "ETAG_MISMATCH". */
  readonly reason: string | undefined;
  readonly domain: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** Seconds to wait before retrying (429's Retry-After). */
  readonly retryAfter: number | undefined;
  /** The id the server logged an internal error under: "(error id …)". */
  readonly errorId: string | undefined;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.codeName = GRPC_CODES[init.code] ?? 'UNKNOWN';
    this.reason = init.reason;
    this.domain = init.domain;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfter = init.retryAfter;
    this.errorId = init.errorId;
  }

  /** The description of the named field's violation, for a form. */
  fieldError(field: string): string | undefined {
    return this.fieldViolations.find((v) => v.field === field)?.description;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** The gRPC code grpc-gateway would have answered with this HTTP status. */
export function codeForStatus(status: number): number {
  switch (status) {
    case 400:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 409:
      return 10; // ABORTED
    case 412:
      return 9; // FAILED_PRECONDITION
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 499:
      return 1; // CANCELLED
    case 501:
      return 12; // UNIMPLEMENTED
    case 502:
    case 503:
      return 14; // UNAVAILABLE
    case 504:
      return 4; // DEADLINE_EXCEEDED
    default:
      return status >= 500 ? 13 : 2; // INTERNAL : UNKNOWN
  }
}

const errorIdPattern = /\(error id ([^)\s]+)\)/;

/** Retry-After: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') {
    return undefined;
  }
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    return Number(v);
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A protobuf Duration in JSON ("3.5s") as seconds. */
function parseDurationSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
  return m?.[1] === undefined ? undefined : Math.ceil(Number(m[1]));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * parseApiError turns a failed response's status, headers and body text into
 * an ApiError. The body is google.rpc.Status as grpc-gateway writes it
 * ({code, message, details: [Any…]}), or the login routes' {code, message,
 * reason}; anything else (a proxy's HTML page) keeps the status and text.
 */
export function parseApiError(status: number, headers: Headers, bodyText: string): ApiError {
  let body: unknown;
  try {
    body = bodyText === '' ? undefined : JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  let code = codeForStatus(status);
  let message = bodyText.trim().slice(0, 500) || `HTTP ${status}`;
  let reason: string | undefined;
  let domain: string | undefined;
  let metadata: Record<string, string> | undefined;
  const fieldViolations: FieldViolation[] = [];
  let retryAfter = parseRetryAfter(headers.get('Retry-After'));

  if (isRecord(body)) {
    if (typeof body.code === 'number' && Number.isInteger(body.code) && body.code >= 0) {
      code = body.code;
    }
    message = str(body.message) ?? message;
    reason = str(body.reason);
    const details = Array.isArray(body.details) ? (body.details as unknown[]) : [];
    for (const d of details) {
      if (!isRecord(d)) {
        continue;
      }
      switch (d['@type']) {
        case ERROR_INFO_TYPE:
          reason = str(d.reason) ?? reason;
          domain = str(d.domain);
          if (isRecord(d.metadata)) {
            metadata = {};
            for (const [k, v] of Object.entries(d.metadata)) {
              if (typeof v === 'string') {
                metadata[k] = v;
              }
            }
          }
          break;
        case BAD_REQUEST_TYPE:
          if (Array.isArray(d.fieldViolations)) {
            for (const v of d.fieldViolations as unknown[]) {
              if (isRecord(v)) {
                fieldViolations.push({ field: str(v.field) ?? '', description: str(v.description) ?? '' });
              }
            }
          }
          break;
        case RETRY_INFO_TYPE:
          retryAfter ??= parseDurationSeconds(d.retryDelay);
          break;
      }
    }
  }
  return new ApiError({
    status,
    code,
    message,
    reason,
    domain,
    metadata,
    fieldViolations,
    retryAfter,
    errorId: errorIdPattern.exec(message)?.[1],
  });
}

export interface ClientConfig {
  /**
   * Called on every 401 (after the ApiError is built, before it is thrown):
   * the app sends the user to log in.
   */
  onUnauthenticated?: ((err: ApiError) => void) | undefined;
}

let config: ClientConfig = {};

/** configureClient sets the hooks every request uses (replacing earlier ones). */
export function configureClient(c: ClientConfig): void {
  config = { ...c };
}

/** The value of the named cookie, or undefined. */
export function readCookie(name: string, cookies: string = document.cookie): string | undefined {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      continue;
    }
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

type QueryScalar = string | number | boolean;
export type QueryValue = QueryScalar | readonly QueryScalar[] | null | undefined;

export interface RequestOptions {
  method?: Method;
  /** Query parameters; arrays repeat the key, empty values are left out. */
  query?: Readonly<Record<string, QueryValue>>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

const writeMethods: ReadonlySet<Method> = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** buildQuery encodes query parameters the way grpc-gateway reads them. */
export function buildQuery(query: Readonly<Record<string, QueryValue>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values: readonly QueryValue[] = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined || v === null || v === '') {
        continue;
      }
      params.append(key, String(v));
    }
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

/**
 * request calls the portal's REST API at a same-origin path and returns the
 * decoded JSON body (undefined for an empty one). It throws ApiError for any
 * failure, including the network's (status 0, UNAVAILABLE); an aborted
 * request rethrows the AbortError.
 */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers = new Headers({ Accept: 'application/json' });
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(opts.body);
  }
  if (writeMethods.has(method)) {
    const token = readCookie(CSRF_COOKIE);
    if (token !== undefined) {
      headers.set(CSRF_HEADER, token);
    }
  }
  const url = path + (opts.query ? buildQuery(opts.query) : '');

  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') {
      throw err;
    }
    throw new ApiError({
      status: 0,
      code: 14, // UNAVAILABLE
      message: `cannot reach the portal: ${err instanceof Error ? err.message : String(err)}`,
      cause: err,
    });
  }

  const text = await res.text();
  if (!res.ok) {
    const err = parseApiError(res.status, res.headers, text);
    if (res.status === 401) {
      config.onUnauthenticated?.(err);
    }
    throw err;
  }
  if (text === '') {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new ApiError({
      status: res.status,
      code: 13, // INTERNAL
      message: `${method} ${path}: response is not JSON`,
      cause,
    });
  }
}
