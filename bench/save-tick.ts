// Scenario `save-tick`: does the tick wait on the database? A real ZoneHost on the in-memory bus,
// ticking on its own timer at 20 Hz (host.start(), the real clock), with 1,000 live walking
// players that each have a character. A stand-in gateway sends one input per player per tick and
// acknowledges frames as a client does. The real WriteBehind writes batches of 10,000 saves into
// the real store: the live characters collected from the zones plus 9,000 other accounts' saves
// (fresh saveSeq each batch), standing for the rest of a 10,000-player world. 1,000 live players
// is what one process simulates comfortably; 10,000 cannot tick at 20 Hz on one core, which is
// what zone sharding is for.
//
// Windows alternate: "idle" (no batch) and "saving" (a 10,000-save batch forced at the start of
// the window and every second). Per window the host's own step timings are read and reset; the
// figures are medians over the windows of each mode, and saving / idle ratios.
//
// Main-thread cost of the save path is timed separately: collecting from the zones, building the
// stand-in saves, the synchronous part of store.savePlayers (for SQLite: packing into typed arrays
// and posting to the worker), and the extra event-loop busy time of saving windows over idle ones
// (performance.eventLoopUtilization), which also catches PostgreSQL's client-side work that runs
// after the first await.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { MemoryBus } from '../src/cluster/memory-bus.ts';
import { createLogger } from '../src/ops/log.ts';
import { Metrics } from '../src/ops/metrics.ts';
import { PostgresStore, dropPgSchema, withSearchPath } from '../src/store/postgres.ts';
import { ThreadedStore } from '../src/store/store-thread.ts';
import type { PlayerSave, SaveResult, Store } from '../src/store/store.ts';
import { WriteBehind } from '../src/store/write-behind.ts';
import { newCharacterSheet } from '../src/world/character.ts';
import { Rng } from '../src/world/rng.ts';
import { ZoneHost } from '../src/zone/host.ts';
import type { StepTimings } from '../src/zone/host.ts';
import { benchPgSchema, benchSaves, createBenchAccounts } from './saves.ts';
import { median, progress, round, sleep, table } from './util.ts';
import { BENCH_TICK_RATE, Walkers, benchZoneSettings } from './walkers.ts';

const TICK_RATE = BENCH_TICK_RATE;
const CENTER = { lat: 48.8566, lon: 2.3522 };
/** The `sockets` scenario's spread world: 1,000 players per 10 km^2 (~13 others within 200 m). */
const PLAYERS_PER_KM2 = 100;

export interface SaveTickOptions {
  quick?: boolean;
  signal?: AbortSignal;
  /** Live players in the zones. Default 1,000. */
  live?: number;
  /** Saves per batch: the live characters plus stand-ins for the rest. Default 10,000. */
  batchSize?: number;
  /** Length of each idle and saving window. Default 5,000 ms (quick: 2,000). */
  windowMs?: number;
  /** Idle + saving pairs. Default 3 (quick: 1). */
  rounds?: number;
  /** A batch is forced at the start of a saving window and then this often. Default 1,000 ms. */
  batchEveryMs?: number;
  /** Warm-up before the first window. Default 2,000 ms (quick: 1,000). */
  warmupMs?: number;
  /** Also measure PostgreSQL here (a temporary schema, dropped afterwards). */
  postgresUrl?: string;
}

/** One measurement window as read from ZoneHost.timings({ reset: true }). */
export interface SaveTickWindow {
  mode: 'idle' | 'saving';
  steps: number;
  zoneTickP99Ms: number;
  stepP50Ms: number;
  stepP99Ms: number;
  lagP99Ms: number;
  simStepP99Ms: number;
  /** Event-loop busy time over the window (ms), from performance.eventLoopUtilization. */
  busyMs: number;
  /** Batches started in the window. */
  batches: number;
}

export interface SaveTickMode {
  windows: number;
  /** Steps per second actually run (20 when the tick keeps up). */
  stepsPerSecond: number;
  zoneTickP99Ms: number;
  stepP50Ms: number;
  stepP99Ms: number;
  lagP99Ms: number;
  simStepP99Ms: number;
  /** Main-thread event loop busy, percent of wall time. */
  busyPct: number;
}

