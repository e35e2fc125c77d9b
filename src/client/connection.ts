// Client side of the game protocol: one WebSocket session (handshake, inputs, frames, pings).
// Runs in browsers and in Node (bots), so it imports only protocol/world code and uses no Node APIs;
// the caller supplies the socket. Hot paths reuse objects because bots run thousands of these.
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  beginMessage,
  decodeMessage,
  encodeHello,
  takeMessage,
  writeSingleInput,
} from '../protocol/messages.ts';
import { crc32 } from '../protocol/crc32.ts';
import { wordsToZone } from '../protocol/zone-id.ts';
import { createFrameDecodeTarget, decodeFrameInto } from '../protocol/frame.ts';
import type { FrameDecodeTarget } from '../protocol/frame.ts';
import { FrameHistory } from '../protocol/history.ts';
import { ProtocolError, Writer } from '../protocol/codec.ts';
import {
  HEADER_ZONE_BIT,
  MAX_HEADER_SIZE,
  MIN_HEADER_SIZE,
  MessageType,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  SNAPSHOT_STRIDE,
} from '../protocol/types.ts';
import type { CharacterMessage, FrameDecoded, FrameHeader, FrameState, Welcome } from '../protocol/types.ts';
import type { ZoneId } from '../world/types.ts';
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
    this.listenersChanged(type);
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
    this.listenersChanged(type);
  }

  protected hasListeners<K extends keyof Events>(type: K): boolean {
    return this.listeners[type] !== undefined;
  }

  /**
   * Called after a listener of `type` was added or removed: a subclass that asks hasListeners()
   * on a hot path can keep the answer in a field of its own (one object fewer to touch there).
   */
  protected listenersChanged(_type: keyof Events): void {}

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

/**
 * The latest frame without copying (the 'update' event): one object per connection, rewritten
 * for every frame, valid only during the event. Entity rows are state.entities (see SnapshotField).
 */
export interface FrameView {
  seq: number;
  /** Header serverTime: the server clock in ms modulo 2^32 when the frame was built. */
  serverTime: number;
  zone: ZoneId;
  baselineSeq: number;
  lastInputSeq: number;
  state: FrameState;
  /** Ids that entered view are added[0, addedCount). */
  added: Int32Array;
  addedCount: number;
  /** Ids that left view are removed[0, removedCount). */
  removed: Int32Array;
  removedCount: number;
}

export interface GameConnectionEvents {
  welcome: Welcome;
  /** Every frame, copied (FrameDecoded): convenient; built only when someone listens. */
  frame: FrameDecoded;
  /** Every frame, not copied: see FrameView. */
  update: FrameView;
  /** The whole character sheet, each time the server sends one (also kept as `character`). */
  character: CharacterMessage;
  reject: RejectEvent;
  kick: KickEvent;
  pong: PongEvent;
  close: CloseEvent;
  error: Error;
}

export type ConnectionState = 'idle' | 'connecting' | 'handshaking' | 'open' | 'closing' | 'closed';

/**
 * @internal Takes every frame of a connection before its 'update' listeners, without an event
 * (BlueMarbleClient). `f` is the decoded frame (valid until the next one: read it during the
 * call), `serverTime` its header's, `now` the local time it was handled at (the connection's clock).
 */
export interface FrameSink {
  connFrame(conn: GameConnection, f: FrameDecodeTarget, serverTime: number, now: number): void;
}

