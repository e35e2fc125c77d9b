// HAND-WRITTEN HOT PATH, FOR THE BOTS ONLY: a minimal RFC 6455 WebSocket *client* over node:net.
//
// Why: capacity benchmarks run the server and the bots on one small machine, and the bots spent a
// large share of their CPU inside `ws`'s client machinery (Receiver, Sender, cork/uncork, event
// emitters) for every ~50-byte message. A raw socket carrying the same traffic costs about half
// the user CPU (2,000 sockets, one 50-byte message in and one 30-byte out per socket per 50 ms:
// `ws` clients 13+13 %, raw `net` clients 7+7 %). This client keeps the common case (one whole,
// small, unmasked server frame per read) free of copies and of per-frame allocations beyond the
// delivered view, and writes each outgoing message with one `socket.write`.
//
// Reads bypass the stream machinery: with net's `onread` option, net reads straight into buffers
// we hand it and calls us back, instead of making a fresh ArrayBuffer in C++ for every read and
// pushing it through Readable to a 'data' event (`bench ws-floor --counts 2000`, medians of 6
// alternating runs: wire clients 13.35 -> 12.85 us CPU per client per tick). A delivered message
// is a view of read memory and may be kept, so no byte is ever read into twice: each socket reads
// into its own region carved from a shared slab, moving on through it and then to a fresh one.
//
// Scope: plain ws:// only (the bots never use TLS), no extensions (no permessage-deflate), no
// subprotocols, no redirects or proxies. The server, browsers and everything else keep `ws` or
// the platform's WebSocket; `BotSocket` (socket.ts) is the `ws` alternative (`--socket ws`).
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { WebSocketLike } from '../client/connection.ts';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A response head longer than this is not a WebSocket server talking. */
const MAX_HEAD_BYTES = 8 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT_MS = 2000;

export const CLOSE_NORMAL = 1000;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;

// Mask keys: RFC 6455 wants them unpredictable, but one getrandom() per 30-byte frame is a syscall
// per message. One pool for the whole thread, refilled 4 KiB (1,024 keys) at a time.
const MASK_POOL_BYTES = 4096;
const maskPool = Buffer.allocUnsafe(MASK_POOL_BYTES);
let maskPos = MASK_POOL_BYTES;

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Read memory. A socket reads into the rest of its region while at least MIN_READ_BYTES of it are
// left (a read is capped by the buffer offered, so the tail must still take a burst of frames in
// one read), then takes a new region from the current slab. Slabs are never rewound: GC frees a
// slab once no region or delivered view points into it.
// Sizes: measured at 1,000 sockets with one ~52-byte read each per 50 ms, client CPU is the same
// within noise for regions of 256 B, 4 KiB and 16 KiB (the scheme costs ~0.1-0.2 us per read
// either way), so traffic and memory set them: a 4 KiB region takes ~70 such reads, its 512-byte
// tail a burst of ~10 or a typical bigger frame whole (a frame that does not fit arrives in two
// reads and is joined), and a 64 KiB slab (16 regions) is one allocation per ~1,000 reads. Live
// read memory is a region per socket; an idle socket keeps its region's slab alive.
const SLAB_BYTES = 64 * 1024;
const REGION_BYTES = 4 * 1024;
const MIN_READ_BYTES = 512;
/** Largest buffer offered to the rest of a big frame: 64 KiB, the size of Node's own reads. */
const MAX_READ_BYTES = 64 * 1024;
const NO_BYTES = Buffer.alloc(0);
let slab: Buffer = NO_BYTES;
let slabUsed = 0;

/**
 * Fresh read memory: a region of the current slab, or for more than a region (the rest of a big
 * frame) a buffer of its own, which would otherwise abandon most of a slab.
 */
function takeRegion(bytes: number): Buffer {
  if (bytes > REGION_BYTES) return Buffer.allocUnsafeSlow(bytes);
  if (slabUsed + REGION_BYTES > slab.byteLength) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const region = slab.subarray(slabUsed, slabUsed + REGION_BYTES);
  slabUsed += REGION_BYTES;
  return region;
}

