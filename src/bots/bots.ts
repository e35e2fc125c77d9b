// Load generator: many walking players in one process, driven by one scheduler loop. Bots play
// as guests, or with accounts when given session tokens (src/bots/accounts.ts gets them); with
// accounts they also look up what they see over HTTP, as a game client does (src/bots/lookups.ts).
//
// Measurement rules (also reported in BotSummary):
// - The run is rampS seconds of ramp-up (connections opened evenly) followed by durationS seconds
//   of measurement; per-second rates, percentiles and visibleEntitiesAvg cover only the
//   measurement window. If the run is aborted before the window opens, they cover the whole run.
// - Per-client rates divide by connected-client-seconds (the number of bots connected, integrated
//   over time), so bots that failed or dropped do not dilute them.
// - Counts (inputsSent, rejects, kicks, disconnects, protocolErrors, lookups, CHARACTERs) cover
//   the whole run.
// - Percentiles come from a shared fixed-bucket log histogram (LatencyHistogram, 2 % buckets):
//   each reported value is at most 2 % above the exact sample percentile.
//
// Behaviours (RunBotsOptions.behaviour, used by `bluemarble loadtest`, src/loadtest): how bots
// move (wander, optionally tethered to an anchor; or shuttle back and forth through an anchor,
// across zone borders), whether they log out and back in (churn), and whether they attack the
// server (hostile kinds: speed hacks, replayed inputs, input floods, garbage frames). A bot whose
// session ended or that was kicked reconnects in the same slot when its behaviour says so; the
// counters of its earlier connections are kept.
//
// Honest bots play through the client SDK (BlueMarbleClient, autoInputs and autoPings off: this
// loop calls step() and ping() for every bot), so every bot predicts its own movement and
// reconciles it on every frame (predictionMismatches: 0 against a correct server) and keeps its
// remote entities interpolated: sample() runs every SAMPLE_EVERY_TICKS-th input tick, a quarter
// of a 20 Hz tick rate (5 renders a second), which exercises the whole interpolation path at a
// quarter of the CPU of sampling every tick (a bot draws nothing; the cost grows with entities in
// view). Hostile bots misbehave on the raw connection (GameConnection and socket writes).
import { GameConnection, KickError, LatencyHistogram, kickReasonName } from '../client/connection.ts';
import { BlueMarbleClient } from '../client/sdk.ts';
import type { CreateSocket, HistogramData, MoveInput, WebSocketLike } from '../client/connection.ts';
import { encodeInput } from '../protocol/messages.ts';
import { SnapshotField, SNAPSHOT_STRIDE } from '../protocol/types.ts';
import type { CharacterMessage } from '../protocol/types.ts';
import { ACTIONS, KickReason } from '../world/types.ts';
import { Lookups } from './lookups.ts';

export interface BotProgress {
  elapsedS: number;
  phase: 'ramp' | 'measure';
  /** Connections opened so far (of target). */
  opened: number;
  target: number;
  /** Bots currently past WELCOME and not closed. */
  connected: number;
  /** Rates over the last progress interval (about 1 s). */
  framesPerClientPerSecond: number;
  bytesInPerClientPerSecond: number;
  bytesOutPerClientPerSecond: number;
  /** Median RTT so far in the current phase (NaN before any pong). */
  rttP50Ms: number;
  inputsRejected: number;
  disconnects: number;
  protocolErrors: number;
  /** Input-to-update latency over the last progress interval (NaN without samples). */
  updateLatencyP50Ms?: number;
  updateLatencyP99Ms?: number;
  /** Completed handshakes so far (rejoins included). */
  joins?: number;
  /** Kicks so far. */
  kicks?: number;
  /** Changes of the zone that sends a bot its frames, so far (shuttle bots only). */
  zoneChanges?: number;
  /** Hostile messages sent so far. */
  hostileSent?: number;
}

/** What a hostile bot does while the others play. */
export type HostileKind = 'speed' | 'replay' | 'flood' | 'garbage';
export const HOSTILE_KINDS: readonly HostileKind[] = ['speed', 'replay', 'flood', 'garbage'];

/**
 * How bots behave (all optional: the default is the plain random walk, no churn, honest).
 * - wander: a random walk (new heading every 2-8 s, sometimes standing still); with `anchor`
 *   and `tetherM`, a bot further than tetherM from the anchor heads back towards it.
 * - shuttle: each bot walks back and forth, at 90 % of top speed, along a line through a point
 *   within `spreadM` of `anchor`, `overshootM` beyond it either way: put the anchor on a zone
 *   border or vertex and every leg crosses it.
 * - sessionS: churn. Each session lasts a random time in [min, max] s; the bot then closes its
 *   socket and connects again (a new HELLO, same token or a new guest) after rejoinGapMs.
 * - hostile: bot i gets hostile[i % length]. speed: inputs at 3x top speed; replay: every input
 *   is followed by a copy of an older, already applied one; flood: 8 inputs per tick (the server
 *   rejects the excess and kicks for flooding); garbage: random bytes twice a second (kicked as
 *   a protocol error). A kicked hostile bot reconnects after rejoinGapMs and attacks again.
 */
export interface BotBehaviour {
  move?: 'wander' | 'shuttle';
  anchor?: { lat: number; lon: number };
  tetherM?: number;
  overshootM?: number;
  spreadM?: number;
  sessionS?: { min: number; max: number };
  /** Gap before a churning or kicked hostile bot reconnects (default 500 ms). */
  rejoinGapMs?: number;
  hostile?: readonly HostileKind[];
}

