// The SharedCache contract: every L2 adapter (MemorySharedCache, RedisCache) must pass the same
// suite. `make` must return instances over ONE shared backing store (peers, like processes on one
// Redis); each test uses fresh keys, so tests need no cleanup between them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import type { CacheSpace, SharedCache } from '../../src/store/cache.ts';

interface Heard {
  space: CacheSpace;
  key: string;
  origin: string;
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sharedCacheContract(
  name: string,
  make: () => Promise<SharedCache>,
  opts: { skip?: string } = {},
): void {
  describe(`SharedCache contract: ${name}`, { skip: opts.skip ?? false }, () => {
    const open: SharedCache[] = [];
    const fresh = async (): Promise<SharedCache> => {
      const c = await make();
      await c.ready();
      open.push(c);
      return c;
    };
    const key = () => `k-${randomUUID()}`;
    const listen = (c: SharedCache): Heard[] => {
      const heard: Heard[] = [];
      c.onInvalidated((space, k, origin) => heard.push({ space, key: k, origin }));
      return heard;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.close()));
    });

    it('get of a missing key is undefined', async () => {
      const c = await fresh();
      assert.equal(await c.get('player', key()), undefined);
    });

    it('set then get returns the value; set again replaces it', async () => {
      const c = await fresh();
      const k = key();
      await c.set('player', k, '{"a":1}', 60_000);
      assert.equal(await c.get('player', k), '{"a":1}');
      await c.set('player', k, '{"a":2}', 60_000);
      assert.equal(await c.get('player', k), '{"a":2}');
    });

    it('a value written by one instance is read by another', async () => {
      const a = await fresh();
      const b = await fresh();
      const k = key();
      await a.set('item', k, 'shared', 60_000);
      assert.equal(await b.get('item', k), 'shared');
    });

    it('spaces are separate namespaces', async () => {
      const c = await fresh();
      const k = key();
      await c.set('player', k, 'p', 60_000);
      assert.equal(await c.get('item', k), undefined);
      await c.set('item', k, 'i', 60_000);
      assert.equal(await c.get('player', k), 'p');
      assert.equal(await c.get('item', k), 'i');
    });

    it('delete removes the key; deleting a missing key is fine', async () => {
      const c = await fresh();
      const k = key();
      await c.set('player', k, 'x', 60_000);
      await c.delete('player', k);
      assert.equal(await c.get('player', k), undefined);
      await c.delete('player', k);
      await c.delete('item', key());
    });

    it('getMany returns values in key order, undefined for missing', async () => {
      const c = await fresh();
      const [k1, k2, k3] = [key(), key(), key()];
      await c.set('item', k1, 'one', 60_000);
      await c.set('item', k3, 'three', 60_000);
      assert.deepEqual(await c.getMany('item', [k1, k2, k3]), ['one', undefined, 'three']);
      assert.deepEqual(await c.getMany('item', []), []);
    });

    it('onlyIfAbsent stores only into an empty key', async () => {
      const c = await fresh();
      const k = key();
      await c.set('player', k, 'first', 60_000, { onlyIfAbsent: true });
      assert.equal(await c.get('player', k), 'first');
      await c.set('player', k, 'second', 60_000, { onlyIfAbsent: true });
      assert.equal(await c.get('player', k), 'first');
    });

    it('values expire after their TTL', async () => {
      const c = await fresh();
      const [k1, k2] = [key(), key()];
      await c.set('player', k1, 'short', 80);
      await c.set('player', k2, 'long', 60_000);
      await c.set('player', key(), 'filled', 80, { onlyIfAbsent: true });
      assert.equal(await c.get('player', k1), 'short');
      await sleep(200);
      assert.equal(await c.get('player', k1), undefined);
      assert.equal(await c.get('player', k2), 'long');
    });

    it('a fill with onlyIfAbsent also expires', async () => {
      const c = await fresh();
      const k = key();
      await c.set('item', k, 'filled', 80, { onlyIfAbsent: true });
      await sleep(200);
      assert.equal(await c.get('item', k), undefined);
    });

