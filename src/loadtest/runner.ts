// Runs one scenario: starts the target, forks the bots processes (agent.ts), samples the server
// (/stats?reset=1 and /metrics once a second, CPU and memory from /proc) and the bots (their
// per-second progress) into one series, and builds the result (schema.ts). For `ramp` it also
// drives the steps: it adds clients level by level and stops by itself at the limit.
import { availableParallelism, loadavg, setPriority } from 'node:os';
import { HOSTILE_KINDS, combineProgress, summarizeBots } from '../bots/bots.ts';
import type { BotProgress, BotRawResult } from '../bots/bots.ts';
import type { AgentCommand, AgentInput, AgentMessage } from './agent.ts';
import { cpuSeconds, forkTs, rssMB } from './proc.ts';
import type { Child } from './proc.ts';
import { parseProm, promByLabel, promSum } from './prom.ts';
import type { PromSamples } from './prom.ts';
import { SCENARIOS } from './scenarios.ts';
import type { BotGroup, ScenarioName } from './scenarios.ts';
import { RESULT_SCHEMA } from './schema.ts';
import type { HostileOutcome, LoadtestResult, RampLevel, RampOutcome, Sample, Summary } from './schema.ts';
import type { Target, TargetInfo } from './target.ts';

export interface RunOptions {
  scenario: ScenarioName;
  target: Target;
  /** Default: the scenario's (smoke: its smoke size). For ramp: the most clients it may reach. */
  clients?: number;
  /** Measured seconds (ramp: the time budget for its levels). */
  durationS?: number;
  smoke?: boolean;
  seed?: number;
  /** Bots processes for the honest bots (default: one per 1,000 clients, 1..2). */
  botProcs?: number;
  /**
   * Nice value for the bots processes (default 0: the server's priority). On a machine the bots
   * share with the server, a positive value lets the server it measures have the CPU first.
   */
  botsNice?: number;
  signal?: AbortSignal;
  /** One line of progress (about once a second); `level` lines are ramp results worth keeping. */
  onProgress?: (line: string, kind: 'tick' | 'level' | 'info') => void;
}

/** Held at the tick rate: frames, tick time and lag (as in `bench sockets`). */
export const HELD = { framesShare: 0.95, tickP99Ms: 25, lagP99Ms: 50, connectedShare: 0.98 };

const SAMPLE_MS = 1000;
const AGENT_URL = new URL('./agent.ts', import.meta.url);

interface Agent {
  child: Child;
  role: BotGroup['role'];
  count: number;
  progress: BotProgress | undefined;
  result: BotRawResult | undefined;
  error: { message: string; connect: boolean } | undefined;
  done: Promise<void>;
  send(cmd: AgentCommand): void;
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i]!.startsWith(`${flag}=`)) return args[i]!.slice(flag.length + 1);
  }
  return undefined;
}

