// Client side of the game protocol: one WebSocket session (handshake, inputs, frames, pings).
// Runs in browsers and in Node (bots), so it imports only protocol/world code and uses no Node APIs;
// the caller supplies the socket. Hot paths reuse objects because bots run thousands of these.
import { decodeMessage, encodeHello, encodeInput, encodePing } from '../protocol/messages.ts';
import { decodeFrame } from '../protocol/frame.ts';
import { FrameHistory } from '../protocol/history.ts';
import { ProtocolError } from '../protocol/codec.ts';
import { MessageType, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ProtocolErrorCode } from '../protocol/types.ts';
import type { FrameDecoded, FrameState, InputMessage, Welcome, WireInput } from '../protocol/types.ts';
import { KICK_REASON_NAMES, KickReason, REJECT_REASON_NAMES } from '../world/types.ts';

// ---------------------------------------------------------------------------------------------
// Socket abstraction

/**
 * Handler type checked bivariantly (method-style), so both the browser WebSocket and the `ws`
 * package's socket, whose handlers take richer event types, are assignable to WebSocketLike.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The subset of the WebSocket API this client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: unknown }> | null;
  onerror: Handler<unknown> | null;
}

export type CreateSocket = (url: string) => WebSocketLike;

const WS_OPEN = 1;
/** Close code we use for a server that broke the protocol (mirrors KICK ProtocolError = 4002). */
export const CLOSE_PROTOCOL_ERROR = 4000 + KickReason.ProtocolError;
export const CLOSE_NORMAL = 1000;

// ---------------------------------------------------------------------------------------------
// Typed event emitter (Node's EventEmitter is not available in browsers)

type Listener<T> = (event: T) => void;

export class TypedEmitter<Events> {
  // Arrays are replaced, never mutated, so emit() can iterate without copying.
  private listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    const current = this.listeners[type];
    this.listeners[type] = current ? [...current, fn] : [fn];
    return () => this.off(type, fn);
  }

  off<K extends keyof Events>(type: K, fn: Listener<Events[K]>): void {
    const current = this.listeners[type];
    if (!current) return;
    const i = current.indexOf(fn);
    if (i < 0) return;
    const next = current.slice();
    next.splice(i, 1);
    this.listeners[type] = next.length > 0 ? next : undefined;
  }

  protected hasListeners<K extends keyof Events>(type: K): boolean {
    return this.listeners[type] !== undefined;
  }

  protected emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const current = this.listeners[type];
    if (!current) return;
    for (const fn of current) fn(event);
  }
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: fixed log-spaced buckets, constant memory however many samples arrive.

const HIST_MIN_MS = 0.01;
const HIST_RATIO = 1.02;
const HIST_LOG_RATIO = Math.log(HIST_RATIO);
/** Buckets up to 0.01 ms * 1.02^910, about 670 s. */
const HIST_BUCKETS = 911;

