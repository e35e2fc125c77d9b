// Message header and the codecs of every message except FRAME (see frame.ts).
import type { ZoneId } from '../world/types.ts';
import { crc32 } from './crc32.ts';
import {
  MAX_UVARINT_BYTES,
  ProtocolError,
  Reader,
  Writer,
  checkSvarint,
  checkU16,
  checkU8,
  putSvarint,
  putU16,
  putU32,
  putUvarint,
} from './codec.ts';
import {
  HEADER_ZONE_BIT,
  MAX_HEADER_SIZE,
  MIN_HEADER_SIZE,
  MIN_PROTOCOL_VERSION,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  V1_HEADER_SIZE,
} from './types.ts';
import type {
  CharacterMessage,
  DecodedMessage,
  FrameHeader,
  Hello,
  InputMessage,
  Kick,
  OwnState,
  Ping,
  Pong,
  Reject,
  Welcome,
  WireInput,
} from './types.ts';
import { wordsToZone, zoneHiWord, zoneLoWord, zoneToWords } from './zone-id.ts';

export const MAX_PAYLOAD = 0xffff;
/** The largest message: the largest payload behind the largest (compact) header, 65 560 bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_PAYLOAD + MAX_HEADER_SIZE;
export const HELLO_NAME_MAX_BYTES = 32;
export const HELLO_TOKEN_MAX_BYTES = 256;
export const MAX_INPUTS_PER_MESSAGE = 8;
export const MAX_ACTIONS_PER_INPUT = 4;
export const SESSION_ID_MAX_BYTES = 64;
export const KICK_MESSAGE_MAX_BYTES = 200;
export const MAX_U32 = 0xffffffff;
/** Most inventory items / skill records one CHARACTER may carry. */
export const CHARACTER_MAX_ITEMS = 64;
export const CHARACTER_MAX_SKILLS = 64;
/** Own-state ranges on the world grid (see src/world/types.ts Pose). */
export const LAT_E7_MAX = 900_000_000;
export const LON_E7_HALF = 1_800_000_000;

export interface EncodeOptions {
  seq?: number;
  serverTime?: number;
  /** Written into the header unless '0' (the default): the compact layout then omits it. */
  zone?: ZoneId;
  /** Header version, default PROTOCOL_VERSION; 1 only for HELLO's layout and the legacy KICK. */
  version?: number;
}

export interface DecodeOptions {
  /** Largest whole message accepted, header included. Default 65535 + 25. */
  maxBytes?: number;
  minVersion?: number;
  maxVersion?: number;
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(MessageType));

function bad(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BadField, message);
}

/**
 * Resets w and writes a header with zero length and CRC, remembering where the CRC goes
 * (w.crcAt); finishMessage patches both. serverTime is reduced to u32 (ms modulo 2^32) here so
 * callers may pass a raw clock.
 *
 * Layout: HELLO always gets the frozen 24-byte version-1 header (whatever `version` says), as
 * does a KICK written with version 1 (for a client that only speaks version 1). Everything else
 * gets the compact version-2 header: version, type (bit 7 = zone present), length, uvarint seq,
 * serverTime, the zone only when it is not '0', CRC.
 */
export function beginMessage(
  w: Writer,
  type: number,
  version: number,
  seq: number,
  serverTime: number,
  zone: ZoneId,
): void {
  // The common case, kept small enough to inline into every encoder; anything else (HELLO, a
  // version-1 KICK, or arguments that throw) is beginOtherMessage's.
  if (version === 2 && type !== MessageType.Hello && (type & 0x7f) === type && seq >>> 0 === seq) {
    w.reset();
    // '0' (no zone: every client message) is canonical and has no words to write.
    if (zone === '0') writeCompactHeader(w, version, type, seq, serverTime, false, 0, 0);
    else beginZonedMessage(w, version, type, seq, serverTime, zone);
    return;
  }
  beginOtherMessage(w, type, version, seq, serverTime, zone);
}

/** The compact header with a zone, validated (filling the one-entry cache) before it is written. */
function beginZonedMessage(w: Writer, version: number, type: number, seq: number, serverTime: number, zone: ZoneId): void {
  const lo = zoneLoWord(zone);
  writeCompactHeader(w, version, type, seq, serverTime, true, lo, zoneHiWord(zone));
}