/** Close codes a peer may send (RFC 6455 section 7.4; 1004-1006 and 1015 never go on the wire). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** A protocol violation by the server: fails the connection with `code`. */
class WireProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'WireProtocolError';
  }
}

export interface WireSocketOptions {
  /** Largest message (all fragments together) accepted; bigger ones close with 1009. Default 1 MiB. */
  maxMessageBytes?: number;
  /** After sending a close frame, destroy the socket if the server has not closed by then. Default 2 s. */
  closeTimeoutMs?: number;
}

/**
 * RFC 6455 client over node:net implementing WebSocketLike (see the top of this file for why it
 * exists and what it leaves out).
 *
 * Message contract: `onmessage` gets one event object reused for every message; keep `data`, not
 * the event. For binary messages in 'nodebuffer' mode `data` is usually a view into read memory
 * that is never written again, so it may be kept as it is; a kept view pins its 64 KiB slab,
 * though, so copy what is kept long or in bulk. Text messages arrive as strings; 'arraybuffer'
 * mode delivers a fresh copy.
 * An exception thrown by a handler is rethrown from a microtask (an uncaught exception, as with
 * `ws`), so the socket's own state is never left half-updated.
 */
export class WireSocket implements WebSocketLike {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  readonly url: string;
  private state = CONNECTING;
  private arrayBuffers = false;
  private readonly socket: Socket;
  private readonly key: string;
  private readonly maxMessageBytes: number;
  private readonly closeTimeoutMs: number;
  private readonly messageEvent: { data: unknown } = { data: undefined };
  /** What net reads into (the buffer our onread callback last returned), and how much the last read filled. */
  private readBuf: Buffer = NO_BYTES;
  private readUsed = 0;

  /** Response head received so far (CONNECTING only). */
  private head: Buffer | null = null;
  /** Bytes of an incomplete frame, waiting for `need` bytes in all (concatenated once, then). */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private need = 0;
  /** The data message being reassembled from fragments, if any. */
  private fragments: Buffer[] | null = null;
  private fragmentOpcode = 0;
  private fragmentBytes = 0;
  /** False once a close frame arrived or the connection failed: later bytes are ignored. */
  private reading = true;
  private closeSent = false;
  private closeCode = CLOSE_ABNORMAL;
  private closeReason = '';
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closeEmitted = false;
  private errorEmitted = false;

