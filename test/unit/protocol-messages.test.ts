import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError, Writer } from '../../src/protocol/codec.ts';
import { crc32 } from '../../src/protocol/crc32.ts';
import {
  decodeHeader,
  decodeMessage,
  encodeHello,
  encodeInput,
  encodeKick,
  encodeMessage,
  encodePing,
  encodePong,
  encodeReject,
  encodeWelcome,
} from '../../src/protocol/messages.ts';
import type { EncodeOptions } from '../../src/protocol/messages.ts';
import { HEADER_SIZE, MessageType, PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import type { DecodedMessage } from '../../src/protocol/types.ts';
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
  fc.tuple(arb.welcome, opts).map(([body, o]) => ({
    bytes: encodeWelcome({ ...body, version: PROTOCOL_VERSION }, o),
    expect: { type: MessageType.Welcome, header: hdr(MessageType.Welcome, { ...o, seq: 0 }), body: { ...body, version: PROTOCOL_VERSION } },
  })),
);

function hdr(type: number, o: EncodeOptions): DecodedMessage['header'] {
  return { version: PROTOCOL_VERSION, type, payloadLength: -1, seq: o.seq ?? 0, serverTime: o.serverTime ?? 0, zone: o.zone ?? '0' };
}

test('every message type round-trips', () => {
  fc.assert(
    fc.property(anyMessage, ({ bytes, expect }) => {
      const got = decodeMessage(bytes);
      assert.deepEqual(got, { ...expect, header: { ...expect.header, payloadLength: bytes.length - HEADER_SIZE } });
      assert.deepEqual(reencode(got), bytes);
    }),
    { numRuns: 500 },
  );
});

test('WELCOME header version defaults to the negotiated version', () => {
  fc.assert(
    fc.property(arb.welcome, (body) => {
      const bytes = encodeWelcome(body);
      assert.equal(bytes[0], body.version);
      assert.deepEqual(decodeMessage(bytes, { minVersion: body.version, maxVersion: body.version }).header.version, body.version);
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
  throwsCode(() => decodeHeader(new Uint8Array(65535 + 25)), 'oversize');
  throwsCode(() => decodeHeader(new Uint8Array(23)), 'truncated');
  assert.throws(() => encodeMessage(MessageType.Kick, {}, (w) => w.bytes(new Uint8Array(65536))), RangeError);
  assert.equal(encodeMessage(MessageType.Frame, {}, (w) => w.bytes(new Uint8Array(65535))).length, 65535 + 24);
});

/** Builds a message with arbitrary header fields and raw payload, with a correct CRC. */
function raw(version: number, type: number, seq: number, payload: Uint8Array | ((w: Writer) => void)): Uint8Array {
  return encodeMessage(type, { version, seq }, typeof payload === 'function' ? payload : (w) => w.bytes(payload));
}

test('version and type checks', () => {
  const ping = (v: number): Uint8Array => raw(v, MessageType.Ping, 1, (w) => w.f64(5));
  throwsCode(() => decodeMessage(ping(PROTOCOL_VERSION + 1)), 'bad_version');
  throwsCode(() => decodeMessage(ping(0)), 'bad_version');
  assert.equal(decodeMessage(ping(PROTOCOL_VERSION + 1), { maxVersion: PROTOCOL_VERSION + 1 }).type, MessageType.Ping);
  throwsCode(() => decodeMessage(ping(1), { minVersion: 2, maxVersion: 3 }), 'bad_version');
  // HELLO: any header version >= 1.
  const hello = encodeHello({ minVersion: 3, maxVersion: 9, name: 'ann', token: '' }, { version: 200 });
  const h = decodeMessage(hello);
  assert.deepEqual(h.type === MessageType.Hello && h.body, { minVersion: 3, maxVersion: 9, name: 'ann', token: '' });
  throwsCode(() => decodeMessage(encodeHello({ minVersion: 1, maxVersion: 1, name: 'a', token: '' }, { version: 0 })), 'bad_version');
  // Version is checked before type; CRC before both.
  throwsCode(() => decodeMessage(raw(PROTOCOL_VERSION, 99, 0, new Uint8Array(0))), 'unknown_type');
  throwsCode(() => decodeMessage(raw(PROTOCOL_VERSION + 1, 99, 0, new Uint8Array(0))), 'bad_version');
  const corrupt = raw(PROTOCOL_VERSION + 1, 99, 0, new Uint8Array(0));
  corrupt[23]! ^= 1;
  throwsCode(() => decodeMessage(corrupt), 'bad_checksum');
});

test('header CRC covers bytes 0..19 then the payload', () => {
  const bytes = encodePing({ seq: 7, clientTime: 1.5 }, { serverTime: 99, zone: '8828308281fffff' });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const whole = new Uint8Array(bytes.length - 4);
  whole.set(bytes.subarray(0, 20));
  whole.set(bytes.subarray(24), 20);
  assert.equal(view.getUint32(20, true), crc32(whole));
  assert.equal(view.getUint16(2, true), 8);
  assert.equal(view.getUint32(4, true), 7);
  assert.equal(view.getUint32(8, true), 99);
  assert.equal(view.getUint32(12, true), 0x281fffff);
  assert.equal(view.getUint32(16, true), 0x8828308);
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
  const type = fc.constantFrom(...Object.values(MessageType), 0, 4, 200);
  fc.assert(
    fc.property(type, arb.u32, fc.uint8Array({ maxLength: 80 }), (t, seq, payload) => {
      // Types whose header seq has no meaning get 0 so a re-encode can match byte for byte.
      const s = t === MessageType.Hello || t === MessageType.Welcome || t === MessageType.Kick ? 0 : seq;
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
      fc.constantFrom(MessageType.Input, MessageType.Hello, MessageType.Welcome),
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

test('golden bytes (the worked examples in docs/protocol.md)', () => {
  const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  assert.equal(hex(encodeHello({ minVersion: 1, maxVersion: 1, name: 'ann', token: '' })), '010107000000000000000000000000000000000069819d4d010103616e6e00');
  assert.equal(
    hex(encodeReject({ inputSeq: 101, reason: 1 }, { serverTime: 99050, zone: '8828308281fffff' })),
    '0142020065000000ea820100ffff1f2808838208666c85660165',
  );
  assert.equal(
    hex(encodeInput({ ackFrame: 41, inputs: [
      { seq: 100, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [] },
      { seq: 101, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [2] },
    ] })),
    '010214006400000000000000000000000000000' + '0ccffe9e72902643200d804ab02000032' + '00d804ab02000102',
  );
});