export interface HistogramData {
  counts: Uint32Array;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Streaming histogram of millisecond samples. Bucket i holds values in
 * (0.01 * 1.02^(i-1), 0.01 * 1.02^i], so a percentile is reported as its bucket's upper bound:
 * at most 2 % above the exact sample (clamped to the observed min/max).
 */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(HIST_BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  record(ms: number): void {
    if (!(ms >= 0)) return; // also drops NaN
    let i = ms <= HIST_MIN_MS ? 0 : Math.ceil(Math.log(ms / HIST_MIN_MS) / HIST_LOG_RATIO);
    if (i >= HIST_BUCKETS) i = HIST_BUCKETS - 1;
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** p in [0, 100]; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    if (p <= 0) return this.min;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const upper = HIST_MIN_MS * Math.pow(HIST_RATIO, i);
        return Math.min(this.max, Math.max(this.min, upper));
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  merge(other: LatencyHistogram): void {
    this.mergeData(other.toData());
  }

  /** Plain, structured-clonable copy (to move a histogram between worker threads). */
  toData(): HistogramData {
    return { counts: this.counts.slice(), count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  /** Adds samples exported by toData() from another histogram. */
  mergeData(d: HistogramData): void {
    const n = Math.min(HIST_BUCKETS, d.counts.length);
    for (let i = 0; i < n; i++) this.counts[i]! += d.counts[i]!;
    this.count += d.count;
    this.sum += d.sum;
    if (d.min < this.min) this.min = d.min;
    if (d.max > this.max) this.max = d.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection

export interface MoveInput {
  /** Desired velocity in cm/s (rounded to integers for the wire). */
  eastCms: number;
  northCms: number;
  upCms: number;
  /** Action ids to request with this input (at most 4). */
  actions?: number[];
}

export interface RejectEvent {
  inputSeq: number;
  reason: number;
  reasonName: string;
}

export interface KickEvent {
  reason: number;
  reasonName: string;
  message: string;
}

export interface CloseEvent {
  code: number;
  reason: string;
  /** True when close() was called by the owner of this connection. */
  requested: boolean;
  /** Kick reason when the server kicked us (from KICK or the 4000+reason close code). */
  kickReason: number | undefined;
}

export interface PongEvent {
  seq: number;
  rttMs: number;
  clockOffsetMs: number;
}

export interface GameConnectionEvents {
  welcome: Welcome;
  frame: FrameDecoded;
  reject: RejectEvent;
  kick: KickEvent;
  pong: PongEvent;
  close: CloseEvent;
  error: Error;
}

export type ConnectionState = 'idle' | 'connecting' | 'handshaking' | 'open' | 'closing' | 'closed';

export interface GameConnectionOptions {
  url: string;
  /** Display name, 1..32 UTF-8 bytes. */
  name: string;
  createSocket: CreateSocket;
  /** Session token; empty (default) for a guest. */
  token?: string;
  /** Monotonic clock in ms; defaults to performance.now(). */
  now?: () => number;
  /** Give up on the handshake after this long (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Share histograms between connections (bots) instead of allocating one pair each. */
  rttHistogram?: LatencyHistogram;
  updateLatencyHistogram?: LatencyHistogram;
}

/** connect() rejects with this when the server kicked us during the handshake. */
export class KickError extends Error {
  readonly reason: number;
  readonly reasonName: string;
  constructor(reason: number, message: string) {
    const reasonName = kickReasonName(reason);
    super(`kicked by server: ${reasonName}${message ? ` (${message})` : ''}`);
    this.name = 'KickError';
    this.reason = reason;
    this.reasonName = reasonName;
  }
}

/** connect() rejects with this when the socket could not be opened at all. */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

export function kickReasonName(reason: number): string {
  return KICK_REASON_NAMES[reason as KickReason] ?? `kick_${reason}`;
}

export function rejectReasonName(reason: number): string {
  return REJECT_REASON_NAMES[reason as keyof typeof REJECT_REASON_NAMES] ?? `reject_${reason}`;
}

/** Input send times are kept for this many outstanding inputs (power of two). */
const SEND_RING = 256;
/** Clock offset is taken from the lowest-RTT pong among the last few (least queueing noise). */
const OFFSET_WINDOW = 8;
const NO_ACTIONS: number[] = [];

function defaultNow(): number {
  return performance.now();
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Uint8Array) return data; // Node Buffer is a Uint8Array
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class GameConnection extends TypedEmitter<GameConnectionEvents> {
  readonly url: string;
  readonly name: string;
  private readonly token: string;
  private readonly createSocket: CreateSocket;
  private readonly now: () => number;
  private readonly handshakeTimeoutMs: number;

  state: ConnectionState = 'idle';
  welcome: Welcome | undefined;

  // --- stats, readable at any time ---
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  framesIn = 0;
  inputsSent = 0;
  rejectsTotal = 0;
  /** Rejected inputs by reason name. */
  readonly rejects: Record<string, number> = {};
  protocolErrors = 0;
  socketErrors = 0;
  lastFrame: FrameDecoded | undefined;
  /** Last measured round trip (ms); NaN before the first pong. */
  rttMs = NaN;
  /** Server clock minus client clock (ms), from the lowest-RTT recent pong; NaN before one. */
  clockOffsetMs = NaN;
  /** Round-trip samples (ms). */
  readonly rttHistogram: LatencyHistogram;
  /** Time from sending input N to the first frame whose lastInputSeq >= N (ms), once per input. */
  readonly updateLatencyHistogram: LatencyHistogram;
  kickReason: number | undefined;
  closeCode: number | undefined;

  // --- protocol state ---
  /** Highest FRAME seq received; sent back as ackFrame. */
  ackFrame = 0;
  /** Seq the next sendInput() will use. */
  nextInputSeq = 0;
  /** Highest input seq the server reported as processed. */
  lastProcessedInputSeq = 0;

  private socket: WebSocketLike | undefined;
  private readonly history = new FrameHistory(32);
  private readonly baselineOf = (seq: number): FrameState | undefined => this.history.get(seq);
  private dtMs = 50;
  private closeRequested = false;
  private closeEmitted = false;
  private opened = false;
  private lastSocketError: string | undefined;
  private pingSeq = 0;

  private handshake:
    | { resolve: (w: Welcome) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
    | undefined;

  // Reused for every input to keep the per-tick path allocation-free apart from the encoded bytes.
  private readonly wireInput: WireInput = { seq: 0, dtMs: 0, eastCms: 0, northCms: 0, upCms: 0, actions: NO_ACTIONS };
  private readonly inputMsg: InputMessage = { ackFrame: 0, inputs: [this.wireInput] };
  // Encoders take the header seq from the message itself; only the version matters here.
  private readonly encodeOpts = { version: PROTOCOL_VERSION };

  private readonly sendTimes = new Float64Array(SEND_RING);
  /** Oldest input seq whose update latency is not yet recorded. */
  private pendingFrom = 0;
  private readonly offsetRtt = new Float64Array(OFFSET_WINDOW).fill(Infinity);
  private readonly offsetVal = new Float64Array(OFFSET_WINDOW);
  private offsetNext = 0;

  constructor(opts: GameConnectionOptions) {
    super();
    this.url = opts.url;
    this.name = opts.name;
    this.token = opts.token ?? '';
    this.createSocket = opts.createSocket;
    this.now = opts.now ?? defaultNow;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000;
    this.rttHistogram = opts.rttHistogram ?? new LatencyHistogram();
    this.updateLatencyHistogram = opts.updateLatencyHistogram ?? new LatencyHistogram();
  }

  /** Entities in view in the latest frame. */
  get visibleEntities(): number {
    return this.lastFrame?.state.entities.count ?? 0;
  }

  /** True once WELCOME arrived and until the socket closes: sendInput() may be called. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Estimated current server clock (ms); NaN before the first pong. */
  serverNow(): number {
    return this.now() + this.clockOffsetMs;
  }

  /** Opens the socket, sends HELLO and resolves with WELCOME. */
  connect(): Promise<Welcome> {
    if (this.state !== 'idle') return Promise.reject(new Error(`connect() called in state ${this.state}`));
    let hello: Uint8Array;
    try {
      // Encoded up front so a bad name fails here rather than inside the socket's open handler.
      hello = encodeHello({ minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, name: this.name, token: this.token });
    } catch (err) {
      return Promise.reject(errorOf(err));
    }
    this.state = 'connecting';
    return new Promise<Welcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failHandshake(new Error(`handshake with ${this.url} timed out after ${this.handshakeTimeoutMs} ms`));
        this.closeSocket(CLOSE_NORMAL, 'handshake timeout');
      }, this.handshakeTimeoutMs);
      this.handshake = { resolve, reject, timer };
      let socket: WebSocketLike;
      try {
        socket = this.createSocket(this.url);
      } catch (err) {
        this.failHandshake(new ConnectError(`cannot connect to ${this.url}: ${errorOf(err).message}`));
        this.state = 'closed';
        return;
      }
      this.socket = socket;
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => this.handleOpen(hello);
      socket.onmessage = (ev) => this.handleMessage(ev.data);
      socket.onclose = (ev) => this.handleClose(ev.code, typeof ev.reason === 'string' ? ev.reason : String(ev.reason ?? ''));
      socket.onerror = (ev) => this.handleSocketError(ev);
    });
  }

  /**
   * Sends one input covering one server tick (dtMs = round(1000 / tickRate)) and returns its seq.
   * Throws if the connection is not open (check isOpen).
   */
  sendInput(intent: MoveInput): number {
    if (this.state !== 'open') throw new Error(`sendInput() in state ${this.state}`);
    const seq = this.nextInputSeq;
    const w = this.wireInput;
    w.seq = seq;
    w.dtMs = this.dtMs;
    w.eastCms = Math.round(intent.eastCms);
    w.northCms = Math.round(intent.northCms);
    w.upCms = Math.round(intent.upCms);
    w.actions = intent.actions ?? NO_ACTIONS;
    this.inputMsg.ackFrame = this.ackFrame;
    let bytes: Uint8Array;
    try {
      bytes = encodeInput(this.inputMsg, this.encodeOpts);
    } finally {
      w.actions = NO_ACTIONS; // do not keep the caller's array alive
    }
    // Advance only after a successful encode so a bad intent cannot leave a gap in the seqs.
    this.nextInputSeq = (seq + 1) >>> 0;
    this.sendTimes[seq & (SEND_RING - 1)] = this.now();
    this.inputsSent++;
    this.send(bytes);
    return seq;
  }

  /** Sends a PING; the PONG updates rttMs, the RTT histogram and clockOffsetMs. */
  ping(): void {
    if (this.state !== 'open') return;
    const seq = this.pingSeq;
    this.pingSeq = (seq + 1) >>> 0;
    this.send(encodePing({ seq, clientTime: this.now() }, this.encodeOpts));
  }

  /** Closes the connection; the 'close' event reports requested: true. */
  close(): void {
    if (this.state === 'closed' || this.state === 'idle') {
      this.state = 'closed';
      return;
    }
    this.closeRequested = true;
    this.failHandshake(new Error('connection closed by client'));
    this.closeSocket(CLOSE_NORMAL, 'client closed');
  }

  // -------------------------------------------------------------------------------------------

  private send(bytes: Uint8Array): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WS_OPEN) return;
    this.bytesOut += bytes.byteLength;
    this.messagesOut++;
    socket.send(bytes);
  }

  private handleOpen(hello: Uint8Array): void {
    if (this.state !== 'connecting') return;
    this.opened = true;
    this.state = 'handshaking';
    this.send(hello);
  }

  private handleMessage(data: unknown): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    const bytes = toBytes(data);
    if (!bytes) {
      this.protocolFailure(new ProtocolError(ProtocolErrorCode.BadField, 'server sent a non-binary message'));
      return;
    }
    this.bytesIn += bytes.byteLength;
    this.messagesIn++;
    // Decode first, then act: errors thrown by event listeners must not be counted as protocol errors.
    let msg;
    let frame: FrameDecoded | undefined;
    try {
      msg = decodeMessage(bytes);
      if (msg.type === MessageType.Frame) {
        if (this.state !== 'open') throw new ProtocolError(ProtocolErrorCode.BadField, 'FRAME before WELCOME');
        frame = decodeFrame(msg.header, msg.payload, this.baselineOf);
        this.storeFrame(frame);
      }
    } catch (err) {
      this.protocolFailure(errorOf(err));
      return;
    }
    switch (msg.type) {
      case MessageType.Welcome:
        this.handleWelcome(msg.body);
        return;
      case MessageType.Frame:
        if (frame) this.handleFrame(frame);
        return;
      case MessageType.Reject: {
        const reasonName = rejectReasonName(msg.body.reason);
        this.rejectsTotal++;
        this.rejects[reasonName] = (this.rejects[reasonName] ?? 0) + 1;
        this.emit('reject', { inputSeq: msg.body.inputSeq, reason: msg.body.reason, reasonName });
        return;
      }
      case MessageType.Pong:
        this.handlePong(msg.body.seq, msg.body.clientTime, msg.body.serverTime);
        return;
      case MessageType.Kick: {
        const { reason, message } = msg.body;
        this.kickReason = reason;
        this.failHandshake(new KickError(reason, message));
        this.emit('kick', { reason, reasonName: kickReasonName(reason), message });
        // The server closes right after KICK; closing too just makes sure we do not linger.
        this.closeSocket(CLOSE_NORMAL, 'kicked');
        return;
      }
      default:
        this.protocolFailure(new ProtocolError(ProtocolErrorCode.UnknownType, `server sent a client message (type ${msg.type})`));
    }
  }

