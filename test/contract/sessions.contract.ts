// Contract suites for the Sessions and LoginLimiter ports. Every adapter runs the same tests:
// sessions-memory.test.ts and sessions-redis.test.ts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { LoginLimiter, LoginLimits } from '../../src/auth/limiter.ts';
import type { SessionEnded, SessionRecord, Sessions } from '../../src/auth/sessions.ts';
import { hashToken, newToken } from '../../src/auth/tokens.ts';

export interface ContractOptions {
  /** node:test skip: a reason string skips the suite. */
  skip?: string | undefined;
  /** Two instances made by `make` share state (Redis): cross-instance tests run too. */
  shared?: boolean;
  /** Runs after the suite, once every instance is closed (e.g. delete test keys). */
  cleanup?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Collects ended events; waitFor resolves once n have arrived (or fails after timeoutMs). */
function collect(sessions: Sessions): { events: SessionEnded[]; waitFor(n: number, timeoutMs?: number): Promise<SessionEnded[]>; stop(): void } {
  const events: SessionEnded[] = [];
  const sub = sessions.onEnded((e) => events.push(e));
  return {
    events,
    async waitFor(n, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > deadline) assert.fail(`expected ${n} ended events, got ${JSON.stringify(events)}`);
        await sleep(5);
      }
      return events;
    },
    stop: () => sub.unsubscribe(),
  };
}

let nextPlayer = 1_000 + Math.floor(Math.random() * 1_000_000);

function session(playerId: number, nowMs: number, username = `p${playerId}`): SessionRecord {
  return { tokenHash: hashToken(newToken()), playerId, username, createdAtMs: nowMs, lastSeenAtMs: nowMs };
}

