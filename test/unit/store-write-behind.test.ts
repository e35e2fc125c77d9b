// The write-behind queue against a real SQLite store: batches in one transaction, merging of
// unsaved snapshots, ordering against critical saves, departures, failures kept and retried, and
// bad saves isolated instead of blocking everyone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/ops/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { PlayerSave, Store } from '../../src/store/store.ts';
import { WriteBehind } from '../../src/store/write-behind.ts';

const logger = createLogger({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function storeWith(players: number): Promise<{ store: Store; ids: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'bm-wb-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'w.sqlite3'));
  await store.migrate();
  const ids: number[] = [];
  for (let i = 0; i < players; i++) {
    const a = await store.createAccount({ username: `p${i}`, email: `p${i}@x.test`, passwordHash: 'h' });
    ids.push(a.playerId);
  }
  return { store, ids };
}

function save(playerId: number, saveSeq: number, latE7: number, inventory?: PlayerSave['inventory']): PlayerSave {
  const s: PlayerSave = {
    state: {
      playerId,
      zone: '881fb46625fffff',
      latE7,
      lonE7: 23_522_000,
      altCm: 0,
      heading16: 0,
      health: 100,
      stamina: 100,
      level: 1,
      experience: saveSeq,
      playtimeSeconds: saveSeq,
      saveSeq,
    },
  };
  if (inventory) s.inventory = inventory;
  return s;
}

const item = (slot: number, itemId: number, quantity: number) => ({ slot, itemId, quantity, durability: 1, quality: 1 });

test('a flush writes every collected save in one batch; unchanged inventories survive', async () => {
  const { store, ids } = await storeWith(3);
  let next: PlayerSave[] = ids.map((id, i) => save(id, 1, 1000 + i, [item(0, 1, i + 1)]));
  const wb = new WriteBehind({ store, collect: () => next.splice(0), intervalMs: 60_000, logger, registry: new Registry() });
  assert.deepEqual(await wb.flush(), { written: 3, stale: 0, failed: 0 });
  next = [save(ids[0]!, 2, 5000)]; // inventory unchanged: left out
  await wb.flush();
  const p0 = await store.loadPlayer(ids[0]!);
  assert.equal(p0!.state!.latE7, 5000);
  assert.deepEqual(p0!.inventory, [item(0, 1, 1)]);
  await wb.close();
  await store.close();
});

test('saves of a player that left are merged: newest state, with the inventory an older one changed', async () => {
  const { store, ids } = await storeWith(1);
  const id = ids[0]!;
  const wb = new WriteBehind({ store, collect: () => [], intervalMs: 60_000, logger, registry: new Registry() });
  wb.left(id, save(id, 1, 100, [item(0, 2, 5)]));
  wb.left(id, save(id, 2, 200));
  await wb.whenSaved(id); // written within LEFT_FLUSH_MS, not at the next interval
  const p = await store.loadPlayer(id);
  assert.equal(p!.state!.latE7, 200);
  assert.equal(p!.state!.saveSeq, 2);
  assert.deepEqual(p!.inventory, [item(0, 2, 5)]);
  await wb.close();
  await store.close();
});

test('a critical save resolves once durable and is never overtaken by an older batch', async () => {
  const { store, ids } = await storeWith(1);
  const id = ids[0]!;
  let collected: PlayerSave[] = [save(id, 1, 111)];
  const wb = new WriteBehind({ store, collect: () => collected.splice(0), intervalMs: 60_000, logger, registry: new Registry() });
  const batch = wb.flush(); // snapshot seq 1, in flight
  const critical = wb.critical(save(id, 2, 222, [item(0, 5, 1)]));
  collected = [save(id, 1, 999)]; // a stale snapshot arriving late must not win
  await batch;
  await critical;
  assert.equal((await store.loadPlayer(id))!.state!.latE7, 222, 'durable when resolved');
  await wb.flush();
  const p = await store.loadPlayer(id);
  assert.equal(p!.state!.latE7, 222);
  assert.deepEqual(p!.inventory, [item(0, 5, 1)]);
  await wb.close();
  await store.close();
});

test('a save the database refuses is dropped loudly; the rest of the batch is written', async () => {
  const { store, ids } = await storeWith(4);
  const registry = new Registry();
  const bad = save(987_654, 1, 5); // no such player: would fail every batch forever
  const batch = [...ids.map((id) => save(id, 1, 42)), bad];
  const wb = new WriteBehind({ store, collect: () => batch.splice(0), intervalMs: 60_000, logger, registry });
  const r = await wb.flush();
  assert.equal(r.written, 4);
  assert.equal(r.failed, 0);
  for (const id of ids) assert.equal((await store.loadPlayer(id))!.state!.latE7, 42);
  const text = await registry.metrics();
  assert.match(text, /bluemarble_character_save_failures_total\{kind="dropped"\} 1/);
  await wb.close();
  await store.close();
});

test('when the database is gone the batch is kept, and written once it is back', async () => {
  const { store, ids } = await storeWith(2);
  const path = (store as SqliteStore).path;
  let target: Store = store;
  // The queue keeps one Store; the test swaps the database behind it, as a restarted server would.
  const proxy: Store = new Proxy({} as Store, {
    get: (_t, k) => {
      const v = (target as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  let collected = ids.map((id) => save(id, 1, 77));
  const wb = new WriteBehind({ store: proxy, collect: () => collected.splice(0), intervalMs: 60_000, logger, registry: new Registry() });
  await store.close(); // a real failure: the connection is closed
  const r = await wb.flush();
  assert.equal(r.failed, 2);
  assert.equal(wb.pendingCount, 2);
  const reopened = new SqliteStore(path);
  await reopened.migrate();
  target = reopened;
  collected = [];
  const r2 = await wb.flush();
  assert.equal(r2.written, 2);
  for (const id of ids) assert.equal((await reopened.loadPlayer(id))!.state!.latE7, 77);
  await wb.close();
  await reopened.close();
});