/** beginMessage for the version-1 layout, and its RangeErrors (in this order). */
function beginOtherMessage(
  w: Writer,
  type: number,
  version: number,
  seq: number,
  serverTime: number,
  zone: ZoneId,
): void {
  w.reset();
  if (type === MessageType.Hello || version === 1) {
    if (type !== MessageType.Hello && type !== MessageType.Kick) {
      throw new RangeError(`the version-1 layout is only written for HELLO and KICK, not type ${type}`);
    }
    const [lo, hi] = zoneToWords(zone);
    w.u8(version);
    w.u8(type);
    w.u16(0);
    w.u32(seq);
    w.u32(serverTime >>> 0);
    w.u32(lo);
    w.u32(hi);
    w.crcAt = w.length;
    w.u32(0);
    return;
  }
  if (version !== 2) throw new RangeError(`no header layout for protocol version ${version}`);
  if ((type & 0x7f) !== type) throw new RangeError(`message type out of 0..127: ${type}`);
  // beginMessage's own case failed, so only the seq is left.
  throw new RangeError(`seq out of u32: ${seq}`);
}

/**
 * The compact (version 2) header after w.reset(), with zero length and CRC and w.crcAt set: the
 * zone words only when hasZone. Arguments are trusted (beginMessage checks them).
 */
function writeCompactHeader(
  w: Writer,
  version: number,
  type: number,
  seq: number,
  serverTime: number,
  hasZone: boolean,
  zoneLo: number,
  zoneHi: number,
): void {
  // One run of trusted fields: one capacity check for the whole header. The payload length
  // (bytes 2..3) and the CRC stay 0 until finishMessage patches them.
  const buf = w.reserve(MAX_HEADER_SIZE);
  const start = w.cursor;
  buf[start] = version;
  buf[start + 1] = hasZone ? type | HEADER_ZONE_BIT : type;
  buf[start + 2] = 0;
  buf[start + 3] = 0;
  let p = putU32(buf, putUvarint(buf, start + 4, seq), serverTime >>> 0);
  if (hasZone) p = putU32(buf, putU32(buf, p, zoneLo), zoneHi);
  w.crcAt = p - start; // the header starts the message (w.reset() came first)
  w.commit(putU32(buf, p, 0));
}

/**
 * The finish step of every message begun with beginMessage: patches the payload length and the
 * CRC (over the header before the CRC field, then the payload) in place, in w's own memory.
 */
function sealMessage(w: Writer): void {
  const crcAt = w.crcAt;
  if (crcAt < 0) throw new Error('finishMessage without beginMessage');
  const headerLength = crcAt + 4;
  const total = w.length;
  const payloadLength = total - headerLength;
  if (payloadLength > MAX_PAYLOAD) throw new RangeError(`payload too large: ${payloadLength} bytes`);
  // In place, with the primitives themselves: the message is memory[start, start + total).
  const buf = w.memory;
  const start = w.cursor - total;
  putU16(buf, start + 2, payloadLength);
  putU32(buf, start + crcAt, crc32(buf, start + headerLength, start + total, crc32(buf, start, start + crcAt)));
}

/** Patches payload length and CRC into a message started with beginMessage; returns a fresh copy. */
export function finishMessage(w: Writer, alloc?: (n: number) => Uint8Array): Uint8Array {
  sealMessage(w);
  return w.toBytes(alloc);
}

/**
 * finishMessage without the copy: the message is handed out as a view of w's own memory
 * (Writer.take, `wrap` as there), which w never writes again. For a Writer kept for this, which
 * is then a slab allocator for the messages it encodes.
 */
export function takeMessage(
  w: Writer,
  wrap?: (buffer: ArrayBuffer, byteOffset: number, length: number) => Uint8Array,
): Uint8Array {
  sealMessage(w);
  w.crcAt = -1;
  return w.take(wrap);
}

/** True when `bytes` is in the 24-byte version-1 layout: every HELLO, and version-1 messages. */
function isV1Layout(bytes: Uint8Array): boolean {
  return bytes[1] === MessageType.Hello || bytes[0] === 1;
}

/**
 * The header seq of a message known to be well formed (e.g. a FRAME this server just encoded),
 * read in place without any check: the uvarint at offset 4 of the compact layout, the u32 there
 * in the version-1 one.
 */