function num(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function round(v: number | null, digits = 2): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function median(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function mean(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

function maxOf(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === 0 ? null : Math.max(...v);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The largest nice value (the lowest priority) a process can be given. */
export const MAX_BOTS_NICE = 19;

/**
 * The value of a `--bots-nice` flag (absent: 0), for every command that has one; throws a
 * RangeError naming the flag when it is not an integer 0..MAX_BOTS_NICE.
 */
export function parseBotsNice(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > MAX_BOTS_NICE) {
    throw new RangeError(`--bots-nice must be an integer 0..${MAX_BOTS_NICE}, got '${raw}'`);
  }
  return v;
}

/** Gives a bots process a lower CPU priority (nice > 0); the load generator, not the server, waits. */
export function lowerPriority(pid: number | undefined, nice: number): void {
  if (nice > 0 && pid !== undefined) setPriority(pid, nice);
}

function startAgent(role: BotGroup['role'], input: AgentInput, onStderr: (l: string) => void): Agent {
  const child = forkTs(AGENT_URL, { onStderr });
  const agent: Agent = {
    child,
    role,
    count: input.count,
    progress: undefined,
    result: undefined,
    error: undefined,
    done: Promise.resolve(),
    send(cmd) {
      if (child.proc.connected) child.proc.send(cmd);
    },
  };
  agent.done = new Promise<void>((resolve) => {
    child.proc.on('message', (m: AgentMessage) => {
      if (m.type === 'progress') agent.progress = m.progress;
      else if (m.type === 'done') {
        agent.result = m.result;
        resolve();
      } else if (m.type === 'error') {
        agent.error = { message: m.message, connect: m.connect };
        resolve();
      }
    });
    void child.exited.then((code) => {
      if (!agent.result && !agent.error) {
        agent.error = { message: `bots process exited with ${code}: ${child.stderrLines.slice(-5).join(' | ')}`, connect: false };
      }
      resolve();
    });
  });
  agent.send({ type: 'start', input });
  return agent;
}

/** Counters read from /metrics that the samples difference per second. */
interface Counters {
  bytesOut: number;
  rejects: number;
  handoffs: number;
  opened: number;
  skipped: number;
  cpuS: number;
  rssMB: number;
}

function counters(p: PromSamples): Counters {
  // A labelled counter has no sample before its first increment: that is 0.
  const zero = (v: number): number => (Number.isNaN(v) ? 0 : v);
  return {
    bytesOut: zero(promSum(p, 'bluemarble_bytes_sent_total')),
    rejects: zero(promSum(p, 'bluemarble_inputs_rejected_total')),
    handoffs: zero(promSum(p, 'bluemarble_handoffs_total{result="accepted"}')),
    opened: zero(promSum(p, 'bluemarble_connections_opened_total')),
    skipped: zero(promSum(p, 'bluemarble_frames_skipped_total')),
    cpuS: promSum(p, 'process_cpu_seconds_total'),
    rssMB: promSum(p, 'process_resident_memory_bytes') / 1048576,
  };
}

function perSecond(now: number, before: number, dtS: number): number | null {
  return Number.isFinite(now) && Number.isFinite(before) && dtS > 0 ? Math.max(0, (now - before) / dtS) : null;
}

/** Splits n over k parts as evenly as possible. */
function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

export function rampLevels(start: number, max: number, minStep: number): number[] {
  const out: number[] = [];
  let n = Math.min(start, max);
  for (;;) {
    out.push(n);
    if (n >= max) return out;
    n = Math.min(max, n + Math.max(minStep, Math.round(n * 0.15)));
  }
}

/** Whether a level (or a window of seconds) held the tick rate, and if not why. */
export function heldVerdict(
  s: { clients: number; connected: number; framesPerClientPerS: number | null; tickP99Ms: number | null; lagP99Ms: number | null },
  tickRate: number,
): { held: boolean; why: string } {
  const why: string[] = [];
  if (s.connected < s.clients * HELD.connectedShare) why.push(`${s.connected}/${s.clients} connected`);
  if (s.framesPerClientPerS === null || s.framesPerClientPerS < tickRate * HELD.framesShare) why.push(`${s.framesPerClientPerS ?? '-'} frames/s`);
  if (s.tickP99Ms === null || s.tickP99Ms > HELD.tickP99Ms) why.push(`tick p99 ${s.tickP99Ms ?? '-'} ms`);
  if (s.lagP99Ms === null || s.lagP99Ms > HELD.lagP99Ms) why.push(`lag p99 ${s.lagP99Ms ?? '-'} ms`);
  return { held: why.length === 0, why: why.join(', ') };
}

function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function progressLine(s: Sample): string {
  return (
    `[${fmt(s.t, 0)}s ${s.phase}] clients ${s.clients}/${s.targetClients}${s.hostileClients > 0 ? ` (+${s.hostileClients} hostile)` : ''}` +
    ` | tick p50 ${fmt(s.tickP50Ms)} p99 ${fmt(s.tickP99Ms)} ms | lag p99 ${fmt(s.lagP99Ms)} ms` +
    ` | ${fmt(s.framesPerClientPerS)} frames/s | ${fmt((s.bytesInPerClientPerS ?? NaN) / 1024, 2)} KB/s in` +
    ` | update p99 ${fmt(s.updateP99Ms, 0)} ms | rejects ${s.rejects + s.hostileRejects}` +
    ` | server ${fmt(s.serverCpuPct, 0)}% ${fmt(s.serverRssMB, 0)} MB`
  );
}

export async function runScenario(opts: RunOptions): Promise<LoadtestResult> {
  const def = SCENARIOS[opts.scenario];
  const smoke = opts.smoke ?? false;
  const clients = opts.clients ?? (smoke ? def.smoke.clients : def.defaults.clients);
  const durationS = opts.durationS ?? (smoke ? def.smoke.durationS : def.defaults.durationS);
  const seed = opts.seed ?? 1;
  const signal = opts.signal ?? new AbortController().signal;
  const say = opts.onProgress ?? (() => {});
  const serverArgs = opts.target.serverArgs;
  const zoneResolution = Number(flagValue(serverArgs, '--zone-resolution') ?? 8);
  const tickRate = Number(flagValue(serverArgs, '--tick-rate') ?? 20);
  const isRamp = opts.scenario === 'ramp';
  const plan = def.plan({ clients, durationS, smoke, zoneResolution });
  const startedAt = new Date();
  const wallStart = performance.now();

  const info: TargetInfo = await opts.target.start(plan.world, signal);
  say(`${opts.scenario}: target ${opts.target.kind} at ${info.wsUrl}${info.pid !== undefined ? ` (pid ${info.pid})` : ''}`, 'info');
  const agents: Agent[] = [];
  const samples: Sample[] = [];
  let ramp: RampOutcome | null = null;
  let firstMetrics: PromSamples | undefined;
  let lastMetrics: PromSamples | undefined;
  try {
    // --- bots processes ---
    let offset = 0;
    for (const g of plan.groups) {
      // One bots process holds about 1,000 clients (docs/benchmarks.md); more than 2 only compete
      // with the server for this kind of machine's cores.
      const autoProcs = Math.min(2, Math.ceil((isRamp ? Math.min(g.count, 1500) : g.count) / 1000));
      const procs = g.role === 'hostile' ? 1 : Math.max(1, Math.min(g.count, opts.botProcs ?? autoProcs));
      for (const [i, n] of split(g.count, procs).entries()) {
        if (n === 0) continue;
        const input: AgentInput = {
          url: info.wsUrl,
          count: n,
          durationS: plan.durationS + (isRamp ? 60 : 0),
          rampS: plan.rampS,
          warmupS: plan.warmupS,
          seed: seed * 1000 + agents.length,
          namePrefix: g.role === 'hostile' ? 'lth' : 'lt',
          indexOffset: offset,
          behaviour: g.behaviour,
          stepped: isRamp,
          ...(isRamp && { initialTarget: 1 }),
        };
        offset += n;
        const agent = startAgent(g.role, input, (l) => say(`bots ${g.role} ${i + 1}/${procs}: ${l}`, 'info'));
        lowerPriority(agent.child.pid, opts.botsNice ?? 0);
        agents.push(agent);
      }
    }
    const honest = agents.filter((a) => a.role === 'honest');
    const hostile = agents.filter((a) => a.role === 'hostile');
    const allDone = Promise.all(agents.map((a) => a.done));
    let finished = false;
    void allDone.then(() => {
      finished = true;
    });

    const honestTarget = plan.groups.filter((g) => g.role === 'honest').reduce((n, g) => n + g.count, 0);
    // --- ramp controller state, read by the sampler ---
    let phaseOverride: string | undefined;
    let measuredOverride = false;
    let targetNow = isRamp ? 0 : clients;

    // --- sampler ---
    const t0 = performance.now();
    let prev: { at: number; c: Counters | undefined; cpu: number | undefined; botsCpu: number | undefined } | undefined;
    let prevCounts = { rejects: 0, hostileRejects: 0, joins: 0, kicks: 0 };
    const botsCpu = (): number | undefined => {
      let sum = 0;
      for (const a of agents) {
        const c = cpuSeconds(a.child.pid);
        if (c === undefined) return undefined;
        sum += c;
      }
      return sum;
    };
    const takeSample = async (): Promise<Sample> => {
      const [statsText, metricsText] = await Promise.all([fetchText(`${info.httpUrl}/stats?reset=1`), fetchText(`${info.httpUrl}/metrics`)]);
      const at = performance.now();
      let stats: Record<string, number> = {};
      try {
        stats = statsText ? (JSON.parse(statsText) as Record<string, number>) : {};
      } catch {
        stats = {};
      }
      const prom = metricsText ? parseProm(metricsText) : undefined;
      if (prom) {
        firstMetrics ??= prom;
        lastMetrics = prom;
      }
      const c = prom ? counters(prom) : undefined;
      const cpu = info.pid !== undefined ? cpuSeconds(info.pid) : c?.cpuS;
      const bc = botsCpu();
      const dtS = prev ? (at - prev.at) / 1000 : 0;
      const hp = honest.map((a) => a.progress).filter((p): p is BotProgress => p !== undefined);
      const xp = hostile.map((a) => a.progress).filter((p): p is BotProgress => p !== undefined);
      const h = hp.length > 0 ? combineProgress(hp) : undefined;
      const x = xp.length > 0 ? combineProgress(xp) : undefined;
      const counts = {
        rejects: h?.inputsRejected ?? 0,
        hostileRejects: x?.inputsRejected ?? 0,
        joins: (h?.joins ?? 0) + (x?.joins ?? 0),
        kicks: (h?.kicks ?? 0) + (x?.kicks ?? 0),
      };
      const elapsed = h?.elapsedS ?? 0;
      const phase =
        phaseOverride ?? (h === undefined ? 'start' : h.phase === 'measure' ? 'measure' : elapsed < plan.rampS ? 'ramp' : 'warmup');
      const sample: Sample = {
        t: round((at - t0) / 1000, 1)!,
        phase,
        measured: isRamp ? measuredOverride : phase === 'measure',
        targetClients: isRamp ? targetNow : honestTarget,
        clients: h?.connected ?? 0,
        hostileClients: x?.connected ?? 0,
        serverPlayers: num(stats.players),
        zones: num(stats.zones),
        serverSteps: num(stats.samples),
        tickP50Ms: round(num(stats.simStepP50Ms)),
        tickP99Ms: round(num(stats.simStepP99Ms)),
        stepP99Ms: round(num(stats.stepP99Ms)),
        stepMaxMs: round(num(stats.stepMaxMs)),
        lagP99Ms: round(num(stats.lagP99Ms)),
        gapP99Ms: round(num(stats.gapP99Ms)),
        serverBytesOutPerS: prev?.c && c ? round(perSecond(c.bytesOut, prev.c.bytesOut, dtS), 0) : null,
        serverRejectsPerS: prev?.c && c ? round(perSecond(c.rejects, prev.c.rejects, dtS)) : null,
        handoffsPerS: prev?.c && c ? round(perSecond(c.handoffs, prev.c.handoffs, dtS)) : null,
        connectionsOpenedPerS: prev?.c && c ? round(perSecond(c.opened, prev.c.opened, dtS)) : null,
        framesSkippedPerS: prev?.c && c ? round(perSecond(c.skipped, prev.c.skipped, dtS)) : null,
        serverCpuPct: prev?.cpu !== undefined && cpu !== undefined && dtS > 0 ? round((100 * (cpu - prev.cpu)) / dtS, 1) : null,
        serverRssMB: round(num(info.pid !== undefined ? rssMB(info.pid) : c?.rssMB), 1),
        framesPerClientPerS: round(num(h?.framesPerClientPerSecond)),
        bytesInPerClientPerS: round(num(h?.bytesInPerClientPerSecond), 0),
        bytesOutPerClientPerS: round(num(h?.bytesOutPerClientPerSecond), 0),
        updateP50Ms: round(num(h?.updateLatencyP50Ms), 1),
        updateP99Ms: round(num(h?.updateLatencyP99Ms), 1),
        rejects: Math.max(0, counts.rejects - prevCounts.rejects),
        hostileRejects: Math.max(0, counts.hostileRejects - prevCounts.hostileRejects),
        joins: Math.max(0, counts.joins - prevCounts.joins),
        kicks: Math.max(0, counts.kicks - prevCounts.kicks),
        botsCpuPct: prev?.botsCpu !== undefined && bc !== undefined && dtS > 0 ? round((100 * (bc - prev.botsCpu)) / dtS, 1) : null,
      };
      prev = { at, c, cpu, botsCpu: bc };
      prevCounts = counts;
      return sample;
    };

    const samplerLoop = (async () => {
      let next = performance.now();
      // The first read sets the baselines (counters, CPU) and starts the first /stats window.
      await takeSample();
      while (!finished && !signal.aborted) {
        next += SAMPLE_MS;
        await Promise.race([sleep(Math.max(0, next - performance.now()), signal), allDone]);
        if (finished || signal.aborted) break;
        const s = await takeSample();
        samples.push(s);
        say(progressLine(s), 'tick');
      }
    })();

    // --- ramp controller ---
    if (isRamp) {
      const minStep = smoke ? 10 : 50;
      const levels = rampLevels(smoke ? 10 : 100, clients, minStep);
      const settleMs = smoke ? 1000 : 2000;
      const holdMs = smoke ? 2000 : 5000;
      const budgetMs = plan.durationS * 1000;
      const rampStart = performance.now();
      const results: RampLevel[] = [];
      let heldClients = 0;
      let failedClients: number | null = null;
      let failuresInARow = 0;
      let stoppedBy: RampOutcome['stoppedBy'] = 'max';
      const setTarget = (n: number): void => {
        targetNow = n;
        for (const [i, part] of split(n, honest.length).entries()) honest[i]!.send({ type: 'target', count: part });
      };
      for (const [k, n] of levels.entries()) {
        if (signal.aborted || finished) {
          stoppedBy = 'aborted';
          break;
        }
        const levelStart = performance.now();
        const added = n - (k > 0 ? levels[k - 1]! : 0);
        const connectBudgetMs = 5000 + (added / (100 * honest.length)) * 1000;
        // Each level: connect, settle, hold. Stop before a level that would not fit the budget.
        if (levelStart - rampStart + connectBudgetMs / 2 + settleMs + holdMs > budgetMs) {
          stoppedBy = 'budget';
          break;
        }
        phaseOverride = `level ${k + 1}`;
        measuredOverride = false;
        setTarget(n);
        const connectDeadline = levelStart + connectBudgetMs;
        while (performance.now() < connectDeadline && !signal.aborted && !finished) {
          const c = honest.reduce((m, a) => m + (a.progress?.connected ?? 0), 0);
          if (c >= n * HELD.connectedShare) break;
          await sleep(250, signal);
        }
        await sleep(settleMs, signal);
        const holdFrom = samples.length;
        measuredOverride = true;
        await sleep(holdMs, signal);
        measuredOverride = false;
        const window = samples.slice(holdFrom).filter((s) => s.measured);
        const lv = {
          clients: n,
          connected: Math.round(median(window.map((s) => s.clients)) ?? 0),
          framesPerClientPerS: round(median(window.map((s) => s.framesPerClientPerS))),
          tickP99Ms: round(median(window.map((s) => s.tickP99Ms))),
          lagP99Ms: round(median(window.map((s) => s.lagP99Ms))),
        };
        const verdict = heldVerdict(lv, tickRate);
        const level: RampLevel = {
          level: k + 1,
          ...lv,
          updateP99Ms: round(median(window.map((s) => s.updateP99Ms)), 1),
          serverCpuPct: round(mean(window.map((s) => s.serverCpuPct)), 0),
          held: verdict.held,
          why: verdict.why,
          startedAtS: round((levelStart - t0) / 1000, 1)!,
        };
        results.push(level);
        say(
          `ramp level ${level.level}: ${n} clients (${level.connected} connected): ${fmt(level.framesPerClientPerS)} frames/s, tick p99 ${fmt(level.tickP99Ms)} ms, ` +
            `lag p99 ${fmt(level.lagP99Ms)} ms, update p99 ${fmt(level.updateP99Ms, 0)} ms, server ${fmt(level.serverCpuPct, 0)}%: ${verdict.held ? 'held' : `NOT held (${verdict.why})`}`,
          'level',
        );
        if (verdict.held) {
          heldClients = n;
          failedClients = null;
          failuresInARow = 0;
        } else {
          failedClients ??= n;
          failuresInARow++;
          // Two levels in a row not held: the limit is found (one may be noise).
          if (failuresInARow >= 2) {
            stoppedBy = 'limit';
            break;
          }
        }
      }
      if (signal.aborted) stoppedBy = 'aborted';
      ramp = { heldClients, failedClients, stoppedBy, elapsedS: round((performance.now() - rampStart) / 1000, 1)!, levels: results };
      for (const a of agents) a.send({ type: 'stop' });
    }

    // Ctrl+C or the end of a ramp: stop the bots; they still report their results.
    const onAbort = (): void => {
      for (const a of agents) a.send({ type: 'stop' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const bound = (plan.rampS + plan.warmupS + plan.durationS + 60) * 1000;
    const boundTimer = new AbortController();
    await Promise.race([allDone, sleep(bound, boundTimer.signal)]);
    boundTimer.abort();
    signal.removeEventListener('abort', onAbort);
    finished = true;
    await samplerLoop;
    const finalMetrics = await fetchText(`${info.httpUrl}/metrics`);
    if (finalMetrics) lastMetrics = parseProm(finalMetrics);
    const failed = agents.find((a) => a.error !== undefined);
    if (failed && !agents.some((a) => a.result !== undefined && a.role === 'honest')) {
      throw new Error(`the bots could not run against ${info.wsUrl}: ${failed.error!.message}`);
    }
    if (failed) say(`warning: a bots process failed: ${failed.error!.message}`, 'info');

    // --- result ---
    const honestRaw = honest.map((a) => a.result).filter((r): r is BotRawResult => r !== undefined);
    const hostileRaw = hostile.map((a) => a.result).filter((r): r is BotRawResult => r !== undefined);
    const bots = summarizeBots(honestRaw);
    let window = samples.filter((s) => s.measured);
    if (isRamp && ramp !== null && ramp.heldClients > 0) {
      const lastHeld = ramp.levels.filter((l) => l.held).at(-1)!;
      window = samples.filter((s) => s.measured && s.phase === `level ${lastHeld.level}`);
    }
    const windowS = window.length;
    const serverCounters: Record<string, number> = {};
    if (lastMetrics) {
      const before = firstMetrics ?? new Map<string, number>();
      const diffBy = (metric: string, label: string, prefix: string): void => {
        const a = promByLabel(lastMetrics!, metric, label);
        const b = promByLabel(before, metric, label);
        for (const [k, v] of Object.entries(a)) serverCounters[`${prefix}_${k}`] = v - (b[k] ?? 0);
      };
      diffBy('bluemarble_handoffs_total', 'result', 'handoffs');
      diffBy('bluemarble_inputs_rejected_total', 'reason', 'rejects');
      diffBy('bluemarble_connections_closed_total', 'reason', 'closed');
      diffBy('bluemarble_protocol_errors_total', 'code', 'protocol_errors');
      const opened = promSum(lastMetrics, 'bluemarble_connections_opened_total') - promSum(before, 'bluemarble_connections_opened_total');
      if (Number.isFinite(opened)) serverCounters['connections_opened'] = opened;
    }
    serverCounters['bots_joins'] = bots.joins + hostileRaw.reduce((n, r) => n + (r.joins ?? 0), 0);
    serverCounters['bots_zone_changes'] = bots.zoneChanges;
    const warnings = opts.target.warnings();
    const summaryBase = {
      clients: isRamp ? (ramp?.heldClients ?? 0) : bots.clients,
      peakConnected: bots.connected,
      measuredSeconds: windowS,
      framesPerClientPerS: round(isRamp ? median(window.map((s) => s.framesPerClientPerS)) : bots.framesPerClientPerSecond),
      bytesInPerClientPerS: round(isRamp ? median(window.map((s) => s.bytesInPerClientPerS)) : bots.bytesInPerClientPerSecond, 0),
      bytesOutPerClientPerS: round(isRamp ? median(window.map((s) => s.bytesOutPerClientPerS)) : bots.bytesOutPerClientPerSecond, 0),
      updateP50Ms: round(isRamp ? median(window.map((s) => s.updateP50Ms)) : num(bots.updateLatencyP50Ms), 1),
      updateP99Ms: round(isRamp ? median(window.map((s) => s.updateP99Ms)) : num(bots.updateLatencyP99Ms), 1),
      rttP50Ms: round(num(bots.rttP50Ms), 1),
      rttP99Ms: round(num(bots.rttP99Ms), 1),
      tickP50Ms: round(median(window.map((s) => s.tickP50Ms))),
      tickP99Ms: round(median(window.map((s) => s.tickP99Ms))),
      tickP99WorstMs: round(maxOf(window.map((s) => s.tickP99Ms))),
      lagP99Ms: round(median(window.map((s) => s.lagP99Ms))),
      gapP99Ms: round(median(window.map((s) => s.gapP99Ms))),
      serverCpuPct: round(mean(window.map((s) => s.serverCpuPct)), 0),
      serverRssMaxMB: round(maxOf(samples.map((s) => s.serverRssMB)), 0),
      botsCpuPct: round(mean(window.map((s) => s.botsCpuPct)), 0),
      zones: round(median(window.map((s) => s.zones)), 0),
      visibleAvg: round(bots.visibleEntitiesAvg, 1),
      handoffsPerS: round(mean(window.map((s) => s.handoffsPerS))),
      joinsPerS: windowS > 0 ? round(window.reduce((n, s) => n + s.joins, 0) / windowS) : null,
      joinP50Ms: round(num(bots.joinLatencyP50Ms), 1),
      joinP99Ms: round(num(bots.joinLatencyP99Ms), 1),
      inputsSent: bots.inputsSent,
      inputsRejected: bots.inputsRejected,
      rejectsByReason: bots.rejectsByReason,
      disconnects: bots.disconnects,
      kicksByReason: bots.kicksByReason,
      connectFailures: bots.connectFailures,
      protocolErrors: bots.protocolErrors,
      lateTicks: bots.lateTicks,
      serverWarnings: warnings.length,
    };
    const connectedMedian = median(window.map((s) => s.clients)) ?? 0;
    const summary: Summary = {
      ...summaryBase,
      held: heldVerdict(
        {
          clients: isRamp ? (ramp?.heldClients ?? 0) : clients - (hostileRaw.length > 0 ? hostileRaw.reduce((n, r) => n + r.clients, 0) : 0),
          connected: Math.round(connectedMedian),
          framesPerClientPerS: summaryBase.framesPerClientPerS,
          tickP99Ms: summaryBase.tickP99Ms,
          lagP99Ms: summaryBase.lagP99Ms,
        },
        tickRate,
      ).held && (!isRamp || (ramp?.heldClients ?? 0) > 0),
    };
    let hostileOutcome: HostileOutcome | null = null;
    if (hostileRaw.length > 0) {
      const hs = summarizeBots(hostileRaw);
      hostileOutcome = {
        clients: hs.clients,
        kinds: [...HOSTILE_KINDS],
        messagesSent: hs.hostileSent,
        inputsRejected: hs.inputsRejected,
        rejectsByReason: hs.rejectsByReason,
        kicksByReason: hs.kicksByReason,
        joins: hs.joins,
      };
    }
    const result: LoadtestResult = {
      schema: RESULT_SCHEMA,
      scenario: opts.scenario,
      description: def.description,
      startedAt: startedAt.toISOString(),
      elapsedS: 0,
      config: {
        clients,
        durationS: plan.durationS,
        rampS: plan.rampS,
        warmupS: plan.warmupS,
        botProcesses: agents.length,
        botsNice: opts.botsNice ?? 0,
        smoke,
        seed,
        target: { kind: opts.target.kind, url: info.wsUrl, serverArgs: [...serverArgs] },
        world: {
          ...plan.worldInfo,
          spawnLat: plan.world.spawnLat,
          spawnLon: plan.world.spawnLon,
          zoneResolution,
          tickRate,
        },
      },
      host: { cpus: availableParallelism(), node: process.version, platform: process.platform, loadavg: loadavg().map((v) => round(v)!) },
      samples,
      summary,
      ramp,
      hostile: hostileOutcome,
      serverCounters,
      checks: [],
    };
    result.elapsedS = round((performance.now() - wallStart) / 1000, 1)!;
    result.checks = def.checks(result);
    return result;
  } finally {
    for (const a of agents) a.send({ type: 'stop' });
    const grace = new AbortController();
    await Promise.all(agents.map((a) => Promise.race([a.done, sleep(3000, grace.signal)]).then(() => a.child.stop(1000))));
    grace.abort();
    await opts.target.stop();
  }
}
