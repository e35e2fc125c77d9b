// Scenarios over real sockets on loopback: `sockets` (client count steps + the dense variant)
// and `aoi-off`. The server (`bluemarble start`) and the bots (`bluemarble bots`) each run as
// child processes; the server's own /stats gives exact step percentiles over a window inside
// the bots' measurement window.
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cellToLatLng, latLngToCell } from 'h3-js';
import { minCellInradiusM } from '../src/world/zoning.ts';
import type { Child } from './proc.ts';
import { startBluemarble, waitExit } from './proc.ts';
import { CpuMeter, median, progress, round, sleep, table } from './util.ts';
import type { BotSummary } from '../src/bots/bots.ts';
import type { StepTimings, ZoneHostStats } from '../src/zone/host.ts';

const PARIS = { lat: 48.8566, lon: 2.3522 };
/** Spread density: 1,000 players over 10 km^2. */
const SPREAD_PLAYERS_PER_M2 = 1000 / 10e6;
/** "Held at 20 Hz": at least this many frames per client per second. */
const HELD_FPS = 19;
const STEP_P99_LIMIT_MS = 25;
/** Steps starting more than one tick late at p99 mean the server is not keeping 20 Hz. */
const LAG_LIMIT_MS = 50;
/** No scenario may run longer than this; remaining steps are skipped (and reported as such). */
const SCENARIO_BUDGET_MS = 6 * 60_000 - 20_000;

function notMeasured(s: ServerStats): ServerStats {
  return { ...s, simStepP50Ms: NaN, simStepP99Ms: NaN, stepP50Ms: NaN, stepP99Ms: NaN, stepMaxMs: NaN, zoneTickP99Ms: NaN, lagP99Ms: NaN };
}

/** GET /stats of the embedded server (see src/cli/server.ts). */
type ServerStats = ZoneHostStats & StepTimings;

/** The JSON line `bluemarble bots --json` prints last. */
type BotsJson = BotSummary;

export interface StepResult {
  label: string;
  clients: number;
  botProcesses: number;
  /** Nice value the bots processes ran at (0: the server's priority). */
  botsNice: number;
  spawnRadiusM: number;
  npcs: number;
  connected: number;
  framesPerClientPerSecond: number;
  /** All zones' ticks in one step (simulation, AOI, encoding): the tick budget criterion. */
  simStepP50Ms: number;
  simStepP99Ms: number;
  /** The whole step, including handing every frame to the sockets. */
  stepP50Ms: number;
  stepP99Ms: number;
  stepMaxMs: number;
  /** One zone's tick. */
  zoneTickP99Ms: number;
  /** How late steps started: above one tick means the server fell behind 20 Hz. */
  lagP99Ms: number;
  /** Step samples in the server's window, and its length. */
  serverSteps: number;
  serverWindowS: number;
  zones: number;
  bytesPerClientPerSecond: number;
  bytesPerFrame: number;
  updateLatencyP50Ms: number;
  updateLatencyP99Ms: number;
  rttP99Ms: number;
  inputsRejected: number;
  rejectsByReason: Record<string, number>;
  disconnects: number;
  kicksByReason: Record<string, number>;
  connectFailures: number;
  protocolErrors: number;
  visibleEntitiesAvg: number;
  /** Bots scheduler passes that fell behind: a sign the bots' own process was overloaded. */
  botLateTicks: number;
  /** CPU of the server and of each bots process over the server's window, % of one core. */
  serverCpuPct: number;
  botsCpuPct: number[];
  /** Server log lines at warn or above (pino level >= 40), and a few of them. */
  serverWarnings: number;
  serverWarningSamples: string[];
  /** Frames held at 20 Hz and step p99 within 25 ms. */
  held: boolean;
}

/** One client count's runs, when each count runs more than once (--repeat). */
export interface CountVerdict {
  clients: number;
  runs: number;
  heldRuns: number;
  /** Held in more than half of its runs. */
  held: boolean;
  /** Medians over the runs. */
  framesPerClientPerSecond: number;
  simStepP99Ms: number;
  stepP99Ms: number;
  lagP99Ms: number;
  updateLatencyP99Ms: number;
  serverCpuPct: number;
  botsCpuPct: number;
}

