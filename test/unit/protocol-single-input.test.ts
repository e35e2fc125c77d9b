// The single-input INPUT path (writeSingleInput, and the client's encodeOneInput on it) and the
// copy-free finish (takeMessage): byte for byte and error for error what encodeInput and the
// field-by-field Writer encoding produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Writer } from '../../src/protocol/codec.ts';
import { crc32 } from '../../src/protocol/crc32.ts';
import {
  MAX_ACTIONS_PER_INPUT,
  beginMessage,
  decodeMessage,
  encodeInput,
  encodePing,
  encodePong,
  encodeWelcome,
  finishMessage,
  takeMessage,
  writeSingleInput,
} from '../../src/protocol/messages.ts';
import { MIN_PROTOCOL_VERSION, MessageType, PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import type { InputMessage, Welcome } from '../../src/protocol/types.ts';
import { GameConnection, encodeOneInput, encodePingMessage } from '../../src/client/connection.ts';
import type { WebSocketLike } from '../../src/client/connection.ts';
import * as arb from './protocol-arbitraries.ts';

type OneInput = [
  version: number,
  ackFrame: number,
  seq: number,
  dtMs: number,
  eastCms: number,
  northCms: number,
  upCms: number,
  actions: number[],
  actionCount: number,
];

/** Every version a client may speak after the handshake. */
const clientVersion = fc.integer({ min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION });
const velocity = fc.oneof(
  fc.integer({ min: -2000, max: 2000 }),
  fc.integer(),
  fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }),
  fc.constantFrom(0, -0, 63, 64, -64, -65, 2 ** 31, -(2 ** 31) - 1, 2 ** 52 - 1, -(2 ** 52)),
);
const seqLike = fc.oneof(fc.integer({ min: 0, max: 1000 }), arb.u32, fc.constantFrom(0, 127, 128, 2 ** 21, 2 ** 28, 2 ** 31, 0xffffffff));

const validOne: fc.Arbitrary<OneInput> = fc
  .tuple(clientVersion, seqLike, seqLike, arb.u16, velocity, velocity, velocity, fc.array(arb.u8, { maxLength: 6 }), fc.nat({ max: MAX_ACTIONS_PER_INPUT }))
  .map(([v, ack, seq, dt, e, n, u, actions, count]) => [v, ack, seq, dt, e, n, u, actions, Math.min(count, actions.length)]);

/** A valid input with one or more fields replaced by something the wire cannot carry. */
const invalidOne: fc.Arbitrary<OneInput> = fc
  .tuple(
    validOne,
    fc.array(fc.nat({ max: 8 }), { minLength: 1, maxLength: 3 }),
    fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -1, 2 ** 32, 2 ** 52, -(2 ** 52) - 1, 2 ** 53, 65536, 256, 5),
  )
  .map(([one, fields, bad]) => {
    const a = [...one] as OneInput;
    for (const f of fields) {
      if (f === 7) a[7] = [...a[7], bad]; // a bad action byte
      if (f === 7 || f === 8) a[8] = f === 7 ? a[7].length : Math.min(bad, 9); // or a bad count
      else if (f === 0) a[0] = Number.isFinite(bad) && bad >= 0 && bad < 256 ? Math.floor(bad) : 1; // versions with no INPUT layout
      else a[f] = bad;
    }
    return a;
  });

/** The INPUT as the client wrote it before writeSingleInput: beginMessage, one checked Writer call per field. */
function fieldByField(w: Writer, ...[version, ackFrame, seq, dtMs, e, n, u, actions, count]: OneInput): Uint8Array {
  if (seq >>> 0 !== seq) throw new RangeError('input seq out of u32');
  if (ackFrame >>> 0 !== ackFrame) throw new RangeError(`ackFrame out of u32: ${ackFrame}`);
  if (count > MAX_ACTIONS_PER_INPUT) throw new RangeError('too many actions');
  beginMessage(w, MessageType.Input, version, seq, 0, '0');
  w.uvarint(ackFrame);
  w.u8(1);
  w.uvarint(seq);
  w.u16(dtMs);
  w.svarint(e);
  w.svarint(n);
  w.svarint(u);
  w.u8(count);
  for (let i = 0; i < count; i++) w.u8(actions[i]!);
  return finishMessage(w);
}

function asMessage([, ackFrame, seq, dtMs, eastCms, northCms, upCms, actions, count]: OneInput): InputMessage {
  return { ackFrame, inputs: [{ seq, dtMs, eastCms, northCms, upCms, actions: actions.slice(0, count) }] };
}