  constructor(url: string, opts: WireSocketOptions = {}) {
    const u = new URL(url);
    if (u.protocol !== 'ws:') {
      throw new Error(
        `WireSocket speaks plain ws:// only (the bots never use TLS), got '${url}'; use the ws-based BotSocket (--socket ws) for ${u.protocol}//`,
      );
    }
    this.url = url;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.key = randomBytes(16).toString('base64');
    // URL keeps IPv6 literals bracketed; net.connect wants them bare.
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = u.port === '' ? 80 : Number(u.port);
    const request =
      `GET ${u.pathname || '/'}${u.search} HTTP/1.1\r\n` +
      `Host: ${u.host}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${this.key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n';
    // noDelay: setNoDelay(true) from the start; 30-byte inputs must not wait for Nagle.
    const socket = connect({
      host,
      port,
      noDelay: true,
      // net asks for the first buffer here, then for the next one after each callback.
      onread: { buffer: () => this.nextReadBuffer(), callback: (nread) => this.onRead(nread) },
    });
    this.socket = socket;
    socket.on('connect', () => {
      socket.write(request, 'latin1');
    });
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.onSocketError(err));
    socket.on('close', () => this.emitClose());
  }

  get binaryType(): string {
    return this.arrayBuffers ? 'arraybuffer' : 'nodebuffer';
  }

  /** 'nodebuffer' (default, as `ws`) or 'arraybuffer'; other values are ignored, as a browser ignores values it does not know. */
  set binaryType(v: string) {
    if (v === 'nodebuffer') this.arrayBuffers = false;
    else if (v === 'arraybuffer') this.arrayBuffers = true;
  }

  get readyState(): number {
    return this.state;
  }

  /**
   * Sends one binary message. Throws while CONNECTING (the browser's InvalidStateError;
   * GameConnection only sends when OPEN); ignored once CLOSING or CLOSED, as in a browser.
   */
  send(data: Uint8Array): void {
    if (this.state !== OPEN) {
      if (this.state === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
      return;
    }
    this.socket.write(encodeFrame(OP_BINARY, data));
  }

  /**
   * Starts the closing handshake (code 1000 or 3000-4999, reason at most 123 UTF-8 bytes); the
   * socket is destroyed if the server has not closed within the close timeout. While CONNECTING
   * the connection is abandoned and onclose reports 1006.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== CLOSE_NORMAL && !(code >= 3000 && code <= 4999)) {
      throw new RangeError(`close code must be 1000 or 3000-4999, got ${code}`);
    }
    const reasonBytes = reason === undefined ? undefined : Buffer.from(reason, 'utf8');
    if (reasonBytes !== undefined && reasonBytes.byteLength > 123) throw new RangeError('close reason must be at most 123 UTF-8 bytes');
    if (this.state === CLOSING || this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this.state = CLOSING;
      this.reading = false;
      this.socket.destroy(); // 'close' follows: onclose 1006
      return;
    }
    this.state = CLOSING;
    // A reason needs a code on the wire; the browser API uses 1000 then.
    this.sendClose(code ?? (reasonBytes !== undefined ? CLOSE_NORMAL : undefined), reasonBytes);
    this.armCloseTimer();
  }

  // --- incoming -------------------------------------------------------------------------------

  /** net's onread callback: the last read put `nread` bytes at the start of readBuf. */
  private onRead(nread: number): boolean {
    const buf = this.readBuf;
    this.readUsed = nread;
    this.onData(nread === buf.byteLength ? buf : buf.subarray(0, nread));
    return true; // keep reading (false would pause the socket)
  }

  /**
   * The buffer for the next read: the unread rest of the current one while it can take a burst of
   * frames, else fresh memory; never anything handed out before (delivered views may be kept). A
   * frame still missing more than a small rest holds gets a buffer for all of that (up to
   * MAX_READ_BYTES) instead of arriving in region-sized reads.
   */
  private nextReadBuffer(): Buffer {
    const cur = this.readBuf;
    const left = cur.byteLength - this.readUsed;
    const missing = this.pending === null ? 0 : this.need - this.pendingBytes;
    const next =
      left >= MIN_READ_BYTES && (left >= missing || left >= REGION_BYTES) ? cur.subarray(this.readUsed) : takeRegion(Math.min(missing, MAX_READ_BYTES));
    this.readBuf = next;
    this.readUsed = 0;
    return next;
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    if (this.state === CONNECTING) {
      const rest = this.readHead(chunk);
      if (rest === undefined || rest.byteLength === 0 || !this.reading) return;
      chunk = rest;
    }
    let buf = chunk;
    const pending = this.pending;
    if (pending !== null) {
      // A frame straddles chunks: wait until all of it is here, then join once.
      pending.push(chunk);
      this.pendingBytes += chunk.byteLength;
      if (this.pendingBytes < this.need) return;
      buf = Buffer.concat(pending, this.pendingBytes);
      this.pending = null;
      this.pendingBytes = 0;
    }
    let off = 0;
    try {
      while (off < buf.byteLength && this.reading) {
        const n = this.readFrame(buf, off);
        if (n < 0) {
          // Incomplete: keep the rest (a view, no copy) until -n bytes are here.
          this.need = -n;
          this.pending = [off === 0 ? buf : buf.subarray(off)];
          this.pendingBytes = buf.byteLength - off;
          return;
        }
        off += n;
      }
    } catch (err) {
      // Only WireProtocolError is expected here; anything else is our bug, still not thrown out
      // of the socket's event handler: the connection fails with 1011 (unexpected condition).
      if (err instanceof WireProtocolError) this.fail(err.code, err.message);
      else this.fail(CLOSE_INTERNAL, err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Parses the frame at buf[off]: returns the bytes it took, or minus the bytes needed from off
   * (at least its header) when it is not all here. Throws WireProtocolError on a violation.
   */
  private readFrame(buf: Buffer, off: number): number {
    const avail = buf.byteLength - off;
    if (avail < 2) return -2;
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    if ((b0 & 0x70) !== 0) throw new WireProtocolError(CLOSE_PROTOCOL, 'RSV bits set without a negotiated extension');
    if ((b1 & 0x80) !== 0) throw new WireProtocolError(CLOSE_PROTOCOL, 'masked frame from the server');
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    if (opcode >= 8) {
      if (!fin) throw new WireProtocolError(CLOSE_PROTOCOL, 'fragmented control frame');
      if (len > 125) throw new WireProtocolError(CLOSE_PROTOCOL, 'control frame over 125 bytes');
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) throw new WireProtocolError(CLOSE_PROTOCOL, `unknown opcode ${opcode}`);
    } else if (opcode > OP_BINARY) {
      throw new WireProtocolError(CLOSE_PROTOCOL, `unknown opcode ${opcode}`);
    } else if ((opcode === OP_CONTINUATION) !== (this.fragments !== null)) {
      throw new WireProtocolError(
        CLOSE_PROTOCOL,
        opcode === OP_CONTINUATION ? 'continuation frame without a message' : 'new message before the previous one ended',
      );
    }
    let start = off + 2;
    if (len === 126) {
      if (avail < 4) return -4;
      len = buf.readUInt16BE(off + 2);
      start = off + 4;
    } else if (len === 127) {
      if (avail < 10) return -10;
      const hi = buf.readUInt32BE(off + 2);
      // Anything at or above 2^32 is over any limit we accept (and avoids precision questions).
      if (hi !== 0) throw new WireProtocolError(CLOSE_TOO_BIG, 'message too big');
      len = buf.readUInt32BE(off + 6);
      start = off + 10;
    }
    // Checked from the header alone, before waiting for (or buffering) the payload.
    if (opcode < 8 && this.fragmentBytes + len > this.maxMessageBytes) throw new WireProtocolError(CLOSE_TOO_BIG, 'message too big');
    const end = start + len;
    if (end > buf.byteLength) return -(end - off);
    // The common case: a whole unfragmented data frame, delivered as a view of the chunk.
    const payload = buf.subarray(start, end);
    if (opcode === OP_BINARY || opcode === OP_TEXT) {
      if (fin) this.deliver(opcode, payload);
      else {
        this.fragments = [payload]; // views stay valid: read memory is never reused
        this.fragmentOpcode = opcode;
        this.fragmentBytes = len;
      }
    } else if (opcode === OP_CONTINUATION) {
      const parts = this.fragments!;
      parts.push(payload);
      this.fragmentBytes += len;
      if (fin) {
        const whole = Buffer.concat(parts, this.fragmentBytes);
        this.fragments = null;
        this.fragmentBytes = 0;
        this.deliver(this.fragmentOpcode, whole);
      }
    } else if (opcode === OP_PING) {
      if (this.state === OPEN) this.socket.write(encodeFrame(OP_PONG, payload));
    } else if (opcode === OP_CLOSE) {
      this.receiveClose(payload);
    }
    // OP_PONG: we never ping, so an unsolicited pong is ignored (RFC 6455 5.5.3).
    return end - off;
  }

  private deliver(opcode: number, payload: Buffer): void {
    let data: unknown;
    if (opcode === OP_TEXT) {
      try {
        data = utf8.decode(payload);
      } catch {
        throw new WireProtocolError(CLOSE_INVALID_DATA, 'invalid UTF-8 in a text message');
      }
    } else {
      data = this.arrayBuffers ? payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength) : payload;
    }
    // As in a browser, messages after close() are dropped.
    const handler = this.onmessage;
    if (handler === null || this.state !== OPEN) return;
    const ev = this.messageEvent;
    ev.data = data;
    try {
      handler(ev);
    } catch (err) {
      rethrowLater(err);
    } finally {
      ev.data = undefined;
    }
  }

  private receiveClose(payload: Buffer): void {
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.byteLength === 1) throw new WireProtocolError(CLOSE_PROTOCOL, 'close frame with a 1-byte payload');
    if (payload.byteLength >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) throw new WireProtocolError(CLOSE_PROTOCOL, `invalid close code ${code}`);
      try {
        reason = utf8.decode(payload.subarray(2));
      } catch {
        throw new WireProtocolError(CLOSE_INVALID_DATA, 'invalid UTF-8 in the close reason');
      }
    }
    this.reading = false;
    this.closeCode = code;
    this.closeReason = reason;
    this.state = CLOSING;
    // Echo the server's code (none if it sent none), then let it close the TCP connection.
    if (!this.closeSent) this.sendClose(code === CLOSE_NO_STATUS ? undefined : code, undefined);
    this.socket.end();
    this.armCloseTimer();
  }

  /** Reads the HTTP response head; returns the bytes after it once the upgrade is accepted. */
  private readHead(chunk: Buffer): Buffer | undefined {
    const buf = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    const end = buf.indexOf(HEAD_END);
    if (end < 0) {
      if (buf.byteLength > MAX_HEAD_BYTES) this.failHandshake(`response head over ${MAX_HEAD_BYTES} bytes`);
      else this.head = buf;
      return undefined;
    }
    this.head = null;
    if (end > MAX_HEAD_BYTES) {
      this.failHandshake(`response head over ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const problem = this.checkHead(buf.toString('latin1', 0, end));
    if (problem !== undefined) {
      this.failHandshake(problem);
      return undefined;
    }
    this.state = OPEN;
    const onopen = this.onopen;
    if (onopen !== null) {
      try {
        onopen({ type: 'open' });
      } catch (err) {
        rethrowLater(err);
      }
    }
    return buf.subarray(end + 4);
  }

