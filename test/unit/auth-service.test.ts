// AuthService over the real SQLite store, memory sessions and limiter, with an injected clock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { AuthError, AuthService } from '../../src/auth/accounts.ts';
import type { RegisterRequest } from '../../src/auth/schemas.ts';
import { MemoryLoginLimiter } from '../../src/auth/limiter.ts';
import { MemorySessions } from '../../src/auth/memory-sessions.ts';
import { PasswordHasher } from '../../src/auth/passwords.ts';
import type { SessionEnded } from '../../src/auth/sessions.ts';
import { createLogger } from '../../src/ops/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const IDLE_MS = 30 * 60_000;
const T0 = 1_700_000_000_000;

describe('AuthService', () => {
  let dir: string;
  let store: SqliteStore;
  let sessions: MemorySessions;
  let limiter: MemoryLoginLimiter;
  let auth: AuthService;
  let registry: Registry;
  let now = T0;
  const logLines: string[] = [];
  const ended: SessionEnded[] = [];
  const secrets: string[] = [];
  let n = 0;

  /** A fresh, valid registration; its password is remembered to check it never reaches the logs. */
  function newUser(): RegisterRequest {
    n++;
    const password = `pw-${n}-${Math.random().toString(36).slice(2)}`;
    secrets.push(password);
    return { username: `player_${n}`, email: `player${n}@example.com`, password };
  }

  async function loginAs(user: RegisterRequest, remote = '198.51.100.7') {
    const result = await auth.login({ username: user.username, password: user.password }, remote);
    secrets.push(result.token);
    return result;
  }

  async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<AuthError> {
    let caught: unknown;
    try {
      await p;
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof AuthError, `expected AuthError ${code}, got ${String(caught)}`);
    assert.equal(caught.code, code, caught.message);
    if (field !== undefined) assert.equal(caught.field, field);
    return caught;
  }

  const counter = async (name: string, labels: Record<string, string>): Promise<number> => {
    const metric = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const hit = metric.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return hit?.value ?? 0;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bm-auth-'));
    store = new SqliteStore(join(dir, 'auth.sqlite3'));
    await store.migrate();
  });

  beforeEach(() => {
    now = T0;
    registry = new Registry();
    sessions = new MemorySessions({ idleMs: IDLE_MS, now: () => now, sweepEveryMs: 0 });
    sessions.onEnded((e) => ended.push(e));
    ended.length = 0;
    limiter = new MemoryLoginLimiter({ now: () => now });
    auth = new AuthService({
      store,
      sessions,
      limiter,
      registry,
      idleMs: IDLE_MS,
      now: () => now,
      passwords: new PasswordHasher({ fast: true }),
      logger: createLogger({
        level: 'debug',
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            logLines.push(chunk.toString());
            done();
          },
        }),
      }),
    });
  });

  after(async () => {
    auth.close();
    await sessions.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    // Whatever happened above, no password or token was ever logged.
    const log = logLines.join('');
    assert.ok(logLines.length > 10, 'failures were logged');
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret reached the log');
  });

  describe('register', () => {
    it('creates an account with an argon2id hash, never the password', async () => {
      const user = newUser();
      const result = await auth.register(user, '198.51.100.7');
      assert.equal(result.username, user.username);
      assert.ok(Number.isInteger(result.playerId) && result.playerId > 0);
      const stored = await store.findAccountById(result.playerId);
      assert.ok(stored);
      assert.match(stored.passwordHash, /^\$argon2id\$/);
      assert.ok(!stored.passwordHash.includes(user.password));
      assert.equal(await counter('bluemarble_auth_requests_total', { op: 'register', result: 'ok' }), 1);
    });

    it('refuses a taken username (any case) or email with a conflict naming the field', async () => {
      const user = newUser();
      await auth.register(user, '198.51.100.7');
      const other = newUser();
      await rejects(auth.register({ ...other, username: user.username.toUpperCase() }, 'x'), 'conflict', 'username');
      const err = await rejects(auth.register({ ...other, email: user.email.toUpperCase() }, 'x'), 'conflict', 'email');
      assert.equal(err.status, 409);
    });

    it('refuses SQL-injection strings as usernames as invalid input, changing nothing', async () => {
      const victim = newUser();
      await auth.register(victim, '198.51.100.7');
      const attacks = [
        "x' OR '1'='1",
        "'; DROP TABLE accounts; --",
        'admin"--',
        'a; DELETE FROM accounts',
        `${victim.username}' --`,
        'Robert\'); DROP TABLE Students;--',
        'ab\u0000cd',
        'äbc',
      ];
      for (const username of attacks) {
        const err = await rejects(auth.register({ ...newUser(), username }, 'x'), 'invalid_input', 'username');
        assert.equal(err.status, 400);
        await rejects(auth.login({ username, password: 'whatever1' }, 'x'), 'invalid_input', 'username');
        assert.equal(await store.findAccountByUsername(username), undefined);
      }
      // The victim's account is intact and still logs in.
      assert.ok((await loginAs(victim)).token);
    });

    it('refuses oversize and undersize fields, naming them', async () => {
      const cases: [Partial<RegisterRequest>, string][] = [
        [{ username: 'a'.repeat(21) }, 'username'],
        [{ username: 'ab' }, 'username'],
        [{ email: `${'a'.repeat(250)}@example.com` }, 'email'],
        [{ email: 'not-an-email' }, 'email'],
        [{ password: 'x'.repeat(129) }, 'password'],
        [{ password: 'short' }, 'password'],
      ];
      for (const [patch, field] of cases) {
        await rejects(auth.register({ ...newUser(), ...patch }, 'x'), 'invalid_input', field);
      }
      // The limits themselves are fine.
      await auth.register({ ...newUser(), username: `u${'x'.repeat(19)}`, password: 'p'.repeat(128) }, 'x');
    });
  });

  describe('login', () => {
    it('returns a token, records the login and lets the token authenticate', async () => {
      const user = newUser();
      const { playerId } = await auth.register(user, 'x');
      now += 5000;
      const result = await loginAs({ ...user, username: user.username.toUpperCase() });
      assert.match(result.token, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual({ ...result, token: '' }, { token: '', playerId, username: user.username, expiresInSeconds: 1800 });
      assert.equal((await store.findAccountById(playerId))?.lastLoginAtMs, now);
      const session = await auth.authenticate(result.token);
      assert.equal(session?.playerId, playerId);
      assert.equal(session?.username, user.username);
      assert.notEqual(session?.tokenHash, result.token, 'sessions hold the hash only');
    });

    it('refuses a wrong password and an unknown user alike', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const wrong = await rejects(auth.login({ username: user.username, password: 'wrong password' }, 'x'), 'bad_credentials');
      const unknown = await rejects(auth.login({ username: 'nobody_here', password: 'wrong password' }, 'x'), 'bad_credentials');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.message, unknown.message);
      assert.equal(await counter('bluemarble_auth_requests_total', { op: 'login', result: 'bad_credentials' }), 2);
      assert.ok(logLines.some((l) => l.includes('login failed') && l.includes('nobody_here')));
    });

    it('a second login revokes the first session (logged_in_elsewhere)', async () => {
      const user = newUser();
      const { playerId } = await auth.register(user, 'x');
      const first = await loginAs(user);
      const second = await loginAs(user, '203.0.113.9');
      assert.equal(await auth.authenticate(first.token), undefined);
      assert.ok(await auth.authenticate(second.token));
      await Promise.resolve();
      assert.deepEqual(
        ended.map((e) => [e.playerId, e.reason]),
        [[playerId, 'logged_in_elsewhere']],
      );
      assert.equal(await counter('bluemarble_sessions_ended_total', { reason: 'logged_in_elsewhere' }), 1);
    });

    it('locks an account after 5 failures for 15 minutes, even for the right password', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      for (let i = 0; i < 5; i++) {
        await rejects(auth.login({ username: user.username, password: `wrong ${i}` }, `192.0.2.${i}`), 'bad_credentials');
      }
      const err = await rejects(auth.login({ username: user.username, password: user.password }, '192.0.2.77'), 'rate_limited');
      assert.equal(err.status, 429);
      assert.equal(err.retryAfterSeconds, 900);
      assert.match(err.message, /retry in 900 s/);
      now += 14 * 60_000;
      assert.equal(
        (await rejects(auth.login({ username: user.username, password: user.password }, 'x'), 'rate_limited')).retryAfterSeconds,
        60,
      );
      now += 60_000;
      assert.ok((await loginAs(user)).token);
      assert.ok(logLines.some((l) => l.includes('login rate limited') && l.includes(user.username)));
    });

    it('limits one address to 20 failed logins a minute across accounts; successes are never limited', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      // A NAT'd LAN party or a load test: any number of good logins from one address.
      for (let i = 0; i < 30; i++) assert.ok((await loginAs(user, '192.0.2.200')).token);
      for (let i = 0; i < 20; i++) {
        await rejects(auth.login({ username: `spray_${i}`, password: 'password1' }, '192.0.2.200'), 'bad_credentials');
      }
      const err = await rejects(auth.login({ username: 'spray_x', password: 'password1' }, '192.0.2.200'), 'rate_limited');
      assert.equal(err.retryAfterSeconds, 60);
      assert.match(err.message, /this address/);
      // While the address is over its limit, even a right password from it waits.
      await rejects(auth.login({ username: user.username, password: user.password }, '192.0.2.200'), 'rate_limited');
      await rejects(auth.login({ username: 'spray_x', password: 'password1' }, '192.0.2.201'), 'bad_credentials');
      now += 60_000;
      assert.ok((await loginAs(user, '192.0.2.200')).token);
    });
  });

  describe('tokens', () => {
    it('refresh gives a new token and revokes the old one (refreshed)', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const { token } = await loginAs(user);
      now += 1000;
      const fresh = await auth.refresh(token);
      secrets.push(fresh.token);
      assert.notEqual(fresh.token, token);
      assert.equal(fresh.username, user.username);
      assert.equal(await auth.authenticate(token), undefined);
      assert.ok(await auth.authenticate(fresh.token));
      await rejects(auth.refresh(token), 'invalid_token');
      await Promise.resolve();
      assert.ok(ended.some((e) => e.reason === 'refreshed'));
    });

    it('two refreshes racing with one token: exactly one succeeds', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const { token } = await loginAs(user);
      const results = await Promise.allSettled([auth.refresh(token), auth.refresh(token)]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'fulfilled') secrets.push(r.value.token);
    });

    it('logout revokes and is idempotent', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const { token } = await loginAs(user);
      await auth.logout(token);
      assert.equal(await auth.authenticate(token), undefined);
      await auth.logout(token);
      await auth.logout('not a token at all');
      await Promise.resolve();
      assert.deepEqual(ended.map((e) => e.reason), ['logout']);
    });

    it('a token idle for longer than idleMs expires; use within it slides the expiry', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const { token } = await loginAs(user);
      assert.ok(await auth.authenticate(token, now + IDLE_MS - 1));
      now += IDLE_MS - 1;
      assert.ok(await auth.authenticate(token, now + IDLE_MS), 'slid by the previous use');
      now += IDLE_MS;
      assert.equal(await auth.authenticate(token, now + IDLE_MS + 1), undefined);
      await rejects(auth.refresh(token), 'invalid_token');
      await Promise.resolve();
      assert.ok(ended.some((e) => e.reason === 'expired'));
    });

    it('refresh of an expired token is refused', async () => {
      const user = newUser();
      await auth.register(user, 'x');
      const { token } = await loginAs(user);
      now += IDLE_MS + 1;
      const err = await rejects(auth.refresh(token), 'invalid_token');
      assert.equal(err.status, 401);
    });

    it('authenticate refuses junk without touching the sessions', async () => {
      for (const junk of ['', 'x', 'a'.repeat(43) + '=', 'a'.repeat(1000)]) {
        assert.equal(await auth.authenticate(junk), undefined);
      }
      assert.equal(await counter('bluemarble_auth_requests_total', { op: 'authenticate', result: 'invalid_token' }), 4);
    });
  });

  it('shares one registry between two services without a duplicate-metric error', () => {
    const second = new AuthService({ store, sessions, limiter, registry, idleMs: IDLE_MS, logger: createLogger({ level: 'silent' }) });
    second.close();
  });
});