export interface BotSummary {
  clients: number;
  /** Peak number of simultaneously connected bots. */
  connected: number;
  /** Length of the measurement window (ramp-up excluded). */
  seconds: number;
  rampSeconds: number;
  bytesInPerClientPerSecond: number;
  bytesOutPerClientPerSecond: number;
  framesPerClientPerSecond: number;
  rttP50Ms: number;
  rttP99Ms: number;
  updateLatencyP50Ms: number;
  updateLatencyP99Ms: number;
  inputsSent: number;
  inputsRejected: number;
  rejectsByReason: Record<string, number>;
  /** Closes the bots did not ask for (after WELCOME), kicks included. */
  disconnects: number;
  kicksByReason: Record<string, number>;
  /** Bots whose connect() failed (not counting the first, which aborts the run instead). */
  connectFailures: number;
  protocolErrors: number;
  visibleEntitiesAvg: number;
  /** Bot inputs skipped because the scheduler ran over two ticks late, summed over bots (bot host overloaded). */
  lateTicks: number;
  /** CHARACTER messages received (account bots get one on joining and on every change). */
  charactersReceived: number;
  /** Bots that received at least one CHARACTER. */
  botsWithCharacter: number;
  /** Nameplate/tooltip lookups (GET /api/players/:id, /api/items/:id) answered 2xx. */
  lookups: number;
  /** Lookups answered otherwise or not at all (network error, timeout). */
  lookupFailures: number;
  /** Lookups not sent because too many were already waiting (the bot host or server fell behind). */
  lookupsDropped: number;
  /** Completed handshakes (WELCOMEs), rejoins included. */
  joins: number;
  /** From opening the socket to WELCOME, over the whole run (NaN without joins). */
  joinLatencyP50Ms: number;
  joinLatencyP99Ms: number;
  /** Changes of the zone sending a bot its frames (shuttle bots only). */
  zoneChanges: number;
  /** Hostile messages sent (hostile bots only). */
  hostileSent: number;
  /**
   * Honest bots' own poses in frames compared with the SDK's prediction for the same input, and
   * how many differed (0 unless the server refused, skipped or corrected an input).
   */
  predictionChecks: number;
  predictionMismatches: number;
  /**
   * Honest bots' inputs timed to reach the server just before a tick (the SDK's aligned input
   * timing): how many the server applied a tick later than aimed at, and how many on time.
   */
  inputsLate: number;
  inputsOnTime: number;
}

export interface RunBotsOptions {
  url: string;
  count: number;
  /** Length of the measurement window, after ramp-up. */
  durationS: number;
  /** Ramp-up length; default min(10, count / 100) seconds. */
  rampS?: number;
  /** Bot names are prefix + index; default 'bot'. */
  namePrefix?: string;
  seed?: number;
  onProgress?: (p: BotProgress) => void;
  createSocket: CreateSocket;
  /** Aborting ends the run early; the summary still comes back. */
  signal?: AbortSignal;
  /** Monotonic clock (ms); default performance.now(). */
  now?: () => number;
  /** First bot index (names are prefix + index): lets worker threads share one name space. */
  indexOffset?: number;
  /**
   * Session tokens, one per bot, index-aligned with the bot's index within this group (bot i
   * sends tokens[i] in HELLO); absent: guests. See botTokens() in accounts.ts.
   */
  tokens?: string[];
  /**
   * The server's HTTP base URL (e.g. http://127.0.0.1:8080) for lookups: each bot fetches
   * GET /api/players/<id> once for every player entity it sees, and GET /api/items/<id> once for
   * every item a CHARACTER shows it. Absent: no lookups.
   */
  lookupsUrl?: string;
  /** Lookup requests open at once in this thread (default 32). */
  lookupsInFlight?: number;
  /** Seconds between the end of the ramp and the start of the measurement window (default 0). */
  warmupS?: number;
  /** How the bots move, churn or attack (default: wander, stay, honest). */
  behaviour?: BotBehaviour;
  /**
   * Bots to have opened by now, read on every scheduler pass (capped at count); replaces the
   * ramp's even schedule, so a caller can add bots in steps. Bots are never closed for a lower value.
   */
  target?: () => number;
  /** With `target`: at most this many connections opened per second (default 200). */
  openPerSecond?: number;
  /** Honest bots' input timing (the SDK's inputTiming; default 'aligned'). */
  inputTiming?: 'aligned' | 'free';
}

/** Mergeable measurements of one runBotsRaw() (one process or worker thread). */
export interface BotRawResult {
  clients: number;
  peakConnected: number;
  seconds: number;
  rampSeconds: number;
  /** Connected bots integrated over the measurement window, in seconds. */
  clientSeconds: number;
  bytesIn: number;
  bytesOut: number;
  frames: number;
  rtt: HistogramData;
  updateLatency: HistogramData;
  inputsSent: number;
  inputsRejected: number;
  rejectsByReason: Record<string, number>;
  disconnects: number;
  kicksByReason: Record<string, number>;
  connectFailures: number;
  protocolErrors: number;
  visibleSum: number;
  visibleSamples: number;
  lateTicks: number;
  charactersReceived: number;
  botsWithCharacter: number;
  lookups: number;
  lookupFailures: number;
  lookupsDropped: number;
  joins?: number;
  joinLatency?: HistogramData;
  zoneChanges?: number;
  hostileSent?: number;
  predictionChecks?: number;
  predictionMismatches?: number;
  inputsLate?: number;
  inputsOnTime?: number;
}

/** Thrown when the first bot cannot complete a handshake: the server is unreachable or refuses us. */
export class BotsConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BotsConnectError';
  }
}

/** Scheduler resolution: each bot's input goes out at most this late, and the average rate is exact. */
const LOOP_MS = 10;
const PING_INTERVAL_MS = 1000;
const PROGRESS_INTERVAL_MS = 1000;
const CLOSE_WAIT_MS = 2000;
const STOP_CHANCE = 0.15;
const NAME_MAX_BYTES = 32;
/** Account players' entity ids are this + playerId (gateway.ts PLAYER_ENTITY_BASE); NPCs are below. */
const PLAYER_ENTITY_BASE = 1_000_000;
/** Guests' entity ids start here (gateway.ts GUEST_ENTITY_BASE): they have no profile to look up. */
const GUEST_ENTITY_BASE = 2_000_000_000;
/** Metres per degree of latitude, and of longitude at the equator (good enough over a few km). */
const M_PER_DEG = 111_320;
const DEFAULT_REJOIN_GAP_MS = 500;
const GARBAGE_INTERVAL_MS = 500;
const FLOOD_INPUTS_PER_TICK = 8;
const SPEED_HACK_FACTOR = 3;
/** A bot looks for new players in view at most this often (a client's nameplate can wait that long). */
const SCAN_INTERVAL_MS = 200;
/** Honest bots interpolate their entities (BlueMarbleClient.sample()) every this many input ticks. */
export const SAMPLE_EVERY_TICKS = 4;

