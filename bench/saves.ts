// Scenario `saves`: how many characters per second the write-behind batches can persist. Each
// batch saves every player once (fresh saveSeq, moved a little), with about 3 in 100 carrying a
// changed inventory, like a periodic flush of a busy server. SQLite runs as the server runs it
// (ThreadedStore, a file in a temp dir); PostgreSQL in a temporary schema, dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { PostgresStore, createPgSchema, dropPgSchema, redactUrl, withSearchPath } from '../src/store/postgres.ts';
import { ThreadedStore } from '../src/store/store-thread.ts';
import type { InventoryItem, PlayerSave, Store } from '../src/store/store.ts';
import { Rng } from '../src/world/rng.ts';
import { median, round, table } from './util.ts';

export interface SavesBenchOptions {
  /** Accounts created and saved by every batch. Default 10,000. */
  players?: number;
  /** Measured batches per adapter (after one unmeasured batch that inserts the states). Default 10. */
  batches?: number;
  /** Also measure PostgreSQL at this URL. */
  postgresUrl?: string;
}

export interface SavesBenchRow {
  adapter: string;
  /** Why this adapter was not measured (its figures are then NaN, null in JSON). */
  skipped?: string;
  players: number;
  batches: number;
  /** players / median batch time */
  playersPerSecond: number;
  batchMsP50: number;
  batchMsMax: number;
  /**
   * Event-loop busy time of the calling (main) thread per batch, median: what a batch costs the
   * thread the zones tick on. SQLite: packing and posting to its worker; PostgreSQL: the client's
   * work (building the array parameters, protocol, parsing replies).
   */
  mainThreadMsP50: number;
}

const ZONE = '881f1d4887fffff';
const CHANGED_INVENTORY_RATE = 0.03;

function inventory(rng: Rng): InventoryItem[] {
  const n = 1 + Math.floor(rng.next() * 8);
  return Array.from({ length: n }, (_, slot) => ({
    slot,
    itemId: 1 + Math.floor(rng.next() * 5),
    quantity: 1 + Math.floor(rng.next() * 20),
    durability: rng.next(),
    quality: rng.next(),
  }));
}

/** One save per player, with fresh positions and saveSeq `seq`; some carry a changed inventory. */
export function benchSaves(ids: readonly number[], seq: number, rng: Rng, allInventories: boolean): PlayerSave[] {
  return ids.map((playerId, i) => {
    const save: PlayerSave = {
      state: {
        playerId,
        zone: ZONE,
        latE7: 488_566_000 + ((i * 131 + seq * 17) % 100_000),
        lonE7: 23_522_000 + ((i * 71 + seq * 29) % 100_000),
        altCm: 3500,
        heading16: (i * 977 + seq) % 65_536,
        health: 100 - (seq % 50) / 2,
        stamina: rng.next() * 100,
        level: 1 + (i % 60),
        experience: i * 1000 + seq,
        playtimeSeconds: seq * 30,
        saveSeq: seq,
      },
    };
    if (allInventories || rng.next() < CHANGED_INVENTORY_RATE) save.inventory = inventory(rng);
    return save;
  });
}

/** Creates `players` accounts (`bench0`...), returns their player ids in order. */
export async function createBenchAccounts(store: Store, players: number): Promise<number[]> {
  const ids: number[] = [];
  // Pipelined in groups: one at a time would take longer than the benchmark itself.
  for (let from = 0; from < players; from += 500) {
    const n = Math.min(500, players - from);
    const accounts = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        store.createAccount({ username: `bench${from + i}`, email: `bench${from + i}@example.com`, passwordHash: 'x' }),
      ),
    );
    ids.push(...accounts.map((a) => a.playerId));
  }
  return ids;
}