type Outcome = { bytes: number[] } | { error: string };
function outcome(f: () => Uint8Array): Outcome {
  try {
    return { bytes: [...f()] };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

const fresh = new Writer(32);
const slab = new Writer(4096);

test('writeSingleInput, finished either way, is encodeInput of the same single input', () => {
  fc.assert(
    fc.property(validOne, (one) => {
      const [version] = one;
      const expect = encodeInput(asMessage(one), { version });
      writeSingleInput(fresh, ...one);
      assert.deepEqual(finishMessage(fresh), expect);
      writeSingleInput(slab, ...one);
      assert.deepEqual(takeMessage(slab), expect);
      assert.deepEqual(fieldByField(new Writer(1), ...one), expect);
      const m = decodeMessage(expect);
      assert.equal(m.type, MessageType.Input);
      assert.deepEqual(m.type === MessageType.Input && m.body, { ...asMessage(one), inputs: asMessage(one).inputs.map((i) => ({ ...i, eastCms: i.eastCms + 0, northCms: i.northCms + 0, upCms: i.upCms + 0 })) });
    }),
    { numRuns: 1000 },
  );
});

test("the client's encodeOneInput and encodePingMessage are encodeInput and encodePing, byte for byte", () => {
  fc.assert(
    fc.property(validOne, arb.u32, arb.finiteDouble, (one, pingSeq, clientTime) => {
      const [version] = one;
      assert.deepEqual(encodeOneInput(...one), encodeInput(asMessage(one), { version }));
      assert.deepEqual(encodePingMessage(version, pingSeq, clientTime), encodePing({ seq: pingSeq, clientTime }, { version }));
    }),
    { numRuns: 1000 },
  );
});

test('invalid arguments: the same RangeError, in the same order, as the field-by-field Writer encoding', () => {
  fc.assert(
    fc.property(fc.oneof(invalidOne, validOne), (one) => {
      const expect = outcome(() => fieldByField(new Writer(1), ...one));
      assert.deepEqual(outcome(() => (writeSingleInput(fresh, ...one), finishMessage(fresh))), expect);
      assert.deepEqual(outcome(() => encodeOneInput(...one)), expect);
      if ('error' in expect) assert.match(expect.error, /^RangeError: /);
    }),
    { numRuns: 2000 },
  );
  // Both kinds of error for the version: no layout at all, and the version-1 one (HELLO, KICK only).
  const one: OneInput = [2, 0, 1, 50, 0, 0, 0, [], 0];
  for (const version of [0, 1, 3, 255]) {
    const expect = outcome(() => fieldByField(new Writer(1), version, ...one.slice(1) as [number, number, number, number, number, number, number[], number]));
    assert.ok('error' in expect);
    assert.deepEqual(outcome(() => encodeOneInput(version, ...one.slice(1) as [number, number, number, number, number, number, number[], number])), expect);
  }
  for (const [clientTime, version, seq] of [[NaN, 2, 1], [0, 1, 1], [0, 3, 1], [0, 2, -1], [0, 2, 2 ** 32]] as const) {
    assert.deepEqual(
      outcome(() => encodePingMessage(version, seq, clientTime)),
      outcome(() => encodePing({ seq, clientTime }, { version })),
    );
  }
});

test('encodeInput with several inputs is the field-by-field Writer encoding', () => {
  fc.assert(
    fc.property(arb.input, fc.record({ serverTime: arb.u32, zone: arb.zone }), (m, o) => {
      const w = new Writer(1);
      const first = m.inputs[0]!;
      beginMessage(w, MessageType.Input, PROTOCOL_VERSION, first.seq, o.serverTime, o.zone);
      w.uvarint(m.ackFrame);
      w.u8(m.inputs.length);
      w.uvarint(first.seq);
      for (const inp of m.inputs) {
        w.u16(inp.dtMs);
        w.svarint(inp.eastCms);
        w.svarint(inp.northCms);
        w.svarint(inp.upCms);
        w.u8(inp.actions.length);
        for (const a of inp.actions) w.u8(a);
      }
      assert.deepEqual(encodeInput(m, o), finishMessage(w));
    }),
  );
  // A bad field in a later input is found there, with the Writer's error.
  const ok = { dtMs: 50, eastCms: 1, northCms: 2, upCms: 3, actions: [] };
  assert.throws(() => encodeInput({ ackFrame: 0, inputs: [{ seq: 5, ...ok }, { seq: 6, ...ok, northCms: 0.5 }] }), /^RangeError: svarint out of range: 0.5$/);
  assert.throws(() => encodeInput({ ackFrame: 0, inputs: [{ seq: 5, ...ok }, { seq: 6, ...ok, actions: [300] }] }), /^RangeError: u8 out of range: 300$/);
});

test('the compact header (reserve/put run) is the field-by-field Writer header, zone or none', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 127 }).filter((t) => t !== MessageType.Hello), arb.u32, fc.oneof(arb.u32, fc.double()), arb.zone, arb.pong, (type, seq, serverTime, zone, pong) => {
      const w = new Writer(1);
      beginMessage(w, type, 2, seq, serverTime, zone);
      w.f64(1.5);
      const got = finishMessage(w);
      const ref = new Writer(1);
      ref.u8(2);
      ref.u8(zone === '0' ? type : type | 0x80);
      ref.u16(0);
      ref.uvarint(seq);
      ref.u32(serverTime >>> 0);
      const crcAt = ref.length + (zone === '0' ? 0 : 8);
      if (zone !== '0') {
        const lo = BigInt('0x' + zone) & 0xffffffffn;
        ref.u32(Number(lo));
        ref.u32(Number(BigInt('0x' + zone) >> 32n));
      }
      ref.u32(0);
      ref.f64(1.5);
      const expect = ref.toBytes();
      expect[2] = 8; // payload length
      const view = new DataView(expect.buffer);
      view.setUint32(crcAt, crc32(expect, crcAt + 4, expect.length, crc32(expect, 0, crcAt)), true);
      assert.deepEqual(got, expect);
      // And the encoders on the shared scratch Writer hand out independent copies.
      const p = encodePong(pong, { serverTime: serverTime >>> 0, zone });
      const again = [...p];
      encodeInput({ ackFrame: 1, inputs: [{ seq: 1, dtMs: 50, eastCms: 0, northCms: 0, upCms: 0, actions: [] }] }, { zone });
      encodePing({ seq, clientTime: 0 });
      assert.deepEqual([...p], again);
    }),
  );
});