  private handleWelcome(w: Welcome): void {
    if (this.state !== 'handshaking') {
      this.protocolFailure(new ProtocolError(ProtocolErrorCode.BadField, 'unexpected WELCOME'));
      return;
    }
    this.welcome = w;
    this.encodeOpts.version = w.version;
    this.dtMs = Math.round(1000 / w.tickRate);
    this.nextInputSeq = w.nextInputSeq >>> 0;
    this.pendingFrom = this.nextInputSeq;
    this.lastProcessedInputSeq = (this.nextInputSeq - 1) >>> 0;
    this.state = 'open';
    const hs = this.handshake;
    this.handshake = undefined;
    if (hs) {
      clearTimeout(hs.timer);
      hs.resolve(w);
    }
    this.emit('welcome', w);
  }

  /** Keeps the frame as a future baseline; throws (a protocol error) if its seq does not fit. */
  private storeFrame(f: FrameDecoded): void {
    if (f.baselineSeq === 0 && f.seq <= this.history.latestSeq) {
      // A full snapshot may restart numbering (e.g. after a zone change): old baselines are void.
      this.history.clear();
      this.ackFrame = 0;
    } else if (f.seq <= this.history.latestSeq) {
      throw new ProtocolError(ProtocolErrorCode.BadField, `frame seq ${f.seq} not after ${this.history.latestSeq}`);
    }
    this.history.put(f.seq, f.state);
    // The server never deltas against anything older than the baseline it just used.
    if (f.baselineSeq > 0) this.history.dropBefore(f.baselineSeq);
  }