  /** Undefined when the head accepts our upgrade, else what is wrong with it. */
  private checkHead(head: string): string | undefined {
    const lines = head.split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (status === null) return `not an HTTP/1.1 response: '${(lines[0] ?? '').slice(0, 80)}'`;
    if (status[1] !== '101') return `unexpected server response: ${status[1]}${status[2] ? ` ${status[2]}` : ''}`;
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return `malformed header line: '${line.slice(0, 80)}'`;
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'missing or wrong Upgrade header';
    const connection = headers.get('connection')?.toLowerCase() ?? '';
    if (!connection.split(',').some((t) => t.trim() === 'upgrade')) return 'missing or wrong Connection header';
    const expected = createHash('sha1').update(this.key + WS_GUID).digest('base64');
    if (headers.get('sec-websocket-accept') !== expected) return 'invalid Sec-WebSocket-Accept header';
    // We asked for neither: a server that picks one anyway speaks something we cannot read.
    if (headers.has('sec-websocket-extensions')) return 'server chose an extension that was not offered';
    if (headers.has('sec-websocket-protocol')) return 'server chose a subprotocol that was not offered';
    return undefined;
  }

  // --- failure and closing --------------------------------------------------------------------

  private failHandshake(message: string): void {
    this.reading = false;
    this.state = CLOSING;
    this.callError(new Error(`WebSocket handshake failed: ${message}`));
    this.socket.destroy(); // 'close' follows: onclose 1006
  }