export function sessionsContract(
  name: string,
  make: (opts: { idleMs: number }) => Promise<Sessions>,
  opts: ContractOptions = {},
): void {
  describe(`Sessions contract: ${name}`, { skip: opts.skip }, () => {
    const IDLE = 60_000;
    const T0 = 1_700_000_000_000;
    const made: Sessions[] = [];
    const fresh = async (idleMs = IDLE): Promise<Sessions> => {
      const s = await make({ idleMs });
      made.push(s);
      return s;
    };

    after(async () => {
      await Promise.all(made.map((s) => s.close()));
      await opts.cleanup?.();
    });

    it('stores a session and returns it on touch, sliding lastSeenAtMs', async () => {
      const s = await fresh();
      const rec = session(nextPlayer++, T0, 'Ann_1');
      await s.create(rec);
      assert.deepEqual(await s.touch(rec.tokenHash, T0 + 1000), { ...rec, lastSeenAtMs: T0 + 1000 });
      assert.deepEqual(await s.touch(rec.tokenHash, T0 + 2000), { ...rec, lastSeenAtMs: T0 + 2000 });
    });

    it('returns undefined for an unknown token hash', async () => {
      const s = await fresh();
      assert.equal(await s.touch(hashToken(newToken()), T0), undefined);
      assert.equal(await s.revoke(hashToken(newToken()), 'logout'), false);
      assert.deepEqual(await s.revokePlayer(nextPlayer++, 'logout'), []);
    });

    it('slides expiry on every touch; idle for longer than idleMs expires, once, announced', async () => {
      const s = await fresh();
      const heard = collect(s);
      const rec = session(nextPlayer++, T0);
      await s.create(rec);
      // Each touch is within idleMs of the previous one, though far past the creation.
      assert.ok(await s.touch(rec.tokenHash, T0 + IDLE * 0.9));
      assert.ok(await s.touch(rec.tokenHash, T0 + IDLE * 1.8));
      // Exactly idleMs of inactivity is still alive.
      assert.ok(await s.touch(rec.tokenHash, T0 + IDLE * 2.8));
      assert.equal(await s.touch(rec.tokenHash, T0 + IDLE * 3.8 + 1), undefined);
      // Removed: even an earlier clock cannot bring it back.
      assert.equal(await s.touch(rec.tokenHash, T0 + IDLE * 2.8), undefined);
      assert.deepEqual(await heard.waitFor(1), [{ tokenHash: rec.tokenHash, playerId: rec.playerId, reason: 'expired' }]);
      await sleep(20);
      assert.equal(heard.events.length, 1);
    });

    it('never moves lastSeenAtMs backwards (a gateway with a slower clock)', async () => {
      const s = await fresh();
      const rec = session(nextPlayer++, T0);
      await s.create(rec);
      await s.touch(rec.tokenHash, T0 + 5000);
      assert.equal((await s.touch(rec.tokenHash, T0 + 1000))?.lastSeenAtMs, T0 + 5000);
    });

    it('revoke ends one session, tells listeners the reason, and is false the second time', async () => {
      const s = await fresh();
      const heard = collect(s);
      const playerId = nextPlayer++;
      const a = session(playerId, T0);
      const b = session(playerId, T0);
      await s.create(a);
      await s.create(b);
      assert.equal(await s.revoke(a.tokenHash, 'logout'), true);
      assert.equal(await s.touch(a.tokenHash, T0 + 1), undefined);
      assert.ok(await s.touch(b.tokenHash, T0 + 1), 'the other session lives on');
      assert.equal(await s.revoke(a.tokenHash, 'logout'), false);
      assert.deepEqual(await heard.waitFor(1), [{ tokenHash: a.tokenHash, playerId, reason: 'logout' }]);
      await sleep(20);
      assert.equal(heard.events.length, 1, 'a failed revoke announces nothing');
    });

    it('revokePlayer ends exactly that player\'s sessions and returns their hashes', async () => {
      const s = await fresh();
      const heard = collect(s);
      const playerId = nextPlayer++;
      const other = nextPlayer++;
      const mine = [session(playerId, T0), session(playerId, T0), session(playerId, T0)];
      const theirs = session(other, T0);
      for (const r of [...mine, theirs]) await s.create(r);
      const ended = await s.revokePlayer(playerId, 'logged_in_elsewhere');
      assert.deepEqual([...ended].sort(), mine.map((r) => r.tokenHash).sort());
      for (const r of mine) assert.equal(await s.touch(r.tokenHash, T0 + 1), undefined);
      assert.ok(await s.touch(theirs.tokenHash, T0 + 1));
      const events = await heard.waitFor(3);
      assert.deepEqual(
        events.map((e) => e.tokenHash).sort(),
        mine.map((r) => r.tokenHash).sort(),
      );
      assert.ok(events.every((e) => e.reason === 'logged_in_elsewhere' && e.playerId === playerId && e.remote !== true));
      assert.deepEqual(await s.revokePlayer(playerId, 'logged_in_elsewhere'), [], 'nothing left to end');
    });

    it('revokePlayer skips sessions that already ended', async () => {
      const s = await fresh();
      const playerId = nextPlayer++;
      const a = session(playerId, T0);
      const b = session(playerId, T0);
      await s.create(a);
      await s.create(b);
      await s.revoke(a.tokenHash, 'logout');
      assert.equal(await s.touch(b.tokenHash, T0 + IDLE + 1), undefined, 'b expired');
      const c = session(playerId, T0 + IDLE + 2);
      await s.create(c);
      assert.deepEqual(await s.revokePlayer(playerId, 'logged_in_elsewhere'), [c.tokenHash]);
    });

    it('unsubscribe stops delivery to that listener only', async () => {
      const s = await fresh();
      const kept = collect(s);
      const dropped = collect(s);
      dropped.stop();
      const rec = session(nextPlayer++, T0);
      await s.create(rec);
      await s.revoke(rec.tokenHash, 'logout');
      await kept.waitFor(1);
      await sleep(20);
      assert.equal(dropped.events.length, 0);
    });

    it('a throwing listener does not stop the others or the operation', async () => {
      const s = await fresh();
      s.onEnded(() => {
        throw new Error('listener exploded');
      });
      const heard = collect(s);
      const rec = session(nextPlayer++, T0);
      await s.create(rec);
      assert.equal(await s.revoke(rec.tokenHash, 'logout'), true);
      await heard.waitFor(1);
    });

    if (opts.shared === true) {
      it('a second instance sees the sessions and hears the first one\'s endings, marked remote', async () => {
        const a = await fresh();
        const b = await fresh();
        const heardA = collect(a);
        const heardB = collect(b);
        const playerId = nextPlayer++;
        const r1 = session(playerId, T0);
        const r2 = session(playerId, T0);
        await a.create(r1);
        await a.create(r2);
        assert.ok(await b.touch(r1.tokenHash, T0 + 1), 'b sees a session a created');

        assert.equal(await a.revoke(r1.tokenHash, 'logout'), true);
        assert.deepEqual(await heardB.waitFor(1), [{ tokenHash: r1.tokenHash, playerId, reason: 'logout', remote: true }]);
        assert.deepEqual(await b.revokePlayer(playerId, 'logged_in_elsewhere'), [r2.tokenHash]);
        const atA = await heardA.waitFor(2);
        assert.deepEqual(atA[0], { tokenHash: r1.tokenHash, playerId, reason: 'logout' });
        assert.deepEqual(atA[1], { tokenHash: r2.tokenHash, playerId, reason: 'logged_in_elsewhere', remote: true });
        await sleep(30);
        assert.equal(heardA.events.length, 2, 'no echo of its own endings');
        assert.equal(heardB.events.length, 2);
      });

      it('two instances revoking one session race: exactly one wins, one announcement', async () => {
        const a = await fresh();
        const b = await fresh();
        const heardA = collect(a);
        const rec = session(nextPlayer++, T0);
        await a.create(rec);
        const results = await Promise.all([a.revoke(rec.tokenHash, 'logout'), b.revoke(rec.tokenHash, 'refreshed')]);
        assert.deepEqual(results.filter(Boolean), [true]);
        await heardA.waitFor(1);
        await sleep(30);
        assert.equal(heardA.events.length, 1);
      });
    }
  });
}

