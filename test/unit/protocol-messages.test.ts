import { test } from 'node:test';
import assert from 'node:assert/strict';
import { docDump, hex } from '../helpers/protocol-doc.ts';
import fc from 'fast-check';
import { ProtocolError, Writer } from '../../src/protocol/codec.ts';
import { crc32 } from '../../src/protocol/crc32.ts';
import {
  CHARACTER_MAX_ITEMS,
  CHARACTER_MAX_SKILLS,
  decodeHeader,
  decodeMessage,
  encodeCharacter,
  encodeHello,
  encodeInput,
  encodeKick,
  encodeMessage,
  encodePing,
  encodePong,
  encodeReject,
  encodeWelcome,
  headerSeqOf,
  headerTypeOf,
} from '../../src/protocol/messages.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/protocol/messages.ts';
import type { EncodeOptions } from '../../src/protocol/messages.ts';
import { MessageType, PROTOCOL_VERSION, V1_HEADER_SIZE } from '../../src/protocol/types.ts';
import type { CharacterMessage, DecodedMessage, Welcome } from '../../src/protocol/types.ts';
import * as arb from './protocol-arbitraries.ts';

const opts: fc.Arbitrary<EncodeOptions> = fc.record({ seq: arb.u32, serverTime: arb.u32, zone: arb.zone }, { noNullPrototype: true });

function isProtocolError(e: unknown, ...codes: string[]): boolean {
  return e instanceof ProtocolError && (codes.length === 0 || codes.includes(e.code));
}

function throwsCode(fn: () => unknown, ...codes: string[]): void {
  assert.throws(fn, (e: unknown) => isProtocolError(e, ...codes));
}

/** Re-encodes a decoded message with the same header fields. */
function reencode(m: DecodedMessage): Uint8Array {
  const o: EncodeOptions = { seq: m.header.seq, serverTime: m.header.serverTime, zone: m.header.zone, version: m.header.version };
  switch (m.type) {
    case MessageType.Hello:
      return encodeHello(m.body, o);
    case MessageType.Input:
      return encodeInput(m.body, o);
    case MessageType.Ping:
      return encodePing(m.body, o);
    case MessageType.Welcome:
      return encodeWelcome(m.body, o);
    case MessageType.Reject:
      return encodeReject(m.body, o);
    case MessageType.Pong:
      return encodePong(m.body, o);
    case MessageType.Kick:
      return encodeKick(m.body, o);
    case MessageType.Character:
      return encodeCharacter(m.body, o);
    case MessageType.Frame:
      return encodeMessage(MessageType.Frame, o, (w) => w.bytes(m.payload));
  }
}

/** Any valid message of any type, with the body it should decode to. */
const anyMessage: fc.Arbitrary<{ bytes: Uint8Array; expect: DecodedMessage }> = fc.oneof(
  fc.tuple(arb.hello, opts).map(([body, o]) => ({ bytes: encodeHello(body, o), expect: { type: MessageType.Hello, header: hdr(MessageType.Hello, { ...o, seq: 0 }), body } })),
  fc.tuple(arb.input, opts).map(([body, o]) => ({ bytes: encodeInput(body, o), expect: { type: MessageType.Input, header: hdr(MessageType.Input, { ...o, seq: body.inputs[0]!.seq }), body } })),
  fc.tuple(arb.ping, opts).map(([body, o]) => ({ bytes: encodePing(body, o), expect: { type: MessageType.Ping, header: hdr(MessageType.Ping, { ...o, seq: body.seq }), body } })),
  fc.tuple(arb.pong, opts).map(([body, o]) => ({ bytes: encodePong(body, o), expect: { type: MessageType.Pong, header: hdr(MessageType.Pong, { ...o, seq: body.seq }), body } })),
  fc.tuple(arb.reject, opts).map(([body, o]) => ({ bytes: encodeReject(body, o), expect: { type: MessageType.Reject, header: hdr(MessageType.Reject, { ...o, seq: body.inputSeq }), body } })),
  fc.tuple(arb.kick, opts).map(([body, o]) => ({ bytes: encodeKick(body, o), expect: { type: MessageType.Kick, header: hdr(MessageType.Kick, { ...o, seq: 0 }), body } })),
  fc.tuple(arb.character, opts).map(([body, o]) => ({ bytes: encodeCharacter(body, o), expect: { type: MessageType.Character, header: hdr(MessageType.Character, { ...o, seq: 0 }), body } })),
  fc.tuple(arb.welcome, opts).map(([body, o]) => ({
    bytes: encodeWelcome({ ...body, version: PROTOCOL_VERSION }, o),
    expect: { type: MessageType.Welcome, header: hdr(MessageType.Welcome, { ...o, seq: 0 }), body: { ...body, version: PROTOCOL_VERSION } },
  })),
);

