import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
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
} from '../../src/protocol/messages.ts';
import type { EncodeOptions } from '../../src/protocol/messages.ts';
import { HEADER_SIZE, MessageType, PROTOCOL_VERSION } from '../../src/protocol/types.ts';
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

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** The worked example's dump under the docs/protocol.md heading starting `### <heading>`, as hex. */
function docDump(heading: string): string {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const at = doc.indexOf(`\n### ${heading}`);
  assert.ok(at >= 0, `no heading ${heading}`);
  const block = /```\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(block, `no dump under ${heading}`);
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/^[0-9a-f]{4} {2}/, '').replace(/ /g, ''))
    .join('');
}

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
  version: 1,
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

test('the hex dumps in docs/protocol.md are what the encoders write', () => {
  assert.equal(docDump('HELLO: guest'), hex(encodeHello({ minVersion: 1, maxVersion: 1, name: 'ann', token: '' })));
  assert.equal(
    docDump('INPUT: two inputs'),
    hex(encodeInput({ ackFrame: 41, inputs: [
      { seq: 100, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [] },
      { seq: 101, dtMs: 50, eastCms: 300, northCms: -150, upCms: 0, actions: [2] },
    ] })),
  );
  assert.equal(docDump('WELCOME (76 bytes)'), hex(encodeWelcome(WELCOME_EXAMPLE, { serverTime: 1000, zone: '8828308281fffff' })));
  assert.equal(docDump('REJECT input 101'), hex(encodeReject({ inputSeq: 101, reason: 1 }, { serverTime: 99050, zone: '8828308281fffff' })));
  assert.equal(docDump('KICK version_mismatch'), hex(encodeKick({ reason: 3, message: 'version mismatch' })));
  assert.equal(docDump('CHARACTER: a rare find'), hex(encodeCharacter(CHARACTER_EXAMPLE, { serverTime: 99100, zone: '8828308281fffff' })));
});

test('golden bytes (the worked examples in docs/protocol.md)', () => {
  assert.equal(
    hex(encodeWelcome(WELCOME_EXAMPLE, { serverTime: 1000, zone: '8828308281fffff' })),
    '0140340000000000e8030000ffff1f2808838208b1268ccc' + '01e90714000016430000c0400000404' + '0cdcccc3dfa002800' + '0000000040420f00' + '01f0ec1e1dd0ea6601ac0d00000040000002' + '7331',
  );
  assert.equal(
    decodeMessage(encodeWelcome({ ...WELCOME_EXAMPLE, minAltCm: -50, maxAltCm: -50 })).type,
    MessageType.Welcome,
  );
  assert.throws(() => encodeWelcome({ ...WELCOME_EXAMPLE, minAltCm: 10, maxAltCm: 9 }), RangeError);
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
  assert.equal(
    hex(encodeCharacter(CHARACTER_EXAMPLE, { serverTime: 99100, zone: '8828308281fffff' })),
    '01451c00000000001c830100ffff1f2808838208c1135d91' + '0258003e000200870102' + '00010cffff' + '030501ffcc' + '0101020087010501',
  );
});
