// `npm run bench:peers`: BlueMarble against a peer engine (Colyseus, bench/peers/colyseus-*.ts)
// on the same machine, one after the other, in the `spread` and `crowd` worlds of
// `bluemarble loadtest`. For each scenario and target the client count is stepped up until a
// level does not hold 20 Hz; then, at the largest count both held, the figures side by side and
// the ratios BlueMarble / Colyseus. docs/benchmarks.md ("Peers: Colyseus") gives the method.
//
//   npm run bench:peers [-- --scenarios spread,crowd] [--targets bluemarble,colyseus]
//     [--counts 100,200,400,...] [--max N] [--duration S] [--json]
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseBotsNice, runScenario } from '../../src/loadtest/runner.ts';
import { spreadRadiusM } from '../../src/loadtest/scenarios.ts';
import { BluemarbleTarget } from '../../src/loadtest/target.ts';
import { killAllChildren } from '../proc.ts';
import { median, table } from '../util.ts';
import { runColyseus } from './colyseus.ts';

const SCENARIOS = ['spread', 'crowd'] as const;
type Scenario = (typeof SCENARIOS)[number];
const TARGETS = ['bluemarble', 'colyseus'] as const;
type TargetName = (typeof TARGETS)[number];
const DEFAULT_COUNTS = [100, 200, 400, 600, 800, 1000, 1250, 1500, 2000, 2500, 3000];
/**
 * Held at 20 Hz: the brief's criterion, measured the same way on both (see docs/benchmarks.md).
 * The lateness condition is on the gap between neighbouring steps, the one measure an interval
 * timer (Colyseus's setSimulationInterval) and a fixed-grid loop (BlueMarble's) share.
 */
const HELD = { fps: 19, gapP99Ms: 50, connectedShare: 0.98 };

export interface Level {
  target: TargetName;
  scenario: Scenario;
  clients: number;
  connected: number;
  framesPerClientPerS: number | null;
  bytesInPerClientPerS: number | null;
  visibleAvg: number | null;
  /** bytes in per client per second / (updates per second x entities in view). */
  bytesPerEntityUpdate: number | null;
  serverCpuPct: number | null;
  /** Server CPU per client, % of one core. */
  cpuPerClientPct: number | null;
  /** Whole step incl. handing updates to the sockets (BlueMarble: step p99; Colyseus: sim + patch). */
  tickP99Ms: number | null;
  /** BlueMarble only: the simulation step without the sockets (the loadtest's tick p99). */
  simP99Ms: number | null;
  /** How much more than one period after the previous step a step started (p99): the held condition, alike on both. */
  gapP99Ms: number | null;
  /**
   * BlueMarble only: how late a step started against its fixed grid (p99), which also counts
   * lateness carried over from earlier steps: the stricter condition of its own `bench sockets`
   * and `loadtest`. An interval timer has no grid to measure this against.
   */
  lagP99Ms: number | null;
  updateP50Ms: number | null;
  updateP99Ms: number | null;
  botsCpuPct: number | null;
  held: boolean;
  why: string;
}

function r(v: number | null | undefined, d = 2): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

function verdict(l: Omit<Level, 'held' | 'why'>): { held: boolean; why: string } {
  const why: string[] = [];
  if (l.connected < l.clients * HELD.connectedShare) why.push(`${l.connected}/${l.clients} connected`);
  if (l.framesPerClientPerS === null || l.framesPerClientPerS < HELD.fps) why.push(`${l.framesPerClientPerS ?? '-'} updates/s`);
  if (l.gapP99Ms === null || l.gapP99Ms > HELD.gapP99Ms) why.push(`gap p99 ${l.gapP99Ms ?? '-'} ms`);
  return { held: why.length === 0, why: why.join(', ') };
}

function finish(base: Omit<Level, 'bytesPerEntityUpdate' | 'cpuPerClientPct' | 'held' | 'why'>): Level {
  const fps = base.framesPerClientPerS;
  const vis = base.visibleAvg;
  const l = {
    ...base,
    bytesPerEntityUpdate:
      base.bytesInPerClientPerS !== null && fps !== null && vis !== null && fps > 0 && vis > 0 ? r(base.bytesInPerClientPerS / (fps * vis), 1) : null,
    cpuPerClientPct: base.serverCpuPct !== null && base.connected > 0 ? r(base.serverCpuPct / base.connected, 3) : null,
  };
  return { ...l, ...verdict(l) };
}