/** Small seeded PRNG (xorshift32 with a splitmix-style seed scramble); returns [0, 1). */
export function makeRng(seed: number): () => number {
  let s = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35;
  if (s === 0) s = 0x6d2b79f5;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

interface Bot {
  /** The current connection: the SDK client's (honest bots) or a bare one (hostile bots). */
  conn: GameConnection;
  /** Honest bots: the SDK client that owns conn (one per session: a rejoin makes a new one). */
  client: BlueMarbleClient | undefined;
  /** Input ticks since WELCOME (honest bots sample() every SAMPLE_EVERY_TICKS-th). */
  ticks: number;
  /** The current connection's socket (hostile bots write raw bytes to it). */
  socket: WebSocketLike | undefined;
  hostile: HostileKind | undefined;
  /** Churn: this session ends then (Infinity: never). */
  sessionEndAt: number;
  /** Reconnect then (Infinity: not waiting to). */
  rejoinAt: number;
  /** Shuttle: the current leg ends then; direction (unit east/north) and sign of the leg. */
  legEndAt: number;
  legEast: number;
  legNorth: number;
  legSign: number;
  overshootMs: number;
  lastZone: string;
  nextGarbageAt: number;
  hadCharacter: boolean;
  /** Position in `bots` (and in the scheduler's dueAt array). */
  index: number;
  welcomed: boolean;
  periodMs: number;
  maxSpeedCms: number;
  nextInputAt: number;
  nextPingAt: number;
  nextHeadingAt: number;
  nextActionAt: number;
  eastCms: number;
  northCms: number;
  /** Lookups only: players and items this bot has looked up, framesIn at its last scan. */
  seenPlayers: Set<number> | undefined;
  seenItems: Set<number> | undefined;
  scannedFrames: number;
  nextScanAt: number;
}

interface Totals {
  bytesIn: number;
  bytesOut: number;
  frames: number;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).byteLength;
}

/** Resolves when `p` settles or after `ms`, whichever is first, without leaving a timer behind. */
async function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** East/north metres from (lat0, lon0) to (lat, lon), in degrees; flat-earth, for short distances. */
export function offsetM(lat0: number, lon0: number, lat: number, lon: number): { east: number; north: number } {
  let dLon = lon - lon0;
  if (dLon > 180) dLon -= 360;
  else if (dLon < -180) dLon += 360;
  return { east: dLon * M_PER_DEG * Math.cos((lat0 * Math.PI) / 180), north: (lat - lat0) * M_PER_DEG };
}