/** Bytes of a uvarint, computed independently of the codec. */
function uvarintLength(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Header length from the spec: 24 for HELLO; else 4 + seq + serverTime (+ zone) + CRC. */
function headerLengthOf(type: number, seq: number, zone: string): number {
  if (type === MessageType.Hello) return V1_HEADER_SIZE;
  return 4 + uvarintLength(seq) + 4 + (zone === '0' ? 0 : 8) + 4;
}

function hdr(type: number, o: EncodeOptions): DecodedMessage['header'] {
  const seq = o.seq ?? 0;
  const zone = o.zone ?? '0';
  return { version: PROTOCOL_VERSION, type, payloadLength: -1, seq, serverTime: o.serverTime ?? 0, zone, headerLength: headerLengthOf(type, seq, zone) };
}

test('every message type round-trips', () => {
  fc.assert(
    fc.property(anyMessage, ({ bytes, expect }) => {
      const got = decodeMessage(bytes);
      assert.deepEqual(got, { ...expect, header: { ...expect.header, payloadLength: bytes.length - expect.header.headerLength } });
      assert.deepEqual(reencode(got), bytes);
      assert.equal(headerSeqOf(bytes), got.header.seq);
      assert.equal(headerTypeOf(bytes), got.type);
      // Only HELLO keeps the version-1 layout; everything else is compact, zone bit per zone.
      assert.equal(bytes[0], PROTOCOL_VERSION);
      if (got.type === MessageType.Hello) assert.equal(bytes[1], MessageType.Hello);
      else assert.equal(bytes[1], got.type | (got.header.zone === '0' ? 0 : 0x80));
    }),
    { numRuns: 500 },
  );
});

test('WELCOME header version defaults to the negotiated version', () => {
  fc.assert(
    fc.property(arb.welcome, (body) => {
      const bytes = encodeWelcome({ ...body, version: 2 });
      assert.equal(bytes[0], 2);
      assert.deepEqual(decodeMessage(bytes).header.version, 2);
      // Versions without a header layout cannot be written.
      if (body.version !== 2) assert.throws(() => encodeWelcome(body), RangeError);
      assert.equal(decodeMessage(encodeWelcome(body, { version: 2 })).type, MessageType.Welcome);
    }),
  );
});

test('every strict prefix is rejected as truncated or bad_length', () => {
  fc.assert(
    fc.property(anyMessage, ({ bytes }) => {
      for (let n = 0; n < bytes.length; n++) throwsCode(() => decodeMessage(bytes.subarray(0, n)), 'truncated', 'bad_length');
    }),
    { numRuns: 200 },
  );
});

test('any single changed byte is rejected', () => {
  fc.assert(
    fc.property(anyMessage, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ bytes }, pos, x) => {
      const copy = bytes.slice();
      const i = pos % copy.length;
      copy[i]! ^= x;
      throwsCode(() => decodeMessage(copy));
    }),
    { numRuns: 2000 },
  );
});

test('trailing bytes are bad_length, oversize is oversize', () => {
  const bytes = encodeKick({ reason: 1, message: 'bye' });
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  throwsCode(() => decodeMessage(longer), 'bad_length');
  throwsCode(() => decodeMessage(bytes, { maxBytes: bytes.length - 1 }), 'oversize');
  assert.equal(decodeMessage(bytes, { maxBytes: bytes.length }).type, MessageType.Kick);
  throwsCode(() => decodeHeader(new Uint8Array(65535 + 26)), 'oversize');
  throwsCode(() => decodeHeader(new Uint8Array(12)), 'truncated');
  assert.throws(() => encodeMessage(MessageType.Kick, {}, (w) => w.bytes(new Uint8Array(65536))), RangeError);
  assert.equal(encodeMessage(MessageType.Frame, {}, (w) => w.bytes(new Uint8Array(65535))).length, 65535 + 13);
  // The largest message: the largest payload behind the largest header (5-byte seq and a zone).
  const largest = encodeMessage(MessageType.Kick, { seq: 0xffffffff, zone: '8828308281fffff' }, (w) => (w.u8(1), w.uvarint(65531), w.bytes(new Uint8Array(65531))));
  assert.equal(largest.length, 65535 + 25);
  assert.equal(largest.length, DEFAULT_MAX_MESSAGE_BYTES);
  throwsCode(() => decodeMessage(largest), 'bad_field'); // a KICK message is at most 200 bytes, but framing passed
  assert.equal(decodeHeader(largest).headerLength, 25);
});

/** Builds a message with arbitrary header fields and raw payload, with a correct CRC. */
function raw(version: number, type: number, seq: number, payload: Uint8Array | ((w: Writer) => void)): Uint8Array {
  return encodeMessage(type, { version, seq }, typeof payload === 'function' ? payload : (w) => w.bytes(payload));
}

/**
 * A compact-layout message built by hand (independently of beginMessage), with any type byte,
 * any seq bytes and an optional zone, and a correct CRC unless told otherwise.
 */
