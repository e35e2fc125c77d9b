// TieredCache: L1 → L2 → database. "Processes" are TieredCaches sharing one MemorySharedCache (or
// one Redis, when it runs); the database is a Map that `load` reads.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { CACHE_TOMBSTONE, TieredCache } from '../../src/store/cache.ts';
import type { CacheLogger, SharedCache, TieredCacheOptions } from '../../src/store/cache.ts';
import { MemorySharedCache } from '../../src/store/memory-cache.ts';
import { RedisCache } from '../../src/store/redis-cache.ts';
import type { ItemDefinition } from '../../src/store/store.ts';
import { REDIS_URL, serviceSkip } from '../helpers/services.ts';
import { waitFor } from '../contract/cache.contract.ts';

const quiet: CacheLogger = { warn: () => undefined };
// Small: lru-cache allocates its arrays up front, and the property tests make hundreds of these.
const mem = () => new MemorySharedCache({ maxEntries: 1000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve: (v: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A "database" of item definitions and a counting load. */
function itemDb() {
  const rows = new Map<string, ItemDefinition>();
  const db = {
    rows,
    loads: 0,
    load: async (key: string): Promise<ItemDefinition | undefined> => {
      db.loads++;
      return rows.get(key);
    },
  };
  return db;
}

const sword = (v = 1): ItemDefinition => ({ itemId: 1, name: `Sword ${v}`, stackSize: 1, rare: false });

function makeCache<T>(
  load: (key: string) => Promise<T | undefined>,
  extra: Partial<TieredCacheOptions<T>> = {},
): TieredCache<T> {
  return new TieredCache<T>({
    space: 'item',
    l1: { max: 100, ttlMs: 60_000 },
    l2TtlMs: 60_000,
    load,
    registry: new Registry(),
    log: quiet,
    ...extra,
  });
}

/** A port nothing listens on: connections to it are refused, a real failure. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((r) => server.close(() => r()));
  return address.port;
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const json = await registry.getSingleMetric(name)?.get();
  const hit = json?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return hit?.value ?? 0;
}

describe('TieredCache', () => {
  it('counts L1 hits and misses and loads a missing key once', async () => {
    const db = itemDb();
    db.rows.set('1', sword());
    const registry = new Registry();
    const cache = makeCache(db.load, { registry });
    assert.deepEqual(await cache.get('1'), sword());
    assert.deepEqual(await cache.get('1'), sword());
    assert.deepEqual(cache.peek('1'), sword());
    assert.equal(db.loads, 1);
    assert.deepEqual(cache.stats(), { requests: 2, l1Hits: 1, l2Hits: 0, misses: 1, loads: 1, hitRate: 0.5 });
    const text = await registry.metrics();
    assert.match(text, /^bluemarble_cache_requests_total\{space="item",tier="l1",result="hit"\} 1$/m);
    assert.match(text, /^bluemarble_cache_requests_total\{space="item",tier="l1",result="miss"\} 1$/m);
    assert.match(text, /^bluemarble_cache_loads_total\{space="item"\} 1$/m);
  });

  it('does not cache absent records', async () => {
    const db = itemDb();
    const cache = makeCache(db.load, { l2: mem() });
    assert.equal(await cache.get('404'), undefined);
    assert.equal(await cache.get('404'), undefined);
    assert.equal(db.loads, 2);
    db.rows.set('404', sword());
    assert.deepEqual(await cache.get('404'), sword());
  });

  it('fills L2 on a load, so another process is served by L2 without loading', async () => {
    const db = itemDb();
    db.rows.set('1', sword());
    const l2 = mem();
    const a = makeCache(db.load, { l2 });
    const b = makeCache(db.load, { l2 });
    await a.get('1');
    assert.equal(await l2.get('item', '1'), JSON.stringify(sword()));
    assert.deepEqual(await b.get('1'), sword());
    assert.equal(db.loads, 1);
    assert.equal(b.stats().l2Hits, 1);
    assert.deepEqual(b.peek('1'), sword(), 'an L2 hit fills L1');
  });

  it('shares one load among concurrent gets of a missing key', async () => {
    const gate = deferred<ItemDefinition | undefined>();
    let loads = 0;
    const cache = makeCache(
      () => {
        loads++;
        return gate.promise;
      },
      { l2: mem() },
    );
    const gets = Array.from({ length: 50 }, () => cache.get('1'));
    await sleep(5);
    gate.resolve(sword());
    const values = await Promise.all(gets);
    assert.equal(loads, 1);
    for (const v of values) assert.deepEqual(v, sword());
    assert.equal(cache.stats().misses, 50);
    assert.equal(cache.stats().loads, 1);
  });

  it('a failed load reaches the caller and is not remembered', async () => {
    let fail = true;
    const cache = makeCache(async () => {
      if (fail) throw new Error('database down');
      return sword();
    });
    await assert.rejects(cache.get('1'), /database down/);
    fail = false;
    assert.deepEqual(await cache.get('1'), sword());
  });

  it('write-through is visible to another process sharing the L2', async () => {
    const db = itemDb();
    db.rows.set('1', sword(1));
    const l2 = mem();
    const a = makeCache(db.load, { l2 });
    const b = makeCache(db.load, { l2 });
    assert.deepEqual(await b.get('1'), sword(1));
    db.rows.set('1', sword(2));
    await a.set('1', sword(2));
    assert.equal(b.peek('1'), undefined, "the write dropped B's L1 copy");
    const loads = db.loads;
    assert.deepEqual(await b.get('1'), sword(2));
    assert.equal(db.loads, loads, 'served by L2');
    assert.deepEqual(a.peek('1'), sword(2));
  });

  it("invalidate drops L2 and the other process's L1", async () => {
    const db = itemDb();
    db.rows.set('1', sword(1));
    const l2 = mem();
    const a = makeCache(db.load, { l2 });
    const b = makeCache(db.load, { l2 });
    await a.get('1');
    await b.get('1');
    db.rows.set('1', sword(2));
    await a.invalidate('1');
    assert.equal(a.peek('1'), undefined);
    assert.equal(b.peek('1'), undefined);
    assert.equal(await l2.get('item', '1'), CACHE_TOMBSTONE, 'held as invalidated, not a value');
    assert.deepEqual(await b.get('1'), sword(2));
    assert.deepEqual(await a.get('1'), sword(2));
  });

  it('a load that read the old row before a set or invalidate does not fill the tiers', async () => {
    const db = itemDb();
    db.rows.set('1', sword(1));
    const gate = deferred<void>();
    const l2 = mem();
    // Reads the row now, answers later: the window in which a writer can overtake it.
    const slowLoad = async (key: string) => {
      const row = db.rows.get(key);
      await gate.promise;
      return row;
    };
    const a = makeCache(slowLoad, { l2 });
    const b = makeCache(db.load, { l2 });
    const pending = a.get('1');
    await sleep(1);
    db.rows.set('1', sword(2));
    await b.set('1', sword(2));
    gate.resolve();
    assert.deepEqual(await pending, sword(1), 'the get began before the write');
    assert.equal(a.peek('1'), undefined, 'the old row did not reach L1');
    assert.equal(await l2.get('item', '1'), JSON.stringify(sword(2)), 'nor L2');
    assert.deepEqual(await a.get('1'), sword(2));

    // Same with an invalidation and a local set.
    const gate2 = deferred<void>();
    const c = makeCache(
      async (key: string) => {
        const row = db.rows.get(key);
        await gate2.promise;
        return row;
      },
      { l2 },
    );
    db.rows.set('2', sword(1));
    const p2 = c.get('2');
    await sleep(1);
    db.rows.set('2', sword(3));
    await b.invalidate('2');
    gate2.resolve();
    assert.deepEqual(await p2, sword(1));
    assert.equal(c.peek('2'), undefined);
    assert.equal(await l2.get('item', '2'), CACHE_TOMBSTONE);
    assert.deepEqual(await b.get('2'), sword(3));
  });

  it('undecodable L2 data is a miss and an error metric, never a crash, and is replaced', async () => {
    const db = itemDb();
    db.rows.set('1', sword());
    const l2 = mem();
    const registry = new Registry();
    const warned: string[] = [];
    const log: CacheLogger = { warn: (_obj: object, msg?: string) => void warned.push(msg ?? '') };
    const cache = makeCache(db.load, { l2, registry, log });
    await l2.set('item', '1', '{not json', 60_000);
    assert.deepEqual(await cache.get('1'), sword());
    assert.equal(await metricValue(registry, 'bluemarble_cache_errors_total', { space: 'item', tier: 'l2' }), 1);
    assert.equal(warned.length, 1);
    await sleep(0);
    assert.equal(await l2.get('item', '1'), JSON.stringify(sword()));

    // A validating decoder turns well-formed foreign JSON into a miss as well.
    const strict = makeCache(db.load, {
      l2,
      decode: (s: string) => {
        const v = JSON.parse(s) as Partial<ItemDefinition>;
        if (typeof v.itemId !== 'number') throw new Error('not an item');
        return v as ItemDefinition;
      },
    });
    await l2.set('item', '2', '{"hello":"world"}', 60_000);
    db.rows.set('2', { ...sword(), itemId: 2 });
    assert.deepEqual(await strict.get('2'), { ...sword(), itemId: 2 });
  });

  it('falls back to the database when L2 (Redis on a closed port) fails, and never throws', async () => {
    const db = itemDb();
    db.rows.set('1', sword());
    const registry = new Registry();
    const warned: string[] = [];
    const log: CacheLogger = { warn: (_obj: object, msg?: string) => void warned.push(msg ?? '') };
    const l2 = new RedisCache({ url: `redis://127.0.0.1:${await closedPort()}`, connectTimeoutMs: 300, log: quiet });
    const cache = makeCache(db.load, { l2, registry, log });
    try {
      const started = Date.now();
      assert.deepEqual(await cache.get('1'), sword());
      assert.deepEqual(await cache.get('1'), sword(), 'then from L1');
      assert.equal(await cache.get('2'), undefined);
      await cache.set('1', sword(2));
      await cache.invalidate('1');
      assert.deepEqual(await cache.get('1'), sword());
      assert.ok(Date.now() - started < 2000, 'failing fast, not waiting on Redis');
      assert.ok((await metricValue(registry, 'bluemarble_cache_errors_total', { space: 'item', tier: 'l2' })) >= 3);
      assert.ok(warned.length >= 1, 'logged');
      assert.ok(warned.length < 3, 'throttled');
      assert.equal(db.loads, 3);
    } finally {
      cache.close();
      await l2.close();
    }
  });

  it('stats().hitRate = (l1Hits + l2Hits) / requests', async () => {
    const db = itemDb();
    db.rows.set('x', sword());
    db.rows.set('y', sword(2));
    const l2 = mem();
    await l2.set('item', 'x', JSON.stringify(sword()), 60_000);
    const cache = makeCache(db.load, { l2 });
    assert.equal(cache.stats().hitRate, 0);
    await cache.get('x'); // L2 hit
    await cache.get('x'); // L1 hit
    await cache.get('y'); // miss → load
    await cache.get('y'); // L1 hit
    await cache.get('z'); // miss, absent
    assert.deepEqual(cache.stats(), { requests: 5, l1Hits: 2, l2Hits: 1, misses: 2, loads: 2, hitRate: 3 / 5 });
    cache.resetStats();
    assert.deepEqual(cache.stats(), { requests: 0, l1Hits: 0, l2Hits: 0, misses: 0, loads: 0, hitRate: 0 });
  });

  it('evicts from L1 beyond max and expires after ttlMs', async () => {
    const db = itemDb();
    for (const k of ['a', 'b', 'c']) db.rows.set(k, sword());
    const cache = makeCache(db.load, { l1: { max: 2, ttlMs: 50 } });
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');
    assert.equal(cache.l1Size, 2);
    assert.equal(cache.peek('a'), undefined);
    await sleep(100);
    assert.equal(cache.peek('c'), undefined);
  });

  it('several caches share one registry, one metric per name', async () => {
    const registry = new Registry();
    const items = makeCache(async () => sword(), { registry });
    const players = new TieredCache<{ name: string }>({
      space: 'player',
      l1: { max: 10, ttlMs: 1000 },
      load: async () => ({ name: 'Ægir' }),
      registry,
    });
    await items.get('1');
    await players.get('7');
    await players.get('7');
    const text = await registry.metrics();
    assert.equal(text.match(/^# TYPE bluemarble_cache_requests_total counter$/gm)?.length, 1);
    assert.match(text, /^bluemarble_cache_requests_total\{space="player",tier="l1",result="hit"\} 1$/m);
    assert.match(text, /^bluemarble_cache_loads_total\{space="item"\} 1$/m);
    assert.match(text, /^# TYPE bluemarble_cache_errors_total counter$/m);
  });

  it('a closed cache stops hearing invalidations', async () => {
    const l2 = mem();
    const cache = makeCache(async () => sword(), { l2 });
    cache.close();
    await l2.delete('item', '1');
    assert.equal(cache.peek('1'), undefined);
  });

  it('property: with the database written before every set, a get always returns the database row', async () => {
    const keys = ['1', '2', '3'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), proc: fc.nat(2), key: fc.constantFrom(...keys), v: fc.nat(1000) }),
      fc.record({ kind: fc.constant('remove' as const), proc: fc.nat(2), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('dbOnlyThenInvalidate' as const), proc: fc.nat(2), key: fc.constantFrom(...keys), v: fc.nat(1000) }),
      fc.record({ kind: fc.constant('invalidate' as const), proc: fc.nat(2), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('get' as const), proc: fc.nat(2), key: fc.constantFrom(...keys) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.boolean(), async (ops, withL2) => {
        const db = new Map<string, { v: number }>();
        const l2 = withL2 ? mem() : undefined;
        // Without a shared L2 nothing tells other processes about a change: one process only.
        const procs = (withL2 ? [0, 1, 2] : [0]).map(() =>
          makeCache<{ v: number }>(async (k) => db.get(k), { l1: { max: 2, ttlMs: 60_000 }, l2 }),
        );
        for (const o of ops) {
          const cache = procs[o.proc % procs.length];
          assert.ok(cache !== undefined);
          switch (o.kind) {
            case 'write':
              db.set(o.key, { v: o.v });
              await cache.set(o.key, { v: o.v });
              break;
            case 'remove':
              db.delete(o.key);
              await cache.invalidate(o.key);
              break;
            case 'dbOnlyThenInvalidate':
              db.set(o.key, { v: o.v });
              await cache.invalidate(o.key);
              break;
            case 'invalidate':
              await cache.invalidate(o.key);
              break;
            case 'get':
              assert.deepEqual(await cache.get(o.key), db.get(o.key));
              break;
          }
        }
        for (const cache of procs) for (const k of keys) assert.deepEqual(await cache.get(k), db.get(k));
      }),
      { numRuns: 300 },
    );
  });

  it('property: concurrent readers and writers settle on the database row', async () => {
    const keys = ['1', '2'];
    const op = fc.record({
      kind: fc.constantFrom('write', 'invalidate', 'get'),
      proc: fc.nat(2),
      key: fc.constantFrom(...keys),
      v: fc.nat(1000),
      delayMs: fc.nat(3),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const db = new Map<string, number>();
        const l2 = mem();
        // Snapshot the row, then take a while to answer: a writer can overtake the read.
        const load = async (k: string) => {
          const row = db.get(k);
          await sleep(Math.random() * 3);
          return row;
        };
        const procs = [0, 1, 2].map(() => makeCache<number>(load, { l2 }));
        await Promise.all(
          ops.map(async (o) => {
            await sleep(o.delayMs);
            const cache = procs[o.proc];
            assert.ok(cache !== undefined);
            if (o.kind === 'write') {
              db.set(o.key, o.v);
              await cache.set(o.key, o.v);
            } else if (o.kind === 'invalidate') {
              await cache.invalidate(o.key);
            } else {
              await cache.get(o.key);
            }
          }),
        );
        for (const cache of procs) for (const k of keys) assert.equal(await cache.get(k), db.get(k));
      }),
      { numRuns: 60 },
    );
  });
});

const redisSkip = await serviceSkip('redis');

describe('TieredCache over Redis', { skip: redisSkip ?? false }, () => {
  const prefix = `bm:test:${randomUUID()}:`;
  const open: SharedCache[] = [];
  const redis = async (): Promise<RedisCache> => {
    const c = new RedisCache({ url: REDIS_URL, prefix, log: quiet });
    await c.ready();
    open.push(c);
    return c;
  };

  after(async () => {
    const first = open[0];
    if (first instanceof RedisCache) await first.clearPrefix();
    await Promise.all(open.map((c) => c.close()));
  });

  it("write-through and invalidate reach the other process's L1 through pub/sub", async () => {
    const db = itemDb();
    db.rows.set('1', sword(1));
    const a = makeCache(db.load, { l2: await redis() });
    const b = makeCache(db.load, { l2: await redis() });
    const l2a = await redis();
    assert.deepEqual(await a.get('1'), sword(1));
    // The fill is not awaited by get and travels on A's connection: wait until Redis has it.
    for (let i = 0; i < 100 && (await l2a.get('item', '1')) === undefined; i++) await sleep(5);
    assert.deepEqual(await b.get('1'), sword(1));
    assert.equal(db.loads, 1, 'B was served by Redis');

    db.rows.set('1', sword(2));
    await a.set('1', sword(2));
    await waitFor("B's L1 to drop", () => b.peek('1') === undefined);
    assert.deepEqual(await b.get('1'), sword(2));

    db.rows.set('1', sword(3));
    await b.invalidate('1');
    await waitFor("A's L1 to drop", () => a.peek('1') === undefined);
    assert.deepEqual(await a.get('1'), sword(3));
    a.close();
    b.close();
  });

  it('falls back to the database once its Redis connection is closed', async () => {
    const db = itemDb();
    db.rows.set('1', sword());
    const l2 = await redis();
    const registry = new Registry();
    const cache = makeCache(db.load, { l2, registry });
    await l2.close();
    assert.deepEqual(await cache.get('1'), sword());
    await cache.set('1', sword(2));
    await cache.invalidate('1');
    assert.ok((await metricValue(registry, 'bluemarble_cache_errors_total', { space: 'item', tier: 'l2' })) >= 3);
  });
});
