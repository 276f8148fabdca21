// The browser end-to-end harness: one real portal (bin/portal, built by
// `make build` with the web UI embedded) on a fresh PostgreSQL database, and
// Debian's chromium driven by playwright-core. Nothing is built here.
//
//   const portal = usePortal();          // in a test file: before/after hooks
//   portal.url, portal.api(method, path, body), portal.logTail()
//   const browser = useBrowser();        // chromium for the file's tests: before/after hooks
//   const browser = await newBrowser();  // or by hand: chromium with the flags CI needs
//   await devLogin(page, email, role, name)
//   await screenshot(page, 'shell-dark-desktop')
//
// Every wait is bounded; a portal that does not start fails with its last log
// lines in the error.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(E2E_DIR, '..');
export const PORTAL_BIN = path.join(REPO, 'bin', 'portal');
export const AGENT_BIN = path.join(REPO, 'bin', 'agent');
export const SCREENSHOT_DIR = path.join(E2E_DIR, 'screenshots');
export const LOG_DIR = path.join(E2E_DIR, 'logs');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const PG_HOST = '127.0.0.1';
const PG_PORT = '5432';
const PG_USER = 'postgres';

const READY_TIMEOUT_MS = 60_000;
const READYZ_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 20_000;
const LOG_TAIL = 60;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** withTimeout rejects with `what` if p has not settled within ms. */
export async function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

function psql(sql) {
  return run('psql', ['-h', PG_HOST, '-p', PG_PORT, '-U', PG_USER, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], {
    timeout: 30_000,
  });
}

/** The portal's environment: the caller's, minus anything that would configure it. */
function portalEnv(db, dataDir) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(PORTAL_|DATABASE_|NATS_|OIDC_|AUTH_|GATEWAY_|PROVISIONING_|AUDIT_|AGENTS_|LOG_|OTEL_)/.test(k)) {
      env[k] = v;
    }
  }
  return {
    ...env,
    PORTAL_HTTP_ADDR: '127.0.0.1:0',
    PORTAL_GRPC_ADDR: '127.0.0.1:0',
    PORTAL_NATS_ADDR: '127.0.0.1:0',
    PORTAL_DATA_DIR: dataDir,
    DATABASE_URL: `postgres://${PG_HOST}:${PG_PORT}/${db}?sslmode=disable`,
    AUTH_DEV_LOGIN: 'true',
    AUTH_COOKIE_SECURE: 'false',
    GATEWAY_RATE_LIMIT: '0',
    PROVISIONING_AGENT_BINARY: AGENT_BIN,
    LOG_LEVEL: 'info',
    // E2E_UI_DIR: test a UI built elsewhere (a vite build's dist/) without
    // rebuilding the binary; the embedded one otherwise.
    ...(process.env.E2E_UI_DIR ? { GATEWAY_UI_DIR: path.resolve(process.env.E2E_UI_DIR) } : {}),
  };
}