export interface SocketsResult {
  steps: StepResult[];
  /** Runs per client count (--repeat); with more than one, a count is held when most runs held. */
  repeat: number;
  verdicts: CountVerdict[];
  /** Largest client count held at 20 Hz with step p99 <= 25 ms (0 if none). */
  maxHeldClients: number;
  skipped: number[];
  /** 50 packed clients, with 60 NPCs and without. */
  dense: StepResult[];
}

export interface AoiOffResult {
  clients: number;
  spawn: { lat: number; lon: number; radiusM: number };
  aoiOffRadiusM: number;
  on: StepResult;
  off: StepResult;
  /** 1 - on/off, per client per second and per frame. */
  /** Saving in bytes per client at the same frame rate (per frame): the headline figure. */
  savingPct: number;
  /** Saving in bytes per client per second as measured; skewed when "off" cannot hold 20 Hz. */
  savingPerSecondMeasuredPct: number;
}

export interface SocketOptions {
  quick: boolean;
  signal: AbortSignal;
  /** Bot processes per step; 0 = automatic (one per 1,000 clients, at most 2). */
  botProcs: number;
  /** Nice value of the bots processes (0: the server's priority). */
  botsNice: number;
  /** Overrides the client counts of the `sockets` steps. */
  counts: number[] | undefined;
  /** Extra `bluemarble start` flags for every server started, e.g. ['--zone-threads', '1']. */
  serverArgs: string[];
  /** Runs per client count of the `sockets` steps (default 1). */
  repeat?: number;
}

export function spreadRadiusM(clients: number): number {
  return Math.sqrt(clients / SPREAD_PLAYERS_PER_M2 / Math.PI);
}

async function getStats(base: string, reset: boolean): Promise<ServerStats> {
  const res = await fetch(`${base}/stats${reset ? '?reset=1' : ''}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET /stats: HTTP ${res.status}`);
  return (await res.json()) as ServerStats;
}

