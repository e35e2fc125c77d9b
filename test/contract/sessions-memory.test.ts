import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLoginLimiter } from '../../src/auth/limiter.ts';
import { MemorySessions } from '../../src/auth/memory-sessions.ts';
import { limiterContract, sessionsContract } from './sessions.contract.ts';

sessionsContract('MemorySessions', async ({ idleMs }) => new MemorySessions({ idleMs, sweepEveryMs: 0 }));
limiterContract('MemoryLoginLimiter', async (limits) => new MemoryLoginLimiter({ limits }));

describe('MemorySessions specifics', () => {
  it('sweep() ends sessions nobody touched, as expired', async () => {
    let now = 1_000_000;
    const s = new MemorySessions({ idleMs: 1000, now: () => now, sweepEveryMs: 0 });
    const ended: string[] = [];
    s.onEnded((e) => ended.push(`${e.playerId}:${e.reason}`));
    await s.create({ tokenHash: 'a', playerId: 1, username: 'a', createdAtMs: now, lastSeenAtMs: now });
    await s.create({ tokenHash: 'b', playerId: 2, username: 'b', createdAtMs: now, lastSeenAtMs: now });
    now += 600;
    await s.touch('b', now);
    now += 600;
    assert.equal(s.sweep(now), 1);
    assert.equal(s.size, 1);
    await Promise.resolve();
    assert.deepEqual(ended, ['1:expired']);
    await s.close();
  });

  it('calls listeners after the change, not inside the caller\'s stack', async () => {
    const s = new MemorySessions({ sweepEveryMs: 0 });
    let heard = false;
    s.onEnded(() => (heard = true));
    await s.create({ tokenHash: 'a', playerId: 1, username: 'a', createdAtMs: 0, lastSeenAtMs: 0 });
    const pending = s.revoke('a', 'logout');
    assert.equal(heard, false);
    await pending;
    assert.equal(heard, true);
    await s.close();
  });
});
