// BlueMarbleClient: the game-facing client SDK. Logs in over HTTP, connects (GameConnection does
// the wire), sends one input per server tick, predicts the local player with the server's own
// movement rules, reconciles on every frame, smooths corrections, interpolates remote entities,
// keeps a synchronised server clock and reconnects by itself. Browser and Node alike: it imports
// only the pure protocol and world modules (never world/zoning.ts, which pulls in h3-js).
import { GameConnection, KickError, TypedEmitter } from './connection.ts';
import type { CloseEvent, CreateSocket, FrameSink, KickEvent, LatencyHistogram, RejectEvent, WebSocketLike } from './connection.ts';
import type { FrameDecodeTarget } from '../protocol/frame.ts';
import { ServerClock } from './clock.ts';
import { InputTiming } from './input-timing.ts';
import { EntityPool, PlaybackClock, RemoteEntity } from './interpolation.ts';
import { Predictor, copyPose, posesEqual } from './prediction.ts';
import { SNAPSHOT_STRIDE, SnapshotField } from '../protocol/types.ts';
import type { CharacterMessage, Welcome } from '../protocol/types.ts';
import { E7, EARTH_RADIUS_M } from '../world/geo.ts';
import { KickReason, RejectReason } from '../world/types.ts';
import type { MovementRules, Pose, ZoneId } from '../world/types.ts';

export interface BlueMarbleClientOptions {
  /** http(s)://host:port of the server; the WebSocket URL is ws(s)://host:port/ws. */
  baseUrl: string;
  /** Default: globalThis.WebSocket (browsers, Node 22). Node 20 callers pass one built on `ws`. */
  createSocket?: CreateSocket;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Minimum delay remote entities are drawn behind the freshest frame (default 100 ms); grows with measured jitter. */
  interpolationDelayMs?: number;
  /** Reconnect and resume after a drop (default true). */
  reconnect?: boolean;
  /** Monotonic clock in ms (default performance.now()). */
  now?: () => number;
  // --- additions ---
  /** Display name in HELLO (default: the username logged in with, else 'guest'). */
  name?: string;
  /**
   * Send inputs from an internal timer at the server's tick rate (default true). When false, the
   * caller calls step() once per tick (bots driving many clients from one loop, tests).
   */
  autoInputs?: boolean;
  /** Corrections larger than this (metres) snap instead of being smoothed (default 4). */
  snapDistanceM?: number;
  /** Time constant of correction smoothing, ms (default 100). */
  smoothingMs?: number;
  /** Handshake timeout per connection attempt, ms (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Longest wait between reconnection attempts, ms (default 5 s). */
  maxReconnectDelayMs?: number;
  /** WebSocket URL when it is not ws(s)://host:port/ws of baseUrl. */
  wsUrl?: string;
  /**
   * PING from internal timers (default true: four in the first half second, then one a second).
   * When false, call ping() yourself (bots pinging many clients from one loop).
   */
  autoPings?: boolean;
  /**
   * When inputs go out (default 'aligned'): timed to reach the server a small adaptive margin
   * before the tick that applies them (each FRAME's serverTime marks the server's tick grid), so
   * an input waits the margin at the server instead of up to a whole tick. 'free': every tick
   * from the first input, whatever the server's phase.
   */
  inputTiming?: 'aligned' | 'free';
  /** Starting margin before the server's tick for aligned inputs, ms (default 8; it adapts). */
  inputMarginMs?: number;
  /** Histograms shared between many clients' connections (bots): round trips, input-to-update latency. */
  rttHistogram?: LatencyHistogram;
  updateLatencyHistogram?: LatencyHistogram;
}

/** The local player: exact predicted grid pose plus a smoothed pose for drawing. */
export interface SelfState {
  id: number;
  /** Always 0 (EntityKind.Player), so self can be drawn like any entity. */
  kind: number;
  /** Predicted pose on the server's grid after every input sent (exact, comparable with the server's). */
  latE7: number;
  lonE7: number;
  altCm: number;
  heading16: number;
  /** Smoothed pose for rendering (updated by sample()): degrees, metres, degrees clockwise from north. */
  lat: number;
  lon: number;
  alt: number;
  heading: number;
  /** Last accepted action id and counter (authoritative, from the latest frame). */
  action: number;
  actionSeq: number;
}

export interface ClientStats {
  rttMs: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  zone: ZoneId | undefined;
  inView: number;
  interpolationDelayMs: number;
  /** Distance between the server's pose and our prediction for the same input, latest frame (m). */
  predictionErrorM: number;
  serverTimeOffsetMs: number;
  // --- additions ---
  /** Measured spread of frame arrival times (ms). */
  jitterMs: number;
  /** Frames compared with the prediction, and how many differed. */
  predictionChecks: number;
  predictionMismatches: number;
  /** Inputs sent and sent-but-not-yet-processed by the server. */
  inputsSent: number;
  inputsPending: number;
  /** Aligned inputs: the current margin before the server's tick (ms; NaN when free). */
  inputMarginMs: number;
  /** Aligned inputs applied a tick later than aimed at, and on time. */
  inputsLate: number;
  inputsOnTime: number;
  rejects: number;
  reconnects: number;
}