function compact(o: { version?: number; typeByte: number; seqBytes: number[]; serverTime?: number; zone?: [number, number]; payload?: number[] }): Uint8Array {
  const w = new Writer();
  w.u8(o.version ?? 2);
  w.u8(o.typeByte);
  w.u16((o.payload ?? []).length);
  for (const b of o.seqBytes) w.u8(b);
  w.u32(o.serverTime ?? 0);
  if (o.zone) {
    w.u32(o.zone[0]);
    w.u32(o.zone[1]);
  }
  const crcAt = w.length;
  w.u32(0);
  w.bytes(Uint8Array.from(o.payload ?? []));
  const out = w.toBytes();
  new DataView(out.buffer).setUint32(crcAt, crc32(out, crcAt + 4, out.length, crc32(out, 0, crcAt)), true);
  return out;
}

/** A version-1 layout message built by hand (24-byte header), with a correct CRC. */
function v1(type: number, seq: number, payload: number[], version = 1): Uint8Array {
  const out = new Uint8Array(V1_HEADER_SIZE + payload.length);
  const dv = new DataView(out.buffer);
  out[0] = version;
  out[1] = type;
  dv.setUint16(2, payload.length, true);
  dv.setUint32(4, seq, true);
  out.set(payload, V1_HEADER_SIZE);
  dv.setUint32(20, crc32(out, V1_HEADER_SIZE, out.length, crc32(out, 0, 20)), true);
  return out;
}

test('version and type checks', () => {
  const ping = raw(PROTOCOL_VERSION, MessageType.Ping, 1, (w) => w.f64(5));
  assert.equal(decodeMessage(ping).type, MessageType.Ping);
  // Versions other than 1 and 2 have no layout this codec knows: refused before anything else.
  for (const v of [0, 3, 200]) {
    const other = ping.slice();
    other[0] = v;
    throwsCode(() => decodeMessage(other), 'bad_version');
  }
  throwsCode(() => decodeMessage(ping, { minVersion: 3, maxVersion: 4 }), 'bad_version');
  // A version-1 message (24-byte layout): framing checked, then refused as version 1 ...
  const pingV1 = v1(MessageType.Ping, 1, [0, 0, 0, 0, 0, 0, 0x14, 0x40]);
  throwsCode(() => decodeMessage(pingV1), 'bad_version');
  const badCrc = pingV1.slice();
  badCrc[23]! ^= 1;
  throwsCode(() => decodeMessage(badCrc), 'bad_checksum');
  // ... unless the receiver speaks version 1 (as a version-1 client reads the legacy KICK).
  const p1 = decodeMessage(pingV1, { minVersion: 1, maxVersion: 2 });
  assert.deepEqual(p1.header, { version: 1, type: MessageType.Ping, payloadLength: 8, seq: 1, serverTime: 0, zone: '0', headerLength: 24 });
  const kick1 = encodeKick({ reason: 3, message: 'version mismatch' }, { version: 1 });
  assert.equal(kick1[0], 1);
  throwsCode(() => decodeMessage(kick1), 'bad_version');
  const k = decodeMessage(kick1, { minVersion: 1, maxVersion: 1 });
  assert.deepEqual(k.type === MessageType.Kick && k.body, { reason: 3, message: 'version mismatch' });
  assert.equal(k.header.headerLength, 24);
  // The version-1 layout is written only for HELLO and KICK.
  assert.throws(() => encodePing({ seq: 1, clientTime: 0 }, { version: 1 }), RangeError);
  assert.throws(() => encodePing({ seq: 1, clientTime: 0 }, { version: 3 }), RangeError);
  // HELLO: always the 24-byte layout, any header version >= 1.
  const hello = encodeHello({ minVersion: 3, maxVersion: 9, name: 'ann', token: '' }, { version: 200 });
  assert.equal(hello.length, 24 + 7);
  const h = decodeMessage(hello);
  assert.deepEqual(h.type === MessageType.Hello && h.body, { minVersion: 3, maxVersion: 9, name: 'ann', token: '' });
  assert.equal(h.header.version, 200);
  throwsCode(() => decodeMessage(encodeHello({ minVersion: 1, maxVersion: 1, name: 'a', token: '' }, { version: 0 })), 'bad_version');
  // HELLO has no compact form: type 1 in the compact layout (byte 1 = 0x81) is unknown.
  throwsCode(() => decodeMessage(compact({ typeByte: 0x81, seqBytes: [0], zone: [1, 0], payload: [1, 1, 1, 0x61, 0] })), 'unknown_type');
  // Version is checked before type; CRC before both.
  throwsCode(() => decodeMessage(raw(PROTOCOL_VERSION, 99, 0, new Uint8Array(0))), 'unknown_type');
  throwsCode(() => decodeMessage(raw(PROTOCOL_VERSION, 99, 0, new Uint8Array(0)), { minVersion: 3, maxVersion: 3 }), 'bad_version');
  const corrupt = raw(PROTOCOL_VERSION, 99, 0, new Uint8Array(0));
  corrupt[12]! ^= 1;
  throwsCode(() => decodeMessage(corrupt, { minVersion: 3, maxVersion: 3 }), 'bad_checksum');
  // Types above 127 do not fit the compact type bits.
  assert.throws(() => raw(PROTOCOL_VERSION, 200, 0, new Uint8Array(0)), RangeError);
});

