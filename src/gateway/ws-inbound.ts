// Client-to-server WebSocket data frames (RFC 6455 section 5.2), read in front of `ws`'s Receiver.
//
// Why: every client sends one small INPUT per server tick. Through `ws`, each one goes socket
// 'data' -> Receiver (a Writable stream: write, _write, startLoop, getInfo, getMask, getData,
// unmask, dataMessage) -> 'message' on the Receiver -> 'message' on the WebSocket -> the gateway:
// about 10 % of the server process at 2,000 clients (docs/benchmarks.md, "Reads and priority
// series"). Almost every frame a game client sends is the same simple case: one whole, final,
// masked binary frame.
// This parser takes those straight to the gateway and hands everything else to `ws` untouched.
//
// How it stays correct: it only ever splits the byte stream at frame boundaries. While every
// frame so far was a plain binary one (FIN, no RSV bits, opcode 2, masked, within the size limit)
// it delivers them itself. The first frame that is anything else (ping, pong, close, text, a
// fragment, a reserved bit or opcode, an unmasked or oversize frame) switches the connection to
// pass-through for good: that frame's bytes and everything after it go to `ws`'s Receiver, which
// then does what it always does (answers pings, closes with the right code, reassembles
// fragments, rejects bad framing). `ws` never sees a partial frame from us, and messages keep
// their order because both paths deliver synchronously. Real clients (browsers, the SDK, the
// bots) send nothing but plain binary frames, so in practice pass-through starts with the close.
import type { WebSocket } from 'ws';

const FIN_BINARY = 0x82;
const MASK_BIT = 0x80;
/**
 * Largest payload the fast path takes. A partial frame is joined with each new chunk, so its
 * size bounds the copying a client can cause by trickling one frame byte by byte; bigger frames
 * (never sent by a game client: INPUT and PING are tens of bytes) go to ws, which buffers them
 * without copying.
 */
export const FAST_PATH_MAX_PAYLOAD = 4096;

/** Where a frame's bytes end up: the gateway (fast path) or ws's Receiver (everything else). */
export interface InboundSinks {
  /** One whole binary message, unmasked; the view may be kept. */
  message(bytes: Buffer): void;
  /** Raw stream bytes for ws, from a frame boundary on; returns write()'s backpressure answer. */
  passThrough(bytes: Buffer): boolean;
}

/**
 * Splits a client's byte stream into frames. Pure: bytes in, calls on `sinks` out. One per
 * connection; after pass-through starts it only forwards.
 */
export class ClientFrameParser {
  private pending: Buffer | undefined = undefined;
  private passing = false;
  /** Messages delivered by the fast path (tests and diagnostics). */
  fastMessages = 0;

  private readonly maxPayload: number;

  constructor(
    /** ws's own limit: the fast path takes at most this (and FAST_PATH_MAX_PAYLOAD). */
    maxPayload: number,
    private readonly sinks: InboundSinks,
  ) {
    this.maxPayload = Math.min(maxPayload, FAST_PATH_MAX_PAYLOAD);
  }

  /** True once everything goes to ws. */
  get passingThrough(): boolean {
    return this.passing;
  }

  /** Feeds one chunk of the stream; returns false when ws asked the socket to slow down. */
  push(chunk: Buffer): boolean {
    if (this.passing) return this.sinks.passThrough(chunk);
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    const n = buf.length;
    let p = 0;
    while (p < n) {
      if (n - p < 2) break;
      const b1 = buf[p + 1]!;
      if (buf[p] !== FIN_BINARY || (b1 & MASK_BIT) === 0) return this.startPassing(buf, p);
      let len = b1 & 0x7f;
      let h = 2;
      if (len === 126) {
        if (n - p < 4) break;
        len = (buf[p + 2]! << 8) | buf[p + 3]!;
        h = 4;
      } else if (len === 127) {
        if (n - p < 10) break;
        // The high word must be 0 for anything the fast path takes; ws judges the rest.
        if (buf[p + 2]! | buf[p + 3]! | buf[p + 4]! | buf[p + 5]!) return this.startPassing(buf, p);
        len = buf.readUInt32BE(p + 6);
        h = 10;
      }
      if (len > this.maxPayload) return this.startPassing(buf, p);
      const start = p + h + 4;
      const end = start + len;
      if (end > n) break;
      const m0 = buf[p + h]!;
      const m1 = buf[p + h + 1]!;
      const m2 = buf[p + h + 2]!;
      const m3 = buf[p + h + 3]!;
      // Unmask in place (the chunk is ours, as it is ws's when it does the same).
      let i = start;
      for (; i + 4 <= end; i += 4) {
        buf[i] = buf[i]! ^ m0;
        buf[i + 1] = buf[i + 1]! ^ m1;
        buf[i + 2] = buf[i + 2]! ^ m2;
        buf[i + 3] = buf[i + 3]! ^ m3;
      }
      if (i < end) buf[i] = buf[i]! ^ m0;
      if (i + 1 < end) buf[i + 1] = buf[i + 1]! ^ m1;
      if (i + 2 < end) buf[i + 2] = buf[i + 2]! ^ m2;
      p = end;
      this.fastMessages++;
      this.sinks.message(buf.subarray(start, end));
    }
    // A partial frame waits for the next chunk (a copy: the chunk's memory is not ours to keep
    // in a Buffer that grows).
    if (p < n) this.pending = Buffer.from(buf.subarray(p));
    return true;
  }

  private startPassing(buf: Buffer, from: number): boolean {
    this.passing = true;
    return this.sinks.passThrough(from === 0 ? buf : buf.subarray(from));
  }
}

/** What the fast path needs of a `ws` WebSocket: its Receiver's write (an internal of ws 8). */
interface ReceiverHost {
  _receiver?: { write?: unknown };
}

/**
 * Puts a ClientFrameParser in front of `ws`'s Receiver: socket data still arrives through ws's
 * own 'data' listener (so ws's pause, resume and end handling stay as they are), but Receiver
 * writes go through the parser first. Returns the parser, or undefined when this ws build has no
 * Receiver where ws 8 keeps it (the connection then simply runs on ws alone).
 */
export function readClientFramesFirst(
  ws: WebSocket,
  maxPayload: number,
  onMessage: (bytes: Buffer) => void,
): ClientFrameParser | undefined {
  const receiver = (ws as unknown as ReceiverHost)._receiver;
  if (receiver === undefined || typeof receiver.write !== 'function') return undefined;
  const write = receiver.write as (chunk: Buffer) => boolean;
  const original = write.bind(receiver);
  const parser = new ClientFrameParser(maxPayload, { message: onMessage, passThrough: original });
  receiver.write = (chunk: Buffer): boolean => parser.push(chunk);
  return parser;
}