export interface ConnectedEvent {
  welcome: Welcome;
  /** True when this is a resumed session after a drop. */
  reconnected: boolean;
}

export interface DisconnectedEvent {
  code: number;
  reason: string;
  kickReason: number | undefined;
  /** True when the client will try to reconnect. */
  willReconnect: boolean;
}

export interface ReconnectingEvent {
  attempt: number;
  delayMs: number;
}

export interface RejectedEvent extends RejectEvent {
  /** True when the input's movement was refused (speed, teleport, rate, malformed, stale). */
  movementRefused: boolean;
}

export interface ZoneChangedEvent {
  from: ZoneId | undefined;
  to: ZoneId;
}

/** Each authoritative frame compared with the prediction (emitted only when listened to). */
export interface ReconciledEvent {
  inputSeq: number;
  matched: boolean;
  errorM: number;
  server: Pose;
  predicted: Pose;
}

export interface BlueMarbleClientEvents {
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  reconnecting: ReconnectingEvent;
  entityEntered: RemoteEntity;
  entityUpdated: RemoteEntity;
  entityLeft: RemoteEntity;
  rejected: RejectedEvent;
  kicked: KickEvent;
  zoneChanged: ZoneChangedEvent;
  character: CharacterMessage;
  reconciled: ReconciledEvent;
  error: Error;
}

/** An HTTP API error (docs/api.md): `code` is the JSON `error` field. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, body: Record<string, unknown>) {
    const code = typeof body['error'] === 'string' ? body['error'] : `http_${status}`;
    super(typeof body['message'] === 'string' ? body['message'] : `request failed with ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = typeof body['field'] === 'string' ? body['field'] : undefined;
    this.retryAfterSeconds = typeof body['retryAfterSeconds'] === 'number' ? body['retryAfterSeconds'] : undefined;
  }
}

/** Kicks after which reconnecting with the same token cannot work or is not wanted. */
const TERMINAL_KICKS: ReadonlySet<number> = new Set([
  KickReason.VersionMismatch,
  KickReason.ProtocolError,
  KickReason.Flood,
  KickReason.Oversize,
  KickReason.LoggedInElsewhere,
  KickReason.Unauthorized,
  KickReason.LoggedOut,
]);

const MOVEMENT_REJECTS: ReadonlySet<number> = new Set([
  RejectReason.Speed,
  RejectReason.Teleport,
  RejectReason.Rate,
  RejectReason.Malformed,
  RejectReason.StaleSequence,
]);

const DEG_TO_M = (EARTH_RADIUS_M * Math.PI) / 180;
// Snapshot row layout for the per-row loop as a const enum: esbuild writes its members into the
// code as literals (a module-level const costs a context load and a Smi check at every use).
const enum Row {
  STRIDE = 8,
  COL_ID = 0,
  COL_KIND = 1,
}
// tsc fails here if the protocol's layout (SNAPSHOT_STRIDE, SnapshotField) no longer matches Row.
const _rowLayout: { stride: typeof SNAPSHOT_STRIDE; id: typeof SnapshotField.id; kind: typeof SnapshotField.kind } = {
  stride: Row.STRIDE,
  id: Row.COL_ID,
  kind: Row.COL_KIND,
};
const MAX_ACTIONS = 4;

function defaultNow(): number {
  return performance.now();
}

function defaultCreateSocket(): CreateSocket {
  const WS = (globalThis as { WebSocket?: new (url: string) => unknown }).WebSocket;
  if (typeof WS !== 'function') {
    return () => {
      throw new Error('no global WebSocket here (Node 20): pass createSocket, e.g. (url) => new WebSocket(url) from the ws package');
    };
  }
  return (url) => new WS(url) as WebSocketLike;
}

