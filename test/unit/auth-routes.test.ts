// The account API over a real HTTP server on port 0, with the real SQLite store.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthService } from '../../src/auth/accounts.ts';
import { MemoryLoginLimiter } from '../../src/auth/limiter.ts';
import { MemorySessions } from '../../src/auth/memory-sessions.ts';
import { PasswordHasher } from '../../src/auth/passwords.ts';
import { authRoutes } from '../../src/auth/routes.ts';
import { createHttpServer, listen } from '../../src/ops/http.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const IDLE_MS = 30 * 60_000;

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

describe('auth routes over HTTP', () => {
  let dir: string;
  let store: SqliteStore;
  let sessions: MemorySessions;
  let auth: AuthService;
  let server: Server;
  let base: string;
  let port: number;
  let now = 1_700_000_000_000;
  let n = 0;

  async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
  }

  function newUser() {
    n++;
    return { username: `route_user_${n}`, email: `route${n}@example.com`, password: `secret-${n}-pw` };
  }

  async function registered() {
    const user = newUser();
    const res = await post('/api/register', user);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return user;
  }

  async function login(user: { username: string; password: string }, headers: Record<string, string> = {}) {
    return post('/api/login', { username: user.username, password: user.password }, headers);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bm-auth-routes-'));
    store = new SqliteStore(join(dir, 'routes.sqlite3'));
    await store.migrate();
    sessions = new MemorySessions({ idleMs: IDLE_MS, now: () => now, sweepEveryMs: 0 });
    const metrics = new Metrics({ processMetrics: false });
    const logger = createLogger({ level: 'silent' });
    auth = new AuthService({
      store,
      sessions,
      limiter: new MemoryLoginLimiter({ now: () => now }),
      registry: metrics.registry,
      logger,
      idleMs: IDLE_MS,
      now: () => now,
      passwords: new PasswordHasher({ fast: true }),
    });
    server = createHttpServer({ metrics, logger, health: () => ({}), routes: authRoutes(auth) });
    ({ url: base, port } = await listen(server, '127.0.0.1', 0));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    auth.close();
    await sessions.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('register 201, login 200 (uncached), refresh 200, logout 204', async () => {
    const user = newUser();
    const reg = await post('/api/register', user);
    assert.equal(reg.status, 201);
    assert.deepEqual(Object.keys(reg.body ?? {}).sort(), ['playerId', 'username']);
    assert.equal(reg.body?.username, user.username);

    const res = await login(user);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(res.body ?? {}).sort(), ['expiresInSeconds', 'playerId', 'token', 'username']);
    assert.equal(res.body?.expiresInSeconds, 1800);
    const token = String(res.body?.token);

    const refreshed = await post('/api/refresh', '', { authorization: `Bearer ${token}` });
    assert.equal(refreshed.status, 200);
    const fresh = String(refreshed.body?.token);
    assert.notEqual(fresh, token);
    assert.equal(refreshed.body?.playerId, reg.body?.playerId);

    const old = await post('/api/refresh', '', { authorization: `Bearer ${token}` });
    assert.equal(old.status, 401);
    assert.equal(old.body?.error, 'invalid_token');
    assert.match(old.headers.get('www-authenticate') ?? '', /^Bearer/);

    const out = await post('/api/logout', '', { authorization: `bearer ${fresh}` });
    assert.equal(out.status, 204);
    assert.equal(out.body, undefined);
    assert.equal((await post('/api/logout', '', { authorization: `Bearer ${fresh}` })).status, 204, 'idempotent');
    assert.equal((await post('/api/refresh', '', { authorization: `Bearer ${fresh}` })).status, 401);
  });

  it('refresh and logout without a bearer token are 401 invalid_token', async () => {
    for (const path of ['/api/refresh', '/api/logout']) {
      for (const headers of [{} as Record<string, string>, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, { authorization: 'Bearer a b' }]) {
        const res = await post(path, '', headers);
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(res.body?.error, 'invalid_token');
        assert.equal(typeof res.body?.message, 'string');
      }
    }
  });

  it('a second login revokes the first token', async () => {
    const user = await registered();
    const first = String((await login(user)).body?.token);
    const second = String((await login(user)).body?.token);
    assert.equal((await post('/api/refresh', '', { authorization: `Bearer ${first}` })).status, 401);
    assert.ok(await auth.authenticate(second));
  });

  it('an expired token is refused', async () => {
    const user = await registered();
    const token = String((await login(user)).body?.token);
    now += IDLE_MS + 1;
    const res = await post('/api/refresh', '', { authorization: `Bearer ${token}` });
    assert.equal(res.status, 401);
    assert.equal(res.body?.error, 'invalid_token');
  });

  it('SQL-injection usernames are 400 invalid_input naming username, and change nothing', async () => {
    const victim = await registered();
    for (const username of ["' OR 1=1 --", `${victim.username}'; DROP TABLE accounts; --`, '"; UPDATE accounts SET email=1; --']) {
      for (const [path, body] of [
        ['/api/register', { ...newUser(), username }],
        ['/api/login', { username, password: 'irrelevant1' }],
      ] as const) {
        const res = await post(path, body);
        assert.equal(res.status, 400, `${path} ${username}`);
        assert.equal(res.body?.error, 'invalid_input');
        assert.equal(res.body?.field, 'username');
        assert.ok(!String(res.body?.message).includes(username), 'the input is not echoed');
      }
    }
    const account = await store.findAccountByUsername(victim.username);
    assert.equal(account?.email, victim.email);
    assert.equal((await login(victim)).status, 200);
  });

  it('oversize, missing and unknown fields are 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...newUser(), username: 'u'.repeat(21) }, 'username'],
      [{ ...newUser(), email: `${'e'.repeat(250)}@x.org` }, 'email'],
      [{ ...newUser(), password: 'p'.repeat(129) }, 'password'],
      [{ ...newUser(), username: 42 }, 'username'],
      [{ username: 'abc', email: 'a@b.org' }, 'password'],
      [{ ...newUser(), isAdmin: true }, 'isAdmin'],
    ];
    for (const [body, field] of cases) {
      const res = await post('/api/register', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.deepEqual({ error: res.body?.error, field: res.body?.field }, { error: 'invalid_input', field });
      assert.equal(typeof res.body?.message, 'string');
    }
    const login = await post('/api/login', { username: 'abc', password: 'p'.repeat(129) });
    assert.equal(login.body?.field, 'password');
    for (const body of [[], null, 'a string', 3]) {
      const res = await post('/api/login', JSON.stringify(body));
      assert.equal(res.status, 400);
      assert.equal(res.body?.error, 'invalid_input');
    }
  });

  it('a taken username is 409 conflict naming the field', async () => {
    const user = await registered();
    const res = await post('/api/register', { ...newUser(), username: user.username });
    assert.equal(res.status, 409);
    assert.deepEqual({ error: res.body?.error, field: res.body?.field }, { error: 'conflict', field: 'username' });
  });

  it('malformed JSON is 400 malformed_json; a wrong content type is 415', async () => {
    for (const body of ['{', '{"username": "abc",}', '', 'undefined', "{'a':1}"]) {
      const res = await post('/api/login', body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body?.error, 'malformed_json');
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const res = await post('/api/login', JSON.stringify({ username: 'abc', password: 'x' }), { 'content-type': type });
      assert.equal(res.status, 415, type);
      assert.equal(res.body?.error, 'unsupported_media_type');
    }
    const ok = await post('/api/login', JSON.stringify({ username: 'abc', password: 'x' }), {
      'content-type': 'Application/JSON; charset=utf-8',
    });
    assert.equal(ok.status, 401, 'parameters and case are fine');
  });

  it('a body over 16 KiB is 413 too_large, with or without Content-Length', async () => {
    const big = JSON.stringify({ username: 'abc', password: 'x'.repeat(20_000) });
    const res = await post('/api/register', big);
    assert.equal(res.status, 413);
    assert.equal(res.body?.error, 'too_large');
    // Chunked, no Content-Length: the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json' } },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{"username":"');
      req.write('a'.repeat(10_000));
      req.write('a'.repeat(10_000));
      req.end('"}');
    });
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).error, 'too_large');
  });

  it('GET on an API path is 405 with Allow: POST', async () => {
    const res = await fetch(`${base}/api/login`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(((await res.json()) as { error: string }).error, 'method_not_allowed');
  });

  it('too many failures are 429 with Retry-After and a message saying when', async () => {
    const user = await registered();
    for (let i = 0; i < 5; i++) {
      const res = await login({ username: user.username, password: 'wrong password' });
      assert.equal(res.status, 401);
      assert.equal(res.body?.error, 'bad_credentials');
    }
    const res = await login(user);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '900');
    assert.equal(res.body?.error, 'rate_limited');
    assert.equal(res.body?.retryAfterSeconds, 900);
    assert.match(String(res.body?.message), /retry in 900 s/);
  });

  it('counts requests in bluemarble_auth_requests_total', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /bluemarble_auth_requests_total\{op="login",result="rate_limited"\} 1/);
    assert.match(text, /bluemarble_sessions_ended_total\{reason="logged_in_elsewhere"\}/);
  });
});