    it('rejects a non-positive TTL', async () => {
      const c = await fresh();
      await assert.rejects(c.set('player', key(), 'x', 0), RangeError);
    });

    it('keeps unicode, control characters and large JSON exactly', async () => {
      const c = await fresh();
      const k = `ключ:🗺️:${randomUUID()}`;
      const odd = JSON.stringify({ name: 'Ægir 🐉 東京 \u0000 \n "quoted" \\', rtl: 'مرحبا', lone: '\ud83d' });
      await c.set('player', k, odd, 60_000);
      assert.equal(await c.get('player', k), odd);
      // Not only JSON: raw NUL and astral characters survive too.
      const raw = 'raw \u0000 🐉 ñ';
      await c.set('item', k, raw, 60_000);
      assert.equal(await c.get('item', k), raw);
      const inventory = Array.from({ length: 20_000 }, (_, i) => ({ slot: i, itemId: i * 7, name: `item ${i} ⚔` }));
      const large = JSON.stringify({ inventory });
      assert.ok(large.length > 500_000);
      const k2 = key();
      await c.set('player', k2, large, 60_000);
      const back = await c.get('player', k2);
      assert.equal(back, large);
      assert.deepEqual(JSON.parse(back ?? 'null'), { inventory });
    });

    it('set and delete are announced to other instances, with the origin, not to the writer', async () => {
      const a = await fresh();
      const b = await fresh();
      const heardA = listen(a);
      const heardB = listen(b);
      const k = key();
      await a.set('player', k, 'v1', 60_000);
      await waitFor('B to hear the set', () => heardB.length === 1);
      assert.deepEqual(heardB[0], { space: 'player', key: k, origin: a.origin });
      await a.delete('player', k);
      await waitFor('B to hear the delete', () => heardB.length === 2);
      assert.deepEqual(heardB[1], { space: 'player', key: k, origin: a.origin });
      // Announcements reach each instance in order: once A hears B's later write, A has already
      // had every chance to hear its own (and must not have).
      const k2 = key();
      await b.set('item', k2, 'x', 60_000);
      await waitFor('A to hear B', () => heardA.length >= 1);
      assert.deepEqual(heardA, [{ space: 'item', key: k2, origin: b.origin }]);
      assert.equal(heardB.length, 2, 'B must not hear its own write');
    });

    it('fills (onlyIfAbsent) are not announced', async () => {
      const a = await fresh();
      const b = await fresh();
      const heardB = listen(b);
      const fill = key();
      await a.set('player', fill, 'v', 60_000, { onlyIfAbsent: true });
      const marker = key();
      await a.delete('player', marker);
      await waitFor('B to hear the marker', () => heardB.some((h) => h.key === marker));
      assert.deepEqual(
        heardB.map((h) => h.key),
        [marker],
      );
    });

    it('a write with another origin (another cache on this instance) is heard by this instance too', async () => {
      const a = await fresh();
      const heardA = listen(a);
      const k = key();
      await a.set('item', k, 'v', 60_000, { origin: 'other-cache' });
      await waitFor('A to hear a write made for another origin', () => heardA.length === 1);
      assert.deepEqual(heardA[0], { space: 'item', key: k, origin: 'other-cache' });
    });

    it('unsubscribe stops delivery', async () => {
      const a = await fresh();
      const b = await fresh();
      const heard: string[] = [];
      const sub = b.onInvalidated((_s, k) => heard.push(k));
      const marker: string[] = [];
      b.onInvalidated((_s, k) => marker.push(k));
      sub.unsubscribe();
      const k = key();
      await a.delete('player', k);
      await waitFor('the remaining listener to hear', () => marker.length === 1);
      assert.deepEqual(heard, []);
    });

    it('operations reject after close', async () => {
      const c = await make();
      await c.ready();
      await c.close();
      await assert.rejects(c.get('player', key()));
      await assert.rejects(c.set('player', key(), 'x', 1000));
      await assert.rejects(c.delete('player', key()));
    });
  });
}