function lastJsonLine<T>(lines: readonly string[]): T | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (l.startsWith('{')) {
      try {
        return JSON.parse(l) as T;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** pino lines at warn (40) or above; anything else on stderr counts too (crashes, stack traces). */
function serverWarnings(child: Child): string[] {
  const out: string[] = [];
  for (const l of child.stdoutLines) {
    const m = l.match(/"level":(\d+)/);
    if (m && Number(m[1]) >= 40) out.push(l);
  }
  for (const l of child.stderrLines) if (l.trim() !== '') out.push(l);
  return out;
}

interface StepSpec {
  label: string;
  clients: number;
  /** Extra `bluemarble start` flags; --port, --log-level and --data are added here. */
  serverFlags: string[];
  spawnRadiusM: number;
  npcs: number;
  durationS: number;
  botProcs: number;
  botsNice: number;
  signal: AbortSignal;
}

/** One server, one set of bots, one measurement. */
async function runStep(spec: StepSpec): Promise<StepResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bluemarble-bench-'));
  const children: Child[] = [];
  try {
    const server = startBluemarble([
      'start',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--data',
      dataDir,
      '--npcs',
      String(spec.npcs),
      '--spawn-radius',
      String(round(spec.spawnRadiusM, 1)),
      '--max-players',
      String(Math.max(10000, spec.clients * 2)),
      // The world's cost, not the logins': bots join as guests (the logins scenario measures those).
      '--guests',
      'true',
      ...spec.serverFlags,
    ]);
    children.push(server);
    const m = await server.waitForLine(/WebSocket:\s+(ws:\/\/\S+)/, 30_000);
    if (!m) {
      throw new Error(`server did not start:\n${[...server.stdoutLines, ...server.stderrLines].slice(-20).join('\n')}`);
    }
    const wsUrl = m[1]!;
    const base = wsUrl.replace(/^ws:/, 'http:').replace(/\/ws$/, '');

    // The bots' default ramp: 100 connections per second, at most 10 s.
    const rampS = Math.min(10, Math.max(1, spec.clients / 100));
    const procs = Math.max(1, Math.min(spec.botProcs, spec.clients));
    const botsStartedAt = performance.now();
    const bots: Child[] = [];
    for (let i = 0; i < procs; i++) {
      const count = Math.floor(spec.clients / procs) + (i < spec.clients % procs ? 1 : 0);
      const bot = startBluemarble(
        [
          'bots',
          '--url',
          wsUrl,
          '--count',
          String(count),
          '--duration',
          String(spec.durationS),
          '--ramp',
          String(rampS),
          '--seed',
          String(1000 + i),
          '--name-prefix',
          `b${i}-`,
          '--guest', // the server runs with --guests true: this measures the world, not logins
          '--json',
        ],
        { onStderr: (l) => progress(`  bots${procs > 1 ? ` ${i + 1}/${procs}` : ''}: ${l.trim()}`) },
      );
      bots.push(bot);
      children.push(bot);
      if (spec.botsNice > 0 && bot.proc.pid !== undefined) setPriority(bot.proc.pid, spec.botsNice);
    }

    // Wait for the ramp to complete (at most 5 s past it), then measure inside the bots' window.
    // If the ramp never completes (an overloaded server drops handshakes), measure what is there.
    const botsEndAt = botsStartedAt + (rampS + spec.durationS) * 1000;
    const rampDeadline = botsStartedAt + (rampS + 5) * 1000;
    let stats = await getStats(base, false);
    while (stats.players < spec.clients * 0.98 && performance.now() < rampDeadline) {
      if (spec.signal.aborted || bots.some((b) => b.proc.exitCode !== null)) break;
      await sleep(500, spec.signal);
      stats = await getStats(base, false);
    }
    await sleep(Math.min(2000, Math.max(0, botsEndAt - 4000 - performance.now())), spec.signal);
    const cpu = new CpuMeter();
    const pids = [server.pid, ...bots.map((b) => b.pid)];
    await getStats(base, true);
    cpu.begin(pids);
    const windowStart = performance.now();
    // End a second before the bots' window closes so no bot is already disconnecting.
    const measurable = botsEndAt - 1000 - windowStart >= 3000;
    await sleep(Math.max(0, botsEndAt - 1000 - performance.now()), spec.signal);
    const measured = await getStats(base, false);
    // Too little of the bots' window left to measure: say so (NaN) rather than report zeros.
    const window: ServerStats = measurable ? measured : notMeasured(measured);
    const windowS = (performance.now() - windowStart) / 1000;
    const cpuPct = cpu.end(pids).map((c) => (measurable ? c : NaN));
    const [serverCpu = NaN, ...botsCpu] = cpuPct;

    const summaries: BotsJson[] = [];
    for (const b of bots) {
      const code = await waitExit(b, (rampS + spec.durationS + 30) * 1000);
      const s = lastJsonLine<BotsJson>(b.stdoutLines);
      if (code !== 0 || !s) {
        throw new Error(`bots exited with ${code ?? 'timeout'}:\n${[...b.stdoutLines, ...b.stderrLines].slice(-20).join('\n')}`);
      }
      summaries.push(s);
    }
    await server.stop();
    const warnings = serverWarnings(server);

    // Several bot processes: rates are weighted by connected clients, p99s are the worst one's.
    const connected = summaries.reduce((n, s) => n + s.connected, 0);
    const weighted = (f: (s: BotsJson) => number): number =>
      connected > 0 ? summaries.reduce((n, s) => n + f(s) * s.connected, 0) / connected : 0;
    const worst = (f: (s: BotsJson) => number): number => Math.max(...summaries.map(f));
    const sum = (f: (s: BotsJson) => number): number => summaries.reduce((n, s) => n + f(s), 0);
    const rejectsByReason: Record<string, number> = {};
    const kicksByReason: Record<string, number> = {};
    for (const s of summaries) {
      addCounts(rejectsByReason, s.rejectsByReason);
      addCounts(kicksByReason, s.kicksByReason);
    }
    const fps = weighted((s) => s.framesPerClientPerSecond);
    const bps = weighted((s) => s.bytesInPerClientPerSecond);
    return {
      label: spec.label,
      clients: spec.clients,
      botProcesses: procs,
      botsNice: spec.botsNice,
      spawnRadiusM: round(spec.spawnRadiusM, 0),
      npcs: spec.npcs,
      connected,
      framesPerClientPerSecond: round(fps, 2),
      simStepP50Ms: round(window.simStepP50Ms, 2),
      simStepP99Ms: round(window.simStepP99Ms, 2),
      zoneTickP99Ms: round(window.zoneTickP99Ms, 2),
      stepP50Ms: round(window.stepP50Ms, 2),
      stepP99Ms: round(window.stepP99Ms, 2),
      stepMaxMs: round(window.stepMaxMs, 2),
      lagP99Ms: round(window.lagP99Ms, 2),
      serverSteps: window.samples,
      serverWindowS: round(windowS, 1),
      zones: window.zones,
      bytesPerClientPerSecond: round(bps, 0),
      bytesPerFrame: round(fps > 0 ? bps / fps : 0, 1),
      updateLatencyP50Ms: round(worst((s) => s.updateLatencyP50Ms), 1),
      updateLatencyP99Ms: round(worst((s) => s.updateLatencyP99Ms), 1),
      rttP99Ms: round(worst((s) => s.rttP99Ms), 1),
      inputsRejected: sum((s) => s.inputsRejected),
      rejectsByReason,
      disconnects: sum((s) => s.disconnects),
      kicksByReason,
      connectFailures: sum((s) => s.connectFailures),
      protocolErrors: sum((s) => s.protocolErrors),
      visibleEntitiesAvg: round(weighted((s) => s.visibleEntitiesAvg), 1),
      botLateTicks: sum((s) => s.lateTicks),
      serverCpuPct: round(serverCpu, 0),
      botsCpuPct: botsCpu.map((c) => round(c, 0)),
      serverWarnings: warnings.length,
      serverWarningSamples: warnings.slice(0, 5).map((l) => l.slice(0, 300)),
      held:
        fps >= HELD_FPS &&
        window.simStepP99Ms <= STEP_P99_LIMIT_MS &&
        window.lagP99Ms <= LAG_LIMIT_MS &&
        connected >= spec.clients * 0.98,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(2000)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function autoBotProcs(clients: number, requested: number): number {
  return requested > 0 ? requested : clients > 1000 ? 2 : 1;
}

function stepLine(r: StepResult): string {
  return (
    `${r.connected}/${r.clients} connected, ${r.framesPerClientPerSecond} frames/s, sim p50 ${r.simStepP50Ms} p99 ${r.simStepP99Ms} ms, step p99 ${r.stepP99Ms} ms, lag p99 ${r.lagP99Ms} ms, ` +
    `${r.bytesPerClientPerSecond} B/client/s, update p99 ${r.updateLatencyP99Ms} ms, visible ${r.visibleEntitiesAvg}, ` +
    `cpu server ${r.serverCpuPct}% bots ${r.botsCpuPct.join('+')}%${r.held ? '' : ' (NOT held)'}`
  );
}

export async function runSockets(opts: SocketOptions): Promise<SocketsResult> {
  const startedAt = performance.now();
  const counts = opts.counts ?? (opts.quick ? [200, 500] : [500, 1000, 1500, 2000, 2500, 3000]);
  const durationS = opts.quick ? 10 : 15;
  const repeat = opts.repeat ?? 1;
  // Each run of a count is a full step; the budget grows with the runs asked for.
  const budgetMs = SCENARIO_BUDGET_MS * repeat;
  const steps: StepResult[] = [];
  const verdicts: CountVerdict[] = [];
  const skipped: number[] = [];
  let failuresInARow = 0;
  for (const n of counts) {
    const runs: StepResult[] = [];
    for (let run = 1; run <= repeat; run++) {
      // Two failed counts in a row: larger counts will not be held either.
      const overBudget = performance.now() - startedAt > budgetMs - (durationS + 25) * 1000;
      if (opts.signal.aborted || failuresInARow >= 2 || overBudget) break;
      const radius = spreadRadiusM(n);
      const procs = autoBotProcs(n, opts.botProcs);
      const which = repeat > 1 ? ` (run ${run} of ${repeat})` : '';
      progress(`sockets: ${n} clients${which}, spawn radius ${Math.round(radius)} m, ${procs} bots process(es), ${durationS} s measured`);
      const r = await runStep({
        label: repeat > 1 ? `spread ${n} #${run}` : `spread ${n}`,
        clients: n,
        serverFlags: opts.serverArgs,
        spawnRadiusM: radius,
        npcs: 0,
        durationS,
        botProcs: procs,
        botsNice: opts.botsNice,
        signal: opts.signal,
      });
      progress(`sockets: ${n}${which}: ${stepLine(r)}`);
      steps.push(r);
      runs.push(r);
    }
    if (runs.length === 0) {
      skipped.push(n);
      continue;
    }
    const v = verdictOf(n, runs);
    verdicts.push(v);
    if (repeat > 1) progress(`sockets: ${verdictLine(v)}`);
    failuresInARow = v.held ? 0 : failuresInARow + 1;
  }
  // Dense: everyone within a few tens of metres, all moving. The first run uses the NPC count
  // suggested in the brief (NPCs scatter over at least 100 m, so each client sees ~110
  // entities); the second has no NPCs, so each client sees exactly the 49 other walkers.
  const dense: StepResult[] = [];
  for (const npcs of [60, 0]) {
    if (opts.signal.aborted) break;
    progress(`sockets: dense: 50 clients + ${npcs} NPCs packed (spawn radius 40 m; NPCs scatter over 100 m)`);
    const r = await runStep({
      label: `dense 50 + ${npcs} NPCs`,
      clients: 50,
      serverFlags: opts.serverArgs,
      spawnRadiusM: 40,
      npcs,
      durationS,
      botProcs: 1,
      botsNice: opts.botsNice,
      signal: opts.signal,
    });
    progress(`sockets: dense: ${stepLine(r)}`);
    dense.push(r);
  }
  const held = verdicts.filter((v) => v.held).map((v) => v.clients);
  return { steps, repeat, verdicts, maxHeldClients: held.length > 0 ? Math.max(...held) : 0, skipped, dense };
}

/**
 * A count over its runs. On a shared machine one run can miss or hold by chance near the limit,
 * so with several runs a count is held when more than half of them held (a tie is not held).
 */
export function verdictOf(clients: number, runs: readonly StepResult[]): CountVerdict {
  const heldRuns = runs.filter((r) => r.held).length;
  const med = (f: (r: StepResult) => number): number => round(median(runs.map(f)), 2);
  return {
    clients,
    runs: runs.length,
    heldRuns,
    held: heldRuns * 2 > runs.length,
    framesPerClientPerSecond: med((r) => r.framesPerClientPerSecond),
    simStepP99Ms: med((r) => r.simStepP99Ms),
    stepP99Ms: med((r) => r.stepP99Ms),
    lagP99Ms: med((r) => r.lagP99Ms),
    updateLatencyP99Ms: med((r) => r.updateLatencyP99Ms),
    serverCpuPct: med((r) => r.serverCpuPct),
    botsCpuPct: med((r) => r.botsCpuPct.reduce((a, b) => a + b, 0)),
  };
}

function verdictLine(v: CountVerdict): string {
  return (
    `${v.clients}: held in ${v.heldRuns} of ${v.runs} runs${v.held ? '' : ' (NOT held: most runs must hold)'}; medians: ` +
    `${v.framesPerClientPerSecond} frames/s, sim p99 ${v.simStepP99Ms} ms, step p99 ${v.stepP99Ms} ms, lag p99 ${v.lagP99Ms} ms, ` +
    `update p99 ${v.updateLatencyP99Ms} ms, cpu server ${v.serverCpuPct}% bots ${v.botsCpuPct}%`
  );
}

/** Largest AOI radius the server accepts at zone resolution 5 (see checkWorldFits in src/cli/server.ts). */
function maxAoiRadiusAtRes5(hysteresis: number): number {
  return Math.floor(minCellInradiusM(5) / (1 + hysteresis) / 100) * 100;
}

export async function runAoiOff(opts: SocketOptions): Promise<AoiOffResult> {
  const clients = opts.counts?.[0] ?? (opts.quick ? 200 : 1000);
  const durationS = opts.quick ? 10 : 15;
  const [lat, lon] = cellToLatLng(latLngToCell(PARIS.lat, PARIS.lon, 5));
  const radius = spreadRadiusM(clients);
  // 20 km does not fit resolution-5 zones; the largest radius that does still spans the spawn
  // disk, so everyone sees everyone. Entities beyond half the radius are refreshed every 2nd or
  // 4th frame, which makes "off" cheaper and the measured saving an underestimate.
  const aoiOff = Math.min(20000, maxAoiRadiusAtRes5(0.1));
  if (aoiOff < 2 * radius) {
    progress(`aoi-off: warning: AOI radius ${aoiOff} m < spawn diameter; not everyone sees everyone`);
  }
  const spawnFlags = ['--spawn-lat', String(lat), '--spawn-lon', String(lon)];
  const procs = autoBotProcs(clients, opts.botProcs);
  progress(`aoi-off: ${clients} clients, spawn radius ${Math.round(radius)} m at res-5 cell centre ${lat.toFixed(5)}, ${lon.toFixed(5)}`);
  progress('aoi-off: run 1/2 AOI on (defaults: zone resolution 8, AOI 200 m, frame budget 1200 B)');
  const on = await runStep({
    label: 'AOI on',
    clients,
    serverFlags: [...opts.serverArgs, ...spawnFlags],
    spawnRadiusM: radius,
    npcs: 0,
    durationS,
    botProcs: procs,
    botsNice: opts.botsNice,
    signal: opts.signal,
  });
  progress(`aoi-off: on: ${stepLine(on)}`);
  progress(`aoi-off: run 2/2 AOI off (zone resolution 5, AOI ${aoiOff} m, frame budget 65000 B)`);
  const off = await runStep({
    label: 'AOI off',
    clients,
    serverFlags: [...opts.serverArgs, ...spawnFlags, '--zone-resolution', '5', '--aoi-radius', String(aoiOff), '--frame-budget', '65000'],
    spawnRadiusM: radius,
    npcs: 0,
    durationS,
    botProcs: procs,
    botsNice: opts.botsNice,
    signal: opts.signal,
  });
  progress(`aoi-off: off: ${stepLine(off)}`);
  const saving = (a: number, b: number): number => (b > 0 ? round(100 * (1 - a / b), 1) : NaN);
  return {
    clients,
    spawn: { lat: round(lat, 6), lon: round(lon, 6), radiusM: round(radius, 0) },
    aoiOffRadiusM: aoiOff,
    on,
    off,
    // Every client is owed the same 20 frames a second either way, so compare bytes per frame;
    // "off" falls far below 20 Hz, and its per-second traffic shrinks with its frame rate.
    savingPct: saving(on.bytesPerFrame, off.bytesPerFrame),
    savingPerSecondMeasuredPct: saving(on.bytesPerClientPerSecond, off.bytesPerClientPerSecond),
  };
}

const STEP_HEADER = [
  'run',
  'connected',
  'frames/s',
  'sim p50 ms',
  'sim p99 ms',
  'zone p99 ms',
  'step p99 ms',
  'lag p99 ms',
  'B/client/s',
  'B/frame',
  'upd p50 ms',
  'upd p99 ms',
  'visible',
  'rejects',
  'disc.',
  'zones',
  'cpu srv %',
  'cpu bots %',
  'srv warn',
  'held',
];

function stepRow(r: StepResult): Array<string | number> {
  return [
    r.label,
    `${r.connected}/${r.clients}`,
    r.framesPerClientPerSecond,
    r.simStepP50Ms,
    r.simStepP99Ms,
    r.zoneTickP99Ms,
    r.stepP99Ms,
    r.lagP99Ms,
    r.bytesPerClientPerSecond,
    r.bytesPerFrame,
    r.updateLatencyP50Ms,
    r.updateLatencyP99Ms,
    r.visibleEntitiesAvg,
    r.inputsRejected,
    r.disconnects,
    r.zones,
    r.serverCpuPct,
    r.botsCpuPct.join('+'),
    r.serverWarnings,
    r.held ? 'yes' : 'no',
  ];
}

export function formatSockets(r: SocketsResult): string {
  const rows = [...r.steps, ...r.dense].map(stepRow);
  let out = table(
    'sockets: server and bots as separate processes on loopback; spread = 1,000 players per 10 km^2',
    STEP_HEADER,
    rows,
  );
  out +=
    `largest client count held at 20 Hz (>= ${HELD_FPS} frames/s, steps never more than ${LAG_LIMIT_MS} ms late at p99) ` +
    `with simulation step p99 <= ${STEP_P99_LIMIT_MS} ms: ${r.maxHeldClients || 'none'}\n` +
    `(sim = all zones' ticks in one step; zone = one zone's tick; step = sim plus handing frames to the sockets)\n`;
  if (r.repeat > 1) {
    out += `each count ran ${r.repeat} times; a count is held when more than half of its runs held:\n`;
    for (const v of r.verdicts) out += `  ${verdictLine(v)}\n`;
  }
  const nice = r.steps[0]?.botsNice ?? 0;
  if (nice > 0) out += `bots processes ran at nice ${nice} (--bots-nice): the server had first call on the CPU\n`;
  if (r.skipped.length > 0) out += `skipped (two failed counts in a row, time budget, or interrupted): ${r.skipped.join(', ')}\n`;
  for (const d of r.dense) {
    out += `${d.label}: ${d.bytesPerClientPerSecond} B/client/s with ${d.visibleEntitiesAvg} visible entities (target <= 3072)\n`;
  }
  return out + notes([...r.steps, ...r.dense]);
}

export function formatAoiOff(r: AoiOffResult): string {
  let out = table(
    `aoi-off: ${r.clients} clients, spawn radius ${r.spawn.radiusM} m, AOI on (200 m) vs off (res-5 zone, AOI ${r.aoiOffRadiusM} m)`,
    STEP_HEADER,
    [stepRow(r.on), stepRow(r.off)],
  );
  out +=
    `saving from area of interest: ${r.savingPct} % of bytes per client at the same frame rate (per frame); target >= 90 %\n` +
    `  as measured per second: ${r.savingPerSecondMeasuredPct} % — AOI off delivered only ${r.off.framesPerClientPerSecond} frames/s ` +
    `(AOI on ${r.on.framesPerClientPerSecond}), so its per-second bytes understate what sending everything at 20 Hz costs\n`;
  return out + notes([r.on, r.off]);
}

function notes(steps: StepResult[]): string {
  const lines: string[] = [];
  for (const s of steps) {
    const extra: string[] = [];
    if (Object.keys(s.rejectsByReason).length > 0) extra.push(`rejects ${JSON.stringify(s.rejectsByReason)}`);
    if (Object.keys(s.kicksByReason).length > 0) extra.push(`kicks ${JSON.stringify(s.kicksByReason)}`);
    if (s.connectFailures > 0) extra.push(`connect failures ${s.connectFailures}`);
    if (s.protocolErrors > 0) extra.push(`protocol errors ${s.protocolErrors}`);
    if (s.botLateTicks > 0) extra.push(`bots fell behind ${s.botLateTicks} times`);
    const hz = s.serverWindowS > 0 ? s.serverSteps / s.serverWindowS : 0;
    if (hz < HELD_FPS) extra.push(`server stepped ${round(hz, 1)} times/s over its ${s.serverWindowS} s window`);
    if (s.serverWarnings > 0) extra.push(`server warnings ${s.serverWarnings}, e.g. ${s.serverWarningSamples[0] ?? ''}`);
    if (extra.length > 0) lines.push(`  ${s.label}: ${extra.join('; ')}`);
  }
  return lines.length > 0 ? `notes:\n${lines.join('\n')}\n` : '';
}
