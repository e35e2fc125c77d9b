// Primitive binary codec: a growable little-endian Writer and a bounds-checked Reader.
// Pure (DataView/TextEncoder/TextDecoder only) because the browser client bundles it too.
import { ProtocolErrorCode } from './types.ts';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** Largest value a uvarint may carry: the largest integer a JS number holds exactly. */
export const MAX_UVARINT = Number.MAX_SAFE_INTEGER; // 2^53 - 1
/** svarint range is [MIN_SVARINT, MAX_SVARINT] so that the zigzag image fits MAX_UVARINT. */
export const MIN_SVARINT = -(2 ** 52);
export const MAX_SVARINT = 2 ** 52 - 1;
/** A uvarint up to 2^53-1 needs at most ceil(53 / 7) bytes. */
export const MAX_UVARINT_BYTES = 8;

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is a protocol error, not U+FFFD. ignoreBOM: keep a leading U+FEFF so
// strings round-trip exactly.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function range(what: string, v: number): RangeError {
  return new RangeError(`${what} out of range: ${v}`);
}

// --- field encodings and their checks ------------------------------------------------------------
// The one implementation of each field encoding, as put* functions that write at buf[p..] and
// return the end, and of each range check, as check* functions that throw RangeError. Writer's
// methods are check + room + put; a run of fields whose total size is bounded (a message header,
// one INPUT) may instead check every field first, make room once (Writer.reserve) and put them.
// The put* functions check nothing: the value must be in range and the room made. Both kinds are
// kept tiny (rare cases out of line) so that V8 inlines them wherever they are used instead of
// weighing each call against its inlining budget: the message hot paths are chains of them.

/** Throws the RangeError of a failed check. */
function outOfRange(what: string, v: number): never {
  throw range(what, v);
}

function notU8(v: number): never {
  throw range('u8', v);
}

function notU16(v: number): never {
  throw range('u16', v);
}

export function checkU8(v: number): void {
  if ((v & 0xff) !== v) notU8(v);
}

export function checkU16(v: number): void {
  if ((v & 0xffff) !== v) notU16(v);
}

export function checkU32(v: number): void {
  if (v >>> 0 !== v) outOfRange('u32', v);
}

export function checkUvarint(v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) outOfRange('uvarint', v);
}

/** An integer in [MIN_SVARINT, MAX_SVARINT]; every int32 is, the rest take checkWideSvarint. */
export function checkSvarint(v: number): void {
  if ((v | 0) !== v) checkWideSvarint(v);
}

function checkWideSvarint(v: number): void {
  if (!Number.isInteger(v) || v < MIN_SVARINT || v > MAX_SVARINT) outOfRange('svarint', v);
}

/** Little-endian u16 (0..0xffff). */
export function putU16(buf: Uint8Array, p: number, v: number): number {
  buf[p] = v;
  buf[p + 1] = v >>> 8;
  return p + 2;
}

/** Little-endian u32 (0..2^32-1). */
export function putU32(buf: Uint8Array, p: number, v: number): number {
  buf[p] = v;
  buf[p + 1] = v >>> 8;
  buf[p + 2] = v >>> 16;
  buf[p + 3] = v >>> 24;
  return p + 4;
}

/**
 * Unsigned LEB128 of a safe integer >= 0: 7 bits per byte, low group first, high bit = "more
 * bytes follow"; at most MAX_UVARINT_BYTES.
 */
export function putUvarint(buf: Uint8Array, p: number, v: number): number {
  // Bit operations only below 2^31; above that, division keeps all 53 bits exact.
  if (v >= 0x80000000) return putWideUvarint(buf, p, v);
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p] = v;
  return p + 1;
}