test('compact header layout: seq uvarint, zone bit, CRC over the header before it then the payload', () => {
  const zoned = encodePing({ seq: 7, clientTime: 1.5 }, { serverTime: 99, zone: '8828308281fffff' });
  const view = new DataView(zoned.buffer, zoned.byteOffset);
  assert.equal(zoned.length, 21 + 8);
  assert.equal(zoned[0], 2);
  assert.equal(zoned[1], 0x83);
  assert.equal(view.getUint16(2, true), 8);
  assert.equal(zoned[4], 7);
  assert.equal(view.getUint32(5, true), 99);
  assert.equal(view.getUint32(9, true), 0x281fffff);
  assert.equal(view.getUint32(13, true), 0x8828308);
  const whole = new Uint8Array(zoned.length - 4);
  whole.set(zoned.subarray(0, 17));
  whole.set(zoned.subarray(21), 17);
  assert.equal(view.getUint32(17, true), crc32(whole));
  // No zone: bit 7 clear and 8 bytes shorter; seq 300 takes two bytes.
  const plain = encodePing({ seq: 300, clientTime: 1.5 }, { serverTime: 99 });
  assert.deepEqual([...plain.subarray(0, 6)], [2, 3, 8, 0, 0xac, 0x02]);
  assert.equal(plain.length, 14 + 8);
  assert.equal(decodeHeader(plain).headerLength, 14);
  assert.equal(decodeHeader(plain).zone, '0');
  // Every u32 seq round-trips in 1..5 bytes.
  for (const seq of [0, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 0xffffffff]) {
    const b = encodePing({ seq, clientTime: 0 });
    assert.equal(decodeHeader(b).seq, seq);
    assert.equal(headerSeqOf(b), seq);
    assert.equal(b.length, 12 + uvarintLength(seq) + 8);
  }
});

test('compact header validation', () => {
  const ok = compact({ typeByte: MessageType.Ping, seqBytes: [5], payload: [0, 0, 0, 0, 0, 0, 0, 0] });
  assert.equal(decodeMessage(ok).header.seq, 5);
  // seq: non-minimal, above u32, longer than 8 bytes.
  throwsCode(() => decodeMessage(compact({ typeByte: MessageType.Ping, seqBytes: [0x85, 0x00], payload: [0, 0, 0, 0, 0, 0, 0, 0] })), 'bad_field');
  throwsCode(() => decodeMessage(compact({ typeByte: MessageType.Ping, seqBytes: [0x80, 0x80, 0x80, 0x80, 0x10], payload: [0, 0, 0, 0, 0, 0, 0, 0] })), 'bad_field');
  // The largest u32 is fine.
  assert.equal(decodeMessage(compact({ typeByte: MessageType.Ping, seqBytes: [0xff, 0xff, 0xff, 0xff, 0x0f], payload: [0, 0, 0, 0, 0, 0, 0, 0] })).header.seq, 0xffffffff);
  // A zone of 0 is never written: the bit must be clear instead.
  throwsCode(() => decodeMessage(compact({ typeByte: MessageType.Ping | 0x80, seqBytes: [5], zone: [0, 0], payload: [0, 0, 0, 0, 0, 0, 0, 0] })), 'bad_field');
  assert.equal(decodeMessage(compact({ typeByte: MessageType.Ping | 0x80, seqBytes: [5], zone: [1, 0], payload: [0, 0, 0, 0, 0, 0, 0, 0] })).header.zone, '1');
  // The header must end exactly where payloadLength says the payload starts.
  const setLength = (b: Uint8Array, n: number): Uint8Array => {
    const c = b.slice();
    new DataView(c.buffer).setUint16(2, n, true);
    return c;
  };
  throwsCode(() => decodeMessage(setLength(ok, 9)), 'truncated'); // header region 12 bytes
  throwsCode(() => decodeMessage(setLength(ok, 7)), 'bad_length'); // header region 14 bytes
  throwsCode(() => decodeMessage(setLength(ok, 0)), 'bad_length'); // header region beyond 25 bytes
  // The zone bit set without the zone bytes: the header runs out.
  const noZone = compact({ typeByte: MessageType.Ping | 0x80, seqBytes: [5], payload: [0, 0, 0, 0, 0, 0, 0, 0] });
  throwsCode(() => decodeMessage(noZone), 'truncated');
  // The zone bit clear with zone bytes present: the header ends early.
  const extra = compact({ typeByte: MessageType.Ping, seqBytes: [5], zone: [1, 0], payload: [0, 0, 0, 0, 0, 0, 0, 0] });
  throwsCode(() => decodeMessage(extra), 'bad_length');
  // Client messages may be decoded with a zone (receivers ignore it); no zone is the default.
  assert.equal(decodeHeader(ok).zone, '0');
});