export class Portal {
  constructor() {
    this.db = `e2e_${randomBytes(6).toString('hex')}`;
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'portal-e2e-'));
    this.env = portalEnv(this.db, this.dataDir);
    this.lines = [];
    this.proc = undefined;
    this.exited = undefined; // a promise of {code, signal}
    this.url = '';
    this.token = '';
  }

  /** logTail is the portal's last n log lines (stdout and stderr). */
  logTail(n = LOG_TAIL) {
    return this.lines.slice(-n).join('\n');
  }

  fail(msg, cause) {
    const err = new Error(`${msg}\n--- the portal's last ${LOG_TAIL} log lines (${this.logFile}) ---\n${this.logTail()}\n---`);
    if (cause) {
      err.cause = cause;
    }
    return err;
  }

  async start() {
    if (!existsSync(PORTAL_BIN)) {
      throw new Error(`${PORTAL_BIN} is missing: run \`make build\` first (make test-e2e does)`);
    }
    mkdirSync(LOG_DIR, { recursive: true });
    this.logFile = path.join(LOG_DIR, `${this.db}.log`);
    const logStream = createWriteStream(this.logFile);
    const t0 = Date.now();
    this.proc = spawn(PORTAL_BIN, [], { cwd: this.dataDir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve({ code, signal }));
      this.proc.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    let onReady;
    const ready = new Promise((resolve) => {
      onReady = resolve;
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 2000) {
          this.lines.splice(0, 1000);
        }
        logStream.write(line + '\n');
        if (line.includes('"portal ready"')) {
          try {
            const rec = JSON.parse(line);
            if (rec.msg === 'portal ready' && rec.http_addr) {
              onReady(rec.http_addr);
            }
          } catch {
            // not JSON: ignore
          }
        }
      });
    }
    const early = this.exited.then((e) => {
      throw this.fail(`the portal exited before it was ready (code ${e.code}, signal ${e.signal}${e.error ? `, ${e.error.message}` : ''})`);
    });
    let addr;
    try {
      addr = await withTimeout(Promise.race([ready, early]), READY_TIMEOUT_MS, 'waiting for the "portal ready" log line');
    } catch (err) {
      if (err.message.includes('--- the portal')) {
        throw err;
      }
      throw this.fail(err.message, err);
    }
    early.catch(() => undefined); // the process may exit later, at stop()
    this.url = `http://${addr}`;

    const deadline = Date.now() + READYZ_TIMEOUT_MS;
    let last = '';
    for (;;) {
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        if (res.status === 200) {
          break;
        }
        last = `${res.status} ${(await res.text()).slice(0, 300)}`;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() > deadline) {
        throw this.fail(`GET /readyz did not answer 200 within ${READYZ_TIMEOUT_MS} ms (last: ${last})`);
      }
      await sleep(200);
    }

    try {
      const { stdout } = await run(PORTAL_BIN, ['token', 'create', '-name', 'e2e', '-role', 'admin'], {
        cwd: this.dataDir,
        env: this.env,
        timeout: 30_000,
      });
      this.token = stdout.trim().split('\n').pop().trim();
    } catch (err) {
      throw this.fail(`portal token create failed: ${err.message}\n${err.stderr ?? ''}`, err);
    }
    if (!this.token) {
      throw this.fail('portal token create printed no secret');
    }
    this.startupMs = Date.now() - t0;
    return this;
  }

  /**
   * apiRaw calls the REST API with the admin token: {status, body} (body parsed
   * as JSON when it is JSON).
   */
  async apiRaw(method, p, body) {
    const res = await fetch(this.url + p, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** api calls the REST API with the admin token; non-2xx throws with the body. */
  async api(method, p, body) {
    const { status, body: out } = await this.apiRaw(method, p, body);
    if (status < 200 || status > 299) {
      throw new Error(`${method} ${p}: ${status} ${typeof out === 'string' ? out : JSON.stringify(out)}`);
    }
    return out;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const done = await withTimeout(this.exited, STOP_GRACE_MS, 'stopping').catch(() => undefined);
      if (!done) {
        console.error(`the portal did not stop within ${STOP_GRACE_MS} ms of SIGTERM: SIGKILL`);
        this.proc.kill('SIGKILL');
        await withTimeout(this.exited, 10_000, 'waiting for the portal to die').catch(() => undefined);
      }
    }
    try {
      await psql(`DROP DATABASE IF EXISTS "${this.db}" WITH (FORCE)`);
    } catch (err) {
      console.error(`dropping database ${this.db}: ${err.message}`);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

let current;

/**
 * usePortal starts a portal before the file's tests and stops it (and drops its
 * database) after them. The returned object is the Portal once started.
 */
export function usePortal() {
  const portal = new Portal();
  // (Node 20 may run a file's top-level before hooks side by side: other
  // hooks that need the portal await portal.started.)
  let started;
  portal.started = new Promise((resolve, reject) => {
    started = { resolve, reject };
  });
  portal.started.catch(() => undefined);
  before(async () => {
    try {
      await portal.start();
      current = portal;
      started.resolve(portal);
    } catch (err) {
      started.reject(err);
      throw err;
    }
  });
  after(async () => {
    if (current === portal) {
      current = undefined;
    }
    await portal.stop();
  });
  return portal;
}

/** api(method, path, body) calls the current portal's REST API as the e2e admin token. */
export function api(method, p, body) {
  if (!current) {
    throw new Error('api(): no portal is running (call usePortal() in the test file)');
  }
  return current.api(method, p, body);
}

/** newBrowser launches Debian's chromium (fresh profile) with the flags CI needs. */
export async function newBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return withTimeout(
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 }),
    40_000,
    'launching chromium',
  );
}