function putWideUvarint(buf: Uint8Array, p: number, v: number): number {
  while (v >= 0x80000000) {
    buf[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  return putUvarint(buf, p, v);
}

/**
 * Zigzag (0,-1,1,-2,... -> 0,1,2,3,...) then uvarint, so small magnitudes stay short. v is an
 * integer in [MIN_SVARINT, MAX_SVARINT], whose image is a safe integer.
 */
export function putSvarint(buf: Uint8Array, p: number, v: number): number {
  return putUvarint(buf, p, zigzag(v));
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/**
 * Growable little-endian byte writer. Reuse one per connection/worker and call reset().
 *
 * Offsets (length, patches, views) are relative to the start of the message being written.
 * take() hands a finished message out as a view of the Writer's own memory instead of a copy;
 * the Writer then never writes those bytes again (the next message starts after them, and a
 * fresh buffer is started when little room is left), so a Writer used that way is a slab
 * allocator for the messages it encodes.
 *
 * Beside the checked per-field methods, reserve/cursor/commit write a run of fields with the
 * put* functions after one capacity check, and memory exposes the bytes for patching in place.
 */
export class Writer {
  private buf: Uint8Array;
  /** buf's ArrayBuffer (the .buffer getter is a runtime call, too slow for one per take()). */
  private ab: ArrayBuffer;
  private dv: DataView;
  /** Absolute index where the current message starts; bytes before it were taken. */
  private base = 0;
  /** Absolute index of the end of what is written. */
  private len = 0;
  /**
   * Where the CRC field of the message being written sits (set by beginMessage, read by
   * finishMessage in messages.ts): message headers have a variable length.
   */
  crcAt = -1;

  constructor(initialCapacity = 256) {
    const ab = new ArrayBuffer(initialCapacity > 16 ? initialCapacity : 16);
    this.buf = new Uint8Array(ab);
    this.ab = ab;
    this.dv = new DataView(ab);
  }

  reset(): void {
    // Taken messages own the start of the buffer; once less than an eighth is left, start a new
    // buffer of the same size rather than let messages straddle a regrowth. (base is 0 unless
    // messages were taken, and an eighth of a buffer of >= 16 bytes is left at 0.)
    const size = this.buf.length;
    if (this.base > size - (size >>> 3)) this.renew();
    this.len = this.base;
    this.crcAt = -1;
  }

  private renew(): void {
    this.setBuffer(new ArrayBuffer(this.buf.length));
    this.base = 0;
  }

  private setBuffer(ab: ArrayBuffer): void {
    this.buf = new Uint8Array(ab);
    this.ab = ab;
    this.dv = new DataView(ab);
  }

  get length(): number {
    return this.len - this.base;
  }

  /** Room for n more bytes. Kept tiny so every write inlines it; growing is grow()'s job. */
  private ensure(n: number): void {
    if (this.len + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    // Only the message in progress moves: taken bytes stay where their views point. The buffer
    // grows only when that message alone needs it.
    const size = this.len - this.base;
    let cap = this.buf.length;
    while (cap < size + n) cap *= 2;
    const next = new ArrayBuffer(cap);
    new Uint8Array(next).set(this.buf.subarray(this.base, this.len));
    this.setBuffer(next);
    this.base = 0;
    this.len = size;
  }

  /**
   * Room for a run of fields of at most n bytes in all, written with the put* functions: returns
   * the buffer to write into, from index `cursor`; commit(end) then ends the run. One capacity
   * check for the whole run instead of one per field; the put* functions check no values, so
   * check them (check*) before writing any.
   */
  reserve(n: number): Uint8Array {
    this.ensure(n);
    return this.buf;
  }

  /** Index in reserve()'s buffer where the next byte goes (not the message offset: see length). */
  get cursor(): number {
    return this.len;
  }

  /**
   * The buffer itself, for reading or patching the message in place (put*, crc32) without the
   * checks of patch*(): the message is memory[cursor - length, cursor). Invalid after
   * the next write (the buffer may move).
   */
  get memory(): Uint8Array {
    return this.buf;
  }

  /** Ends a run begun with reserve(n): `end` is the index after its last byte, at most cursor + n. */
  commit(end: number): void {
    if (end < this.len || end > this.buf.length) throw range('commit end', end);
    this.len = end;
  }

  u8(v: number): void {
    checkU8(v);
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u16(v: number): void {
    checkU16(v);
    this.ensure(2);
    this.len = putU16(this.buf, this.len, v);
  }

  u32(v: number): void {
    checkU32(v);
    this.ensure(4);
    this.len = putU32(this.buf, this.len, v);
  }

  i32(v: number): void {
    if ((v | 0) !== v) throw range('i32', v);
    this.ensure(4);
    this.dv.setInt32(this.len, v, true);
    this.len += 4;
  }

  f32(v: number): void {
    this.ensure(4);
    this.dv.setFloat32(this.len, v, true);
    this.len += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.len, v, true);
    this.len += 8;
  }

  /** Unsigned LEB128: 7 bits per byte, low group first, high bit = "more bytes follow". */
  uvarint(v: number): void {
    checkUvarint(v);
    this.ensure(MAX_UVARINT_BYTES);
    this.len = putUvarint(this.buf, this.len, v);
  }

  /** Zigzag (0,-1,1,-2,... -> 0,1,2,3,...) then uvarint, so small magnitudes stay short. */
  svarint(v: number): void {
    checkSvarint(v);
    this.ensure(MAX_UVARINT_BYTES);
    this.len = putSvarint(this.buf, this.len, v);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /**
   * Appends everything `src` has written. Same bytes as bytes(src.view()) without creating a
   * view; encoders splice a few small sections per message, and most are only a few bytes long,
   * where a plain loop beats subarray + set.
   */
  append(src: Writer): void {
    const from = src.buf;
    const s0 = src.base;
    const n = src.len - s0;
    this.ensure(n);
    const to = this.buf;
    const p = this.len;
    if (n <= 16) {
      for (let i = 0; i < n; i++) to[p + i] = from[s0 + i]!;
    } else {
      to.set(from.subarray(s0, s0 + n), p);
    }
    this.len = p + n;
  }

  /** uvarint UTF-8 byte length, then the bytes. Lone surrogates become U+FFFD (TextEncoder). */
  string(s: string): void {
    const b = encoder.encode(s);
    this.uvarint(b.length);
    this.bytes(b);
  }

  /**
   * A fresh copy of everything written. `alloc` lets a server hand out pooled memory (Node's
   * Buffer.allocUnsafe) instead of a new ArrayBuffer per message; it must return n bytes.
   */
  toBytes(alloc?: (n: number) => Uint8Array): Uint8Array {
    if (!alloc) return this.buf.slice(this.base, this.len);
    const out = alloc(this.len - this.base);
    out.set(this.buf.subarray(this.base, this.len));
    return out;
  }

  /**
   * Everything written, as a view of the Writer's memory rather than a copy; the next message is
   * written after it, so the view stays valid and unchanged. `wrap` makes the view (e.g. Node's
   * Buffer.from(buffer, byteOffset, length), so a socket takes it as is); default a Uint8Array.
   */
  take(wrap?: (buffer: ArrayBuffer, byteOffset: number, length: number) => Uint8Array): Uint8Array {
    const b = this.ab;
    const n = this.len - this.base;
    const out = wrap ? wrap(b, this.base, n) : new Uint8Array(b, this.base, n);
    this.base = this.len;
    return out;
  }

  /** A view of everything written, no copy: invalid after the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(this.base, this.len);
  }

  patchU8(offset: number, v: number): void {
    checkU8(v);
    if (offset < 0 || offset + 1 > this.len - this.base) throw range('patch offset', offset);
    this.buf[this.base + offset] = v;
  }

  patchU16(offset: number, v: number): void {
    checkU16(v);
    if (offset < 0 || offset + 2 > this.len - this.base) throw range('patch offset', offset);
    putU16(this.buf, this.base + offset, v);
  }

  patchU32(offset: number, v: number): void {
    checkU32(v);
    if (offset < 0 || offset + 4 > this.len - this.base) throw range('patch offset', offset);
    putU32(this.buf, this.base + offset, v);
  }
}

/** Bounds-checked little-endian reader over bytes[offset, end). Every failure is a ProtocolError. */
export class Reader {
  private readonly buf: Uint8Array;
  /** Made on the first float read: most messages have none and never pay for one. */
  private dvCache: DataView | undefined;
  private pos: number;
  private readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end: number = bytes.length) {
    if (offset < 0 || end > bytes.length || offset > end) {
      throw new RangeError(`bad reader range [${offset}, ${end}) of ${bytes.length}`);
    }
    this.buf = bytes;
    this.pos = offset;
    this.end = end;
  }

  private get dv(): DataView {
    const b = this.buf;
    return (this.dvCache ??= new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const p = this.pos;
    if (this.end - p < n) throw new ProtocolError(ProtocolErrorCode.Truncated);
    this.pos = p + n;
    return p;
  }

  u8(): number {
    return this.buf[this.need(1)]!;
  }

  u16(): number {
    const p = this.need(2);
    return this.buf[p]! | (this.buf[p + 1]! << 8);
  }

  // u32 and i32 are read byte by byte: every message header has some, and a DataView made for
  // them would be one more object per message on the server's input path and the client's.
  u32(): number {
    const p = this.need(4);
    const b = this.buf;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }

  i32(): number {
    const p = this.need(4);
    const b = this.buf;
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }

  f32(): number {
    return this.dv.getFloat32(this.need(4), true);
  }

  f64(): number {
    return this.dv.getFloat64(this.need(8), true);
  }

  /**
   * Canonical LEB128 only: at most 8 bytes, value <= 2^53-1, and no redundant trailing 0x00 group
   * (so every value has exactly one encoding and re-encoding a decoded message is byte-identical).
   */
  uvarint(): number {
    const buf = this.buf;
    let p = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
      if (p >= this.end) throw new ProtocolError(ProtocolErrorCode.Truncated);
      const b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw new ProtocolError(ProtocolErrorCode.BadField, 'non-canonical varint');
        if (result > MAX_UVARINT) throw new ProtocolError(ProtocolErrorCode.BadField, 'varint above 2^53-1');
        this.pos = p;
        return result;
      }
      mul *= 128;
    }
    throw new ProtocolError(ProtocolErrorCode.BadField, 'varint longer than 8 bytes');
  }

  svarint(): number {
    const z = this.uvarint();
    // Arithmetic, not bit ops: z can exceed 32 bits. Odd -> negative.
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** Steps over n bytes (the same truncation error as reading them). */
  skip(n: number): void {
    this.need(n);
  }

  /** The next n bytes as a subarray view (no copy). */
  bytes(n: number): Uint8Array {
    const p = this.need(n);
    return this.buf.subarray(p, p + n);
  }

  /** uvarint byte length (must be <= maxBytes) then strict UTF-8. */
  string(maxBytes: number): string {
    const n = this.uvarint();
    if (n > maxBytes) throw new ProtocolError(ProtocolErrorCode.BadField, `string longer than ${maxBytes} bytes`);
    const b = this.bytes(n);
    try {
      return decoder.decode(b);
    } catch {
      throw new ProtocolError(ProtocolErrorCode.BadField, 'invalid UTF-8');
    }
  }

  expectEnd(): void {
    if (this.pos !== this.end) throw new ProtocolError(ProtocolErrorCode.BadLength, `${this.end - this.pos} unread bytes`);
  }
}
