// Scenario `tick`: the simulation cost alone. One process, no sockets: a ZoneHost on the
// in-memory bus, stepped with a fake clock, with a stand-in gateway that only counts bytes and
// acknowledges frames the way a client does (so frames are deltas, as in production).
import { MemoryBus } from '../src/cluster/memory-bus.ts';
import { createLogger } from '../src/ops/log.ts';
import { Metrics } from '../src/ops/metrics.ts';
import { Rng } from '../src/world/rng.ts';
import { ZoneHost } from '../src/zone/host.ts';
import { percentile, progress, round, table } from './util.ts';
import { BENCH_TICK_RATE, Walkers, benchZoneSettings } from './walkers.ts';

const TICK_RATE = BENCH_TICK_RATE;
const AOI_RADIUS_M = 200;
const TARGET_NEIGHBOURS = 100;
const WARMUP_TICKS = 2 * TICK_RATE;
const MEASURED_TICKS = 5 * TICK_RATE;
const CENTER = { lat: 48.8566, lon: 2.3522 };
const SCENARIO_BUDGET_MS = 5.5 * 60_000;

export interface TickRow {
  /** 'dense': ~100 others within 200 m; 'spread': 1,000 players per 10 km^2 (~13 within 200 m). */
  crowd: 'dense' | 'spread';
  players: number;
  spawnRadiusM: number;
  /** Players per km^2 in the spawn disk. */
  densityPerKm2: number;
  /** Expected other players within 200 m at spawn, averaged over the disk (edge effects included). */
  expectedWithin200m: number;
  /** Entities per frame actually sent, averaged over the measured ticks. */
  visibleAvg: number;
  zones: number;
  zonesAwake: number;
  stepP50Ms: number;
  stepP99Ms: number;
  /** Median step time divided by players. */
  stepUsPerPlayer: number;
  /** Whole tick: inputs through the bus, the step, and delivery of its batches to the gateway. */
  tickP50Ms: number;
  tickUsPerPlayer: number;
  bytesPerPlayerPerTick: number;
  rejects: number;
  kicks: number;
  busErrors: number;
  rssMB: number;
}

export interface TickResult {
  rows: TickRow[];
  /** Player counts left out to stay within the time budget. */
  skipped: number[];
}

/**
 * Area of the part of a circle of radius r, centred d from the centre of a disk of radius R,
 * that lies inside the disk.
 */
function lensArea(d: number, r: number, R: number): number {
  if (d + r <= R) return Math.PI * r * r;
  if (d + R <= r) return Math.PI * R * R;
  if (d >= R + r) return 0;
  const a = Math.acos(Math.min(1, Math.max(-1, (d * d + r * r - R * R) / (2 * d * r))));
  const b = Math.acos(Math.min(1, Math.max(-1, (d * d + R * R - r * r) / (2 * d * R))));
  const k = Math.sqrt(Math.max(0, (-d + r + R) * (d + r - R) * (d - r + R) * (d + r + R)));
  return r * r * a + R * R * b - 0.5 * k;
}

/** Mean number of other players within r of a player, for n spread uniformly over a disk of radius R. */
export function expectedNeighbours(n: number, R: number, r: number): number {
  const steps = 400;
  let acc = 0;
  for (let i = 0; i < steps; i++) {
    const d = ((i + 0.5) / steps) * R;
    acc += lensArea(d, r, R) * ((2 * d) / (R * R)) * (R / steps);
  }
  return ((n - 1) / (Math.PI * R * R)) * acc;
}