/** ws(s)://host:port/ws for http(s)://host:port[/...]. */
export function wsUrlOf(baseUrl: string): string {
  const u = new URL(baseUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}

export class BlueMarbleClient extends TypedEmitter<BlueMarbleClientEvents> implements FrameSink {
  // What every frame, input and render reads or writes comes first, together: with thousands of
  // clients in a process (bots) each one is out of cache by its next tick, and fields in
  // declaration order share cache lines.
  private conn: GameConnection | undefined = undefined;
  private readonly now: () => number;
  private readonly clock = new ServerClock();
  private readonly playback: PlaybackClock;
  private readonly predictor = new Predictor({ maxSpeed: 0, maxVerticalSpeed: 0, speedTolerance: 0, maxInputDtMs: 0, minAltCm: 0, maxAltCm: 0 });
  private readonly timing: InputTiming;
  /**
   * The remote entities' numbers (RemoteEntity objects are views of its slots); entityMap's
   * entities form a list through the slots in ascending id order, from firstSlot (-1: none).
   */
  private readonly pool = new EntityPool();
  private firstSlot = -1;
  /** The latest frame's server time. */
  private frameT = NaN;
  /** No frame since WELCOME yet. */
  private firstFrame = true;
  private holdGapMs = 225;
  private dtMs = 50;
  private zone: ZoneId | undefined = undefined;
  private lastErrorM = 0;
  private readonly alignInputs: boolean;
  /** hasListeners('reconciled' / 'entityUpdated'), kept up to date by listenersChanged. */
  private wantReconciled = false;
  private wantEntityUpdated = false;
  // input state
  private moveE = 0; // cm/s, clamped
  private moveN = 0;
  private moveU = 0;
  /** actions.length (read without touching the array when no action waits). */
  private queuedActions = 0;
  private inputsSentTotal = 0;
  private lastInputAt = NaN;
  private haveSelf = false;
  private sampled = false;
  private lastSampleAt = NaN;
  private offE = 0; // smoothing offset, metres (displayed - predicted)
  private offN = 0;
  private offU = 0;
  private readonly smoothingMs: number;
  // self
  private readonly selfState: SelfState = { id: 0, kind: 0, latE7: 0, lonE7: 0, altCm: 0, heading16: 0, lat: 0, lon: 0, alt: 0, heading: 0, action: 0, actionSeq: 0 };
  private readonly actions: number[] = [];
  private readonly entityMap = new Map<number, RemoteEntity>();

  readonly baseUrl: string;
  readonly wsUrl: string;
  /** The session token (after login() or useToken()); empty for a guest. */
  token = '';
  /** Player id from register()/login(), if known. */
  playerId: number | undefined;
  /** The current WELCOME (latest connection). */
  welcome: Welcome | undefined;
  /** Movement rules in force (from WELCOME). */
  rules: MovementRules | undefined;
  /** Remote entities in view, drawn at playback time by sample(). The map and its values are live. */
  readonly entities: ReadonlyMap<number, RemoteEntity>;

  private readonly opts: BlueMarbleClientOptions;
  private readonly doFetch: typeof fetch;
  private readonly createSocket: CreateSocket;
  private readonly reconnectEnabled: boolean;
  private readonly autoInputs: boolean;
  private readonly snapDistanceM: number;
  private readonly maxReconnectDelayMs: number;
  private name: string;

  private connecting: Promise<Welcome> | undefined;
  private closed = false;
  private reconnects = 0;
  private characterLast: CharacterMessage | undefined;

  private inputTimer: ReturnType<typeof setTimeout> | undefined;
  private nextInputAt = 0;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pingsSent = 0;

  private readonly before: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };

  // stats
  private readonly statsObj: ClientStats = {
    rttMs: NaN,
    bytesInPerSecond: 0,
    bytesOutPerSecond: 0,
    zone: undefined,
    inView: 0,
    interpolationDelayMs: 0,
    predictionErrorM: 0,
    serverTimeOffsetMs: NaN,
    jitterMs: 0,
    predictionChecks: 0,
    predictionMismatches: 0,
    inputsSent: 0,
    inputsPending: 0,
    inputMarginMs: NaN,
    inputsLate: 0,
    inputsOnTime: 0,
    rejects: 0,
    reconnects: 0,
  };
  private bytesInBase = 0; // totals of earlier connections
  private bytesOutBase = 0;
  private rateAt = NaN;
  private rateIn = 0;
  private rateOut = 0;
  private rejectsTotal = 0;

  constructor(opts: BlueMarbleClientOptions) {
    super();
    this.opts = opts;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.wsUrl = opts.wsUrl ?? wsUrlOf(this.baseUrl);
    this.now = opts.now ?? defaultNow;
    const f = opts.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    this.doFetch = f ? f.bind(globalThis) : () => Promise.reject(new Error('no fetch available: pass opts.fetch'));
    this.createSocket = opts.createSocket ?? defaultCreateSocket();
    this.reconnectEnabled = opts.reconnect ?? true;
    this.autoInputs = opts.autoInputs ?? true;
    this.alignInputs = (opts.inputTiming ?? 'aligned') === 'aligned';
    this.timing = new InputTiming({ initialMarginMs: opts.inputMarginMs });
    this.snapDistanceM = opts.snapDistanceM ?? 4;
    this.smoothingMs = opts.smoothingMs ?? 100;
    this.maxReconnectDelayMs = opts.maxReconnectDelayMs ?? 5000;
    this.name = opts.name ?? 'guest';
    this.playback = new PlaybackClock(opts.interpolationDelayMs ?? 100, this.dtMs);
    this.entities = this.entityMap;
  }

  // ---------------------------------------------------------------------------------------------
  // Accounts (docs/api.md)

  async register(a: { username: string; email: string; password: string }): Promise<{ playerId: number }> {
    const body = await this.post('/api/register', a);
    const playerId = body['playerId'] as number;
    return { playerId };
  }

  /** Logs in and keeps the token for connect(); ends any other session of the account. */
  async login(a: { username: string; password: string }): Promise<void> {
    const body = await this.post('/api/login', a);
    this.token = String(body['token']);
    if (typeof body['playerId'] === 'number') this.playerId = body['playerId'];
    if (this.opts.name === undefined) this.name = typeof body['username'] === 'string' ? body['username'] : a.username;
  }

  /** Uses an existing session token (e.g. kept from an earlier login). */
  useToken(token: string): void {
    this.token = token;
  }

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await this.doFetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON: keep {}
    }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  /** Connects (as a guest without a token) and resolves with WELCOME; starts the input timer. */
  connect(): Promise<Welcome> {
    if (this.conn?.isOpen && this.welcome) return Promise.resolve(this.welcome);
    if (this.connecting) return this.connecting;
    this.closed = false;
    const p = this.open(false).finally(() => {
      if (this.connecting === p) this.connecting = undefined;
    });
    this.connecting = p;
    return p;
  }

  /** Stops sending, closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopTimers();
    const c = this.conn;
    if (!c || c.state === 'closed' || c.state === 'idle') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      c.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      c.close();
    });
  }

  get connected(): boolean {
    return this.conn?.isOpen === true;
  }

  /**
   * The current connection (wire-level counters: bytesIn, framesIn, rejects, ...); set as soon as
   * connect() is called, undefined after it closes. Do not send inputs on it directly.
   */
  get connection(): GameConnection | undefined {
    return this.conn;
  }

  /** Sends a PING now (with autoPings: false); the PONG updates rttMs and the server clock. */
  ping(): void {
    this.conn?.ping();
  }

  private async open(reconnected: boolean): Promise<Welcome> {
    const conn = new GameConnection({
      url: this.wsUrl,
      name: this.name,
      token: this.token,
      createSocket: this.createSocket,
      now: this.now,
      ignoreStaleFrames: true,
      ...(this.opts.rttHistogram !== undefined && { rttHistogram: this.opts.rttHistogram }),
      ...(this.opts.updateLatencyHistogram !== undefined && { updateLatencyHistogram: this.opts.updateLatencyHistogram }),
      ...(this.opts.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: this.opts.handshakeTimeoutMs }),
    });
    this.conn = conn;
    // WELCOME is taken when it arrives, not when connect() resolves: a FRAME right behind it in
    // the same socket read is handled before the promise's continuation would run.
    conn.on('welcome', (w) => {
      if (this.conn === conn && !this.closed) this.onWelcome(w);
    });
    // Frames come to connFrame, called before any 'update' listener (no event per frame).
    conn.frameSink = this;
    conn.on('reject', (r) => this.onReject(conn, r));
    conn.on('character', (c) => {
      this.characterLast = c;
      this.emit('character', c);
    });
    conn.on('kick', (k) => this.emit('kicked', k));
    conn.on('pong', () => {
      if (this.conn === conn) this.clock.fromPong(conn.clockOffsetMs, conn.clockRttMs);
    });
    conn.on('error', (e) => {
      if (this.hasListeners('error')) this.emit('error', e);
    });
    conn.on('close', (ev) => this.onClose(conn, ev));
    const welcome = await conn.connect();
    if (this.closed || this.conn !== conn) {
      conn.close();
      throw new Error('client closed');
    }
    this.emit('connected', { welcome, reconnected });
    return welcome;
  }

  private onWelcome(w: Welcome): void {
    this.welcome = w;
    const rules: MovementRules = {
      maxSpeed: w.maxSpeed,
      maxVerticalSpeed: w.maxVerticalSpeed,
      speedTolerance: w.speedTolerance,
      maxInputDtMs: w.maxInputDtMs,
      minAltCm: w.minAltCm,
      maxAltCm: w.maxAltCm,
    };
    this.rules = rules;
    this.dtMs = Math.round(1000 / w.tickRate);
    this.timing.reset(1000 / w.tickRate, w.nextInputSeq);
    this.holdGapMs = this.dtMs * 4.5;
    this.playback.setTickMs(this.dtMs);
    this.playback.reset();
    this.clock.resetFrames();
    this.firstFrame = true;
    this.frameT = NaN;
    this.predictor.reset(w.own, w.nextInputSeq, rules);
    this.selfState.id = w.entityId;
    this.selfState.action = w.own.action;
    this.selfState.actionSeq = w.own.actionSeq;
    this.haveSelf = true;
    this.offE = this.offN = this.offU = 0;
    this.updateSelfExact();
    this.setDisplayExact();
    // Re-clamp the held move to this server's rules.
    this.clampMove();
    this.lastInputAt = NaN;
    if (this.autoInputs) this.startInputTimer();
    if (this.opts.autoPings !== false) this.startPings();
  }

  private onClose(conn: GameConnection, ev: CloseEvent): void {
    if (this.conn !== conn) return;
    this.bytesInBase += conn.bytesIn;
    this.bytesOutBase += conn.bytesOut;
    this.conn = undefined;
    this.stopTimers();
    const wasOpen = this.welcome !== undefined && conn.welcome !== undefined;
    const willReconnect =
      wasOpen && !ev.requested && !this.closed && this.reconnectEnabled && !(ev.kickReason !== undefined && TERMINAL_KICKS.has(ev.kickReason));
    if (wasOpen) this.emit('disconnected', { code: ev.code, reason: ev.reason, kickReason: ev.kickReason, willReconnect });
    if (willReconnect) void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      const base = Math.min(this.maxReconnectDelayMs, 250 * 2 ** (attempt - 1));
      const delayMs = Math.round(attempt === 1 ? 50 + Math.random() * 100 : base * (0.5 + Math.random() * 0.5));
      this.emit('reconnecting', { attempt, delayMs });
      await new Promise((r) => setTimeout(r, delayMs));
      if (this.closed) return;
      try {
        const p = this.open(true);
        this.connecting = p;
        await p;
        this.reconnects++;
        return;
      } catch (err) {
        if (err instanceof KickError && TERMINAL_KICKS.has(err.reason)) {
          this.emit('disconnected', { code: 4000 + err.reason, reason: err.message, kickReason: err.reason, willReconnect: false });
          return;
        }
      } finally {
        this.connecting = undefined;
      }
    }
  }

  private stopTimers(): void {
    if (this.inputTimer !== undefined) clearTimeout(this.inputTimer);
    this.inputTimer = undefined;
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private startPings(): void {
    this.pingsSent = 0;
    const conn = this.conn;
    // A few quick pings to sync the clock, then one a second.
    const quick = setInterval(() => {
      if (this.conn !== conn || !conn?.isOpen) return clearInterval(quick);
      conn.ping();
      if (++this.pingsSent >= 4) {
        clearInterval(quick);
        if (this.pingTimer === quick) this.pingTimer = setInterval(() => conn.isOpen && conn.ping(), 1000);
      }
    }, 100);
    this.pingTimer = quick;
    conn?.ping();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Desired velocity in m/s (local east/north/up), held until changed; clamped to the server's limits. */
  setMove(v: { east: number; north: number; up?: number }): void {
    this.moveE = Number.isFinite(v.east) ? v.east * 100 : 0;
    this.moveN = Number.isFinite(v.north) ? v.north * 100 : 0;
    this.moveU = v.up !== undefined && Number.isFinite(v.up) ? v.up * 100 : 0;
    this.clampMove();
  }

  /** Requests an action (ids: world ACTIONS) with the next input. */
  act(actionId: number): void {
    if (Number.isInteger(actionId) && actionId >= 0 && actionId <= 255) this.queuedActions = this.actions.push(actionId);
  }

  private clampMove(): void {
    const r = this.rules;
    let e = Math.trunc(this.moveE);
    let n = Math.trunc(this.moveN);
    let u = Math.trunc(this.moveU);
    if (r) {
      const maxH = Math.floor(r.maxSpeed * 100);
      const h2 = e * e + n * n;
      if (h2 > maxH * maxH) {
        const k = maxH / Math.sqrt(h2);
        e = Math.trunc(e * k);
        n = Math.trunc(n * k);
      }
      const maxU = Math.floor(r.maxVerticalSpeed * 100);
      if (u > maxU) u = maxU;
      if (u < -maxU) u = -maxU;
    }
    this.moveE = e + 0;
    this.moveN = n + 0;
    this.moveU = u + 0;
  }

  /**
   * Sends one input now (covering one tick) and predicts it; returns its seq, or -1 when not
   * connected. Called by the internal timer; call it yourself with autoInputs: false. `now`: the
   * current time on the `now` clock, when the caller has just read it (default: read it).
   */
  step(now: number = this.now()): number {
    const conn = this.conn;
    if (!conn?.isOpen) return -1;
    const n = this.queuedActions < MAX_ACTIONS ? this.queuedActions : MAX_ACTIONS;
    const e = this.moveE;
    const no = this.moveN;
    const u = this.moveU;
    // The first n queued actions go with it; one clock read serves the send time, the input
    // timing and the drawing between inputs.
    const seq = conn.sendMove(e, no, u, this.actions, n, now);
    if (this.alignInputs) this.timing.onSent(seq, now, this.timingOffsetMs(), conn.clockRttMs / 2);
    if (n > 0) {
      this.actions.splice(0, n);
      this.queuedActions = this.actions.length;
    }
    this.inputsSentTotal++;
    this.predictor.predict(seq, this.dtMs, e, no, u);
    this.lastInputAt = now;
    this.updateSelfExact();
    return seq;
  }

  /**
   * With aligned inputs (the default), the local time (the `now` clock) at which the next input
   * should go out to reach the server its margin before a tick; NaN until the clock and the
   * server's tick grid are known, or with inputTiming 'free' (then send one per tick on any
   * schedule). Callers driving step() themselves (bots) use it to schedule their inputs. `now`:
   * the current time on the `now` clock, when the caller has just read it (default: read it).
   */
  alignedInputTime(now: number = this.now()): number {
    if (!this.alignInputs || !this.conn?.isOpen) return NaN;
    return this.timing.nextSendAt(now, this.timingOffsetMs(), this.conn.clockRttMs / 2);
  }

  /** Server clock offset for input timing: only a PONG-based one (frame stamps lag by their delivery). */
  private timingOffsetMs(): number {
    return this.clock.synced ? this.clock.offsetMs : NaN;
  }

  private startInputTimer(): void {
    if (this.inputTimer !== undefined) clearTimeout(this.inputTimer);
    this.nextInputAt = this.now();
    const conn = this.conn;
    const run = (): void => {
      this.inputTimer = undefined;
      if (this.conn !== conn || !conn?.isOpen || this.closed) return;
      const t = this.now();
      const aligned = this.alignedInputTime();
      if (!Number.isNaN(aligned)) {
        // Aligned: one input when due; the next is aimed at the following tick.
        if (aligned <= t) this.step();
        this.nextInputAt = this.alignedInputTime();
        if (Number.isNaN(this.nextInputAt)) this.nextInputAt = t + this.dtMs;
      } else {
        // Drift-free schedule; after a long stall skip ahead instead of bursting.
        if (t - this.nextInputAt > this.dtMs * 5) this.nextInputAt = t;
        let sent = 0;
        while (this.nextInputAt <= t && sent < 5) {
          this.step();
          this.nextInputAt += this.dtMs;
          sent++;
        }
      }
      this.updateRates(t);
      this.inputTimer = setTimeout(run, Math.max(1, this.nextInputAt - this.now()));
    };
    run();
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  private onReject(conn: GameConnection, r: RejectEvent): void {
    if (this.conn !== conn) return;
    this.rejectsTotal++;
    const movementRefused = MOVEMENT_REJECTS.has(r.reason);
    if (movementRefused) {
      copyPose(this.before, this.predictor.pose);
      if (this.predictor.rejectMovement(r.inputSeq)) this.absorbCorrection();
    }
    this.emit('rejected', { ...r, movementRefused });
  }

  /** @internal FrameSink (GameConnection.frameSink): every frame of a connection, at local time `now`. */
  connFrame(conn: GameConnection, f: FrameDecodeTarget, serverTime: number, now: number): void {
    if (this.conn !== conn) return;
    this.onFrame(f, serverTime, now);
    // The frame's serverTime is its tick's grid time: where the next inputs should land.
    if (this.conn === conn && this.alignInputs && this.clock.synced) {
      // On the PONG clock's scale: frame times unwrapped before the first PONG are off by a
      // multiple of 2^32 ms, which is not a multiple of the tick.
      this.timing.onFrame(this.clock.nearest(serverTime, now), f.lastInputSeq);
    }
  }

  protected override listenersChanged(): void {
    this.wantReconciled = this.hasListeners('reconciled');
    this.wantEntityUpdated = this.hasListeners('entityUpdated');
  }

  private onFrame(f: FrameDecodeTarget, serverTime: number, t: number): void {
    const st = this.clock.unwrapFrameTime(serverTime, t);
    this.playback.observe(st, t);

    // Own player: compare with the prediction, replay if the server disagreed. The frame's own
    // state is the server's pose (the predictor reads it and keeps nothing of it).
    const own = f.state.own;
    this.selfState.action = own.action;
    this.selfState.actionSeq = own.actionSeq;
    const pred = this.predictor;
    const listening = this.wantReconciled;
    let predicted: Pose | undefined;
    if (listening) {
      predicted = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
      if (!pred.poseAt(f.lastInputSeq, predicted)) predicted = undefined;
    }
    const r = pred.reconcile(f.lastInputSeq, own);
    this.lastErrorM = r.errorM;
    if (r.corrected) {
      // Where the prediction was before this frame moved it (kept by the predictor: copying the
      // pose before every frame would touch two more objects per frame for a rare event).
      copyPose(this.before, pred.beforeCorrection);
      this.absorbCorrection();
    }
    if (listening && predicted) {
      const server: Pose = { latE7: own.latE7, lonE7: own.lonE7, altCm: own.altCm, heading16: own.heading16 };
      this.emit('reconciled', { inputSeq: f.lastInputSeq, matched: r.matched, errorM: r.errorM, server, predicted });
    }

    // Zone.
    if (f.zone !== this.zone) {
      const from = this.zone;
      this.zone = f.zone;
      this.emit('zoneChanged', { from, to: f.zone });
    }

    // Remote entities: the frame's rows and our entities are both in ascending id order, so one
    // merge walk pairs them up (no map lookup per row). An entity missing from a frame stays
    // (extrapolated, then held) until it has been missing for holdGapMs: one that drops out of a
    // frame or two and comes back (crossing a zone seam) keeps its samples instead of restarting
    // in the future and holding still. The first frame of a connection drops the absent ones at
    // once (their times may be another server's).
    // A row equal to the one its entity took last (in the previous frame) is skipped after one
    // compare with the entity's stored row: with hundreds of entities per client and thousands
    // of clients per process (bots), touching more of each entity's memory every frame is most
    // of the cost. The entities' numbers live in one EntityPool, and their id order is a list
    // through its slots, so a frame touches no RemoteEntity object (only entering and leaving
    // ones, and those the 'entityUpdated' event hands out) and no other per-entity memory.
    const ents = f.state.entities;
    const data = ents.data;
    const count = ents.count;
    const pool = this.pool;
    const selfId = this.selfState.id;
    const wantUpdated = this.wantEntityUpdated;
    const first = this.firstFrame;
    const graceMs = first ? 0 : this.holdGapMs;
    const hold = this.holdGapMs;
    const prevT = this.frameT;
    pool.beginFrame(st, hold, prevT);
    let last = -1; // slot of the last entity kept in the list so far
    let cur = this.firstSlot; // next entity of the list not yet paired with a row
    for (let k = 0; k < count; k++) {
      const id = data[k * Row.STRIDE + Row.COL_ID]!;
      if (id === selfId) continue;
      // Ours that sort before this row are missing from the frame.
      while (cur >= 0 && pool.id(cur) < id) {
        const after = pool.next(cur);
        if (this.keepMissing(cur, prevT, st, graceMs)) last = cur;
        else if (last < 0) this.firstSlot = after;
        else pool.setNext(last, after);
        cur = after;
      }
      if (cur >= 0 && pool.id(cur) === id) {
        const slot = cur;
        const wasMissing = pool.missing(slot);
        if (wasMissing) pool.setMissing(slot, false);
        // (A missing one's previous frame is the last it was in, not the previous frame.)
        if ((wasMissing || first || !pool.sameRow(slot, data, k)) && pool.pushRow(slot, data, k, wasMissing) && wantUpdated) {
          this.emit('entityUpdated', this.entityMap.get(id)!);
        }
        last = slot;
        cur = pool.next(slot);
      } else {
        const e = new RemoteEntity(id, data[k * Row.STRIDE + Row.COL_KIND]!, pool);
        const slot = e.poolSlot;
        // RemoteEntity.push(data, k, st, hold): its first row (no previous frame to know of).
        pool.pushRow(slot, data, k, false);
        this.entityMap.set(id, e);
        pool.setId(slot, id);
        pool.setNext(slot, cur);
        if (last < 0) this.firstSlot = slot;
        else pool.setNext(last, slot);
        last = slot;
        this.emit('entityEntered', e);
      }
    }
    while (cur >= 0) {
      const after = pool.next(cur);
      if (this.keepMissing(cur, prevT, st, graceMs)) last = cur;
      else if (last < 0) this.firstSlot = after;
      else pool.setNext(last, after);
      cur = after;
    }
    this.frameT = st;
    this.firstFrame = false;
  }

  /**
   * The entity in pool slot `slot` is missing from a frame at server time `st`: true to keep it
   * (marked missing), else it leaves now (the caller unlinks the slot, released here).
   */
  private keepMissing(slot: number, prevT: number, st: number, graceMs: number): boolean {
    const pool = this.pool;
    // One that was in the previous frame was last seen then.
    if (!pool.missing(slot)) {
      pool.setLastFrameTime(slot, prevT);
      pool.setMissing(slot, true);
    }
    const gone = st - pool.lastFrameTime(slot);
    if (gone >= 0 && gone <= graceMs) return true;
    const id = pool.id(slot);
    const e = this.entityMap.get(id);
    this.entityMap.delete(id);
    // Whoever keeps the object still reads its last values; the slot goes to the next one.
    e?.detach();
    pool.release(slot);
    if (e !== undefined) this.emit('entityLeft', e);
    return false;
  }

  /** The predicted pose moved from `before` to predictor.pose: keep the drawn pose where it was. */
  private absorbCorrection(): void {
    const a = this.before;
    const b = this.predictor.pose;
    if (posesEqual(a, b)) return;
    const dN = ((a.latE7 - b.latE7) / E7) * DEG_TO_M;
    let dLon = a.lonE7 - b.lonE7;
    if (dLon >= 1_800_000_000) dLon -= 3_600_000_000;
    else if (dLon < -1_800_000_000) dLon += 3_600_000_000;
    const dE = (dLon / E7) * DEG_TO_M * Math.cos((b.latE7 / E7) * (Math.PI / 180));
    const dU = (a.altCm - b.altCm) / 100;
    this.offE += dE;
    this.offN += dN;
    this.offU += dU;
    if (this.offE * this.offE + this.offN * this.offN + this.offU * this.offU > this.snapDistanceM * this.snapDistanceM) {
      this.offE = this.offN = this.offU = 0;
    }
    this.updateSelfExact();
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  /**
   * Advances smoothing and interpolation for a render frame at `now` (default: the clock):
   * updates self's drawn pose and every entity's lat/lon/alt/heading.
   */
  sample(now: number = this.now()): void {
    this.sampled = true;
    const dt = Number.isNaN(this.lastSampleAt) ? 0 : Math.max(0, now - this.lastSampleAt);
    this.lastSampleAt = now;
    // Corrections fade out exponentially.
    if (dt > 0) {
      const k = Math.exp(-dt / this.smoothingMs);
      this.offE *= k;
      this.offN *= k;
      this.offU *= k;
      if (Math.abs(this.offE) + Math.abs(this.offN) + Math.abs(this.offU) < 1e-4) this.offE = this.offN = this.offU = 0;
    }
    if (this.haveSelf) {
      // Between inputs, move from the pose before the latest input towards the latest one.
      const p = this.predictor.previous;
      const q = this.predictor.pose;
      const f = Number.isNaN(this.lastInputAt) ? 1 : Math.min(1, Math.max(0, (now - this.lastInputAt) / this.dtMs));
      let dLon = q.lonE7 - p.lonE7;
      if (dLon >= 1_800_000_000) dLon -= 3_600_000_000;
      else if (dLon < -1_800_000_000) dLon += 3_600_000_000;
      const latE7 = p.latE7 + (q.latE7 - p.latE7) * f;
      const lat = latE7 / E7 + this.offN / DEG_TO_M;
      const cosLat = Math.max(1e-6, Math.cos((latE7 / E7) * (Math.PI / 180)));
      let lon = (p.lonE7 + dLon * f) / E7 + this.offE / (DEG_TO_M * cosLat);
      if (lon >= 180) lon -= 360;
      else if (lon < -180) lon += 360;
      let dH = q.heading16 - p.heading16;
      if (dH > 32768) dH -= 65536;
      else if (dH < -32768) dH += 65536;
      let h = p.heading16 + dH * f;
      if (h < 0) h += 65536;
      else if (h >= 65536) h -= 65536;
      const s = this.selfState;
      s.lat = lat;
      s.lon = lon;
      s.alt = (p.altCm + (q.altCm - p.altCm) * f) / 100 + this.offU;
      s.heading = (h * 360) / 65536;
    }
    const pt = this.playback.time(now);
    if (Number.isNaN(pt)) return;
    const ex = this.dtMs * 2;
    const pool = this.pool;
    const hold = this.holdGapMs;
    const frameT = this.frameT;
    // Those not seen in the latest frame (missing) go by the last frame they were in.
    pool.sampleList(this.firstSlot, pt, ex, hold, frameT);
  }

  /** The local player, predicted (exact fields) and smoothed (lat/lon/alt/heading); undefined before WELCOME. */
  get self(): SelfState | undefined {
    if (!this.haveSelf) return undefined;
    if (!this.sampled) this.setDisplayExact();
    return this.selfState;
  }

  get character(): CharacterMessage | undefined {
    return this.characterLast;
  }

  /** Synchronised server clock (ms); NaN before the first frame or pong. */
  serverTime(): number {
    return this.clock.at(this.now());
  }

  /**
   * The time remote entities are drawn at, on the server clock (ms): serverTime() minus the
   * one-way latency minus interpolationDelayMs, roughly. NaN before the first frame.
   */
  playbackTime(now: number = this.now()): number {
    const t = this.playback.target(now);
    // Frame times are the header's u32 clock unwrapped; put them on the full server clock.
    const full = this.clock.at(now);
    if (!Number.isFinite(full)) return t;
    return t + Math.round((full - t) / 0x1_0000_0000) * 0x1_0000_0000;
  }

  get stats(): ClientStats {
    const s = this.statsObj;
    const c = this.conn;
    this.updateRates(this.now());
    s.rttMs = c?.rttMs ?? NaN;
    s.bytesInPerSecond = this.rateIn;
    s.bytesOutPerSecond = this.rateOut;
    s.zone = this.zone;
    s.inView = this.entityMap.size;
    s.interpolationDelayMs = this.playback.delayMs;
    s.predictionErrorM = this.lastErrorM;
    s.serverTimeOffsetMs = this.clock.offsetMs;
    s.jitterMs = this.playback.jitterMs;
    s.predictionChecks = this.predictor.checks;
    s.predictionMismatches = this.predictor.mismatches;
    s.inputsSent = this.inputsSentTotal;
    s.inputsPending = this.haveSelf ? this.predictor.lastSeq - this.predictor.ackSeq : 0;
    s.inputMarginMs = this.alignInputs ? this.timing.marginMs : NaN;
    s.inputsLate = this.timing.late;
    s.inputsOnTime = this.timing.onTime;
    s.rejects = this.rejectsTotal;
    s.reconnects = this.reconnects;
    return s;
  }

  private updateRates(t: number): void {
    const inTotal = this.bytesInBase + (this.conn?.bytesIn ?? 0);
    const outTotal = this.bytesOutBase + (this.conn?.bytesOut ?? 0);
    if (Number.isNaN(this.rateAt)) {
      this.rateAt = t;
      this.rateInBase = inTotal;
      this.rateOutBase = outTotal;
      return;
    }
    const dt = t - this.rateAt;
    if (dt < 1000) return;
    this.rateIn = ((inTotal - this.rateInBase) * 1000) / dt;
    this.rateOut = ((outTotal - this.rateOutBase) * 1000) / dt;
    this.rateAt = t;
    this.rateInBase = inTotal;
    this.rateOutBase = outTotal;
  }
  private rateInBase = 0;
  private rateOutBase = 0;

  private updateSelfExact(): void {
    const s = this.selfState;
    const p = this.predictor.pose;
    s.latE7 = p.latE7;
    s.lonE7 = p.lonE7;
    s.altCm = p.altCm;
    s.heading16 = p.heading16;
  }

  private setDisplayExact(): void {
    const s = this.selfState;
    s.lat = s.latE7 / E7;
    s.lon = s.lonE7 / E7;
    s.alt = s.altCm / 100;
    s.heading = (s.heading16 * 360) / 65536;
  }
}