export function limiterContract(
  name: string,
  make: (limits: LoginLimits) => Promise<LoginLimiter>,
  opts: ContractOptions = {},
): void {
  describe(`LoginLimiter contract: ${name}`, { skip: opts.skip }, () => {
    // Short windows so expiry is observable with real time (Redis counts with its own clock).
    const LIMITS: LoginLimits = { accountFailures: 3, accountWindowMs: 600, addressFailures: 5, addressWindowMs: 400 };
    const made: LoginLimiter[] = [];
    const fresh = async (limits: LoginLimits = LIMITS): Promise<LoginLimiter> => {
      const l = await make(limits);
      made.push(l);
      return l;
    };
    // Unique per test: a shared backend keeps counts between tests.
    const user = () => `u_${randomUUID().slice(0, 8)}`;
    let octet = Math.floor(Math.random() * 200);
    const addr = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${(octet = (octet + 1) % 250)}`;

    after(async () => {
      await Promise.all(made.map((l) => l.close()));
      await opts.cleanup?.();
    });

    it('refuses an account after its failures, with retryAfterSeconds, until the window closes', async () => {
      const l = await fresh();
      const u = user();
      for (let i = 0; i < LIMITS.accountFailures; i++) {
        assert.deepEqual(await l.attempt(u, addr()), { allowed: true });
        await l.failed(u, addr());
      }
      const refused = await l.attempt(u, addr());
      assert.equal(refused.allowed, false);
      assert.ok(!refused.allowed && refused.scope === 'account' && refused.retryAfterSeconds === 1, JSON.stringify(refused));
      // Other accounts are unaffected.
      assert.deepEqual(await l.attempt(user(), addr()), { allowed: true });
      await sleep(LIMITS.accountWindowMs + 100);
      assert.deepEqual(await l.attempt(u, addr()), { allowed: true });
    });

    it('counts account failures case-insensitively', async () => {
      const l = await fresh();
      const u = user();
      for (let i = 0; i < LIMITS.accountFailures; i++) await l.failed(i % 2 === 0 ? u.toUpperCase() : u, addr());
      const refused = await l.attempt(u, addr());
      assert.equal(refused.allowed, false);
    });

    it('a success clears the account\'s failures', async () => {
      const l = await fresh();
      const u = user();
      for (let i = 0; i < LIMITS.accountFailures - 1; i++) await l.failed(u, addr());
      await l.succeeded(u);
      for (let i = 0; i < LIMITS.accountFailures - 1; i++) await l.failed(u, addr());
      assert.deepEqual(await l.attempt(u, addr()), { allowed: true });
    });

    it('never limits attempts from an address that does not fail', async () => {
      const l = await fresh();
      const a = addr();
      for (let i = 0; i < LIMITS.addressFailures * 4; i++) {
        const u = user();
        assert.deepEqual(await l.attempt(u, a), { allowed: true }, `attempt ${i}`);
        await l.succeeded(u);
      }
    });

    it('limits failures per address across usernames, until the window closes', async () => {
      const l = await fresh();
      const a = addr();
      for (let i = 0; i < LIMITS.addressFailures; i++) {
        const u = user(); // a new account each time: the account limit never applies
        assert.deepEqual(await l.attempt(u, a), { allowed: true }, `attempt ${i}`);
        await l.failed(u, a);
      }
      const refused = await l.attempt(user(), a);
      assert.ok(!refused.allowed && refused.scope === 'address' && refused.retryAfterSeconds === 1, JSON.stringify(refused));
      assert.deepEqual(await l.attempt(user(), addr()), { allowed: true }, 'another address is unaffected');
      await sleep(LIMITS.addressWindowMs + 100);
      assert.deepEqual(await l.attempt(user(), a), { allowed: true });
    });

    it('a success does not clear the address\'s failures', async () => {
      const l = await fresh();
      const a = addr();
      for (let i = 0; i < LIMITS.addressFailures - 1; i++) await l.failed(user(), a);
      const ok = user();
      assert.deepEqual(await l.attempt(ok, a), { allowed: true });
      await l.succeeded(ok);
      await l.failed(user(), a);
      assert.equal((await l.attempt(ok, a)).allowed, false);
    });

    it('counts an IPv4-mapped address as its IPv4 address, and IPv6 per /64', async () => {
      const l = await fresh();
      const v4 = addr();
      const v6prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
      for (let i = 0; i < LIMITS.addressFailures; i++) {
        await l.failed(user(), i % 2 === 0 ? v4 : `::ffff:${v4}`);
        await l.failed(user(), i % 2 === 0 ? `${v6prefix}::1` : `${v6prefix}:0:0:0:${i + 2}`);
      }
      assert.equal((await l.attempt(user(), `::FFFF:${v4}`)).allowed, false);
      assert.equal((await l.attempt(user(), `${v6prefix}:abcd::9`)).allowed, false);
      assert.equal((await l.attempt(user(), `2001:db8:1234:8::1`)).allowed, true, 'another /64');
    });

    it('reports retryAfterSeconds rounded up, never 0', async () => {
      const l = await fresh({ ...LIMITS, accountWindowMs: 2_500 });
      const u = user();
      for (let i = 0; i < LIMITS.accountFailures; i++) await l.failed(u, addr());
      const refused = await l.attempt(u, addr());
      assert.ok(!refused.allowed && refused.retryAfterSeconds === 3, JSON.stringify(refused));
    });

    if (opts.shared === true) {
      it('two instances share counts', async () => {
        const a = await fresh();
        const b = await fresh();
        const u = user();
        for (let i = 0; i < LIMITS.accountFailures; i++) await (i % 2 === 0 ? a : b).failed(u, addr());
        assert.equal((await b.attempt(u, addr())).allowed, false);
        await a.succeeded(u);
        assert.equal((await b.attempt(u, addr())).allowed, true);
        const shared = addr();
        for (let i = 0; i < LIMITS.addressFailures; i++) await (i % 2 === 0 ? a : b).failed(user(), shared);
        const refused = await b.attempt(user(), shared);
        assert.ok(!refused.allowed && refused.scope === 'address', JSON.stringify(refused));
      });
    }
  });
}
