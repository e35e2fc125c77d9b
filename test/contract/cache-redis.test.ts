// The SharedCache contract against a real Redis (skipped with a message off CI when none runs).
// A random prefix isolates this run's keys and announcement channel; its keys are removed after.
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { RedisCache } from '../../src/store/redis-cache.ts';
import { REDIS_URL, serviceSkip } from '../helpers/services.ts';
import { sharedCacheContract } from './cache.contract.ts';

const skip = await serviceSkip('redis');
const prefix = `bm:test:${randomUUID()}:`;
const quiet = { warn: () => undefined };

sharedCacheContract('redis', async () => new RedisCache({ url: REDIS_URL, prefix, log: quiet }), skip === undefined ? {} : { skip });

after(async () => {
  if (skip !== undefined) return;
  const cleaner = new RedisCache({ url: REDIS_URL, prefix, log: quiet });
  try {
    await cleaner.ready();
    await cleaner.clearPrefix();
  } finally {
    await cleaner.close();
  }
});
