// The result of one `bluemarble loadtest` run: one schema for every scenario. Written as JSON
// (the raw samples) and embedded in the HTML report. Figures that could not be measured are null
// (JSON has no NaN). docs/loadtest.md describes every field and where it is measured.

export const RESULT_SCHEMA = 'bluemarble-loadtest/1';

/** One second of a run: the server's figures (from /stats, /metrics, /proc) and the bots'. */
export interface Sample {
  /** Seconds since the bots were started. */
  t: number;
  /** 'ramp' (connecting), 'warmup', 'measure', or for `ramp` the level ('level 3'). */
  phase: string;
  /** Whether this second counts towards the summary (the measurement window, or a ramp level's hold). */
  measured: boolean;
  /** Bots the scenario wants connected now, and honest bots connected (bots' count). */
  targetClients: number;
  clients: number;
  /** Hostile bots connected (hostile scenario; 0 otherwise). */
  hostileClients: number;
  // --- server: GET /stats?reset=1, so each figure covers this second only ---
  serverPlayers: number | null;
  zones: number | null;
  /** Zone steps in this second (20 at 20 Hz). */
  serverSteps: number | null;
  /** Simulation time of one step (all zones' ticks), p50 / p99 within the second: the tick time. */
  tickP50Ms: number | null;
  tickP99Ms: number | null;
  /** The whole step incl. handing frames to sockets, p99 and max. */
  stepP99Ms: number | null;
  stepMaxMs: number | null;
  /** How late steps started (p99); above one tick period the tick rate is not held. */
  lagP99Ms: number | null;
  /** How much more than one period after the previous step each step started (p99); null from servers without it. */
  gapP99Ms: number | null;
  // --- server: GET /metrics, counters differenced over the second ---
  serverBytesOutPerS: number | null;
  serverRejectsPerS: number | null;
  handoffsPerS: number | null;
  connectionsOpenedPerS: number | null;
  framesSkippedPerS: number | null;
  // --- server process: /proc/<pid> (or process_* metrics for --url without a pid) ---
  serverCpuPct: number | null;
  serverRssMB: number | null;
  // --- bots (honest ones), over the last second ---
  framesPerClientPerS: number | null;
  bytesInPerClientPerS: number | null;
  bytesOutPerClientPerS: number | null;
  updateP50Ms: number | null;
  updateP99Ms: number | null;
  /** Inputs the server rejected, this second: honest bots, and hostile ones. */
  rejects: number;
  hostileRejects: number;
  /** Handshakes completed this second (all bots), and kicks. */
  joins: number;
  kicks: number;
  /** CPU of all bots processes, % of one core. */
  botsCpuPct: number | null;
}

/** The summary: measured-window figures (medians of per-second values unless said otherwise). */
export interface Summary {
  clients: number;
  peakConnected: number;
  measuredSeconds: number;
  framesPerClientPerS: number | null;
  bytesInPerClientPerS: number | null;
  bytesOutPerClientPerS: number | null;
  /** From the bots' histograms merged over the window (exact to 2 %). */
  updateP50Ms: number | null;
  updateP99Ms: number | null;
  rttP50Ms: number | null;
  rttP99Ms: number | null;
  /** Median over the window's seconds of each second's tick p50 / p99; and the worst second's p99. */
  tickP50Ms: number | null;
  tickP99Ms: number | null;
  tickP99WorstMs: number | null;
  lagP99Ms: number | null;
  gapP99Ms: number | null;
  serverCpuPct: number | null;
  serverRssMaxMB: number | null;
  botsCpuPct: number | null;
  zones: number | null;
  visibleAvg: number | null;
  handoffsPerS: number | null;
  joinsPerS: number | null;
  joinP50Ms: number | null;
  joinP99Ms: number | null;
  /** Whole run, honest bots. */
  inputsSent: number;
  inputsRejected: number;
  rejectsByReason: Record<string, number>;
  disconnects: number;
  kicksByReason: Record<string, number>;
  connectFailures: number;
  protocolErrors: number;
  lateTicks: number;
  /** >= 19 frames/s per client, tick p99 <= 25 ms, lag p99 <= 50 ms, >= 98 % connected. */
  held: boolean;
  /** Server log lines at warn or above (a server this command started). */
  serverWarnings: number;
}

/** `ramp`: one step of added clients. */
export interface RampLevel {
  level: number;
  clients: number;
  connected: number;
  framesPerClientPerS: number | null;
  tickP99Ms: number | null;
  lagP99Ms: number | null;
  updateP99Ms: number | null;
  serverCpuPct: number | null;
  held: boolean;
  /** Why not held ('' when held). */
  why: string;
  startedAtS: number;
}

export interface RampOutcome {
  /** Largest client count held at the tick rate (0 if none). */
  heldClients: number;
  /** The first level not held after the last held one, if any. */
  failedClients: number | null;
  /** 'limit': levels stopped holding; 'budget': ran out of time; 'max': reached --clients. */
  stoppedBy: 'limit' | 'budget' | 'max' | 'aborted';
  elapsedS: number;
  levels: RampLevel[];
}

/** Hostile bots' side (the hostile scenario). */
export interface HostileOutcome {
  clients: number;
  kinds: string[];
  messagesSent: number;
  inputsRejected: number;
  rejectsByReason: Record<string, number>;
  kicksByReason: Record<string, number>;
  joins: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface LoadtestResult {
  schema: typeof RESULT_SCHEMA;
  scenario: string;
  /** What the scenario models (docs/loadtest.md). */
  description: string;
  startedAt: string;
  /** Wall time of the whole run, s. */
  elapsedS: number;
  config: {
    clients: number;
    durationS: number;
    rampS: number;
    warmupS: number;
    botProcesses: number;
    /** Nice value the bots processes ran at (0: the server's priority; absent in older results). */
    botsNice?: number;
    smoke: boolean;
    seed: number;
    target: { kind: string; url: string; serverArgs: string[] };
    world: Record<string, number | string>;
  };
  host: { cpus: number; node: string; platform: string; loadavg: number[] };
  samples: Sample[];
  summary: Summary;
  ramp: RampOutcome | null;
  hostile: HostileOutcome | null;
  /** Server counters over the whole run (from /metrics), e.g. handoffs by result. */
  serverCounters: Record<string, number>;
  checks: Check[];
}