  private handleFrame(f: FrameDecoded): void {
    this.framesIn++;
    if (f.seq > this.ackFrame) this.ackFrame = f.seq;
    this.lastFrame = f;
    if (f.lastInputSeq > this.lastProcessedInputSeq) this.lastProcessedInputSeq = f.lastInputSeq;
    this.recordUpdateLatency(f.lastInputSeq);
    this.emit('frame', f);
  }

  /** Records send-to-update time for every input newly covered by lastInputSeq, each once. */
  private recordUpdateLatency(lastInputSeq: number): void {
    const sentUpTo = this.nextInputSeq - 1;
    const upTo = Math.min(lastInputSeq, sentUpTo);
    if (upTo < this.pendingFrom) return;
    // Inputs older than the ring have lost their send time; skip them.
    const from = Math.max(this.pendingFrom, upTo - SEND_RING + 1);
    const t = this.now();
    for (let s = from; s <= upTo; s++) this.updateLatencyHistogram.record(t - this.sendTimes[s & (SEND_RING - 1)]!);
    this.pendingFrom = upTo + 1;
  }

  private handlePong(seq: number, clientTime: number, serverTime: number): void {
    const rtt = this.now() - clientTime;
    if (!(rtt >= 0)) return; // not a time we sent: ignore rather than poison the estimate
    this.rttMs = rtt;
    this.rttHistogram.record(rtt);
    const i = this.offsetNext;
    this.offsetRtt[i] = rtt;
    this.offsetVal[i] = serverTime - (clientTime + rtt / 2);
    this.offsetNext = (i + 1) % OFFSET_WINDOW;
    let best = 0;
    for (let k = 1; k < OFFSET_WINDOW; k++) if (this.offsetRtt[k]! < this.offsetRtt[best]!) best = k;
    this.clockOffsetMs = this.offsetVal[best]!;
    if (this.hasListeners('pong')) this.emit('pong', { seq, rttMs: rtt, clockOffsetMs: this.clockOffsetMs });
  }