export async function runBots(opts: RunBotsOptions): Promise<BotSummary> {
  return summarizeBots([await runBotsRaw(opts)]);
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/**
 * Combines the results of several bot groups (worker threads) into one summary. Their windows
 * overlap almost exactly, so `connected` sums each group's peak and `seconds` is the longest window.
 */
export function summarizeBots(raws: BotRawResult[]): BotSummary {
  const rtt = new LatencyHistogram();
  const lat = new LatencyHistogram();
  const join = new LatencyHistogram();
  const rejectsByReason: Record<string, number> = {};
  const kicksByReason: Record<string, number> = {};
  const sum = (f: (r: BotRawResult) => number): number => raws.reduce((n, r) => n + f(r), 0);
  for (const r of raws) {
    rtt.mergeData(r.rtt);
    lat.mergeData(r.updateLatency);
    if (r.joinLatency) join.mergeData(r.joinLatency);
    addCounts(rejectsByReason, r.rejectsByReason);
    addCounts(kicksByReason, r.kicksByReason);
  }
  const clientSeconds = sum((r) => r.clientSeconds);
  const perClientSecond = (n: number): number => (clientSeconds > 0 ? n / clientSeconds : 0);
  const visibleSamples = sum((r) => r.visibleSamples);
  return {
    clients: sum((r) => r.clients),
    connected: sum((r) => r.peakConnected),
    seconds: Math.max(0, ...raws.map((r) => r.seconds)),
    rampSeconds: Math.max(0, ...raws.map((r) => r.rampSeconds)),
    bytesInPerClientPerSecond: perClientSecond(sum((r) => r.bytesIn)),
    bytesOutPerClientPerSecond: perClientSecond(sum((r) => r.bytesOut)),
    framesPerClientPerSecond: perClientSecond(sum((r) => r.frames)),
    rttP50Ms: rtt.percentile(50),
    rttP99Ms: rtt.percentile(99),
    updateLatencyP50Ms: lat.percentile(50),
    updateLatencyP99Ms: lat.percentile(99),
    inputsSent: sum((r) => r.inputsSent),
    inputsRejected: sum((r) => r.inputsRejected),
    rejectsByReason,
    disconnects: sum((r) => r.disconnects),
    kicksByReason,
    connectFailures: sum((r) => r.connectFailures),
    protocolErrors: sum((r) => r.protocolErrors),
    visibleEntitiesAvg: visibleSamples > 0 ? sum((r) => r.visibleSum) / visibleSamples : 0,
    lateTicks: sum((r) => r.lateTicks),
    charactersReceived: sum((r) => r.charactersReceived),
    botsWithCharacter: sum((r) => r.botsWithCharacter),
    lookups: sum((r) => r.lookups),
    lookupFailures: sum((r) => r.lookupFailures),
    lookupsDropped: sum((r) => r.lookupsDropped),
    joins: sum((r) => r.joins ?? 0),
    joinLatencyP50Ms: join.percentile(50),
    joinLatencyP99Ms: join.percentile(99),
    zoneChanges: sum((r) => r.zoneChanges ?? 0),
    hostileSent: sum((r) => r.hostileSent ?? 0),
    predictionChecks: sum((r) => r.predictionChecks ?? 0),
    predictionMismatches: sum((r) => r.predictionMismatches ?? 0),
    inputsLate: sum((r) => r.inputsLate ?? 0),
    inputsOnTime: sum((r) => r.inputsOnTime ?? 0),
  };
}

function worstFinite(values: number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length > 0 ? Math.max(...finite) : NaN;
}

/**
 * Merges the latest progress of several bot groups: counts add up, rates and the RTT median are
 * weighted by connected bots (so the median is approximate).
 */
export function combineProgress(ps: BotProgress[]): BotProgress {
  const connected = ps.reduce((n, p) => n + p.connected, 0);
  const weighted = (f: (p: BotProgress) => number): number => {
    let w = 0;
    let v = 0;
    for (const p of ps) {
      const x = f(p);
      if (!Number.isFinite(x) || p.connected === 0) continue;
      w += p.connected;
      v += x * p.connected;
    }
    return w > 0 ? v / w : NaN;
  };
  return {
    elapsedS: Math.max(0, ...ps.map((p) => p.elapsedS)),
    phase: ps.some((p) => p.phase === 'ramp') ? 'ramp' : 'measure',
    opened: ps.reduce((n, p) => n + p.opened, 0),
    target: ps.reduce((n, p) => n + p.target, 0),
    connected,
    framesPerClientPerSecond: weighted((p) => p.framesPerClientPerSecond) || 0,
    bytesInPerClientPerSecond: weighted((p) => p.bytesInPerClientPerSecond) || 0,
    bytesOutPerClientPerSecond: weighted((p) => p.bytesOutPerClientPerSecond) || 0,
    rttP50Ms: weighted((p) => p.rttP50Ms),
    inputsRejected: ps.reduce((n, p) => n + p.inputsRejected, 0),
    disconnects: ps.reduce((n, p) => n + p.disconnects, 0),
    protocolErrors: ps.reduce((n, p) => n + p.protocolErrors, 0),
    // Interval latency: the median is weighted (approximate), the p99 is the worst group's.
    updateLatencyP50Ms: weighted((p) => p.updateLatencyP50Ms ?? NaN),
    updateLatencyP99Ms: worstFinite(ps.map((p) => p.updateLatencyP99Ms ?? NaN)),
    joins: ps.reduce((n, p) => n + (p.joins ?? 0), 0),
    kicks: ps.reduce((n, p) => n + (p.kicks ?? 0), 0),
    zoneChanges: ps.reduce((n, p) => n + (p.zoneChanges ?? 0), 0),
    hostileSent: ps.reduce((n, p) => n + (p.hostileSent ?? 0), 0),
  };
}

/** Runs one group of bots in this thread and returns mergeable measurements (see summarizeBots). */
export async function runBotsRaw(opts: RunBotsOptions): Promise<BotRawResult> {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  if (!(opts.durationS > 0)) throw new RangeError(`durationS must be > 0, got ${opts.durationS}`);
  const rampS = opts.rampS ?? Math.min(10, count / 100);
  if (!(rampS >= 0)) throw new RangeError(`rampS must be >= 0, got ${rampS}`);
  const warmupS = opts.warmupS ?? 0;
  if (!(warmupS >= 0)) throw new RangeError(`warmupS must be >= 0, got ${warmupS}`);
  const prefix = opts.namePrefix ?? 'bot';
  const indexOffset = opts.indexOffset ?? 0;
  const lastIndex = indexOffset + count - 1;
  if (prefix.length === 0 || utf8Length(`${prefix}${lastIndex}`) > NAME_MAX_BYTES) {
    throw new RangeError(`name prefix must be 1..${NAME_MAX_BYTES - String(lastIndex).length} bytes for ${lastIndex + 1} bots`);
  }
  const tokens = opts.tokens;
  if (tokens !== undefined && tokens.length < count) throw new RangeError(`tokens has ${tokens.length} entries for ${count} bots`);
  const behaviour = opts.behaviour ?? {};
  const session = behaviour.sessionS;
  if (session !== undefined && !(session.min > 0 && session.max >= session.min)) {
    throw new RangeError(`sessionS must have 0 < min <= max, got ${session.min}..${session.max}`);
  }
  const shuttle = behaviour.move === 'shuttle';
  if (shuttle && behaviour.anchor === undefined) throw new RangeError('the shuttle behaviour needs an anchor');
  const hostileKinds = behaviour.hostile ?? [];
  const rejoinGapMs = behaviour.rejoinGapMs ?? DEFAULT_REJOIN_GAP_MS;
  const lookups = opts.lookupsUrl === undefined ? undefined : new Lookups({ httpUrl: opts.lookupsUrl, maxInFlight: opts.lookupsInFlight });
  const now = opts.now ?? (() => performance.now());
  // The SDK clients' HTTP base (they make no HTTP requests here: bots get tokens beforehand).
  const httpUrl = opts.lookupsUrl ?? opts.url.replace(/^ws/, 'http');
  const rng = makeRng(opts.seed ?? Date.now());
  // Connections record into the interval histograms; each progress interval they are merged into
  // the window's histograms (once measuring) and cleared, so both are available.
  const rttHist = new LatencyHistogram();
  const latencyHist = new LatencyHistogram();
  const rttInterval = new LatencyHistogram();
  const latencyInterval = new LatencyHistogram();
  const joinHist = new LatencyHistogram();

  const bots: Bot[] = [];
  // Earliest of each bot's next heading/input/ping time (Infinity until welcomed), packed so
  // the scheduler scans one small array instead of touching every bot and connection per wake.
  const dueAt = new Float64Array(count).fill(Infinity);
  const updateDue = (bot: Bot): void => {
    dueAt[bot.index] = bot.welcomed ? Math.min(bot.nextHeadingAt, bot.nextInputAt, bot.nextPingAt, bot.sessionEndAt) : Infinity;
  };
  let connectedNow = 0;
  let peakConnected = 0;
  let disconnects = 0;
  let connectFailures = 0;
  let lateTicks = 0;
  let joins = 0;
  let kicks = 0;
  let zoneChanges = 0;
  let hostileSent = 0;
  const kicksByReason: Record<string, number> = {};
  let liveConns = 0;
  let stopping = false;
  let onAllClosed: (() => void) | undefined;
  /** Bots waiting to reconnect. */
  const rejoining = new Set<Bot>();
  // Counters of connections that a bot has replaced (churn, hostile rejoins).
  const retired = { bytesIn: 0, bytesOut: 0, frames: 0, rejected: 0, protocolErrors: 0, characters: 0, inputsSent: 0, checks: 0, mismatches: 0, inputsLate: 0, inputsOnTime: 0 };
  const retiredRejects: Record<string, number> = {};

  /** Hands the bot's chosen velocity to its SDK client (held until the next change). */
  function applyMove(bot: Bot): void {
    bot.client?.setMove({ east: bot.eastCms / 100, north: bot.northCms / 100, up: 0 });
  }

  function pickHeading(bot: Bot, t: number): void {
    chooseVelocity(bot, t);
    applyMove(bot);
  }

  function chooseVelocity(bot: Bot, t: number): void {
    bot.nextHeadingAt = t + 2000 + rng() * 6000;
    if (shuttle) {
      // Legs: walk to the far end (overshoot past the crossing point), turn, repeat.
      if (t >= bot.legEndAt) {
        bot.legSign = -bot.legSign;
        bot.legEndAt = t + 2 * bot.overshootMs;
      }
      const speed = 0.9 * bot.maxSpeedCms;
      bot.eastCms = bot.legEast * bot.legSign * speed;
      bot.northCms = bot.legNorth * bot.legSign * speed;
      bot.nextHeadingAt = bot.legEndAt;
      return;
    }
    const anchor = behaviour.anchor;
    const tether = behaviour.tetherM;
    const own = bot.conn.frameState?.own ?? bot.conn.welcome?.own;
    if (anchor !== undefined && tether !== undefined && own !== undefined) {
      const d = offsetM(own.latE7 / 1e7, own.lonE7 / 1e7, anchor.lat, anchor.lon);
      const dist = Math.hypot(d.east, d.north);
      if (dist > tether) {
        const speed = (0.6 + 0.3 * rng()) * bot.maxSpeedCms;
        bot.eastCms = (d.east / dist) * speed;
        bot.northCms = (d.north / dist) * speed;
        return;
      }
    }
    if (rng() < STOP_CHANCE) {
      bot.eastCms = 0;
      bot.northCms = 0;
      return;
    }
    const speed = (0.6 + 0.3 * rng()) * bot.maxSpeedCms;
    const heading = rng() * 2 * Math.PI;
    bot.eastCms = Math.sin(heading) * speed;
    bot.northCms = Math.cos(heading) * speed;
  }

  /** Shuttle: the first leg runs from the spawn point through the crossing point to overshootM past it. */
  function startShuttle(bot: Bot, t: number): void {
    const anchor = behaviour.anchor!;
    const own = bot.conn.welcome!.own;
    const spread = behaviour.spreadM ?? 0;
    const a = rng() * 2 * Math.PI;
    const r = spread * Math.sqrt(rng());
    const d = offsetM(own.latE7 / 1e7, own.lonE7 / 1e7, anchor.lat, anchor.lon);
    let east = d.east + Math.sin(a) * r;
    let north = d.north + Math.cos(a) * r;
    let dist = Math.hypot(east, north);
    if (dist < 1) {
      east = Math.sin(a);
      north = Math.cos(a);
      dist = 1;
    }
    bot.legEast = east / dist;
    bot.legNorth = north / dist;
    bot.legSign = 1;
    const speedMs = (0.9 * bot.maxSpeedCms) / 100 / 1000; // metres per ms
    const overshoot = behaviour.overshootM ?? 100;
    bot.overshootMs = speedMs > 0 ? overshoot / speedMs : Infinity;
    bot.legEndAt = speedMs > 0 ? t + (dist + overshoot) / speedMs : Infinity;
    const speed = 0.9 * bot.maxSpeedCms;
    bot.eastCms = bot.legEast * speed;
    bot.northCms = bot.legNorth * speed;
    bot.nextHeadingAt = bot.legEndAt;
    applyMove(bot);
  }

  /** Nameplates: a profile lookup for each player entity in view that this bot has not looked up. */
  function scanForPlayers(bot: Bot, t: number): void {
    const seen = bot.seenPlayers;
    const conn = bot.conn;
    if (seen === undefined || lookups === undefined || conn.framesIn === bot.scannedFrames) return;
    bot.scannedFrames = conn.framesIn;
    bot.nextScanAt = t + SCAN_INTERVAL_MS;
    const entities = conn.frameState?.entities;
    if (entities === undefined) return;
    const own = conn.welcome?.entityId;
    const data = entities.data;
    for (let i = 0, o = SnapshotField.id; i < entities.count; i++, o += SNAPSHOT_STRIDE) {
      const id = data[o]!;
      if (id < PLAYER_ENTITY_BASE || id >= GUEST_ENTITY_BASE || id === own || seen.has(id)) continue;
      seen.add(id);
      lookups.player(id - PLAYER_ENTITY_BASE);
    }
  }

  /** Tooltips: an item lookup for each item a CHARACTER shows that this bot has not looked up. */
  function lookUpItems(bot: Bot, c: CharacterMessage): void {
    const seen = bot.seenItems;
    if (seen === undefined || lookups === undefined) return;
    const check = (itemId: number): void => {
      if (seen.has(itemId)) return;
      seen.add(itemId);
      lookups.item(itemId);
    };
    for (const it of c.inventory) check(it.itemId);
    if (c.found !== null) check(c.found.itemId);
  }

  function scheduleRejoin(bot: Bot, t: number): void {
    if (stopping || bot.rejoinAt !== Infinity) return;
    bot.rejoinAt = t + rejoinGapMs;
    rejoining.add(bot);
  }

  /** Folds a connection's counters into `retired` before the bot replaces it. */
  function retire(bot: Bot): void {
    const conn = bot.conn;
    if (bot.client !== undefined) {
      const st = bot.client.stats;
      retired.checks += st.predictionChecks;
      retired.mismatches += st.predictionMismatches;
      retired.inputsLate += st.inputsLate;
      retired.inputsOnTime += st.inputsOnTime;
    }
    retired.bytesIn += conn.bytesIn;
    retired.bytesOut += conn.bytesOut;
    retired.frames += conn.framesIn;
    retired.rejected += conn.rejectsTotal;
    retired.protocolErrors += conn.protocolErrors;
    retired.characters += conn.charactersIn;
    retired.inputsSent += conn.inputsSent;
    addCounts(retiredRejects, conn.rejects);
  }

  /** Opens a (new) connection for the bot; resolves at WELCOME. */
  function connectBot(bot: Bot): Promise<void> {
    let welcomed = false;
    const startedAt = now();
    const name = `${prefix}${indexOffset + bot.index}`;
    const token = tokens?.[bot.index];
    let conn: GameConnection;
    let connecting: Promise<unknown>;
    bot.socket = undefined;
    bot.welcomed = false;
    bot.ticks = 0;
    if (bot.hostile === undefined) {
      // Honest: the SDK, driven by this loop (inputs and pings), never reconnecting by itself
      // (churn and rejoins are the loop's business).
      const client = new BlueMarbleClient({
        baseUrl: httpUrl,
        wsUrl: opts.url,
        name,
        createSocket: opts.createSocket,
        now,
        reconnect: false,
        autoInputs: false,
        inputTiming: opts.inputTiming,
        autoPings: false,
        rttHistogram: rttInterval,
        updateLatencyHistogram: latencyInterval,
      });
      if (token !== undefined) client.useToken(token);
      connecting = client.connect();
      conn = client.connection!; // set synchronously by connect()
      bot.client = client;
    } else {
      conn = new GameConnection({
        url: opts.url,
        name,
        ...(token !== undefined && { token }),
        createSocket: (url) => {
          const s = opts.createSocket(url);
          if (bot.conn === conn) bot.socket = s;
          return s;
        },
        now,
        rttHistogram: rttInterval,
        updateLatencyHistogram: latencyInterval,
      });
      bot.client = undefined;
      connecting = conn.connect();
    }
    bot.conn = conn;
    liveConns++;
    if (lookups !== undefined) conn.on('character', (c) => lookUpItems(bot, c));
    if (shuttle) {
      conn.on('update', (f) => {
        if (f.zone === bot.lastZone) return;
        if (bot.lastZone !== '') zoneChanges++;
        bot.lastZone = f.zone;
      });
    }
    conn.on('close', (ev) => {
      liveConns--;
      if (welcomed) {
        connectedNow--;
        if (!ev.requested) disconnects++;
      }
      if (ev.kickReason !== undefined) {
        kicks++;
        const name = kickReasonName(ev.kickReason);
        kicksByReason[name] = (kicksByReason[name] ?? 0) + 1;
      }
      if (bot.conn === conn) {
        bot.welcomed = false;
        updateDue(bot);
        if (session !== undefined || bot.hostile !== undefined) scheduleRejoin(bot, now());
      }
      if (liveConns === 0) onAllClosed?.();
    });
    return connecting.then(() => {
      const w = conn.welcome!;
      const t = now();
      welcomed = true;
      joins++;
      joinHist.record(t - startedAt);
      if (bot.conn !== conn) return;
      if (stopping) {
        closeBot(bot);
        return;
      }
      bot.welcomed = true;
      bot.periodMs = 1000 / w.tickRate;
      bot.maxSpeedCms = w.maxSpeed * 100;
      bot.nextInputAt = t;
      bot.nextPingAt = t + rng() * PING_INTERVAL_MS; // spread pings over the second
      bot.nextActionAt = t + rng() * 10_000;
      bot.nextGarbageAt = t + rng() * GARBAGE_INTERVAL_MS;
      bot.lastZone = '';
      bot.sessionEndAt = session === undefined ? Infinity : t + (session.min + rng() * (session.max - session.min)) * 1000;
      if (shuttle) startShuttle(bot, t);
      else pickHeading(bot, t);
      updateDue(bot);
      connectedNow++;
      if (connectedNow > peakConnected) peakConnected = connectedNow;
    });
  }

  /** Closes the bot's current connection (through its SDK client when it has one). */
  function closeBot(bot: Bot): void {
    if (bot.client !== undefined) void bot.client.close();
    else bot.conn.close();
  }

  function openBot(index: number): { bot: Bot; ready: Promise<void> } {
    const bot: Bot = {
      conn: undefined as unknown as GameConnection, // set by connectBot
      client: undefined,
      ticks: 0,
      socket: undefined,
      hostile: hostileKinds.length > 0 ? hostileKinds[(indexOffset + index) % hostileKinds.length] : undefined,
      sessionEndAt: Infinity,
      rejoinAt: Infinity,
      legEndAt: Infinity,
      legEast: 0,
      legNorth: 0,
      legSign: 1,
      overshootMs: Infinity,
      lastZone: '',
      nextGarbageAt: Infinity,
      hadCharacter: false,
      index,
      welcomed: false,
      periodMs: 50,
      maxSpeedCms: 0,
      nextInputAt: Infinity,
      nextPingAt: Infinity,
      nextHeadingAt: Infinity,
      nextActionAt: Infinity,
      eastCms: 0,
      northCms: 0,
      seenPlayers: lookups === undefined ? undefined : new Set<number>(),
      seenItems: lookups === undefined ? undefined : new Set<number>(),
      scannedFrames: 0,
      nextScanAt: 0,
    };
    bots.push(bot);
    return { bot, ready: connectBot(bot) };
  }

  // The first bot proves the server is reachable before the ramp opens the rest.
  const first = openBot(0);
  try {
    await first.ready;
  } catch (err) {
    stopping = true;
    closeBot(first.bot);
    lookups?.close();
    let why = err instanceof Error ? err.message : String(err);
    if (err instanceof KickError && err.reason === KickReason.Unauthorized && tokens === undefined) {
      why += ' (the server does not allow guests: the bots need accounts)';
    }
    throw new BotsConnectError(err instanceof KickError ? `server refused the first bot: ${why}` : why, { cause: err });
  }

  const sumTotals = (): Totals => {
    let bytesIn = retired.bytesIn;
    let bytesOut = retired.bytesOut;
    let frames = retired.frames;
    for (const b of bots) {
      bytesIn += b.conn.bytesIn;
      bytesOut += b.conn.bytesOut;
      frames += b.conn.framesIn;
    }
    return { bytesIn, bytesOut, frames };
  };
  const sumRejected = (): number => bots.reduce((n, b) => n + b.conn.rejectsTotal, retired.rejected);
  const sumProtocolErrors = (): number => bots.reduce((n, b) => n + b.conn.protocolErrors, retired.protocolErrors);

  const start = now();
  const rampMs = rampS * 1000;
  const measureStart = start + rampMs + warmupS * 1000;
  const measureEnd = measureStart + opts.durationS * 1000;
  let measuring = false;
  let windowStart = start;
  let base: Totals = { bytesIn: 0, bytesOut: 0, frames: 0 };
  let clientMs = 0;
  let visSum = 0;
  let visSamples = 0;
  let lastT = start;
  let nextProgressAt = start + PROGRESS_INTERVAL_MS;
  let progBase = sumTotals();
  let progClientMs = 0;
  let openCredit = 1;
  const openPerMs = (opts.openPerSecond ?? 200) / 1000;

  const rate = (delta: number, cms: number): number => (cms > 0 ? delta / (cms / 1000) : 0);
  const intent: MoveInput = { eastCms: 0, northCms: 0, upCms: 0, actions: undefined };
  const garbage = new Uint8Array(64);

  /** Sends bytes the connection would never send, straight to the socket. */
  function sendRaw(bot: Bot, bytes: Uint8Array): void {
    const s = bot.socket;
    if (s === undefined || s.readyState !== 1) return;
    s.send(bytes);
    hostileSent++;
  }

  function hostileTick(bot: Bot, t: number): void {
    const conn = bot.conn;
    switch (bot.hostile) {
      case 'speed': {
        intent.eastCms = bot.eastCms === 0 && bot.northCms === 0 ? bot.maxSpeedCms : bot.eastCms;
        intent.northCms = bot.northCms;
        const k = (SPEED_HACK_FACTOR * bot.maxSpeedCms) / Math.max(1, Math.hypot(intent.eastCms, intent.northCms));
        intent.eastCms *= k;
        intent.northCms *= k;
        conn.sendInput(intent);
        hostileSent++;
        return;
      }
      case 'replay': {
        intent.eastCms = bot.eastCms;
        intent.northCms = bot.northCms;
        const seq = conn.sendInput(intent);
        const old = seq - 3;
        if (old >= 0 && conn.welcome !== undefined) {
          const bytes = encodeInput(
            { ackFrame: conn.ackFrame, inputs: [{ seq: old, dtMs: Math.round(bot.periodMs), eastCms: 0, northCms: 0, upCms: 0, actions: [] }] },
            { version: conn.welcome.version },
          );
          sendRaw(bot, bytes);
        }
        return;
      }
      case 'flood': {
        intent.eastCms = bot.eastCms;
        intent.northCms = bot.northCms;
        for (let i = 0; i < FLOOD_INPUTS_PER_TICK && conn.isOpen; i++) conn.sendInput(intent);
        hostileSent += FLOOD_INPUTS_PER_TICK - 1;
        return;
      }
      case 'garbage': {
        intent.eastCms = bot.eastCms;
        intent.northCms = bot.northCms;
        conn.sendInput(intent);
        if (t >= bot.nextGarbageAt) {
          bot.nextGarbageAt = t + GARBAGE_INTERVAL_MS;
          const n = 1 + Math.floor(rng() * garbage.length);
          for (let i = 0; i < n; i++) garbage[i] = Math.floor(rng() * 256);
          sendRaw(bot, garbage.slice(0, n));
        }
        return;
      }
      default:
        return;
    }
  }

  function step(t: number): void {
    const dt = t - lastT;
    // Open connections: evenly across rampMs, or up to the caller's target at openPerSecond.
    if (opts.target !== undefined) {
      const target = Math.min(count, Math.max(0, Math.floor(opts.target())));
      openCredit = Math.min(openCredit + dt * openPerMs, Math.max(1, openPerMs * 100));
      while (bots.length < target && openCredit >= 1) {
        openCredit--;
        openBot(bots.length).ready.catch(() => {
          connectFailures++;
        });
      }
    } else {
      const target = rampMs <= 0 ? count : Math.min(count, Math.ceil((count * (t - start)) / rampMs));
      while (bots.length < target) {
        openBot(bots.length).ready.catch(() => {
          connectFailures++;
        });
      }
    }
    if (rejoining.size > 0) {
      for (const bot of rejoining) {
        if (t < bot.rejoinAt) continue;
        rejoining.delete(bot);
        bot.rejoinAt = Infinity;
        if (bot.conn.charactersIn > 0) bot.hadCharacter = true;
        retire(bot);
        connectBot(bot).catch(() => {
          connectFailures++;
        });
      }
    }

    lastT = t;
    clientMs += connectedNow * dt;
    progClientMs += connectedNow * dt;

    for (let i = 0; i < bots.length; i++) {
      if (t < dueAt[i]!) continue; // not due (or not welcomed): skip without touching the bot
      const bot = bots[i]!;
      if (!bot.welcomed) continue;
      const conn = bot.conn;
      if (!conn.isOpen) continue;
      if (t >= bot.sessionEndAt) {
        // Churn: log out; the close handler schedules the next session.
        bot.sessionEndAt = Infinity;
        closeBot(bot);
        continue;
      }
      if (t >= bot.nextHeadingAt) pickHeading(bot, t);
      if (t >= bot.nextScanAt) scanForPlayers(bot, t);
      if (t >= bot.nextInputAt) {
        const client = bot.client;
        // The time this bot's input goes out (not the pass's t: bots earlier in the pass took
        // time), read once for its send time, input timing and next aim.
        let sentAt = NaN;
        if (client === undefined) {
          hostileTick(bot, t);
        } else {
          if (t >= bot.nextActionAt) {
            client.act(ACTIONS[Math.floor(rng() * ACTIONS.length)]!.id);
            bot.nextActionAt = t + 8000 + rng() * 4000;
          }
          // Input and prediction; the move was set by pickHeading/startShuttle (held).
          sentAt = now();
          client.step(sentAt);
          // Interpolation, at a quarter of the tick rate (see the top of this file).
          if (++bot.ticks % SAMPLE_EVERY_TICKS === 0) client.sample(t);
        }
        // Aligned with the server's ticks once the SDK knows them (see inputTiming), else one per period.
        const aligned = client === undefined ? NaN : client.alignedInputTime(sentAt);
        bot.nextInputAt = Number.isNaN(aligned) ? bot.nextInputAt + bot.periodMs : aligned;
        // Falling far behind: skip ahead instead of bursting inputs the server would rate-limit.
        if (t - bot.nextInputAt > 2 * bot.periodMs) {
          bot.nextInputAt = t + bot.periodMs;
          lateTicks++;
        }
      }
      if (t >= bot.nextPingAt && conn.isOpen) {
        conn.ping();
        bot.nextPingAt += PING_INTERVAL_MS;
        if (bot.nextPingAt < t) bot.nextPingAt = t + PING_INTERVAL_MS;
      }
      updateDue(bot);
    }

    if (!measuring && t >= measureStart) {
      measuring = true;
      windowStart = t;
      base = sumTotals();
      clientMs = 0;
      rttHist.reset();
      latencyHist.reset();
      rttInterval.reset();
      latencyInterval.reset();
      visSum = 0;
      visSamples = 0;
    }

    if (t >= nextProgressAt) {
      nextProgressAt += PROGRESS_INTERVAL_MS;
      if (nextProgressAt < t) nextProgressAt = t + PROGRESS_INTERVAL_MS;
      for (const bot of bots) {
        if (!bot.welcomed) continue;
        visSum += bot.conn.visibleEntities;
        visSamples++;
      }
      const latP50 = latencyInterval.percentile(50);
      const latP99 = latencyInterval.percentile(99);
      rttHist.merge(rttInterval);
      latencyHist.merge(latencyInterval);
      rttInterval.reset();
      latencyInterval.reset();
      if (opts.onProgress) {
        const tot = sumTotals();
        opts.onProgress({
          elapsedS: (t - start) / 1000,
          phase: measuring ? 'measure' : 'ramp',
          opened: bots.length,
          target: count,
          connected: connectedNow,
          framesPerClientPerSecond: rate(tot.frames - progBase.frames, progClientMs),
          bytesInPerClientPerSecond: rate(tot.bytesIn - progBase.bytesIn, progClientMs),
          bytesOutPerClientPerSecond: rate(tot.bytesOut - progBase.bytesOut, progClientMs),
          rttP50Ms: rttHist.percentile(50),
          inputsRejected: sumRejected(),
          disconnects,
          protocolErrors: sumProtocolErrors(),
          updateLatencyP50Ms: latP50,
          updateLatencyP99Ms: latP99,
          joins,
          kicks,
          zoneChanges,
          hostileSent,
        });
        progBase = tot;
        progClientMs = 0;
      }
    }
  }

  // One drift-corrected loop for all bots: wake every LOOP_MS against an absolute schedule.
  await new Promise<void>((resolve) => {
    let wakeAt = start;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    };
    if (opts.signal?.aborted) {
      resolve();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const loop = (): void => {
      const t = now();
      step(t);
      if (t >= measureEnd) {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
        return;
      }
      wakeAt += LOOP_MS;
      if (wakeAt < t - 5 * LOOP_MS) wakeAt = t; // stalled: do not replay missed wakes back to back
      timer = setTimeout(loop, Math.max(0, wakeAt - now()));
    };
    loop();
  });
  stopping = true;

  // Snapshot before closing so the close handshake does not leak into the measurement.
  const end = now();
  clientMs += connectedNow * (end - lastT);
  rttHist.merge(rttInterval);
  latencyHist.merge(latencyInterval);
  const tot = sumTotals();
  const rejectsByReason: Record<string, number> = { ...retiredRejects };
  let inputsSent = retired.inputsSent;
  let inputsRejected = retired.rejected;
  let protocolErrors = retired.protocolErrors;
  let charactersReceived = retired.characters;
  let botsWithCharacter = 0;
  let predictionChecks = retired.checks;
  let predictionMismatches = retired.mismatches;
  let inputsLate = retired.inputsLate;
  let inputsOnTime = retired.inputsOnTime;
  for (const b of bots) {
    if (b.client !== undefined) {
      const st = b.client.stats;
      predictionChecks += st.predictionChecks;
      predictionMismatches += st.predictionMismatches;
      inputsLate += st.inputsLate;
      inputsOnTime += st.inputsOnTime;
    }
    charactersReceived += b.conn.charactersIn;
    if (b.conn.charactersIn > 0 || b.hadCharacter) botsWithCharacter++;
    inputsSent += b.conn.inputsSent;
    inputsRejected += b.conn.rejectsTotal;
    protocolErrors += b.conn.protocolErrors;
    addCounts(rejectsByReason, b.conn.rejects);
  }
  const result: BotRawResult = {
    clients: count,
    peakConnected,
    seconds: (end - windowStart) / 1000,
    rampSeconds: (windowStart - start) / 1000,
    clientSeconds: clientMs / 1000,
    bytesIn: tot.bytesIn - base.bytesIn,
    bytesOut: tot.bytesOut - base.bytesOut,
    frames: tot.frames - base.frames,
    rtt: rttHist.toData(),
    updateLatency: latencyHist.toData(),
    inputsSent,
    inputsRejected,
    rejectsByReason,
    disconnects,
    kicksByReason: { ...kicksByReason },
    connectFailures,
    protocolErrors,
    visibleSum: visSum,
    visibleSamples: visSamples,
    lateTicks,
    charactersReceived,
    botsWithCharacter,
    lookups: lookups?.lookups ?? 0,
    lookupFailures: lookups?.lookupFailures ?? 0,
    lookupsDropped: lookups?.lookupsDropped ?? 0,
    joins,
    joinLatency: joinHist.toData(),
    zoneChanges,
    hostileSent,
    predictionChecks,
    predictionMismatches,
    inputsLate,
    inputsOnTime,
  };
  lookups?.close();

  rejoining.clear();
  const allClosed = new Promise<void>((resolve) => {
    onAllClosed = resolve;
    if (liveConns === 0) resolve();
  });
  for (const b of bots) closeBot(b);
  await waitAtMost(allClosed, CLOSE_WAIT_MS);
  return result;
}