/**
 * useBrowser launches chromium (newBrowser) before the file's tests and closes
 * it after them. What it returns stands for that browser once launched: pass
 * it to newContext. Used before the launch (at a file's top level), it throws.
 */
export function useBrowser() {
  let browser;
  before(async () => {
    browser = await newBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  return new Proxy(
    {},
    {
      get(_, prop) {
        if (prop === 'then') {
          return undefined; // not a promise: `await` gives the object back
        }
        if (!browser) {
          throw new Error(`useBrowser(): chromium is not launched yet (browser.${String(prop)} used before the before hook)`);
        }
        const v = Reflect.get(browser, prop);
        return typeof v === 'function' ? v.bind(browser) : v;
      },
    },
  );
}

/**
 * newContext opens a browser context on the portal with bounded timeouts, and
 * records the page errors and console errors of its pages in ctx.problems.
 */
export async function newContext(browser, portal, options = {}) {
  const ctx = await browser.newContext({ baseURL: portal.url, viewport: { width: 1280, height: 800 }, ...options });
  ctx.setDefaultTimeout(15_000);
  ctx.setDefaultNavigationTimeout(20_000);
  ctx.problems = [];
  ctx.on('page', (page) => watchPage(page, ctx.problems));
  return ctx;
}

function watchPage(page, problems) {
  page.on('pageerror', (err) => problems.push(`pageerror on ${page.url()}: ${err.message}`));
  page.on('console', (msg) => {
    // Failed loads are recorded with their URL by the response handler below.
    if (msg.type() === 'error' && !/^Failed to load resource/.test(msg.text())) {
      problems.push(`console.error on ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('response', async (res) => {
    const u = new URL(res.url());
    // A signed-out page's GET /api/v1/me answers 401: expected, not a problem.
    if (res.status() >= 400 && !(res.status() === 401 && u.pathname === '/api/v1/me')) {
      let body = '';
      try {
        body = (await res.text()).slice(0, 300);
      } catch {
        // gone with the page
      }
      problems.push(`${res.request().method()} ${u.pathname}${u.search} answered ${res.status()} on ${page.url()}: ${body}`);
    }
  });
  page.on('requestfailed', (req) => {
    const err = req.failure()?.errorText ?? '';
    // Navigations and closing pages abort requests in flight: not a problem.
    if (!/ERR_ABORTED/.test(err)) {
      problems.push(`${req.method()} ${req.url()} failed on ${page.url()}: ${err}`);
    }
  });
}

/**
 * devLogin logs the page in with the development login form (/auth/dev):
 * email, name, role; it returns once the form's redirect has landed.
 */
export async function devLogin(page, email, role, name = '') {
  await page.goto('/auth/dev');
  await page.getByLabel('Email').fill(email);
  if (name) {
    await page.getByLabel('Name').fill(name);
  }
  await page.getByLabel('Role').selectOption(role);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/auth/'), { timeout: 20_000 }),
    page.getByRole('button', { name: /log in/i }).click(),
  ]);
}

/** screenshot writes a full-page PNG to e2e/screenshots/<name>.png (git-ignored). */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^a-zA-Z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', timeout: 15_000 });
  return file;
}

/** csrfFetch runs fetch in the page with the X-CSRF-Token from the portal_csrf cookie: {status, body}. */
export function pageFetch(page, method, p, body) {
  return page.evaluate(
    async ({ method, p, body }) => {
      const m = document.cookie.match(/(?:^|;\s*)portal_csrf=([^;]*)/);
      const headers = { 'Content-Type': 'application/json' };
      if (m) {
        headers['X-CSRF-Token'] = decodeURIComponent(m[1]);
      }
      const res = await fetch(p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: res.status, body: parsed, csrf: Boolean(m) };
    },
    { method, p, body },
  );
}

export { sleep };