export interface SaveTickRow {
  adapter: string;
  /** Why this adapter was not measured. */
  skipped?: string;
  live: number;
  batchSize: number;
  windowMs: number;
  rounds: number;
  /** Medians over the windows of each mode. */
  idle?: SaveTickMode;
  saving?: SaveTickMode;
  /** saving / idle of each median. */
  ratio?: { zoneTickP99: number; stepP99: number; lagP99: number; simStepP99: number };
  /** Batches written during saving windows. */
  batches: number;
  /** Saves written per batch (the smallest batch). */
  writtenMin: number;
  /** store.savePlayers call to commit, per batch. */
  batchWriteMsP50: number;
  batchWriteMsMax: number;
  /** Main thread, per batch: ZoneHost.collectSaves() of the live characters. */
  collectLiveMsP50: number;
  collectLiveMsMax: number;
  /** Main thread, per batch: building the stand-in saves (bench cost, standing for their collection). */
  standInMsP50: number;
  /** Main thread, per batch: the synchronous part of store.savePlayers (SQLite: pack + post). */
  submitMsP50: number;
  submitMsMax: number;
  /**
   * Per batch: extra event-loop busy time of saving windows over idle ones. Noisy: on a shared
   * machine it includes ticks slowed by CPU contention (the SQLite worker, the PostgreSQL server);
   * the `saves` scenario measures a batch's own main-thread time in isolation.
   */
  mainThreadMsPerBatch: number;
  kicks: number;
  rejects: number;
  busErrors: number;
  windows: SaveTickWindow[];
}

export interface SaveTickResult {
  tickRate: number;
  rows: SaveTickRow[];
}

interface BatchTiming {
  size: number;
  submitMs: number;
  writeMs: number;
  written: number;
}