export function headerSeqOf(bytes: Uint8Array): number {
  if (isV1Layout(bytes)) return (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
  let v = 0;
  let mul = 1;
  for (let p = 4; p < 9; p++) {
    const b = bytes[p]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  return v;
}

/** The message type of a message known to be well formed, read in place without any check. */
export function headerTypeOf(bytes: Uint8Array): number {
  return isV1Layout(bytes) ? bytes[1]! : bytes[1]! & 0x7f;
}

/**
 * The Writer of the encoders below (encodeInput, encodePing, ...): encoding is synchronous and
 * none of them calls another while writing, so one is enough; each returns a copy (toBytes).
 * encodeMessage's own default stays a fresh Writer because its writePayload is the caller's.
 */
const scratch = new Writer();

/** Generic: header + payload written by writePayload, with length and CRC patched in. */
export function encodeMessage(
  type: number,
  o: EncodeOptions,
  writePayload: (w: Writer) => void,
  w: Writer = new Writer(),
): Uint8Array {
  beginMessage(w, type, o.version ?? PROTOCOL_VERSION, o.seq ?? 0, o.serverTime ?? 0, o.zone ?? '0');
  writePayload(w);
  return finishMessage(w);
}

const utf8 = new TextEncoder();

function checkFinite(what: string, v: number): void {
  if (!Number.isFinite(v)) throw new RangeError(`${what} must be finite: ${v}`);
}

function finite(v: number, what: string): number {
  if (!Number.isFinite(v)) throw bad(`${what} not finite`);
  return v;
}

function checkString(what: string, s: string, min: number, max: number): void {
  const n = utf8.encode(s).length;
  if (n < min || n > max) throw new RangeError(`${what} must be ${min}..${max} UTF-8 bytes, got ${n}`);
}

export function encodeHello(m: Hello, o: EncodeOptions = {}): Uint8Array {
  if (m.minVersion < 1 || m.minVersion > m.maxVersion) throw new RangeError('bad version range');
  checkString('name', m.name, 1, HELLO_NAME_MAX_BYTES);
  checkString('token', m.token, 0, HELLO_TOKEN_MAX_BYTES);
  return encodeMessage(MessageType.Hello, { ...o, seq: 0 }, (w) => {
    w.u8(m.minVersion);
    w.u8(m.maxVersion);
    w.string(m.name);
    w.string(m.token);
  }, scratch);
}

/** Header seq is always the first input's seq (o.seq is ignored). */
export function encodeInput(m: InputMessage, o: EncodeOptions = {}): Uint8Array {
  const inputs = m.inputs;
  const first = inputs[0];
  if (first === undefined || inputs.length > MAX_INPUTS_PER_MESSAGE) {
    throw new RangeError(`INPUT carries 1..${MAX_INPUTS_PER_MESSAGE} inputs, got ${inputs.length}`);
  }
  if (first.seq >>> 0 !== first.seq || first.seq + inputs.length - 1 > MAX_U32) throw new RangeError('input seq out of u32');
  if (m.ackFrame >>> 0 !== m.ackFrame) throw new RangeError(`ackFrame out of u32: ${m.ackFrame}`);
  inputs.forEach((inp, i) => {
    if (inp.seq !== first.seq + i) throw new RangeError('input seqs must be contiguous');
    if (inp.actions.length > MAX_ACTIONS_PER_INPUT) throw new RangeError('too many actions');
  });
  const w = scratch;
  beginMessage(w, MessageType.Input, o.version ?? PROTOCOL_VERSION, first.seq, o.serverTime ?? 0, o.zone ?? '0');
  let buf = w.reserve(INPUT_HEAD_MAX_BYTES);
  w.commit(putInputHead(buf, w.cursor, m.ackFrame, inputs.length, first.seq));
  for (const inp of inputs) {
    const actions = inp.actions;
    checkInputRecord(inp.dtMs, inp.eastCms, inp.northCms, inp.upCms, actions, actions.length);
    buf = w.reserve(INPUT_RECORD_MAX_BYTES);
    w.commit(putInputRecord(buf, w.cursor, inp.dtMs, inp.eastCms, inp.northCms, inp.upCms, actions, actions.length));
  }
  return finishMessage(w);
}

/**
 * Begins an INPUT carrying one input in w, with serverTime 0 and no zone (as a client sends it):
 * the message encodeInput({ ackFrame, inputs: [{ seq, dtMs, eastCms, northCms, upCms,
 * actions: actions.slice(0, actionCount) }] }) encodes, with the same RangeErrors, through the
 * same header and payload code, without building those objects. Finish it with finishMessage or
 * takeMessage.
 */
export function writeSingleInput(
  w: Writer,
  version: number,
  ackFrame: number,
  seq: number,
  dtMs: number,
  eastCms: number,
  northCms: number,
  upCms: number,
  actions: readonly number[],
  actionCount: number,
): void {
  if (seq >>> 0 !== seq || ackFrame >>> 0 !== ackFrame || actionCount > MAX_ACTIONS_PER_INPUT) {
    throwBadInput(seq, ackFrame);
  }
  beginMessage(w, MessageType.Input, version, seq, 0, '0');
  checkInputRecord(dtMs, eastCms, northCms, upCms, actions, actionCount);
  const buf = w.reserve(INPUT_HEAD_MAX_BYTES + INPUT_RECORD_MAX_BYTES);
  const p = putInputHead(buf, w.cursor, ackFrame, 1, seq);
  w.commit(putInputRecord(buf, p, dtMs, eastCms, northCms, upCms, actions, actionCount));
}

/** encodeInput's RangeError for a bad seq, ackFrame or action count (in that order). */
function throwBadInput(seq: number, ackFrame: number): never {
  if (seq >>> 0 !== seq) throw new RangeError('input seq out of u32');
  if (ackFrame >>> 0 !== ackFrame) throw new RangeError(`ackFrame out of u32: ${ackFrame}`);
  throw new RangeError('too many actions');
}

// The INPUT payload (docs/protocol.md): a head, then each input. Fields are checked (the head's
// by the callers, each input's by checkInputRecord) before any is put.

/** The most bytes of the head: uvarint ackFrame, the input count, the first input's uvarint seq. */
const INPUT_HEAD_MAX_BYTES = 5 + 1 + 5;
/** The most bytes of one input: dtMs, three svarints, the action count and the actions. */
const INPUT_RECORD_MAX_BYTES = 2 + 3 * MAX_UVARINT_BYTES + 1 + MAX_ACTIONS_PER_INPUT;

function putInputHead(buf: Uint8Array, p: number, ackFrame: number, count: number, firstSeq: number): number {
  p = putUvarint(buf, p, ackFrame);
  buf[p++] = count;
  return putUvarint(buf, p, firstSeq);
}

/** RangeError unless one input's fields fit the wire, checked in the order they are written. */
function checkInputRecord(
  dtMs: number,
  eastCms: number,
  northCms: number,
  upCms: number,
  actions: readonly number[],
  actionCount: number,
): void {
  checkU16(dtMs);
  checkSvarint(eastCms);
  checkSvarint(northCms);
  checkSvarint(upCms);
  checkU8(actionCount);
  for (let i = 0; i < actionCount; i++) checkU8(actions[i]!);
}

/** One input, its actions actions[0, actionCount) (at most MAX_ACTIONS_PER_INPUT). */
function putInputRecord(
  buf: Uint8Array,
  p: number,
  dtMs: number,
  eastCms: number,
  northCms: number,
  upCms: number,
  actions: readonly number[],
  actionCount: number,
): number {
  p = putU16(buf, p, dtMs);
  p = putSvarint(buf, p, eastCms);
  p = putSvarint(buf, p, northCms);
  p = putSvarint(buf, p, upCms);
  buf[p++] = actionCount;
  for (let i = 0; i < actionCount; i++) buf[p++] = actions[i]!;
  return p;
}

/** Header seq is the ping seq (o.seq is ignored). */
export function encodePing(m: Ping, o: EncodeOptions = {}): Uint8Array {
  checkFinite('clientTime', m.clientTime);
  return encodeMessage(MessageType.Ping, { ...o, seq: m.seq }, (w) => {
    w.f64(m.clientTime);
  }, scratch);
}

function checkOwn(own: OwnState): void {
  if (own.latE7 < -LAT_E7_MAX || own.latE7 > LAT_E7_MAX) throw new RangeError(`latE7 out of range: ${own.latE7}`);
  if (own.lonE7 < -LON_E7_HALF || own.lonE7 >= LON_E7_HALF) throw new RangeError(`lonE7 out of range: ${own.lonE7}`);
}

/** Header version defaults to the negotiated m.version (not PROTOCOL_VERSION). */
export function encodeWelcome(m: Welcome, o: EncodeOptions = {}): Uint8Array {
  if (m.entityId < 1 || m.entityId > MAX_U32) throw new RangeError(`entityId out of range: ${m.entityId}`);
  if (m.tickRate < 1) throw new RangeError('tickRate must be >= 1');
  if (m.nextInputSeq >>> 0 !== m.nextInputSeq) throw new RangeError('nextInputSeq out of u32');
  checkOwn(m.own);
  checkFinite('aoiRadius', m.aoiRadius);
  checkFinite('maxSpeed', m.maxSpeed);
  checkFinite('maxVerticalSpeed', m.maxVerticalSpeed);
  checkFinite('speedTolerance', m.speedTolerance);
  if ((m.minAltCm | 0) !== m.minAltCm || (m.maxAltCm | 0) !== m.maxAltCm || m.minAltCm > m.maxAltCm) {
    throw new RangeError(`altitude range must be i32 with min <= max: ${m.minAltCm}..${m.maxAltCm}`);
  }
  checkString('sessionId', m.sessionId, 0, SESSION_ID_MAX_BYTES);
  return encodeMessage(MessageType.Welcome, { ...o, version: o.version ?? m.version, seq: 0 }, (w) => {
    w.u8(m.version);
    w.uvarint(m.entityId);
    w.u8(m.tickRate);
    w.f32(m.aoiRadius);
    w.f32(m.maxSpeed);
    w.f32(m.maxVerticalSpeed);
    w.f32(m.speedTolerance);
    w.u16(m.maxInputDtMs);
    w.u16(m.maxInputsPerSecond);
    w.i32(m.minAltCm);
    w.i32(m.maxAltCm);
    w.uvarint(m.nextInputSeq);
    w.i32(m.own.latE7);
    w.i32(m.own.lonE7);
    w.i32(m.own.altCm);
    w.u16(m.own.heading16);
    w.u8(m.own.action);
    w.u8(m.own.actionSeq);
    w.string(m.sessionId);
  }, scratch);
}

/** Header seq is the rejected input's seq (o.seq is ignored); the payload repeats it. */
export function encodeReject(m: Reject, o: EncodeOptions = {}): Uint8Array {
  return encodeMessage(MessageType.Reject, { ...o, seq: m.inputSeq }, (w) => {
    w.u8(m.reason);
    w.uvarint(m.inputSeq);
  }, scratch);
}

/** Header seq is the ping seq being answered (o.seq is ignored). */
export function encodePong(m: Pong, o: EncodeOptions = {}): Uint8Array {
  checkFinite('clientTime', m.clientTime);
  checkFinite('serverTime', m.serverTime);
  return encodeMessage(MessageType.Pong, { ...o, seq: m.seq }, (w) => {
    w.f64(m.clientTime);
    w.f64(m.serverTime);
  }, scratch);
}

export function encodeKick(m: Kick, o: EncodeOptions = {}): Uint8Array {
  checkString('message', m.message, 0, KICK_MESSAGE_MAX_BYTES);
  return encodeMessage(MessageType.Kick, { ...o, seq: 0 }, (w) => {
    w.u8(m.reason);
    w.string(m.message);
  }, scratch);
}

/** round(x) clamped to the u16 range; x must be finite. */
function clampU16(what: string, x: number): number {
  checkFinite(what, x);
  return Math.min(0xffff, Math.max(0, Math.round(x)));
}

/** A 0..1 fraction as a u8: round(x * 255). */
function fraction8(what: string, x: number): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`${what} must be in 0..1: ${x}`);
  return Math.round(x * 255);
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}: ${v}`);
}

/**
 * Header seq is 0 (o.seq is ignored). Health and stamina are rounded and clamped to 0..65535,
 * durability and quality (0..1) quantised to multiples of 1/255. Items are written in slot
 * order and skills in skillId order (the arrays themselves are not reordered); duplicate slots
 * or skillIds, counts over 64 and out-of-range values are RangeErrors.
 */
export function encodeCharacter(m: CharacterMessage, o: EncodeOptions = {}): Uint8Array {
  checkInt('cause', m.cause, 0, 0xff);
  const health = clampU16('health', m.health);
  const stamina = clampU16('stamina', m.stamina);
  checkInt('level', m.level, 0, 0xffff);
  checkInt('experience', m.experience, 0, Number.MAX_SAFE_INTEGER);
  if (m.inventory.length > CHARACTER_MAX_ITEMS) {
    throw new RangeError(`CHARACTER carries at most ${CHARACTER_MAX_ITEMS} items, got ${m.inventory.length}`);
  }
  if (m.skills.length > CHARACTER_MAX_SKILLS) {
    throw new RangeError(`CHARACTER carries at most ${CHARACTER_MAX_SKILLS} skills, got ${m.skills.length}`);
  }
  const items = m.inventory.slice().sort((a, b) => a.slot - b.slot);
  const itemBytes = items.map((it, i) => {
    checkInt('slot', it.slot, 0, 0xff);
    if (i > 0 && it.slot === items[i - 1]!.slot) throw new RangeError(`duplicate inventory slot ${it.slot}`);
    checkInt('itemId', it.itemId, 1, MAX_U32);
    checkInt('quantity', it.quantity, 0, MAX_U32);
    return [fraction8('durability', it.durability), fraction8('quality', it.quality)] as const;
  });
  const skills = m.skills.slice().sort((a, b) => a.skillId - b.skillId);
  skills.forEach((sk, i) => {
    checkInt('skillId', sk.skillId, 1, MAX_U32);
    if (i > 0 && sk.skillId === skills[i - 1]!.skillId) throw new RangeError(`duplicate skillId ${sk.skillId}`);
    checkInt('skill level', sk.level, 0, 0xffff);
    checkInt('skill experience', sk.experience, 0, Number.MAX_SAFE_INTEGER);
  });
  const found = m.found;
  if (found) {
    checkInt('found.itemId', found.itemId, 1, MAX_U32);
    checkInt('found.quantity', found.quantity, 0, MAX_U32);
  }
  return encodeMessage(MessageType.Character, { ...o, seq: 0 }, (w) => {
    w.u8(m.cause);
    w.u16(health);
    w.u16(stamina);
    w.u16(m.level);
    w.uvarint(m.experience);
    w.u8(items.length);
    items.forEach((it, i) => {
      const [durability, quality] = itemBytes[i]!;
      w.u8(it.slot);
      w.uvarint(it.itemId);
      w.uvarint(it.quantity);
      w.u8(durability);
      w.u8(quality);
    });
    w.u8(skills.length);
    for (const sk of skills) {
      w.uvarint(sk.skillId);
      w.u16(sk.level);
      w.uvarint(sk.experience);
    }
    if (found) {
      w.uvarint(found.itemId);
      w.uvarint(found.quantity);
    } else {
      w.uvarint(0);
    }
  }, scratch);
}

/**
 * Validates framing (size, length, header fields, CRC, version, type) and returns the header.
 * Check order and error codes are part of the spec (docs/protocol.md, "Header").
 */
export function decodeHeader(bytes: Uint8Array, opts: DecodeOptions = {}): FrameHeader {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const total = bytes.length;
  if (total > maxBytes) throw new ProtocolError(ProtocolErrorCode.Oversize, `${total} > ${maxBytes} bytes`);
  if (total < MIN_HEADER_SIZE) throw new ProtocolError(ProtocolErrorCode.Truncated, 'shorter than the smallest header');
  if (isV1Layout(bytes)) return decodeV1Header(bytes, opts);
  const version = bytes[0]!;
  if (version !== 2) throw new ProtocolError(ProtocolErrorCode.BadVersion, `version ${version} (unknown header layout)`);
  const typeByte = bytes[1]!;
  const payloadLength = bytes[2]! | (bytes[3]! << 8);
  // The header ends where the payload begins: total - payloadLength.
  const headerLength = total - payloadLength;
  if (headerLength < MIN_HEADER_SIZE) {
    throw new ProtocolError(ProtocolErrorCode.Truncated, `payload ${total - MIN_HEADER_SIZE} of ${payloadLength} bytes`);
  }
  if (headerLength > MAX_HEADER_SIZE) {
    throw new ProtocolError(ProtocolErrorCode.BadLength, `${headerLength - MAX_HEADER_SIZE} bytes after the payload`);
  }
  const r = new Reader(bytes, 4, headerLength);
  const seq = r.uvarint();
  if (seq > MAX_U32) throw bad('seq above u32');
  const serverTime = r.u32();
  let zone: ZoneId = '0';
  if (typeByte & HEADER_ZONE_BIT) {
    const lo = r.u32();
    const hi = r.u32();
    if (lo === 0 && hi === 0) throw bad('zone 0 written (clear the zone bit instead)');
    zone = wordsToZone(lo, hi);
  }
  const crc = r.u32();
  if (r.remaining !== 0) throw new ProtocolError(ProtocolErrorCode.BadLength, `header ends ${r.remaining} bytes before the payload`);
  if (crc32(bytes, headerLength, total, crc32(bytes, 0, headerLength - 4)) !== crc) {
    throw new ProtocolError(ProtocolErrorCode.BadChecksum);
  }
  if (version < (opts.minVersion ?? MIN_PROTOCOL_VERSION) || version > (opts.maxVersion ?? PROTOCOL_VERSION)) {
    throw new ProtocolError(ProtocolErrorCode.BadVersion, `version ${version}`);
  }
  const type = typeByte & 0x7f;
  // HELLO has no compact form: it always uses the version-1 layout.
  if (type === MessageType.Hello || !KNOWN_TYPES.has(type)) throw new ProtocolError(ProtocolErrorCode.UnknownType, `type ${type}`);
  return { version, type, payloadLength, seq, serverTime, zone, headerLength };
}

/** The frozen 24-byte layout: HELLO in every version, and whole version-1 messages. */
function decodeV1Header(bytes: Uint8Array, opts: DecodeOptions): FrameHeader {
  const total = bytes.length;
  if (total < V1_HEADER_SIZE) throw new ProtocolError(ProtocolErrorCode.Truncated, 'shorter than the header');
  const r = new Reader(bytes, 0, V1_HEADER_SIZE);
  const version = r.u8();
  const type = r.u8();
  const payloadLength = r.u16();
  const seq = r.u32();
  const serverTime = r.u32();
  const lo = r.u32();
  const hi = r.u32();
  const crc = r.u32();
  const actual = total - V1_HEADER_SIZE;
  if (payloadLength > actual) throw new ProtocolError(ProtocolErrorCode.Truncated, `payload ${actual} of ${payloadLength} bytes`);
  if (payloadLength < actual) throw new ProtocolError(ProtocolErrorCode.BadLength, `${actual - payloadLength} bytes after the payload`);
  if (crc32(bytes, V1_HEADER_SIZE, total, crc32(bytes, 0, 20)) !== crc) throw new ProtocolError(ProtocolErrorCode.BadChecksum);
  // HELLO's header layout is frozen across versions: the real negotiation is in its payload.
  const versionOk =
    type === MessageType.Hello
      ? version >= 1
      : version >= (opts.minVersion ?? MIN_PROTOCOL_VERSION) && version <= (opts.maxVersion ?? PROTOCOL_VERSION);
  if (!versionOk) throw new ProtocolError(ProtocolErrorCode.BadVersion, `version ${version}`);
  if (!KNOWN_TYPES.has(type)) throw new ProtocolError(ProtocolErrorCode.UnknownType, `type ${type}`);
  return { version, type, payloadLength, seq, serverTime, zone: wordsToZone(lo, hi), headerLength: V1_HEADER_SIZE };
}

function u32Field(r: Reader, what: string): number {
  const v = r.uvarint();
  if (v > MAX_U32) throw bad(`${what} above u32`);
  return v;
}

function decodeHello(r: Reader): Hello {
  const minVersion = r.u8();
  const maxVersion = r.u8();
  if (minVersion < 1 || minVersion > maxVersion) throw bad(`version range ${minVersion}..${maxVersion}`);
  const name = r.string(HELLO_NAME_MAX_BYTES);
  if (name.length === 0) throw bad('empty name');
  const token = r.string(HELLO_TOKEN_MAX_BYTES);
  return { minVersion, maxVersion, name, token };
}

/** The actions of an input that has none (frozen: decoded inputs share it). */
const NO_ACTIONS: readonly number[] = Object.freeze([]);

function decodeInput(r: Reader, header: FrameHeader): InputMessage {
  const ackFrame = u32Field(r, 'ackFrame');
  const count = r.u8();
  if (count < 1 || count > MAX_INPUTS_PER_MESSAGE) throw bad(`input count ${count}`);
  const first = r.uvarint();
  if (first !== header.seq) throw bad('first input seq differs from header seq');
  if (first + count - 1 > MAX_U32) throw bad('input seq overflows u32');
  // Sized up front, and inputs without actions share one frozen empty list: this runs for every
  // INPUT a server reads (20 a second per player), and each object here is garbage a tick later.
  const inputs = new Array<WireInput>(count);
  for (let i = 0; i < count; i++) {
    const dtMs = r.u16();
    const eastCms = r.svarint();
    const northCms = r.svarint();
    const upCms = r.svarint();
    const n = r.u8();
    if (n > MAX_ACTIONS_PER_INPUT) throw bad(`action count ${n}`);
    let actions: readonly number[] = NO_ACTIONS;
    if (n > 0) {
      const list = new Array<number>(n);
      for (let k = 0; k < n; k++) list[k] = r.u8();
      actions = list;
    }
    inputs[i] = { seq: first + i, dtMs, eastCms, northCms, upCms, actions };
  }
  return { ackFrame, inputs };
}

function decodeWelcome(r: Reader): Welcome {
  const version = r.u8();
  const entityId = r.uvarint();
  if (entityId < 1 || entityId > MAX_U32) throw bad(`entityId ${entityId}`);
  const tickRate = r.u8();
  if (tickRate < 1) throw bad('tickRate 0');
  const aoiRadius = finite(r.f32(), 'aoiRadius');
  const maxSpeed = finite(r.f32(), 'maxSpeed');
  const maxVerticalSpeed = finite(r.f32(), 'maxVerticalSpeed');
  const speedTolerance = finite(r.f32(), 'speedTolerance');
  const maxInputDtMs = r.u16();
  const maxInputsPerSecond = r.u16();
  const minAltCm = r.i32();
  const maxAltCm = r.i32();
  if (minAltCm > maxAltCm) throw bad(`altitude range ${minAltCm}..${maxAltCm}`);
  const nextInputSeq = u32Field(r, 'nextInputSeq');
  const latE7 = r.i32();
  const lonE7 = r.i32();
  const altCm = r.i32();
  const heading16 = r.u16();
  const action = r.u8();
  const actionSeq = r.u8();
  if (latE7 < -LAT_E7_MAX || latE7 > LAT_E7_MAX) throw bad(`latE7 ${latE7}`);
  if (lonE7 < -LON_E7_HALF || lonE7 >= LON_E7_HALF) throw bad(`lonE7 ${lonE7}`);
  const sessionId = r.string(SESSION_ID_MAX_BYTES);
  return {
    version,
    entityId,
    tickRate,
    aoiRadius,
    maxSpeed,
    maxVerticalSpeed,
    speedTolerance,
    maxInputDtMs,
    maxInputsPerSecond,
    minAltCm,
    maxAltCm,
    nextInputSeq,
    own: { latE7, lonE7, altCm, heading16, action, actionSeq },
    sessionId,
  };
}

function decodeCharacter(r: Reader): CharacterMessage {
  const cause = r.u8();
  const health = r.u16();
  const stamina = r.u16();
  const level = r.u16();
  const experience = r.uvarint();
  const itemCount = r.u8();
  if (itemCount > CHARACTER_MAX_ITEMS) throw bad(`item count ${itemCount}`);
  const inventory: CharacterMessage['inventory'] = [];
  for (let i = 0; i < itemCount; i++) {
    const slot = r.u8();
    if (i > 0 && slot <= inventory[i - 1]!.slot) throw bad('inventory slots not strictly ascending');
    const itemId = u32Field(r, 'itemId');
    if (itemId === 0) throw bad('itemId 0');
    const quantity = u32Field(r, 'quantity');
    const durability = r.u8() / 255;
    const quality = r.u8() / 255;
    inventory.push({ slot, itemId, quantity, durability, quality });
  }
  const skillCount = r.u8();
  if (skillCount > CHARACTER_MAX_SKILLS) throw bad(`skill count ${skillCount}`);
  const skills: CharacterMessage['skills'] = [];
  for (let i = 0; i < skillCount; i++) {
    const skillId = u32Field(r, 'skillId');
    if (skillId === 0) throw bad('skillId 0');
    if (i > 0 && skillId <= skills[i - 1]!.skillId) throw bad('skillIds not strictly ascending');
    const skillLevel = r.u16();
    const skillExperience = r.uvarint();
    skills.push({ skillId, level: skillLevel, experience: skillExperience });
  }
  const foundId = u32Field(r, 'found itemId');
  const found = foundId === 0 ? null : { itemId: foundId, quantity: u32Field(r, 'found quantity') };
  return { cause, health, stamina, level, experience, inventory, skills, found };
}

/**
 * Decodes one whole message. FRAME is returned undecoded ({type, header, payload}) because it
 * needs the client's baseline: pass header and payload to decodeFrame (frame.ts).
 */
export function decodeMessage(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedMessage {
  const header = decodeHeader(bytes, opts);
  const r = new Reader(bytes, header.headerLength);
  let msg: DecodedMessage;
  switch (header.type) {
    case MessageType.Hello:
      msg = { type: MessageType.Hello, header, body: decodeHello(r) };
      break;
    case MessageType.Input:
      msg = { type: MessageType.Input, header, body: decodeInput(r, header) };
      break;
    case MessageType.Ping:
      msg = { type: MessageType.Ping, header, body: { seq: header.seq, clientTime: finite(r.f64(), 'clientTime') } };
      break;
    case MessageType.Welcome:
      msg = { type: MessageType.Welcome, header, body: decodeWelcome(r) };
      break;
    case MessageType.Frame:
      return { type: MessageType.Frame, header, payload: r.bytes(r.remaining) };
    case MessageType.Reject: {
      const reason = r.u8();
      const inputSeq = r.uvarint();
      if (inputSeq !== header.seq) throw bad('inputSeq differs from header seq');
      msg = { type: MessageType.Reject, header, body: { inputSeq, reason } };
      break;
    }
    case MessageType.Pong: {
      const clientTime = finite(r.f64(), 'clientTime');
      const serverTime = finite(r.f64(), 'serverTime');
      msg = { type: MessageType.Pong, header, body: { seq: header.seq, clientTime, serverTime } };
      break;
    }
    case MessageType.Kick: {
      const reason = r.u8();
      const message = r.string(KICK_MESSAGE_MAX_BYTES);
      msg = { type: MessageType.Kick, header, body: { reason, message } };
      break;
    }
    case MessageType.Character:
      msg = { type: MessageType.Character, header, body: decodeCharacter(r) };
      break;
    default:
      // decodeHeader already rejected unknown types; this keeps the switch exhaustive.
      throw new ProtocolError(ProtocolErrorCode.UnknownType, `type ${header.type}`);
  }
  r.expectEnd();
  return msg;
}