  private protocolFailure(err: Error): void {
    this.protocolErrors++;
    this.failHandshake(err);
    this.emit('error', err);
    this.closeSocket(CLOSE_PROTOCOL_ERROR, 'protocol error');
  }

  private handleSocketError(ev: unknown): void {
    this.socketErrors++;
    const message =
      ev !== null && typeof ev === 'object' && 'message' in ev && typeof ev.message === 'string' && ev.message
        ? ev.message
        : 'socket error';
    this.lastSocketError = message;
    // Before open the close that follows rejects connect(); after it the close event reports it.
    this.emit('error', new Error(message));
  }

  private handleClose(code: number, reason: string): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.state = 'closed';
    this.closeCode = code;
    this.history.clear();
    if (this.kickReason === undefined && code > 4000 && code < 4100 && !this.closeRequested) {
      this.kickReason = code - 4000;
    }
    if (this.handshake) {
      if (!this.opened) {
        const detail = this.lastSocketError ?? `closed with code ${code}`;
        this.failHandshake(new ConnectError(`cannot connect to ${this.url}: ${detail}`));
      } else if (this.kickReason !== undefined) {
        this.failHandshake(new KickError(this.kickReason, reason));
      } else {
        this.failHandshake(new Error(`connection closed during handshake (code ${code}${reason ? `, ${reason}` : ''})`));
      }
    }
    this.emit('close', { code, reason, requested: this.closeRequested, kickReason: this.kickReason });
  }

  private failHandshake(err: Error): void {
    const hs = this.handshake;
    if (!hs) return;
    this.handshake = undefined;
    clearTimeout(hs.timer);
    hs.reject(err);
  }

  private closeSocket(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    const socket = this.socket;
    if (!socket) {
      this.handleClose(code, reason);
      return;
    }
    try {
      socket.close(code, reason);
    } catch {
      // A socket that refuses to close (already closing) still delivers its close event.
    }
  }
}