/** The store as the write-behind sees it, timing each batch's synchronous part and its commit. */
function timedStore(store: Store, record: (t: BatchTiming) => void): Store {
  const savePlayers = (saves: readonly PlayerSave[]): Promise<SaveResult> => {
    const t0 = performance.now();
    const p = store.savePlayers(saves);
    const submitMs = performance.now() - t0;
    return p.then((r) => {
      record({ size: saves.length, submitMs, writeMs: performance.now() - t0, written: r.written });
      return r;
    });
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'savePlayers') return savePlayers;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function modeOf(windows: SaveTickWindow[], windowMs: number): SaveTickMode {
  const m = (f: (w: SaveTickWindow) => number): number => round(median(windows.map(f)), 2);
  return {
    windows: windows.length,
    stepsPerSecond: round(median(windows.map((w) => w.steps)) / (windowMs / 1000), 1),
    zoneTickP99Ms: m((w) => w.zoneTickP99Ms),
    stepP50Ms: m((w) => w.stepP50Ms),
    stepP99Ms: m((w) => w.stepP99Ms),
    lagP99Ms: m((w) => w.lagP99Ms),
    simStepP99Ms: m((w) => w.simStepP99Ms),
    busyPct: round((100 * median(windows.map((w) => w.busyMs))) / windowMs, 1),
  };
}

function ratio(a: number, b: number): number {
  return b > 0 ? round(a / b, 2) : NaN;
}

interface MeasureOptions {
  live: number;
  batchSize: number;
  windowMs: number;
  rounds: number;
  batchEveryMs: number;
  warmupMs: number;
  signal?: AbortSignal;
}

async function measure(adapter: string, rawStore: Store, o: MeasureOptions): Promise<SaveTickRow> {
  const { live, batchSize, windowMs, rounds, batchEveryMs, warmupMs } = o;
  const t = (): number => performance.now();
  await rawStore.migrate();
  progress(`save-tick: ${adapter}: creating ${batchSize.toLocaleString('en-US')} accounts`);
  const ids = await createBenchAccounts(rawStore, batchSize);
  const liveIds = ids.slice(0, live);
  const others = ids.slice(live);
  const rng = new Rng(0x5a7e71c);
  // Every character's first save inserts its rows: done up front, not measured.
  await rawStore.savePlayers(benchSaves(ids, 1, rng, true));

  const timings: BatchTiming[] = [];
  const store = timedStore(rawStore, (x) => {
    if (recording) timings.push(x);
  });
  let recording = false;
  const collectLiveMs: number[] = [];
  const standInMs: number[] = [];
  let standInSeq = 1;

  const bus = new MemoryBus();
  let busErrors = 0;
  bus.onHandlerError = () => void busErrors++;
  const metrics = new Metrics({ processMetrics: false });
  const logger = createLogger({ level: 'silent' });
  const settings = benchZoneSettings();
  const writeBehind: WriteBehind = new WriteBehind({
    store,
    collect: (): PlayerSave[] => {
      const t0 = t();
      const saves: PlayerSave[] = host.collectSaves(); // host is set below, before any batch
      const t1 = t();
      const rest = benchSaves(others, ++standInSeq, rng, false);
      const t2 = t();
      if (recording) {
        collectLiveMs.push(t1 - t0);
        standInMs.push(t2 - t1);
      }
      for (const s of rest) saves.push(s);
      return saves;
    },
    intervalMs: 3_600_000, // never started: batches are forced by the windows below
    logger,
    registry: new Registry(),
  });
  const now = (): number => performance.timeOrigin + performance.now();
  const host: ZoneHost = new ZoneHost({ bus, metrics, logger, settings, now, characters: writeBehind }, bus);

  // The stand-in gateway and its walkers, each with the character of a live account.
  const n = live;
  const walkers = new Walkers(bus, n, rng);
  const radiusM = Math.sqrt(n / PLAYERS_PER_KM2 / Math.PI) * 1000;
  host.start();
  await walkers.spawn({
    center: CENTER,
    radiusM,
    settings,
    character: (id) => ({ playerId: liveIds[id - 1]!, sheet: newCharacterSheet(), playtimeMs: 0, saveSeq: 1 }),
  });

  // One input per player per tick period, from its own timer (as from sockets, not in lockstep).
  const dtMs = 1000 / TICK_RATE;
  const sendInputs = (): void => walkers.sendInputs(dtMs);
  const inputTimer = setInterval(sendInputs, dtMs);

  const windows: SaveTickWindow[] = [];
  let lastFlush: Promise<unknown> = Promise.resolve();
  try {
    await sleep(warmupMs, o.signal);
    // One unmeasured batch through the whole path (prepared statements, worker warm-up).
    await writeBehind.flush({ force: true });
    recording = true;
    for (let r = 0; r < rounds && !o.signal?.aborted; r++) {
      for (const mode of ['idle', 'saving'] as const) {
        if (o.signal?.aborted) break;
        await lastFlush; // a batch still being written must not spill into an idle window
        host.timings({ reset: true });
        const elu0 = performance.eventLoopUtilization();
        const start = t();
        let batches = 0;
        if (mode === 'saving') {
          // Forced at the start and every batchEveryMs; a forced batch queues behind a running one.
          for (let at = 0; at < windowMs; at += batchEveryMs) {
            const wait = start + at - t();
            if (wait > 0) await sleep(wait, o.signal);
            batches++;
            lastFlush = writeBehind.flush({ force: true });
          }
        }
        const left = start + windowMs - t();
        if (left > 0) await sleep(left, o.signal);
        const tm: StepTimings = host.timings({ reset: true });
        const elu = performance.eventLoopUtilization(elu0);
        windows.push({
          mode,
          steps: tm.samples,
          zoneTickP99Ms: round(tm.zoneTickP99Ms, 2),
          stepP50Ms: round(tm.stepP50Ms, 2),
          stepP99Ms: round(tm.stepP99Ms, 2),
          lagP99Ms: round(tm.lagP99Ms, 2),
          simStepP99Ms: round(tm.simStepP99Ms, 2),
          busyMs: round(elu.active, 1),
          batches,
        });
        progress(
          `save-tick: ${adapter}: round ${r + 1} ${mode}: step p99 ${round(tm.stepP99Ms, 2)} ms, lag p99 ${round(tm.lagP99Ms, 2)} ms, ` +
            `zone tick p99 ${round(tm.zoneTickP99Ms, 2)} ms, ${tm.samples} steps, loop busy ${round((100 * elu.active) / windowMs, 1)} %`,
        );
      }
    }
    await lastFlush;
    recording = false;
  } finally {
    clearInterval(inputTimer);
    await host.stop();
    await writeBehind.close();
    await bus.close();
  }

  const idleW = windows.filter((w) => w.mode === 'idle');
  const savingW = windows.filter((w) => w.mode === 'saving');
  const idle = modeOf(idleW, windowMs);
  const saving = modeOf(savingW, windowMs);
  // Write-behind batches only (not a departing player's or a critical save): they carry the stand-ins.
  const batchTimes = timings.filter((x) => x.size >= others.length && x.size > 1);
  const writeMs = batchTimes.map((x) => x.writeMs);
  const submitMs = batchTimes.map((x) => x.submitMs);
  const batchCount = savingW.reduce((a, w) => a + w.batches, 0);
  const busyDelta = median(savingW.map((w) => w.busyMs)) - median(idleW.map((w) => w.busyMs));
  const perWindow = median(savingW.map((w) => w.batches));
  return {
    adapter,
    live,
    batchSize,
    windowMs,
    rounds,
    idle,
    saving,
    ratio: {
      zoneTickP99: ratio(saving.zoneTickP99Ms, idle.zoneTickP99Ms),
      stepP99: ratio(saving.stepP99Ms, idle.stepP99Ms),
      lagP99: ratio(saving.lagP99Ms, idle.lagP99Ms),
      simStepP99: ratio(saving.simStepP99Ms, idle.simStepP99Ms),
    },
    batches: batchCount,
    writtenMin: batchTimes.length > 0 ? Math.min(...batchTimes.map((x) => x.written)) : 0,
    batchWriteMsP50: round(median(writeMs), 1),
    batchWriteMsMax: round(writeMs.length > 0 ? Math.max(...writeMs) : 0, 1),
    collectLiveMsP50: round(median(collectLiveMs), 2),
    collectLiveMsMax: round(collectLiveMs.length > 0 ? Math.max(...collectLiveMs) : 0, 2),
    standInMsP50: round(median(standInMs), 2),
    submitMsP50: round(median(submitMs), 2),
    submitMsMax: round(submitMs.length > 0 ? Math.max(...submitMs) : 0, 2),
    mainThreadMsPerBatch: round(perWindow > 0 ? busyDelta / perWindow : 0, 1),
    kicks: walkers.kicks,
    rejects: walkers.rejects,
    busErrors,
    windows,
  };
}

function skippedRow(adapter: string, why: string, o: { live: number; batchSize: number; windowMs: number; rounds: number }): SaveTickRow {
  return {
    adapter,
    skipped: why,
    ...o,
    batches: 0,
    writtenMin: 0,
    batchWriteMsP50: NaN,
    batchWriteMsMax: NaN,
    collectLiveMsP50: NaN,
    collectLiveMsMax: NaN,
    standInMsP50: NaN,
    submitMsP50: NaN,
    submitMsMax: NaN,
    mainThreadMsPerBatch: NaN,
    kicks: 0,
    rejects: 0,
    busErrors: 0,
    windows: [],
  };
}

export async function runSaveTick(opts: SaveTickOptions = {}): Promise<SaveTickResult> {
  const quick = opts.quick ?? false;
  const o: MeasureOptions = {
    live: Math.max(1, Math.floor(opts.live ?? 1000)),
    batchSize: 0,
    windowMs: Math.max(100, opts.windowMs ?? (quick ? 2000 : 5000)),
    rounds: Math.max(1, Math.floor(opts.rounds ?? (quick ? 1 : 3))),
    batchEveryMs: Math.max(50, opts.batchEveryMs ?? 1000),
    warmupMs: Math.max(0, opts.warmupMs ?? (quick ? 1000 : 2000)),
    ...(opts.signal && { signal: opts.signal }),
  };
  o.batchSize = Math.max(o.live, Math.floor(opts.batchSize ?? 10_000));
  const rows: SaveTickRow[] = [];
  const describe = `${o.live.toLocaleString('en-US')} live players, batches of ${o.batchSize.toLocaleString('en-US')}, ${o.rounds} x (${o.windowMs / 1000} s idle + ${o.windowMs / 1000} s saving)`;

  progress(`save-tick: sqlite (worker thread): ${describe}`);
  const dir = mkdtempSync(join(tmpdir(), 'bluemarble-bench-save-tick-'));
  const sqlite = new ThreadedStore(join(dir, 'bench.sqlite3'));
  try {
    rows.push(await measure('sqlite (worker thread)', sqlite, o));
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }

  if (opts.postgresUrl !== undefined && !opts.signal?.aborted) {
    const url = opts.postgresUrl;
    const schema = await benchPgSchema(url);
    if (typeof schema !== 'string') {
      progress(`save-tick: postgres ${schema.skipped}`);
      rows.push(skippedRow('postgres', schema.skipped, o));
    } else {
      progress(`save-tick: postgres: ${describe}`);
      const pg = new PostgresStore(withSearchPath(url, schema));
      try {
        rows.push(await measure('postgres', pg, o));
      } finally {
        await pg.close();
        await dropPgSchema(url, schema);
      }
    }
  }
  return { tickRate: TICK_RATE, rows };
}

export function formatSaveTick(r: SaveTickResult): string {
  const measured = r.rows.filter((x) => x.skipped === undefined && x.idle && x.saving);
  const first = r.rows[0];
  const title = first
    ? `save-tick: ${first.live.toLocaleString('en-US')} live players at ${r.tickRate} Hz (real timer), batches of ${first.batchSize.toLocaleString('en-US')} saves; ` +
      `medians over ${first.rounds} idle + ${first.rounds} saving windows of ${first.windowMs / 1000} s`
    : 'save-tick';
  const timingRows: Array<Array<string | number>> = [];
  for (const x of r.rows) {
    if (x.skipped !== undefined || !x.idle || !x.saving || !x.ratio) {
      timingRows.push([`${x.adapter} (${x.skipped ?? 'no windows'})`, '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    for (const [mode, f] of [['idle', x.idle], ['saving', x.saving]] as const) {
      timingRows.push([`${x.adapter} ${mode}`, f.stepsPerSecond, f.stepP50Ms, f.stepP99Ms, f.simStepP99Ms, f.zoneTickP99Ms, f.lagP99Ms, f.busyPct]);
    }
    timingRows.push([`${x.adapter} saving/idle`, '', '', x.ratio.stepP99, x.ratio.simStepP99, x.ratio.zoneTickP99, x.ratio.lagP99, '']);
  }
  const t1 = table(
    title,
    ['adapter / mode', 'steps/s', 'step p50 ms', 'step p99 ms', 'sim p99 ms', 'zone tick p99 ms', 'lag p99 ms', 'loop busy %'],
    timingRows,
  );
  const t2 = table(
    'save-tick: the save path per batch (write = savePlayers call to commit; the rest is main-thread time)',
    [
      'adapter',
      'batches',
      'written',
      'write p50 ms',
      'write max ms',
      'collect live p50 ms',
      'stand-ins p50 ms',
      'submit p50 ms',
      'submit max ms',
      'busy delta ms/batch',
      'kicks',
      'rejects',
    ],
    measured.map((x) => [
      x.adapter,
      x.batches,
      x.writtenMin,
      x.batchWriteMsP50,
      x.batchWriteMsMax,
      x.collectLiveMsP50,
      x.standInMsP50,
      x.submitMsP50,
      x.submitMsMax,
      x.mainThreadMsPerBatch,
      x.kicks,
      x.rejects,
    ]),
  );
  return `${t1}\n${t2}`;
}