  /** Fails an open connection (RFC 6455 7.1.7): onerror, a close frame with `code`, then close. */
  private fail(code: number, message: string): void {
    this.reading = false;
    this.fragments = null;
    this.pending = null;
    this.closeCode = code;
    this.closeReason = message;
    this.state = CLOSING;
    this.callError(new WireProtocolError(code, message));
    if (!this.closeSent) this.sendClose(code, undefined);
    this.socket.end();
    this.armCloseTimer();
  }

  private sendClose(code: number | undefined, reason: Buffer | undefined): void {
    this.closeSent = true;
    if (!this.socket.writable) return;
    let body: Buffer;
    if (code === undefined) body = Buffer.alloc(0);
    else {
      body = Buffer.allocUnsafe(2 + (reason?.byteLength ?? 0));
      body.writeUInt16BE(code, 0);
      if (reason !== undefined) reason.copy(body, 2);
    }
    this.socket.write(encodeFrame(OP_CLOSE, body));
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.closeEmitted) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
  }

  private onEnd(): void {
    // The server half-closed: without a close frame first, that is an abnormal closure (1006,
    // already the default code). allowHalfOpen is off, so net ends our side too.
    this.reading = false;
    if (this.state === OPEN) this.state = CLOSING;
  }

  private onSocketError(err: Error): void {
    // After a close frame or a failure we reported (e.g. a reset while closing), nothing to add.
    if (this.closeEmitted || (!this.reading && this.closeCode !== CLOSE_ABNORMAL)) return;
    this.reading = false;
    if (this.state !== CLOSED) this.state = CLOSING;
    this.callError(err);
    // net destroys the socket after 'error'; 'close' follows.
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.reading = false;
    this.pending = null;
    this.fragments = null;
    this.state = CLOSED;
    if (this.closeTimer !== undefined) {
      clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
    }
    const onclose = this.onclose;
    if (onclose === null) return;
    try {
      onclose({ code: this.closeCode, reason: this.closeReason });
    } catch (err) {
      rethrowLater(err);
    }
  }

  private callError(err: Error): void {
    // One error event per connection, as in a browser.
    if (this.errorEmitted) return;
    this.errorEmitted = true;
    const onerror = this.onerror;
    if (onerror === null) return;
    try {
      onerror(err);
    } catch (e) {
      rethrowLater(e);
    }
  }
}