/** Spawn radius giving on average `target` other players within r, disk edge included. */
export function denseSpawnRadius(n: number, r: number, target: number): number {
  let lo = 1;
  let hi = r * Math.sqrt(n) * 4;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (expectedNeighbours(n, mid, r) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

async function histogramMean(h: Metrics['visibleEntities']): Promise<{ sum: number; count: number }> {
  const m = await h.get();
  let sum = 0;
  let count = 0;
  for (const v of m.values) {
    if (v.metricName?.endsWith('_sum')) sum = v.value;
    else if (v.metricName?.endsWith('_count')) count = v.value;
  }
  return { sum, count };
}

/** Let the bus deliver everything queued (its deliveries and handoff answers are microtasks). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The `sockets` scenario's spread density: 1,000 players per 10 km^2. */
const SPREAD_PER_KM2 = 100;

async function runOne(n: number, seed: number, crowd: 'dense' | 'spread'): Promise<TickRow> {
  const radius =
    crowd === 'dense'
      ? denseSpawnRadius(n, AOI_RADIUS_M, TARGET_NEIGHBOURS)
      : Math.sqrt(n / SPREAD_PER_KM2 / Math.PI) * 1000;
  const bus = new MemoryBus();
  const metrics = new Metrics();
  let busErrors = 0;
  bus.onHandlerError = () => void busErrors++;
  const settings = benchZoneSettings();
  let nowMs = 1_000_000;
  const host = new ZoneHost(
    { bus, metrics, logger: createLogger({ level: 'silent' }), settings, now: () => nowMs },
    bus,
  );
  host.start({ autoTick: false });

  const walkers = new Walkers(bus, n, new Rng(seed));
  await walkers.spawn({ center: CENTER, radiusM: radius, settings });

  const stepMs: number[] = [];
  const tickMs: number[] = [];
  let bytesAtStart = 0;
  let visAtStart = { sum: 0, count: 0 };
  let rejectsAtStart = 0;
  let kicksAtStart = 0;
  const dtMs = 1000 / TICK_RATE;
  for (let t = 0; t < WARMUP_TICKS + MEASURED_TICKS; t++) {
    if (t === WARMUP_TICKS) {
      bytesAtStart = walkers.bytes;
      visAtStart = await histogramMean(metrics.visibleEntities);
      rejectsAtStart = walkers.rejects;
      kicksAtStart = walkers.kicks;
    }
    const t0 = performance.now();
    walkers.sendInputs(dtMs);
    await settle(); // inputs reach the zones' inboxes before the step, as from a live gateway
    nowMs += dtMs;
    const s0 = performance.now();
    host.step();
    const s1 = performance.now();
    await settle(); // batches to the gateway, ghosts to neighbours, handoffs
    const t1 = performance.now();
    if (t >= WARMUP_TICKS) {
      stepMs.push(s1 - s0);
      tickMs.push(t1 - t0);
    }
  }
  const vis = await histogramMean(metrics.visibleEntities);
  const stats = host.stats();
  await host.stop();
  await bus.close();
  stepMs.sort((a, b) => a - b);
  tickMs.sort((a, b) => a - b);
  const stepP50 = percentile(stepMs, 0.5);
  const tickP50 = percentile(tickMs, 0.5);
  const visCount = vis.count - visAtStart.count;
  return {
    players: n,
    spawnRadiusM: round(radius, 0),
    densityPerKm2: round(n / (Math.PI * (radius / 1000) ** 2), 0),
    crowd,
    expectedWithin200m: round(expectedNeighbours(n, radius, AOI_RADIUS_M), 1),
    visibleAvg: round(visCount > 0 ? (vis.sum - visAtStart.sum) / visCount : 0, 1),
    zones: stats.zones,
    zonesAwake: stats.awake,
    stepP50Ms: round(stepP50, 2),
    stepP99Ms: round(percentile(stepMs, 0.99), 2),
    stepUsPerPlayer: round((stepP50 * 1000) / n, 2),
    tickP50Ms: round(tickP50, 2),
    tickUsPerPlayer: round((tickP50 * 1000) / n, 2),
    bytesPerPlayerPerTick: round((walkers.bytes - bytesAtStart) / (n * MEASURED_TICKS), 1),
    rejects: walkers.rejects - rejectsAtStart,
    kicks: walkers.kicks - kicksAtStart,
    busErrors,
    rssMB: Math.round(process.memoryUsage.rss() / 2 ** 20),
  };
}

export async function runTick(opts: { quick: boolean; signal: AbortSignal }): Promise<TickResult> {
  // Dense crowds at three sizes, then the spread world of the `sockets` scenario for comparison.
  const counts: Array<[number, 'dense' | 'spread']> = opts.quick
    ? [[1000, 'dense'], [5000, 'dense'], [2000, 'spread']]
    : [[1000, 'dense'], [5000, 'dense'], [20000, 'dense'], [2000, 'spread']];
  const rows: TickRow[] = [];
  const skipped: number[] = [];
  const startedAt = performance.now();
  for (const [n, crowd] of counts) {
    if (opts.signal.aborted) break;
    // Keep the scenario within ~6 minutes: extrapolate the last row's cost per player-tick.
    const last = rows[rows.length - 1];
    const estimateMs = last ? last.tickUsPerPlayer * 1e-3 * n * (WARMUP_TICKS + MEASURED_TICKS) * 1.5 : 0;
    if (performance.now() - startedAt + estimateMs > SCENARIO_BUDGET_MS) {
      progress(`tick: skipping ${n} players: would take about ${Math.round(estimateMs / 1000)} s`);
      skipped.push(n);
      continue;
    }
    progress(`tick: ${n} players, ${crowd} (2 s warm-up + 5 s measured, fake clock)`);
    const row = await runOne(n, 12345 + n, crowd);
    progress(
      `tick: ${n} players, ${crowd}: step p50 ${row.stepP50Ms} ms p99 ${row.stepP99Ms} ms, ${row.stepUsPerPlayer} us/player, ` +
        `${row.bytesPerPlayerPerTick} B/player/tick, visible ${row.visibleAvg}`,
    );
    rows.push(row);
  }
  return { rows, skipped };
}

export function formatTick(r: TickResult): string {
  const skipped = r.skipped.length > 0 ? `skipped to stay within the time budget: ${r.skipped.join(', ')} players\n` : '';
  return table(
    'tick: in-process zone simulation, every player walking; dense = ~100 others within 200 m, spread = 1,000 per 10 km^2',
    [
      'crowd',
      'players',
      'spawn r m',
      'per km2',
      'exp. <200m',
      'visible',
      'zones',
      'step p50 ms',
      'step p99 ms',
      'step us/player',
      'tick p50 ms',
      'tick us/player',
      'B/player/tick',
      'rejects',
      'kicks',
      'rss MB',
    ],
    r.rows.map((x) => [
      x.crowd,
      x.players,
      x.spawnRadiusM,
      x.densityPerKm2,
      x.expectedWithin200m,
      x.visibleAvg,
      `${x.zonesAwake}/${x.zones}`,
      x.stepP50Ms,
      x.stepP99Ms,
      x.stepUsPerPlayer,
      x.tickP50Ms,
      x.tickUsPerPlayer,
      x.bytesPerPlayerPerTick,
      x.rejects,
      x.kicks,
      x.rssMB,
    ]),
  ) + skipped;
}
