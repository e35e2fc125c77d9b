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
import { GameConnection, KickError, LatencyHistogram, kickReasonName } from '../client/connection.ts';
import type { CreateSocket, HistogramData, MoveInput } from '../client/connection.ts';
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
/** A bot looks for new players in view at most this often (a client's nameplate can wait that long). */
const SCAN_INTERVAL_MS = 200;

// One shared one-element array per action: the connection does not keep or mutate them.
const ACTION_LISTS: number[][] = ACTIONS.map((a) => [a.id]);

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
  conn: GameConnection;
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
  const rejectsByReason: Record<string, number> = {};
  const kicksByReason: Record<string, number> = {};
  const sum = (f: (r: BotRawResult) => number): number => raws.reduce((n, r) => n + f(r), 0);
  for (const r of raws) {
    rtt.mergeData(r.rtt);
    lat.mergeData(r.updateLatency);
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
  };
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
  };
}

/** Runs one group of bots in this thread and returns mergeable measurements (see summarizeBots). */
export async function runBotsRaw(opts: RunBotsOptions): Promise<BotRawResult> {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  if (!(opts.durationS > 0)) throw new RangeError(`durationS must be > 0, got ${opts.durationS}`);
  const rampS = opts.rampS ?? Math.min(10, count / 100);
  if (!(rampS >= 0)) throw new RangeError(`rampS must be >= 0, got ${rampS}`);
  const prefix = opts.namePrefix ?? 'bot';
  const indexOffset = opts.indexOffset ?? 0;
  const lastIndex = indexOffset + count - 1;
  if (prefix.length === 0 || utf8Length(`${prefix}${lastIndex}`) > NAME_MAX_BYTES) {
    throw new RangeError(`name prefix must be 1..${NAME_MAX_BYTES - String(lastIndex).length} bytes for ${lastIndex + 1} bots`);
  }
  const tokens = opts.tokens;
  if (tokens !== undefined && tokens.length < count) throw new RangeError(`tokens has ${tokens.length} entries for ${count} bots`);
  const lookups = opts.lookupsUrl === undefined ? undefined : new Lookups({ httpUrl: opts.lookupsUrl, maxInFlight: opts.lookupsInFlight });
  const now = opts.now ?? (() => performance.now());
  const rng = makeRng(opts.seed ?? Date.now());
  const rttHist = new LatencyHistogram();
  const latencyHist = new LatencyHistogram();

  const bots: Bot[] = [];
  // Earliest of each bot's next heading/input/ping time (Infinity until welcomed), packed so
  // the scheduler scans one small array instead of touching every bot and connection per wake.
  const dueAt = new Float64Array(count).fill(Infinity);
  const updateDue = (bot: Bot): void => {
    dueAt[bot.index] = bot.welcomed ? Math.min(bot.nextHeadingAt, bot.nextInputAt, bot.nextPingAt) : Infinity;
  };
  let connectedNow = 0;
  let peakConnected = 0;
  let disconnects = 0;
  let connectFailures = 0;
  let lateTicks = 0;
  const kicksByReason: Record<string, number> = {};
  let closedCount = 0;
  let onAllClosed: (() => void) | undefined;

  function pickHeading(bot: Bot, t: number): void {
    bot.nextHeadingAt = t + 2000 + rng() * 6000;
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

  function openBot(index: number): { bot: Bot; ready: Promise<void> } {
    const conn = new GameConnection({
      url: opts.url,
      name: `${prefix}${indexOffset + index}`,
      ...(tokens !== undefined && { token: tokens[index] }),
      createSocket: opts.createSocket,
      now,
      rttHistogram: rttHist,
      updateLatencyHistogram: latencyHist,
    });
    const bot: Bot = {
      conn,
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
    if (lookups !== undefined) conn.on('character', (c) => lookUpItems(bot, c));
    conn.on('close', (ev) => {
      if (bot.welcomed) {
        connectedNow--;
        if (!ev.requested) disconnects++;
      }
      if (ev.kickReason !== undefined) {
        const name = kickReasonName(ev.kickReason);
        kicksByReason[name] = (kicksByReason[name] ?? 0) + 1;
      }
      bot.welcomed = false;
      updateDue(bot);
      closedCount++;
      if (closedCount === bots.length) onAllClosed?.();
    });
    const ready = conn.connect().then((w) => {
      const t = now();
      bot.welcomed = true;
      bot.periodMs = 1000 / w.tickRate;
      bot.maxSpeedCms = w.maxSpeed * 100;
      bot.nextInputAt = t;
      bot.nextPingAt = t + rng() * PING_INTERVAL_MS; // spread pings over the second
      bot.nextActionAt = t + rng() * 10_000;
      pickHeading(bot, t);
      updateDue(bot);
      connectedNow++;
      if (connectedNow > peakConnected) peakConnected = connectedNow;
    });
    return { bot, ready };
  }

  // The first bot proves the server is reachable before the ramp opens the rest.
  const first = openBot(0);
  try {
    await first.ready;
  } catch (err) {
    first.bot.conn.close();
    lookups?.close();
    let why = err instanceof Error ? err.message : String(err);
    if (err instanceof KickError && err.reason === KickReason.Unauthorized && tokens === undefined) {
      why += ' (the server does not allow guests: the bots need accounts)';
    }
    throw new BotsConnectError(err instanceof KickError ? `server refused the first bot: ${why}` : why, { cause: err });
  }

  const sumTotals = (): Totals => {
    let bytesIn = 0;
    let bytesOut = 0;
    let frames = 0;
    for (const b of bots) {
      bytesIn += b.conn.bytesIn;
      bytesOut += b.conn.bytesOut;
      frames += b.conn.framesIn;
    }
    return { bytesIn, bytesOut, frames };
  };
  const sumRejected = (): number => bots.reduce((n, b) => n + b.conn.rejectsTotal, 0);
  const sumProtocolErrors = (): number => bots.reduce((n, b) => n + b.conn.protocolErrors, 0);

  const start = now();
  const rampMs = rampS * 1000;
  const measureStart = start + rampMs;
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

  const rate = (delta: number, cms: number): number => (cms > 0 ? delta / (cms / 1000) : 0);
  const intent: MoveInput = { eastCms: 0, northCms: 0, upCms: 0, actions: undefined };

  function step(t: number): void {
    // Ramp: open connections evenly across rampMs.
    const target = rampMs <= 0 ? count : Math.min(count, Math.ceil((count * (t - start)) / rampMs));
    while (bots.length < target) {
      openBot(bots.length).ready.catch(() => {
        connectFailures++;
      });
    }

    const dt = t - lastT;
    lastT = t;
    clientMs += connectedNow * dt;
    progClientMs += connectedNow * dt;

    for (let i = 0; i < bots.length; i++) {
      if (t < dueAt[i]!) continue; // not due (or not welcomed): skip without touching the bot
      const bot = bots[i]!;
      if (!bot.welcomed) continue;
      const conn = bot.conn;
      if (!conn.isOpen) continue;
      if (t >= bot.nextHeadingAt) pickHeading(bot, t);
      if (t >= bot.nextScanAt) scanForPlayers(bot, t);
      if (t >= bot.nextInputAt) {
        let actions: number[] | undefined;
        if (t >= bot.nextActionAt) {
          actions = ACTION_LISTS[Math.floor(rng() * ACTION_LISTS.length)];
          bot.nextActionAt = t + 8000 + rng() * 4000;
        }
        // One reused intent: sendInput reads it synchronously and keeps nothing of it.
        intent.eastCms = bot.eastCms;
        intent.northCms = bot.northCms;
        intent.actions = actions;
        conn.sendInput(intent);
        intent.actions = undefined;
        bot.nextInputAt += bot.periodMs;
        // Falling far behind: skip ahead instead of bursting inputs the server would rate-limit.
        if (t - bot.nextInputAt > 2 * bot.periodMs) {
          bot.nextInputAt = t + bot.periodMs;
          lateTicks++;
        }
      }
      if (t >= bot.nextPingAt) {
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

  // Snapshot before closing so the close handshake does not leak into the measurement.
  const end = now();
  clientMs += connectedNow * (end - lastT);
  const tot = sumTotals();
  const rejectsByReason: Record<string, number> = {};
  let inputsSent = 0;
  let inputsRejected = 0;
  let protocolErrors = 0;
  let charactersReceived = 0;
  let botsWithCharacter = 0;
  for (const b of bots) {
    charactersReceived += b.conn.charactersIn;
    if (b.conn.charactersIn > 0) botsWithCharacter++;
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
  };
  lookups?.close();

  const allClosed = new Promise<void>((resolve) => {
    onAllClosed = resolve;
    if (closedCount === bots.length) resolve();
  });
  for (const b of bots) b.conn.close();
  await waitAtMost(allClosed, CLOSE_WAIT_MS);
  return result;
}