test('taken INPUTs stay intact while the client writer moves on to new buffers', () => {
  const sent: { bytes: Uint8Array; one: OneInput }[] = [];
  fc.assert(
    fc.property(validOne, (one) => {
      sent.push({ bytes: encodeOneInput(...one), one });
      if (sent.length % 7 === 0) encodePingMessage(PROTOCOL_VERSION, sent.length, 0.5);
    }),
    { numRuns: 5000 }, // a few 64 KiB buffers' worth
  );
  const buffers = new Set(sent.map((s) => s.bytes.buffer));
  assert.ok(buffers.size > 1 && buffers.size < sent.length / 100, `${buffers.size} buffers for ${sent.length} messages`);
  for (const { bytes, one } of sent) assert.deepEqual(bytes, encodeInput(asMessage(one), { version: one[0] }));
});

const WELCOME: Welcome = {
  version: PROTOCOL_VERSION,
  entityId: 7,
  tickRate: 30,
  aoiRadius: 150,
  maxSpeed: 6,
  maxVerticalSpeed: 3,
  speedTolerance: 0.1,
  maxInputDtMs: 250,
  maxInputsPerSecond: 40,
  minAltCm: 0,
  maxAltCm: 1_000_000,
  nextInputSeq: 0xfffffff0, // wraps during the test
  own: { latE7: 473_000_000, lonE7: 85_000_000, altCm: 40_000, heading16: 0, action: 0, actionSeq: 0 },
  sessionId: 'sess-1',
};

test('GameConnection.sendMove sends exactly what encodeInput writes for the rounded move', async () => {
  const sent: Uint8Array[] = [];
  let socket: WebSocketLike | undefined;
  const conn = new GameConnection({
    url: 'ws://test/ws',
    name: 'alice',
    createSocket: () => {
      socket = {
        binaryType: 'arraybuffer',
        readyState: 0,
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
        send: (data: Uint8Array) => void sent.push(data),
        close: () => {},
      } as unknown as WebSocketLike;
      return socket;
    },
    now: () => 0,
  });
  const connected = conn.connect();
  const s = socket as unknown as { readyState: number; onopen: (e: unknown) => void; onmessage: (e: { data: unknown }) => void };
  s.readyState = 1;
  s.onopen({});
  const w = encodeWelcome(WELCOME);
  s.onmessage({ data: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) });
  await connected;
  const move = fc.tuple(fc.double({ min: -5000, max: 5000, noNaN: true }), fc.double({ min: -5000, max: 5000, noNaN: true }), fc.integer({ min: -300, max: 300 }), fc.array(arb.u8, { maxLength: 4 }));
  const expected: Uint8Array[] = [];
  fc.assert(
    fc.property(move, ([e, n, u, actions]) => {
      const seq = conn.sendMove(e, n, u, actions, actions.length, 0);
      const input = { seq, dtMs: Math.round(1000 / WELCOME.tickRate), eastCms: Math.round(e), northCms: Math.round(n), upCms: u, actions };
      expected.push(encodeInput({ ackFrame: 0, inputs: [input] }));
    }),
    { numRuns: 300 },
  );
  const inputs = sent.slice(1); // after HELLO
  assert.equal(inputs.length, expected.length);
  inputs.forEach((b, i) => assert.deepEqual(b, expected[i], `input ${i}`));
  conn.close();
});