test('payload field validation', () => {
  const v = PROTOCOL_VERSION;
  // HELLO: empty name, inverted or zero version range, oversize strings.
  throwsCode(() => decodeMessage(raw(v, MessageType.Hello, 0, (w) => (w.u8(1), w.u8(1), w.string(''), w.string('')))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Hello, 0, (w) => (w.u8(2), w.u8(1), w.string('a'), w.string('')))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Hello, 0, (w) => (w.u8(0), w.u8(1), w.string('a'), w.string('')))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Hello, 0, (w) => (w.u8(1), w.u8(1), w.string('a'.repeat(33)), w.string('')))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Hello, 0, (w) => (w.u8(1), w.u8(1), w.string('a'), w.string('t'.repeat(257))))), 'bad_field');
  // INPUT: first seq must equal header seq; count 1..8; actions <= 4.
  const inp = (seq: number, first: number, count: number, actions: number) => (w: Writer) => {
    w.uvarint(0);
    w.u8(count);
    w.uvarint(first);
    for (let i = 0; i < count; i++) {
      w.u16(50);
      w.svarint(0);
      w.svarint(0);
      w.svarint(0);
      w.u8(actions);
      for (let k = 0; k < actions; k++) w.u8(1);
    }
    void seq;
  };
  assert.equal(decodeMessage(raw(v, MessageType.Input, 5, inp(5, 5, 2, 4))).type, MessageType.Input);
  throwsCode(() => decodeMessage(raw(v, MessageType.Input, 5, inp(5, 6, 2, 0))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Input, 5, inp(5, 5, 0, 0))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Input, 5, inp(5, 5, 9, 0))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Input, 5, inp(5, 5, 1, 5))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Input, 0xffffffff, inp(0, 0xffffffff, 2, 0))), 'bad_field');
  // REJECT: payload seq must equal header seq.
  throwsCode(() => decodeMessage(raw(v, MessageType.Reject, 3, (w) => (w.u8(1), w.uvarint(4)))), 'bad_field');
  // PING: non-finite time.
  throwsCode(() => decodeMessage(raw(v, MessageType.Ping, 3, (w) => w.f64(NaN))), 'bad_field');
  // Unread payload bytes.
  throwsCode(() => decodeMessage(raw(v, MessageType.Ping, 3, (w) => (w.f64(1), w.u8(0)))), 'bad_length');
  throwsCode(() => decodeMessage(raw(v, MessageType.Ping, 3, (w) => w.f32(1))), 'truncated');
});

test('encoders refuse invalid values', () => {
  assert.throws(() => encodeHello({ minVersion: 1, maxVersion: 1, name: '', token: '' }), RangeError);
  assert.throws(() => encodeHello({ minVersion: 1, maxVersion: 1, name: 'x'.repeat(33), token: '' }), RangeError);
  assert.throws(() => encodeInput({ ackFrame: 0, inputs: [] }), RangeError);
  const i = { dtMs: 50, eastCms: 0, northCms: 0, upCms: 0, actions: [] };
  assert.throws(() => encodeInput({ ackFrame: 0, inputs: [{ seq: 1, ...i }, { seq: 3, ...i }] }), RangeError);
  assert.throws(() => encodeKick({ reason: 1, message: 'x'.repeat(201) }), RangeError);
  assert.throws(() => encodePing({ seq: 1, clientTime: Infinity }), RangeError);
  assert.throws(() => encodePing({ seq: -1, clientTime: 0 }), RangeError);
  assert.throws(() => encodePing({ seq: 1, clientTime: 0 }, { zone: 'nope' }), RangeError);
});

test('random garbage only ever raises ProtocolError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      try {
        decodeMessage(bytes);
      } catch (e) {
        assert.ok(isProtocolError(e), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('random payloads behind a valid header: ProtocolError or a canonical message', () => {
  const type = fc.constantFrom(...Object.values(MessageType), 0, 4, 100, 127);
  fc.assert(
    fc.property(type, arb.u32, fc.uint8Array({ maxLength: 80 }), (t, seq, payload) => {
      // Types whose header seq has no meaning get 0 so a re-encode can match byte for byte.
      const s = t === MessageType.Hello || t === MessageType.Welcome || t === MessageType.Kick || t === MessageType.Character ? 0 : seq;
      const bytes = raw(PROTOCOL_VERSION, t, s, payload);
      let m: DecodedMessage;
      try {
        m = decodeMessage(bytes);
      } catch (e) {
        assert.ok(isProtocolError(e), String(e));
        return;
      }
      assert.deepEqual(reencode(m), bytes);
    }),
    { numRuns: 5000 },
  );
  // Structured payloads reach deeper than uniform noise.
  fc.assert(
    fc.property(
      fc.constantFrom(MessageType.Input, MessageType.Hello, MessageType.Welcome, MessageType.Character),
      fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 4, 8, 0x80, 0xff), arb.u8), { maxLength: 60 }),
      (t, payload) => {
        const bytes = raw(PROTOCOL_VERSION, t, t === MessageType.Input ? payload[2] ?? 0 : 0, Uint8Array.from(payload));
        try {
          assert.deepEqual(reencode(decodeMessage(bytes)), bytes);
        } catch (e) {
          assert.ok(isProtocolError(e), String(e));
        }
      },
    ),
    { numRuns: 5000 },
  );
});