/** A handler's exception surfaces as an uncaught exception without unwinding our parser. */
function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/**
 * One client frame (FIN set, masked) in one buffer: header, 4-byte mask key, masked payload,
 * ready for a single socket.write.
 */
function encodeFrame(opcode: number, payload: Uint8Array): Buffer {
  const len = payload.byteLength;
  const header = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  if (maskPos + 4 > MASK_POOL_BYTES) {
    randomFillSync(maskPool);
    maskPos = 0;
  }
  const m0 = maskPool[maskPos]!;
  const m1 = maskPool[maskPos + 1]!;
  const m2 = maskPool[maskPos + 2]!;
  const m3 = maskPool[maskPos + 3]!;
  maskPos += 4;
  out[header] = m0;
  out[header + 1] = m1;
  out[header + 2] = m2;
  out[header + 3] = m3;
  const p = header + 4;
  let i = 0;
  // Four bytes per step, then the tail: plain byte loads, which V8 compiles tightly.
  for (const n4 = len & ~3; i < n4; i += 4) {
    out[p + i] = payload[i]! ^ m0;
    out[p + i + 1] = payload[i + 1]! ^ m1;
    out[p + i + 2] = payload[i + 2]! ^ m2;
    out[p + i + 3] = payload[i + 3]! ^ m3;
  }
  if (i < len) out[p + i] = payload[i]! ^ m0;
  if (i + 1 < len) out[p + i + 1] = payload[i + 1]! ^ m1;
  if (i + 2 < len) out[p + i + 2] = payload[i + 2]! ^ m2;
  return out;
}

/** CreateSocket for bots (see GameConnectionOptions.createSocket): the hand-written client. */
export function createWireSocket(url: string): WebSocketLike {
  return new WireSocket(url);
}