export interface GameConnectionOptions {
  url: string;
  /** Display name, 1..32 UTF-8 bytes. */
  name: string;
  createSocket: CreateSocket;
  /**
   * Session token from the HTTP login API (docs/api.md); empty (default) for a guest, which only
   * a server that allows guests accepts (others KICK with `unauthorized`).
   */
  token?: string;
  /** Monotonic clock in ms; defaults to performance.now(). */
  now?: () => number;
  /** Give up on the handshake after this long (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * Drop a FRAME whose seq is not after the newest one (counted in framesStale) instead of
   * treating it as a restart of the numbering. The server never restarts numbering within a
   * connection, so this only matters for a link that reorders messages (tests, relays).
   */
  ignoreStaleFrames?: boolean;
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
const EMPTY_IDS_ARRAY: readonly number[] = [];

function defaultNow(): number {
  return performance.now();
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data; // Node Buffer (ws 'nodebuffer') is a Uint8Array: no copy
  if (data instanceof ArrayBuffer) return new Uint8Array(data); // browsers: a view, no copy
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

// --- incoming FRAMEs ------------------------------------------------------------------------

function u32At(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** A FRAME header as readFrameHeader leaves it: the zone words when the header has a zone. */
interface FrameHeaderScratch extends FrameHeader {
  zoned: boolean;
  zoneLo: number;
  zoneHi: number;
}

/**
 * readFrameHeader's output, one object for every connection: a FRAME's header is read, used and
 * done with before any listener runs (GameConnection.handleFrame takes what it needs first), so
 * a frame does not touch a header object of its own connection.
 */
const frameHeader: FrameHeaderScratch = {
  version: 0,
  type: MessageType.Frame,
  payloadLength: 0,
  seq: 0,
  serverTime: 0,
  zone: '0',
  headerLength: 0,
  zoned: false,
  zoneLo: 0,
  zoneHi: 0,
};

/**
 * The common case of decodeHeader (protocol/messages.ts) without allocating: true, with `h`
 * filled in, when `bytes` is a FRAME in the compact header layout that passes every header check
 * decodeHeader makes (size, length, seq, zone, CRC, version, type). Anything else returns false
 * and goes through decodeMessage, which then produces the exact result or error, so this adds
 * no accept or reject of its own. A header without a zone leaves h.zone '0' (the previous
 * FRAME's zone, resolved by decodeFrameInto); one with a zone sets h.zoned and the zone words,
 * and the caller sets h.zone (from a string it keeps for those words).
 */
function readFrameHeader(bytes: Uint8Array, h: FrameHeaderScratch): boolean {
  const total = bytes.length;
  if (total < MIN_HEADER_SIZE || total > DEFAULT_MAX_MESSAGE_BYTES) return false;
  const version = bytes[0]!;
  const typeByte = bytes[1]!;
  // Only version 2 has the compact layout (and this build speaks only version 2).
  if (version !== 2) return false;
  if ((typeByte & ~HEADER_ZONE_BIT) !== MessageType.Frame) return false;
  const payloadLength = bytes[2]! | (bytes[3]! << 8);
  const headerLength = total - payloadLength;
  if (headerLength < MIN_HEADER_SIZE || headerLength > MAX_HEADER_SIZE) return false;
  // seq: a canonical uvarint within u32 (at most 5 bytes; bytes 4..8 exist as total >= 13).
  let p = 4;
  let seq = 0;
  let mul = 1;
  for (;;) {
    const b = bytes[p++]!;
    seq += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (b === 0 && p > 5) return false;
      break;
    }
    if (p === 9) return false;
    mul *= 128;
  }
  if (seq > 0xffffffff) return false;
  const zoned = (typeByte & HEADER_ZONE_BIT) !== 0;
  if (p + (zoned ? 16 : 8) !== headerLength) return false;
  const crcAt = headerLength - 4;
  if (crc32(bytes, headerLength, total, crc32(bytes, 0, crcAt)) !== u32At(bytes, crcAt)) return false;
  if (zoned) {
    const lo = u32At(bytes, p + 4);
    const hi = u32At(bytes, p + 8);
    if (lo === 0 && hi === 0) return false;
    h.zoneLo = lo;
    h.zoneHi = hi;
  }
  h.zoned = zoned;
  h.zone = '0';
  h.version = version;
  h.type = MessageType.Frame;
  h.payloadLength = payloadLength;
  h.seq = seq;
  h.serverTime = u32At(bytes, p);
  h.headerLength = headerLength;
  return true;
}

// --- outgoing messages ---------------------------------------------------------------------
// One Writer for every connection (encoding is synchronous), and it hands each message out as a
// view of its own memory (takeMessage) instead of a copy: a slab allocator. Taken bytes are never
// written again (a nearly full buffer is replaced, not rewound), so a socket may keep a sent
// message as long as it likes.

const SLAB_BYTES = 64 * 1024;
const sendWriter = new Writer(SLAB_BYTES);

/**
 * One INPUT carrying one input: writeSingleInput (protocol/messages.ts), encodeInput's bytes for
 * the single-input case without building the input objects. actions[0, actionCount) go with it.
 * @internal exported for tests and benchmarks.
 */
export function encodeOneInput(
  version: number,
  ackFrame: number,
  seq: number,
  dtMs: number,
  eastCms: number,
  northCms: number,
  upCms: number,
  actions: readonly number[],
  actionCount: number,
): Uint8Array {
  writeSingleInput(sendWriter, version, ackFrame, seq, dtMs, eastCms, northCms, upCms, actions, actionCount);
  return takeMessage(sendWriter);
}

/** PING, as encodePing (protocol/messages.ts) writes it. @internal exported for tests and benchmarks. */
export function encodePingMessage(version: number, seq: number, clientTime: number): Uint8Array {
  if (!Number.isFinite(clientTime)) throw new RangeError(`clientTime must be finite: ${clientTime}`);
  const w = sendWriter;
  beginMessage(w, MessageType.Ping, version, seq, 0, '0');
  w.f64(clientTime);
  return takeMessage(w);
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class GameConnection extends TypedEmitter<GameConnectionEvents> {
  // What every frame and every input reads or writes comes first, together: with thousands of
  // connections in a process (bots) each one is out of cache by its next message, and fields in
  // declaration order share cache lines (a frame touches a few lines of this object, not most).
  state: ConnectionState = 'idle';
  /** Highest FRAME seq received; sent back as ackFrame. */
  ackFrame = 0;
  /** Seq the next sendInput() will use. */
  nextInputSeq = 0;
  /** Highest input seq the server reported as processed. */
  lastProcessedInputSeq = 0;
  bytesIn = 0;
  messagesIn = 0;
  framesIn = 0;
  bytesOut = 0;
  messagesOut = 0;
  inputsSent = 0;
  /** @internal Called with every frame before the 'update' listeners (BlueMarbleClient). */
  frameSink: FrameSink | undefined = undefined;
  private readonly now: () => number;
  private readonly ignoreStaleFrames: boolean;
  private socket: WebSocketLike | undefined = undefined;
  /** The socket's message handler (an arrow field: it shares one context object with baselineOf). */
  private readonly onSocketMessage = (ev: { data: unknown }): void => this.handleMessage(ev.data);
  private readonly history = new FrameHistory(32);
  // Frames decode straight into the history's build slot (no per-frame allocation). Two targets:
  // `frameLast` describes the latest good frame, `frameNext` receives the next one and is swapped
  // in only if it decodes and stores cleanly, so a bad frame never disturbs the last good one.
  private frameNext: FrameDecodeTarget = createFrameDecodeTarget();
  private frameLast: FrameDecodeTarget = createFrameDecodeTarget();
  private haveFrame = false;
  private lastSeq = 0;
  private lastServerTime = 0;
  private lastZone: ZoneId = '0';
  /** lastFrame as a FrameDecoded, built on first request after each frame. */
  private lastFrameCopy: FrameDecoded | undefined = undefined;
  /** hasListeners('update' / 'frame' / 'pong'), kept up to date by listenersChanged. */
  private wantUpdate = false;
  private wantFrame = false;
  private wantPong = false;
  /** Protocol version of outgoing messages (the negotiated one after WELCOME). */
  private version = PROTOCOL_VERSION;
  private dtMs = 50;
  /** Oldest input seq whose update latency is not yet recorded. */
  private pendingFrom = 0;
  private readonly sendTimes = new Float64Array(SEND_RING);
  /** Time from sending input N to the first frame whose lastInputSeq >= N (ms), once per input. */
  readonly updateLatencyHistogram: LatencyHistogram;
  /** Round trip of the PONG clockOffsetMs came from (the lowest recent one), ms; NaN before any. */
  clockRttMs = NaN;
  /**
   * The baseline a frame names: nearly always the latest frame (the one the last input acked),
   * which is frameLast's state (stored in the history under lastSeq), so that needs no lookup.
   */
  private readonly baselineOf = (seq: number): FrameState | undefined =>
    seq === this.lastSeq && this.haveFrame ? this.frameLast.state : this.history.get(seq);

  /** The zone string of the latest zoned FRAME header and its words (steady frames reuse it). */
  private headerZone: ZoneId = '0';
  private headerZoneLo = 0;
  private headerZoneHi = 0;

  readonly url: string;
  readonly name: string;
  private readonly token: string;
  private readonly createSocket: CreateSocket;
  private readonly handshakeTimeoutMs: number;
  private readonly frameView: FrameView;

  welcome: Welcome | undefined;

  // --- stats, readable at any time ---
  /** Frames dropped as older than one already received (only with ignoreStaleFrames). */
  framesStale = 0;
  /** CHARACTER messages received. */
  charactersIn = 0;
  rejectsTotal = 0;
  /** Rejected inputs by reason name. */
  readonly rejects: Record<string, number> = {};
  protocolErrors = 0;
  socketErrors = 0;
  /** Last measured round trip (ms); NaN before the first pong. */
  rttMs = NaN;
  /** Server clock minus client clock (ms), from the lowest-RTT recent pong; NaN before one. */
  clockOffsetMs = NaN;
  /** Round-trip samples (ms). */
  readonly rttHistogram: LatencyHistogram;
  kickReason: number | undefined;
  closeCode: number | undefined;

  private characterLast: CharacterMessage | undefined;
  private closeRequested = false;
  private closeEmitted = false;
  private opened = false;
  private lastSocketError: string | undefined;
  private pingSeq = 0;

  private handshake:
    | { resolve: (w: Welcome) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
    | undefined;

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
    this.ignoreStaleFrames = opts.ignoreStaleFrames ?? false;
    this.frameView = {
      seq: 0,
      serverTime: 0,
      zone: '0',
      baselineSeq: 0,
      lastInputSeq: 0,
      state: this.frameLast.state,
      added: this.frameLast.added,
      addedCount: 0,
      removed: this.frameLast.removed,
      removedCount: 0,
    };
    this.rttHistogram = opts.rttHistogram ?? new LatencyHistogram();
    this.updateLatencyHistogram = opts.updateLatencyHistogram ?? new LatencyHistogram();
  }

  /** Entities in view in the latest frame. */
  get visibleEntities(): number {
    return this.haveFrame ? this.frameLast.state.entities.count : 0;
  }

  /**
   * The latest frame, decoded; undefined before the first. A copy made on first access after
   * each frame (and then returned again until the next one), so it may be kept indefinitely.
   * Code that reads every frame should prefer frameState, which copies nothing.
   */
  get lastFrame(): FrameDecoded | undefined {
    if (!this.haveFrame) return undefined;
    if (this.lastFrameCopy === undefined) {
      const f = this.frameLast;
      const { own, entities } = f.state;
      this.lastFrameCopy = {
        seq: this.lastSeq,
        serverTime: this.lastServerTime,
        zone: this.lastZone,
        baselineSeq: f.baselineSeq,
        lastInputSeq: f.lastInputSeq,
        state: {
          own: { ...own },
          entities: { count: entities.count, data: entities.data.slice(0, entities.count * SNAPSHOT_STRIDE) },
          lastInputSeq: f.lastInputSeq,
        },
        added: Array.from(f.added.subarray(0, f.addedCount)),
        removed: Array.from(f.removed.subarray(0, f.removedCount)),
      };
    }
    return this.lastFrameCopy;
  }

  /**
   * State of the latest frame without copying (undefined before the first): owned by the
   * connection, read-only, and valid only until the next frame arrives.
   */
  get frameState(): FrameState | undefined {
    return this.haveFrame ? this.frameLast.state : undefined;
  }

  /**
   * The latest CHARACTER (the player's whole sheet: health, stamina, level, inventory, skills),
   * undefined before the first. Each message replaces the previous one; kept after close.
   */
  get character(): CharacterMessage | undefined {
    return this.characterLast;
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
      // `ws` (Node) delivers Buffers without a copy as 'nodebuffer' (its default; 'arraybuffer'
      // copies each message). A browser ignores that value (binaryType is an enum there) and
      // then gets 'arraybuffer'. toBytes() takes either without copying.
      socket.binaryType = 'nodebuffer';
      if (socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
      socket.onopen = () => this.handleOpen(hello);
      socket.onmessage = this.onSocketMessage;
      socket.onclose = (ev) => this.handleClose(ev.code, typeof ev.reason === 'string' ? ev.reason : String(ev.reason ?? ''));
      socket.onerror = (ev) => this.handleSocketError(ev);
    });
  }

  /**
   * Sends one input covering one server tick (dtMs = round(1000 / tickRate)) and returns its seq.
   * Throws if the connection is not open (check isOpen).
   */
  sendInput(intent: MoveInput): number {
    const actions = intent.actions ?? EMPTY_IDS_ARRAY;
    return this.sendMove(intent.eastCms, intent.northCms, intent.upCms, actions, actions.length);
  }

  /**
   * @internal sendInput() without a MoveInput: velocities in cm/s, actions[0, actionCount), and
   * `sentAt` the local time if the caller has just read the clock (NaN, the default: read it).
   */
  sendMove(eastCms: number, northCms: number, upCms: number, actions: readonly number[], actionCount: number, sentAt = NaN): number {
    if (this.state !== 'open') throw new Error(`sendInput() in state ${this.state}`);
    const seq = this.nextInputSeq;
    const bytes = encodeOneInput(
      this.version,
      this.ackFrame,
      seq,
      this.dtMs,
      Math.round(eastCms),
      Math.round(northCms),
      Math.round(upCms),
      actions,
      actionCount,
    );
    // Advance only after a successful encode so a bad intent cannot leave a gap in the seqs.
    this.nextInputSeq = (seq + 1) >>> 0;
    this.sendTimes[seq & (SEND_RING - 1)] = Number.isNaN(sentAt) ? this.now() : sentAt;
    this.inputsSent++;
    this.send(bytes);
    return seq;
  }

  /** Sends a PING; the PONG updates rttMs, the RTT histogram and clockOffsetMs. */
  ping(): void {
    if (this.state !== 'open') return;
    const seq = this.pingSeq;
    this.pingSeq = (seq + 1) >>> 0;
    this.send(encodePingMessage(this.version, seq, this.now()));
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
    // Most messages are FRAMEs: check their header in place and decode the payload where it is.
    const fh = frameHeader;
    if (readFrameHeader(bytes, fh)) {
      if (fh.zoned) {
        if (fh.zoneLo !== this.headerZoneLo || fh.zoneHi !== this.headerZoneHi) {
          this.headerZone = wordsToZone(fh.zoneLo, fh.zoneHi);
          this.headerZoneLo = fh.zoneLo;
          this.headerZoneHi = fh.zoneHi;
        }
        fh.zone = this.headerZone;
      }
      this.receiveFrame(fh, bytes, fh.headerLength);
      return;
    }
    // Decode first, then act: errors thrown by event listeners must not be counted as protocol errors.
    let msg;
    try {
      msg = decodeMessage(bytes);
    } catch (err) {
      this.protocolFailure(errorOf(err));
      return;
    }
    switch (msg.type) {
      case MessageType.Welcome:
        this.handleWelcome(msg.body);
        return;
      case MessageType.Frame:
        this.receiveFrame(msg.header, msg.payload, 0);
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
      case MessageType.Character:
        if (this.state !== 'open') {
          this.protocolFailure(new ProtocolError(ProtocolErrorCode.BadField, 'CHARACTER before WELCOME'));
          return;
        }
        this.characterLast = msg.body;
        this.charactersIn++;
        this.emit('character', msg.body);
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

  /** FRAME payload at payload[offset..]: decode, keep as a baseline, then report. */
  private receiveFrame(header: FrameHeader, payload: Uint8Array, offset: number): void {
    try {
      if (this.state !== 'open') throw new ProtocolError(ProtocolErrorCode.BadField, 'FRAME before WELCOME');
      if (this.ignoreStaleFrames && header.seq <= this.history.latestSeq) {
        this.framesStale++;
        return;
      }
      const out = this.frameNext;
      out.state = this.history.writable();
      // A header without a zone means the zone of the previous FRAME ('0' before the first: refused).
      decodeFrameInto(header, payload, this.baselineOf, out, offset, this.haveFrame ? this.lastZone : '0');
      this.storeFrame(header.seq, out.baselineSeq);
    } catch (err) {
      this.protocolFailure(errorOf(err));
      return;
    }
    this.handleFrame(header);
  }

  private handleWelcome(w: Welcome): void {
    if (this.state !== 'handshaking') {
      this.protocolFailure(new ProtocolError(ProtocolErrorCode.BadField, 'unexpected WELCOME'));
      return;
    }
    this.welcome = w;
    this.version = w.version;
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

  /**
   * Keeps the frame just decoded into history.writable() as a future baseline; throws (a
   * protocol error) if its seq does not fit.
   */
  private storeFrame(seq: number, baselineSeq: number): void {
    if (baselineSeq === 0 && seq <= this.history.latestSeq) {
      // A full snapshot may restart numbering (e.g. after a zone change): old baselines are void.
      this.history.clear();
      this.ackFrame = 0;
    } else if (seq <= this.history.latestSeq) {
      throw new ProtocolError(ProtocolErrorCode.BadField, `frame seq ${seq} not after ${this.history.latestSeq}`);
    }
    this.history.commit(seq);
    // The server never deltas against anything older than the baseline it just used.
    if (baselineSeq > 0) this.history.dropBefore(baselineSeq);
  }

  private handleFrame(header: FrameHeader): void {
    // The header may be the shared scratch one: take what is needed before any listener runs.
    const seq = header.seq;
    const serverTime = header.serverTime;
    const f = this.frameNext;
    this.frameNext = this.frameLast;
    this.frameLast = f;
    this.haveFrame = true;
    this.lastSeq = seq;
    this.lastServerTime = serverTime;
    this.lastZone = f.zone;
    this.lastFrameCopy = undefined;
    this.framesIn++;
    if (seq > this.ackFrame) this.ackFrame = seq;
    if (f.lastInputSeq > this.lastProcessedInputSeq) this.lastProcessedInputSeq = f.lastInputSeq;
    // One clock read for the latency record and the sink (NaN: none yet, read if needed).
    const sink = this.frameSink;
    const t = this.recordUpdateLatency(f.lastInputSeq, sink === undefined ? NaN : this.now());
    if (sink !== undefined) sink.connFrame(this, f, serverTime, t);
    if (this.wantUpdate) {
      const v = this.frameView;
      v.seq = seq;
      v.serverTime = serverTime;
      v.zone = f.zone;
      v.baselineSeq = f.baselineSeq;
      v.lastInputSeq = f.lastInputSeq;
      v.state = f.state;
      v.added = f.added;
      v.addedCount = f.addedCount;
      v.removed = f.removed;
      v.removedCount = f.removedCount;
      this.emit('update', v);
    }
    // Building the FrameDecoded copies the frame: only when someone listens.
    if (this.wantFrame) this.emit('frame', this.lastFrame!);
  }

  /**
   * Records send-to-update time for every input newly covered by lastInputSeq, each once, at
   * local time `t` (NaN: read the clock, if there is anything to record). Returns `t`.
   */
  private recordUpdateLatency(lastInputSeq: number, t: number): number {
    const sentUpTo = this.nextInputSeq - 1;
    const upTo = Math.min(lastInputSeq, sentUpTo);
    if (upTo < this.pendingFrom) return t;
    // Inputs older than the ring have lost their send time; skip them.
    const from = Math.max(this.pendingFrom, upTo - SEND_RING + 1);
    if (Number.isNaN(t)) t = this.now();
    for (let s = from; s <= upTo; s++) this.updateLatencyHistogram.record(t - this.sendTimes[s & (SEND_RING - 1)]!);
    this.pendingFrom = upTo + 1;
    return t;
  }

  protected override listenersChanged(): void {
    this.wantUpdate = this.hasListeners('update');
    this.wantFrame = this.hasListeners('frame');
    this.wantPong = this.hasListeners('pong');
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
    this.clockRttMs = this.offsetRtt[best]!;
    if (this.wantPong) this.emit('pong', { seq, rttMs: rtt, clockOffsetMs: this.clockOffsetMs });
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