interface World {
  spawnRadiusM: number;
  tetherM: number;
}

function world(scenario: Scenario, clients: number): World {
  // As src/loadtest/scenarios.ts: spread at 1,000 per 10 km² on a disk of at least 1.5 km,
  // tethered at its edge; crowd within 250 m, tethered at 300 m.
  if (scenario === 'spread') {
    const radius = Math.max(1500, spreadRadiusM(clients));
    return { spawnRadiusM: radius, tetherM: radius };
  }
  return { spawnRadiusM: 250, tetherM: 300 };
}

/** As `bluemarble loadtest`: ramp 1 s per 100 clients (2..10 s), 5 s of warm-up. */
function timing(clients: number): { rampS: number; warmupS: number } {
  return { rampS: Math.min(10, Math.max(2, clients / 100)), warmupS: 5 };
}

function botProcs(clients: number): number {
  return Math.min(2, Math.ceil(clients / 1000));
}

async function runBluemarble(
  scenario: Scenario,
  clients: number,
  durationS: number,
  botsNice: number,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<Level> {
  const res = await runScenario({
    scenario,
    target: new BluemarbleTarget([]),
    clients,
    durationS,
    botProcs: botProcs(clients),
    botsNice,
    signal,
    onProgress: (line, kind) => {
      if (kind === 'tick') say(`bluemarble ${clients}: ${line}`);
    },
  });
  const s = res.summary;
  const window = res.samples.filter((x) => x.measured);
  const med = (f: (x: (typeof window)[number]) => number | null): number | null => {
    const v = window.map(f).filter((x): x is number => x !== null);
    return v.length > 0 ? median(v) : null;
  };
  return finish({
    target: 'bluemarble',
    scenario,
    clients,
    connected: Math.round(med((x) => x.clients) ?? 0),
    framesPerClientPerS: s.framesPerClientPerS,
    bytesInPerClientPerS: s.bytesInPerClientPerS,
    visibleAvg: s.visibleAvg,
    serverCpuPct: s.serverCpuPct,
    tickP99Ms: r(med((x) => x.stepP99Ms)),
    simP99Ms: s.tickP99Ms,
    gapP99Ms: s.gapP99Ms,
    lagP99Ms: s.lagP99Ms,
    updateP50Ms: s.updateP50Ms,
    updateP99Ms: s.updateP99Ms,
    botsCpuPct: s.botsCpuPct,
  });
}

async function runPeer(
  scenario: Scenario,
  clients: number,
  durationS: number,
  botsNice: number,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<Level> {
  const w = world(scenario, clients);
  const res = await runColyseus({ clients, ...w, ...timing(clients), durationS, botProcs: botProcs(clients), botsNice, signal, onProgress: say });
  return finish({
    target: 'colyseus',
    scenario,
    clients,
    connected: res.connected,
    framesPerClientPerS: res.framesPerClientPerS,
    bytesInPerClientPerS: res.bytesInPerClientPerS,
    visibleAvg: res.visibleAvg,
    serverCpuPct: res.serverCpuPct,
    tickP99Ms: res.tickP99Ms,
    simP99Ms: res.simP99Ms,
    gapP99Ms: res.gapP99Ms,
    lagP99Ms: null,
    updateP50Ms: res.updateP50Ms,
    updateP99Ms: res.updateP99Ms,
    botsCpuPct: res.botsCpuPct,
  });
}

export interface Comparison {
  scenario: Scenario;
  heldClients: Partial<Record<TargetName, number>>;
  /** The largest count both held (null: none), and the count the figures below are from. */
  commonClients: number | null;
  figuresAt: number | null;
  at: Partial<Record<TargetName, Level>>;
  /** BlueMarble / Colyseus. */
  ratios: Record<string, number | null>;
}

function ratio(a: number | null | undefined, b: number | null | undefined, d = 2): number | null {
  return a !== null && a !== undefined && b !== null && b !== undefined && b !== 0 ? r(a / b, d) : null;
}

function compare(scenario: Scenario, levels: Level[]): Comparison {
  const of = (t: TargetName): Level[] => levels.filter((l) => l.scenario === scenario && l.target === t);
  const heldClients: Partial<Record<TargetName, number>> = {};
  for (const t of TARGETS) {
    const ls = of(t);
    if (ls.length > 0) heldClients[t] = Math.max(0, ...ls.filter((l) => l.held).map((l) => l.clients));
  }
  const heldBy = (t: TargetName): Set<number> => new Set(of(t).filter((l) => l.held).map((l) => l.clients));
  const runBy = (t: TargetName): Set<number> => new Set(of(t).map((l) => l.clients));
  const bHeld = heldBy('bluemarble');
  const common = [...heldBy('colyseus')].filter((n) => bHeld.has(n)).sort((a, b) => b - a)[0] ?? null;
  // Nothing held by both: compare at the smallest count both ran.
  const bRun = runBy('bluemarble');
  const figuresAt = common ?? ([...runBy('colyseus')].filter((n) => bRun.has(n)).sort((a, b) => a - b)[0] ?? null);
  const at: Partial<Record<TargetName, Level>> = {};
  for (const t of TARGETS) {
    const l = of(t).find((x) => x.clients === figuresAt);
    if (l) at[t] = l;
  }
  const b = at.bluemarble;
  const c = at.colyseus;
  return {
    scenario,
    heldClients,
    commonClients: common,
    figuresAt,
    at,
    ratios: {
      heldClients: ratio(heldClients.bluemarble, heldClients.colyseus),
      cpuPerClient: ratio(b?.cpuPerClientPct, c?.cpuPerClientPct),
      bytesPerClientPerS: ratio(b?.bytesInPerClientPerS, c?.bytesInPerClientPerS),
      bytesPerEntityUpdate: ratio(b?.bytesPerEntityUpdate, c?.bytesPerEntityUpdate),
      tickP99: ratio(b?.tickP99Ms, c?.tickP99Ms),
      updateP99: ratio(b?.updateP99Ms, c?.updateP99Ms),
    },
  };
}

function fmt(v: number | null | undefined, d = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d);
}

function levelRows(levels: Level[]): string[][] {
  return levels.map((l) => [
    l.target,
    String(l.clients),
    String(l.connected),
    fmt(l.framesPerClientPerS),
    fmt(l.bytesInPerClientPerS, 0),
    fmt(l.visibleAvg),
    fmt(l.bytesPerEntityUpdate),
    fmt(l.serverCpuPct, 0),
    fmt(l.cpuPerClientPct, 3),
    fmt(l.tickP99Ms),
    fmt(l.gapP99Ms),
    fmt(l.lagP99Ms),
    fmt(l.updateP99Ms, 0),
    fmt(l.botsCpuPct, 0),
    l.held ? 'held' : `no: ${l.why}`,
  ]);
}

const LEVEL_HEADER = ['target', 'clients', 'conn', 'upd/s', 'B/s in', 'in view', 'B/ent-upd', 'srv CPU %', 'CPU %/client', 'tick p99', 'gap p99', 'grid lag p99', 'upd p99', 'bots CPU %', 'held'];

function comparisonTable(c: Comparison): string {
  const b = c.at.bluemarble;
  const p = c.at.colyseus;
  const row = (name: string, bv: string, pv: string, rv: number | null): string[] => [name, bv, pv, rv === null ? '-' : `${rv}x`];
  const title = `${c.scenario}: figures at ${c.figuresAt ?? '-'} clients${c.commonClients === null ? ' (not held by both: the smallest count both ran)' : ' (the largest count both held)'}`;
  return table(title, ['figure', 'BlueMarble', 'Colyseus', 'BlueMarble / Colyseus'], [
    row('clients held at 20 Hz', String(c.heldClients.bluemarble ?? '-'), String(c.heldClients.colyseus ?? '-'), c.ratios.heldClients ?? null),
    row('server CPU per client (% of a core)', fmt(b?.cpuPerClientPct, 3), fmt(p?.cpuPerClientPct, 3), c.ratios.cpuPerClient ?? null),
    row('bytes per client per second', fmt(b?.bytesInPerClientPerS, 0), fmt(p?.bytesInPerClientPerS, 0), c.ratios.bytesPerClientPerS ?? null),
    row('bytes per visible entity update', fmt(b?.bytesPerEntityUpdate), fmt(p?.bytesPerEntityUpdate), c.ratios.bytesPerEntityUpdate ?? null),
    row('p99 tick (ms, incl. sockets)', fmt(b?.tickP99Ms), fmt(p?.tickP99Ms), c.ratios.tickP99 ?? null),
    row('p99 input-to-update (ms)', fmt(b?.updateP99Ms, 0), fmt(p?.updateP99Ms, 0), c.ratios.updateP99 ?? null),
  ]);
}

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      targets: { type: 'string', default: TARGETS.join(',') },
      counts: { type: 'string' },
      max: { type: 'string', default: '3000' },
      duration: { type: 'string', default: '10' },
      'bots-nice': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    process.stdout.write(
      'Usage: npm run bench:peers -- [--scenarios spread,crowd] [--targets bluemarble,colyseus] [--counts 100,200,...] [--max N] [--duration S] [--bots-nice 0..19] [--json]\n',
    );
    return 0;
  }
  const scenarios = a.scenarios.split(',').filter((s): s is Scenario => (SCENARIOS as readonly string[]).includes(s));
  const targets = a.targets.split(',').filter((s): s is TargetName => (TARGETS as readonly string[]).includes(s));
  const max = Number(a.max);
  const counts = (a.counts ? a.counts.split(',').map(Number) : DEFAULT_COUNTS).filter((n) => Number.isInteger(n) && n > 0 && n <= max);
  const durationS = Number(a.duration);
  if (scenarios.length === 0 || targets.length === 0 || counts.length === 0 || !(durationS > 0)) {
    process.stderr.write('bench:peers: nothing to run (check --scenarios, --targets, --counts, --max, --duration)\n');
    return 2;
  }
  // Both targets' bots run at this nice value alike (docs/benchmarks.md, "Peers").
  let botsNice: number;
  try {
    botsNice = parseBotsNice(a['bots-nice']);
  } catch (err) {
    process.stderr.write(`bench:peers: ${(err as Error).message}\n`);
    return 2;
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('exit', killAllChildren);
  const say = (l: string): void => void process.stderr.write(`${l}\n`);
  const started = new Date();
  const levels: Level[] = [];
  say(`bench:peers: ${scenarios.join(', ')} x ${targets.join(', ')}, counts ${counts.join(', ')}, ${durationS} s measured per level, bots at nice ${botsNice}; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  for (const scenario of scenarios) {
    for (const target of targets) {
      for (const n of counts) {
        if (ac.signal.aborted) break;
        say(`--- ${scenario} ${target} ${n} clients`);
        let l: Level;
        try {
          l = target === 'bluemarble' ? await runBluemarble(scenario, n, durationS, botsNice, ac.signal, say) : await runPeer(scenario, n, durationS, botsNice, ac.signal, say);
        } catch (err) {
          say(`${scenario} ${target} ${n}: failed: ${err instanceof Error ? err.message : String(err)}`);
          break;
        }
        levels.push(l);
        say(`${scenario} ${target} ${n}: ${l.held ? 'held' : `NOT held (${l.why})`}`);
        // Stop this target at the first level it does not hold.
        if (!l.held) break;
      }
    }
  }
  const comparisons = scenarios.map((s) => compare(s, levels));
  for (const s of scenarios) {
    process.stdout.write(`${table(`${s}: levels`, LEVEL_HEADER, levelRows(levels.filter((l) => l.scenario === s)))}\n`);
  }
  for (const c of comparisons) process.stdout.write(`${comparisonTable(c)}\n`);
  if (a.json) {
    process.stdout.write(
      `${JSON.stringify({
        schema: 'bluemarble-bench-peers/1',
        startedAt: started.toISOString(),
        elapsedS: r((Date.now() - started.getTime()) / 1000, 1),
        host: { cpus: availableParallelism(), node: process.version, platform: process.platform, loadavg: loadavg().map((v) => r(v)) },
        config: { scenarios, targets, counts, durationS, botsNice, held: HELD },
        levels,
        comparisons,
      })}\n`,
    );
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:peers: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
