// ThreadedStore: the SQLite store on its own thread. A crashed worker must fail pending calls (not
// leave them hanging), and a big batch must not stop the calling thread's event loop.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ThreadedStore, packSaves, unpackSaves } from '../../src/store/store-thread.ts';
import type { PlayerSave } from '../../src/store/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'bluemarble-store-thread-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in worker that answers migrate() and then fails the way it is told to (.mts: ESM outside the package). */
function crashingWorker(how: 'throw' | 'exit'): URL {
  const file = join(dir, `crash-${how}.mts`);
  const crash = how === 'throw' ? `throw new Error('boom in the store worker');` : 'process.exit(7);';
  writeFileSync(
    file,
    `import { parentPort } from 'node:worker_threads';
const port = parentPort;
if (port === null) throw new Error('not a worker');
port.on('message', (req: { id: number; method: string }) => {
  if (req.method === 'migrate') port.postMessage({ id: req.id, ok: true, value: [] });
  else setTimeout(() => { ${crash} }, 50);
});
`,
  );
  return pathToFileURL(file);
}

function save(playerId: number, saveSeq: number, items: number): PlayerSave {
  return {
    state: {
      playerId,
      zone: '881f1d4887fffff',
      latE7: playerId,
      lonE7: -playerId,
      altCm: 0,
      heading16: 0,
      health: 100,
      stamina: 100,
      level: 1,
      experience: 0,
      playtimeSeconds: 0,
      saveSeq,
    },
    inventory: Array.from({ length: items }, (_, slot) => ({ slot, itemId: 1, quantity: 1, durability: 1, quality: 1 })),
  };
}

describe('ThreadedStore', () => {
  for (const how of ['throw', 'exit'] as const) {
    it(`rejects every pending call when the worker crashes (${how})`, async () => {
      const store = new ThreadedStore(join(dir, 'unused.sqlite3'), { workerUrl: crashingWorker(how) });
      try {
        assert.deepEqual(await store.migrate(), []);
        const pending = [store.loadPlayer(1), store.itemDefinitions(), store.savePlayers([save(1, 1, 0)])];
        for (const p of pending) {
          await assert.rejects(p, (err: unknown) => {
            assert.ok(err instanceof Error);
            assert.match(err.message, how === 'throw' ? /store worker crashed: boom in the store worker/ : /exited unexpectedly \(exit code 7\)/);
            return true;
          });
        }
        // Later calls fail at once rather than hang.
        await assert.rejects(store.findAccountById(1), /store worker/);
      } finally {
        await store.close();
      }
    });
  }

  it('keeps the calling thread responsive while a big batch is written', async (t) => {
    const store = new ThreadedStore(join(dir, 'big.sqlite3'));
    try {
      await store.migrate();
      const players = 4000;
      const ids: number[] = [];
      for (let from = 0; from < players; from += 500) {
        const chunk = await Promise.all(
          Array.from({ length: 500 }, (_, i) =>
            store.createAccount({ username: `big${from + i}`, email: `big${from + i}@example.com`, passwordHash: 'h' }),
          ),
        );
        ids.push(...chunk.map((a) => a.playerId));
      }
      const batch = ids.map((id) => save(id, 1, 12));

      let ticks = 0;
      let last = performance.now();
      let longestGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }, 2);
      const t0 = performance.now();
      const result = await store.savePlayers(batch);
      const took = performance.now() - t0;
      clearInterval(timer);

      assert.deepEqual(result, { written: players, stale: 0 });
      t.diagnostic(`batch ${took.toFixed(1)} ms, ${ticks} timer ticks, longest gap ${longestGap.toFixed(1)} ms`);
      // 4,000 states and 48,000 inventory rows take the worker well over 50 ms; the calling thread
      // only packs the batch, so its timers keep firing throughout.
      assert.ok(took > 30, `the batch took ${took.toFixed(1)} ms, too quick to tell anything`);
      assert.ok(ticks >= 5, `only ${ticks} timer ticks in ${took.toFixed(1)} ms`);
      assert.ok(longestGap < took * 0.75, `the event loop stalled for ${longestGap.toFixed(1)} ms of ${took.toFixed(1)} ms`);
      const loaded = await store.loadPlayer(ids[ids.length - 1] as number);
      assert.equal(loaded?.inventory.length, 12);
    } finally {
      await store.close();
    }
  });

  it('reports a database that cannot be opened on the first call', async () => {
    const store = new ThreadedStore(join(dir, 'no', 'such', 'dir', 'x.sqlite3'));
    try {
      await assert.rejects(store.migrate(), /cannot open SQLite database at .*x\.sqlite3/);
    } finally {
      await store.close();
    }
  });

  it('rejects calls after close, and close is idempotent', async () => {
    const store = new ThreadedStore(join(dir, 'closed.sqlite3'));
    await store.migrate();
    await Promise.all([store.close(), store.close()]);
    await assert.rejects(store.itemDefinitions(), /closed/);
  });
});

describe('packSaves / unpackSaves', () => {
  it('round-trips saves exactly, keeping undefined and empty inventories and skills apart', () => {
    const saves: PlayerSave[] = [
      { ...save(1, 2 ** 40, 3), skills: [{ skillId: 4, level: 5, experience: 2 ** 45 }] },
      { state: { ...save(2, 1, 0).state, health: 0.1 + 0.2, stamina: -0, zone: 'z"\\\u00e9' } },
      { state: save(3, 3, 0).state, inventory: [], skills: [] },
    ];
    assert.deepEqual(unpackSaves(packSaves(saves)), saves);
    assert.deepEqual(unpackSaves(packSaves([])), []);
  });
});

describe('SqliteStore', () => {
  it('puts the database in WAL mode', async () => {
    const path = join(dir, 'pragmas.sqlite3');
    const store = new SqliteStore(path);
    await store.migrate();
    await store.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });
});