const SHEET: CharacterMessage = {
  cause: 1,
  health: 100,
  stamina: 100,
  level: 1,
  experience: 0,
  inventory: [],
  skills: [],
  found: null,
};

function decodeCharacterBody(bytes: Uint8Array): CharacterMessage {
  const m = decodeMessage(bytes);
  assert.equal(m.type, MessageType.Character);
  if (m.type !== MessageType.Character) throw new Error('not CHARACTER');
  return m.body;
}

test('CHARACTER quantises health, stamina, durability and quality', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (health, stamina, durability, quality) => {
        const body = decodeCharacterBody(
          encodeCharacter({ ...SHEET, health, stamina, inventory: [{ slot: 4, itemId: 2, quantity: 3, durability, quality }] }),
        );
        assert.equal(body.health, Math.min(65535, Math.max(0, Math.round(health))));
        assert.equal(body.stamina, Math.min(65535, Math.max(0, Math.round(stamina))));
        const item = body.inventory[0]!;
        // Within half a step of 1/255, and exactly on the grid.
        assert.ok(Math.abs(item.durability - durability) <= 0.5 / 255 + 1e-12, `${item.durability} vs ${durability}`);
        assert.ok(Math.abs(item.quality - quality) <= 0.5 / 255 + 1e-12, `${item.quality} vs ${quality}`);
        assert.equal(item.durability, Math.round(durability * 255) / 255);
        assert.equal(item.quality, Math.round(quality * 255) / 255);
      },
    ),
  );
  assert.equal(decodeCharacterBody(encodeCharacter({ ...SHEET, health: 87.5, stamina: -0.4 })).health, 88);
  assert.equal(decodeCharacterBody(encodeCharacter({ ...SHEET, health: 1e9, stamina: -0.4 })).health, 65535);
  assert.ok(Object.is(decodeCharacterBody(encodeCharacter({ ...SHEET, stamina: -0.4 })).stamina, 0));
});

test('CHARACTER encoder writes items by slot and skills by id; the decoder returns them so', () => {
  const body = decodeCharacterBody(
    encodeCharacter({
      ...SHEET,
      inventory: [
        { slot: 9, itemId: 1, quantity: 5, durability: 1, quality: 1 },
        { slot: 2, itemId: 3, quantity: 7, durability: 0, quality: 0.5 },
      ],
      skills: [
        { skillId: 8, level: 3, experience: 400 },
        { skillId: 1, level: 2, experience: 135 },
      ],
    }),
  );
  assert.deepEqual(body.inventory.map((i) => i.slot), [2, 9]);
  assert.deepEqual(body.skills.map((s) => s.skillId), [1, 8]);
  assert.equal(body.inventory[0]!.quality, 128 / 255);
  // The limits themselves are fine.
  const full = encodeCharacter({
    ...SHEET,
    inventory: Array.from({ length: CHARACTER_MAX_ITEMS }, (_, slot) => ({ slot, itemId: 1, quantity: 99, durability: 1, quality: 1 })),
    skills: Array.from({ length: CHARACTER_MAX_SKILLS }, (_, i) => ({ skillId: i + 1, level: 100, experience: 2 ** 40 })),
  });
  const fullBody = decodeCharacterBody(full);
  assert.equal(fullBody.inventory.length, 64);
  assert.equal(fullBody.skills.length, 64);
});

test('CHARACTER encoder refuses invalid values', () => {
  const item = { slot: 0, itemId: 1, quantity: 1, durability: 1, quality: 1 };
  const skill = { skillId: 1, level: 1, experience: 0 };
  const bad: Partial<CharacterMessage>[] = [
    { cause: 256 },
    { cause: -1 },
    { cause: 1.5 },
    { health: NaN },
    { stamina: Infinity },
    { level: 65536 },
    { level: 1.5 },
    { experience: -1 },
    { experience: 2 ** 53 },
    { inventory: Array.from({ length: 65 }, (_, slot) => ({ ...item, slot })) },
    { inventory: [item, { ...item }] },
    { inventory: [{ ...item, slot: 256 }] },
    { inventory: [{ ...item, itemId: 0 }] },
    { inventory: [{ ...item, itemId: 2 ** 32 }] },
    { inventory: [{ ...item, quantity: -1 }] },
    { inventory: [{ ...item, quantity: 2 ** 32 }] },
    { inventory: [{ ...item, durability: 1.01 }] },
    { inventory: [{ ...item, durability: -0.01 }] },
    { inventory: [{ ...item, quality: NaN }] },
    { skills: Array.from({ length: 65 }, (_, i) => ({ ...skill, skillId: i + 1 })) },
    { skills: [skill, { ...skill }] },
    { skills: [{ ...skill, skillId: 0 }] },
    { skills: [{ ...skill, level: 70000 }] },
    { skills: [{ ...skill, experience: 0.5 }] },
    { found: { itemId: 0, quantity: 1 } },
    { found: { itemId: 5, quantity: -1 } },
  ];
  for (const b of bad) assert.throws(() => encodeCharacter({ ...SHEET, ...b }), RangeError, JSON.stringify(b));
});