async function measure(adapter: string, store: Store, players: number, batches: number): Promise<SavesBenchRow> {
  await store.migrate();
  const ids = await createBenchAccounts(store, players);
  const rng = new Rng(0x5a7e5);
  await store.savePlayers(benchSaves(ids, 1, rng, true)); // inserts the states: not what is measured
  const times: number[] = [];
  const busy: number[] = [];
  for (let b = 0; b < batches; b++) {
    const saves = benchSaves(ids, b + 2, rng, false);
    const elu = performance.eventLoopUtilization();
    const t0 = performance.now();
    const result = await store.savePlayers(saves);
    times.push(performance.now() - t0);
    busy.push(performance.eventLoopUtilization(elu).active);
    if (result.written !== players) throw new Error(`${adapter}: batch wrote ${result.written} of ${players}`);
  }
  const p50 = median(times);
  return {
    adapter,
    players,
    batches,
    playersPerSecond: Math.round(players / (p50 / 1000)),
    batchMsP50: round(p50, 1),
    batchMsMax: round(Math.max(...times), 1),
    mainThreadMsP50: round(median(busy), 1),
  };
}

export async function runSavesBench(opts: SavesBenchOptions = {}): Promise<SavesBenchRow[]> {
  const players = Math.max(1, Math.floor(opts.players ?? 10_000));
  const batches = Math.max(1, Math.floor(opts.batches ?? 10));
  const rows: SavesBenchRow[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'bluemarble-bench-saves-'));
  const sqlite = new ThreadedStore(join(dir, 'bench.sqlite3'));
  try {
    rows.push(await measure('sqlite (worker thread)', sqlite, players, batches));
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }

  if (opts.postgresUrl !== undefined) {
    const url = opts.postgresUrl;
    const schema = await benchPgSchema(url);
    if (typeof schema !== 'string') {
      rows.push(skippedRow('postgres', players, batches, schema.skipped));
      return rows;
    }
    const pg = new PostgresStore(withSearchPath(url, schema));
    try {
      rows.push(await measure('postgres', pg, players, batches));
    } finally {
      await pg.close();
      await dropPgSchema(url, schema);
    }
  }
  return rows;
}

export function skippedRow(adapter: string, players: number, batches: number, why: string): SavesBenchRow {
  return { adapter, skipped: why, players, batches, playersPerSecond: NaN, batchMsP50: NaN, batchMsMax: NaN, mainThreadMsP50: NaN };
}

/** Whether something accepts TCP connections at the URL's host and port (2 s timeout). */
export function tcpReachable(url: string, defaultPort: number): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname || '127.0.0.1';
    port = Number(u.port || defaultPort);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * A fresh schema for one benchmark run at `url`, or why PostgreSQL cannot be used (not
 * reachable, or it refused us). The caller drops the schema with dropPgSchema.
 */
export async function benchPgSchema(url: string): Promise<string | { skipped: string }> {
  const where = redactUrl(url);
  if (!(await tcpReachable(url, 5432))) return { skipped: `skipped: not reachable at ${where}` };
  const schema = `bm_bench_${process.pid}_${Date.now().toString(36)}`;
  try {
    await createPgSchema(url, schema);
  } catch (err) {
    return { skipped: `skipped: ${where} refused: ${err instanceof Error ? err.message : String(err)}` };
  }
  return schema;
}

export interface SavesResult {
  players: number;
  batches: number;
  rows: SavesBenchRow[];
}

export function formatSaves(r: SavesResult): string {
  return table(
    `saves: write-behind batches of ${r.players.toLocaleString('en-US')} characters, one transaction each (median of ${r.batches} batches)`,
    ['adapter', 'players', 'batches', 'players/s', 'batch p50 ms', 'batch max ms', 'main thread ms/batch'],
    r.rows.map((x) => [
      x.skipped !== undefined ? `${x.adapter} (${x.skipped})` : x.adapter,
      x.players,
      x.batches,
      x.playersPerSecond,
      x.batchMsP50,
      x.batchMsMax,
      x.mainThreadMsP50,
    ]),
  );
}
