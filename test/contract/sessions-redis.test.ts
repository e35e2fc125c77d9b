import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLoginLimiter } from '../../src/auth/limiter.ts';
import { RedisSessions } from '../../src/auth/redis-sessions.ts';
import { hashToken, newToken } from '../../src/auth/tokens.ts';
import { REDIS_URL, serviceSkip } from '../helpers/services.ts';
import { limiterContract, sessionsContract } from './sessions.contract.ts';

const skip = await serviceSkip('redis');
// A random prefix per run: tests never see (or delete) anyone else's keys.
const prefix = `bmtest:${randomUUID()}:`;

async function keys(): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  } finally {
    redis.disconnect();
  }
}

async function cleanup(): Promise<void> {
  const found = await keys();
  if (found.length === 0) return;
  const redis = new Redis(REDIS_URL);
  try {
    await redis.del(...found);
  } finally {
    redis.disconnect();
  }
}

sessionsContract('RedisSessions', ({ idleMs }) => RedisSessions.connect({ url: REDIS_URL, prefix, idleMs }), {
  skip,
  shared: true,
  cleanup,
});
limiterContract('RedisLoginLimiter', async (limits) => new RedisLoginLimiter({ url: REDIS_URL, prefix, limits }), {
  skip,
  shared: true,
  cleanup,
});

describe('RedisSessions specifics', { skip }, () => {
  let sessions: RedisSessions;
  before(async () => {
    sessions = await RedisSessions.connect({ url: REDIS_URL, prefix, idleMs: 10_000 });
  });
  after(async () => {
    await sessions.close();
    await cleanup();
  });

  it('keeps keys under the prefix with a PEXPIRE of idleMs plus grace, and never the token', async () => {
    const token = newToken();
    const tokenHash = hashToken(token);
    const now = Date.now();
    await sessions.create({ tokenHash, playerId: 42, username: 'ann', createdAtMs: now, lastSeenAtMs: now });
    const redis = new Redis(REDIS_URL);
    try {
      const ttl = await redis.pttl(`${prefix}session:${tokenHash}`);
      assert.ok(ttl > 10_000 && ttl <= 70_000, `ttl ${ttl}`);
      assert.ok((await redis.pttl(`${prefix}player-sessions:42`)) > 10_000);
      const all = await keys();
      assert.ok(all.every((k) => !k.includes(token)));
      assert.ok(!JSON.stringify(await redis.hgetall(`${prefix}session:${tokenHash}`)).includes(token));
    } finally {
      redis.disconnect();
    }
    await sessions.revoke(tokenHash, 'logout');
    assert.ok(!(await keys()).some((k) => k.includes(tokenHash)), 'revoke removes the key');
  });

  it('ignores malformed announcements on the channel', async () => {
    const heard: unknown[] = [];
    const sub = sessions.onEnded((e) => heard.push(e));
    const redis = new Redis(REDIS_URL);
    try {
      await redis.publish(`${prefix}sessions:ended`, 'not json');
      await redis.publish(`${prefix}sessions:ended`, JSON.stringify({ origin: 'x', tokenHash: 'a', playerId: 'NaN', reason: 'hacked' }));
      await redis.publish(
        `${prefix}sessions:ended`,
        JSON.stringify({ origin: 'x', tokenHash: 'a', playerId: 7, reason: 'logout' }),
      );
      const deadline = Date.now() + 2000;
      while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(heard, [{ tokenHash: 'a', playerId: 7, reason: 'logout', remote: true }]);
    } finally {
      sub.unsubscribe();
      redis.disconnect();
    }
  });
});