test('CHARACTER decoder rejects malformed payloads', () => {
  const v = PROTOCOL_VERSION;
  const ch = (items: number[][], skills: number[][], tail: (w: Writer) => void = (w) => w.uvarint(0)) => (w: Writer) => {
    w.u8(1);
    w.u16(50);
    w.u16(60);
    w.u16(2);
    w.uvarint(135);
    w.u8(items.length);
    for (const [slot, itemId, quantity] of items) {
      w.u8(slot!);
      w.uvarint(itemId!);
      w.uvarint(quantity!);
      w.u8(255);
      w.u8(0);
    }
    w.u8(skills.length);
    for (const [skillId, level, xp] of skills) {
      w.uvarint(skillId!);
      w.u16(level!);
      w.uvarint(xp!);
    }
    tail(w);
  };
  const ok = decodeCharacterBody(raw(v, MessageType.Character, 0, ch([[0, 1, 3], [5, 2, 1]], [[1, 2, 135]])));
  assert.deepEqual(ok.inventory[1], { slot: 5, itemId: 2, quantity: 1, durability: 1, quality: 0 });
  assert.equal(ok.found, null);
  // Slots and skill ids strictly ascending; ids non-zero; ids and quantities within u32.
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([[5, 1, 3], [5, 2, 1]], []))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([[5, 1, 3], [4, 2, 1]], []))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([[0, 0, 3]], []))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([[0, 2 ** 32, 3]], []))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([[0, 1, 2 ** 32]], []))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [[2, 1, 0], [2, 1, 0]]))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [[0, 1, 0]]))), 'bad_field');
  // Counts over the limits are refused before the entries are read.
  const over = (itemCount: number, skillCount: number) => (w: Writer) => {
    w.u8(1);
    w.u16(50);
    w.u16(60);
    w.u16(2);
    w.uvarint(0);
    w.u8(itemCount);
    for (let i = 0; i < itemCount; i++) {
      w.u8(i);
      w.uvarint(1);
      w.uvarint(1);
      w.u8(0);
      w.u8(0);
    }
    w.u8(skillCount);
    for (let i = 0; i < skillCount; i++) {
      w.uvarint(i + 1);
      w.u16(1);
      w.uvarint(0);
    }
    w.uvarint(0);
  };
  assert.equal(decodeCharacterBody(raw(v, MessageType.Character, 0, over(64, 64))).skills.length, 64);
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, over(65, 0))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, over(0, 65))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, (w) => (w.u8(1), w.u16(1), w.u16(1), w.u16(1), w.uvarint(0), w.u8(255)))), 'bad_field');
  // found: a quantity follows a non-zero item id only; found ids and quantities within u32.
  const found = decodeCharacterBody(raw(v, MessageType.Character, 0, ch([], [], (w) => (w.uvarint(5), w.uvarint(2)))));
  assert.deepEqual(found.found, { itemId: 5, quantity: 2 });
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], (w) => w.uvarint(5)))), 'truncated');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], (w) => (w.uvarint(0), w.uvarint(2))))), 'bad_length');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], (w) => (w.uvarint(2 ** 32), w.uvarint(2))))), 'bad_field');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], (w) => (w.uvarint(5), w.uvarint(2 ** 32))))), 'bad_field');
  // Trailing bytes and truncation.
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], (w) => (w.uvarint(0), w.u8(0))))), 'bad_length');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, ch([], [], () => undefined))), 'truncated');
  throwsCode(() => decodeMessage(raw(v, MessageType.Character, 0, (w) => (w.u8(1), w.u16(1)))), 'truncated');
  // The header seq carries no meaning: a non-zero one is ignored on decode and written as 0.
  const seqd = decodeMessage(raw(v, MessageType.Character, 9, ch([], [])));
  assert.equal(seqd.type === MessageType.Character && seqd.header.seq, 9);
  assert.equal(new DataView(encodeCharacter(SHEET, { seq: 9 }).buffer).getUint32(4, true), 0);
});


const CHARACTER_EXAMPLE: CharacterMessage = {
  cause: 2,
  health: 87.6,
  stamina: 62,
  level: 2,
  experience: 135,
  inventory: [
    { slot: 0, itemId: 1, quantity: 12, durability: 1, quality: 1 },
    { slot: 3, itemId: 5, quantity: 1, durability: 1, quality: 0.8 },
  ],
  skills: [{ skillId: 1, level: 2, experience: 135 }],
  found: { itemId: 5, quantity: 1 },
};

const WELCOME_EXAMPLE: Welcome = {
  version: 2,
  entityId: 1001,
  tickRate: 20,
  aoiRadius: 150,
  maxSpeed: 6,
  maxVerticalSpeed: 3,
  speedTolerance: 0.1,
  maxInputDtMs: 250,
  maxInputsPerSecond: 40,
  minAltCm: 0,
  maxAltCm: 1_000_000,
  nextInputSeq: 1,
  own: { latE7: 488_566_000, lonE7: 23_522_000, altCm: 3500, heading16: 16384, action: 0, actionSeq: 0 },
  sessionId: 's1',
};

const INPUT_EXAMPLE = {
  ackFrame: 41,
  inputs: [
    { seq: 100, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [] },
    { seq: 101, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [2] },
  ],
};
const ZONE = '8828308281fffff';

test('the hex dumps in docs/protocol.md are what the encoders write', () => {
  assert.equal(docDump('HELLO: guest'), hex(encodeHello({ minVersion: 2, maxVersion: 2, name: 'ann', token: '' })));
  assert.equal(docDump('INPUT: two inputs'), hex(encodeInput(INPUT_EXAMPLE)));
  assert.equal(docDump('WELCOME (73 bytes)'), hex(encodeWelcome(WELCOME_EXAMPLE, { serverTime: 1000, zone: ZONE })));
  assert.equal(docDump('PING seq 7'), hex(encodePing({ seq: 7, clientTime: 12345.5 })));
  assert.equal(docDump('PONG answering ping 7'), hex(encodePong({ seq: 7, clientTime: 12345.5, serverTime: 99000.25 }, { serverTime: 99000, zone: ZONE })));
  assert.equal(docDump('REJECT input 101'), hex(encodeReject({ inputSeq: 101, reason: 1 }, { serverTime: 99050, zone: ZONE })));
  assert.equal(docDump('KICK version_mismatch, version-1 layout'), hex(encodeKick({ reason: 3, message: 'version mismatch' }, { version: 1 })));
  assert.equal(docDump('KICK version_mismatch, compact'), hex(encodeKick({ reason: 3, message: 'version mismatch' })));
  assert.equal(docDump('CHARACTER: a rare find'), hex(encodeCharacter(CHARACTER_EXAMPLE, { serverTime: 99100, zone: ZONE })));
});

test('golden bytes (the worked examples in docs/protocol.md)', () => {
  assert.equal(
    hex(encodeWelcome(WELCOME_EXAMPLE, { serverTime: 1000, zone: ZONE })),
    '02c0340000e8030000ffff1f2808838208' + '7f6e96a3' + '02e90714000016430000c04000004040cdcccc3dfa002800' + '0000000040420f00' + '01f0ec1e1dd0ea6601ac0d00000040000002' + '7331',
  );
  assert.equal(
    decodeMessage(encodeWelcome({ ...WELCOME_EXAMPLE, minAltCm: -50, maxAltCm: -50 })).type,
    MessageType.Welcome,
  );
  assert.throws(() => encodeWelcome({ ...WELCOME_EXAMPLE, minAltCm: 10, maxAltCm: 9 }), RangeError);
  // HELLO keeps the 24-byte layout; the header version is the client's highest.
  assert.equal(hex(encodeHello({ minVersion: 2, maxVersion: 2, name: 'ann', token: '' })), '020107000000000000000000000000000000000099c47549020203616e6e00');
  assert.equal(
    hex(encodeReject({ inputSeq: 101, reason: 1 }, { serverTime: 99050, zone: ZONE })),
    '02c2020065ea820100ffff1f2808838208a273551a' + '0165',
  );
  assert.equal(hex(encodeInput(INPUT_EXAMPLE)), '0202140064000000004884aec1' + '2902643200d804ab0200003200d804ab02000102');
  assert.equal(hex(encodePing({ seq: 7, clientTime: 12345.5 })), '02030800070000000093b76f90' + '00000000c01cc840');
  assert.equal(
    hex(encodePong({ seq: 7, clientTime: 12345.5, serverTime: 99000.25 }, { serverTime: 99000, zone: ZONE })),
    '02c3100007b8820100ffff1f2808838208d025fae2' + '00000000c01cc840' + '00000000842bf840',
  );
  assert.equal(hex(encodeKick({ reason: 3, message: 'version mismatch' })), '024412000000000000fbe5fcb2' + '031076657273696f6e206d69736d61746368');
  assert.equal(
    hex(encodeCharacter(CHARACTER_EXAMPLE, { serverTime: 99100, zone: ZONE })),
    '02c51c00001c830100ffff1f28088382080b955594' + '0258003e000200870102' + '00010cffff' + '030501ffcc' + '0101020087010501',
  );
});

test('version-1 golden bytes: HELLO of a version-1 client and the legacy KICK it is answered with', () => {
  // Exactly what version 1 wrote: a version-1 client's HELLO still decodes ...
  const helloV1 = '010107000000000000000000000000000000000069819d4d010103616e6e00';
  assert.equal(hex(encodeHello({ minVersion: 1, maxVersion: 1, name: 'ann', token: '' }, { version: 1 })), helloV1);
  const h = decodeMessage(Uint8Array.from(Buffer.from(helloV1, 'hex')));
  assert.deepEqual(h.type === MessageType.Hello && h.body, { minVersion: 1, maxVersion: 1, name: 'ann', token: '' });
  // ... and the KICK it gets is byte for byte a version-1 KICK.
  assert.equal(
    hex(encodeKick({ reason: 3, message: 'version mismatch' }, { version: 1 })),
    '014412000000000000000000000000000000000068f8d26b' + '031076657273696f6e206d69736d61746368',
  );
});
