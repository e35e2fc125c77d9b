import { test } from 'node:test';
import assert from 'node:assert/strict';
import { docDump, hex } from '../helpers/protocol-doc.ts';
import fc from 'fast-check';
import { ProtocolError, Writer } from '../../src/protocol/codec.ts';
import { createFrameDecodeTarget, createSnapshot, decodeFrame, decodeFrameInto, encodeFrame } from '../../src/protocol/frame.ts';
import type { FrameEncodeInput } from '../../src/protocol/frame.ts';
import { decodeMessage, encodeMessage } from '../../src/protocol/messages.ts';
import { wrapDelta } from '../../src/protocol/quantize.ts';
import { MessageType, SNAPSHOT_STRIDE as S } from '../../src/protocol/types.ts';
import type { EntitySnapshot, FrameDecoded, FrameHeader, FrameState, OwnState } from '../../src/protocol/types.ts';
import * as arb from './protocol-arbitraries.ts';

type Ent = [id: number, kind: number, latE6: number, lonE6: number, altDm: number, heading8: number, action: number, actionSeq: number];

function snapshot(ents: readonly Ent[]): EntitySnapshot {
  const sorted = [...ents].sort((a, b) => a[0] - b[0]);
  const s = createSnapshot(sorted.length + 3); // spare capacity must be ignored
  s.data.fill(-7);
  sorted.forEach((e, i) => s.data.set(e, i * S));
  s.count = sorted.length;
  return s;
}

function entities(s: EntitySnapshot): Ent[] {
  const out: Ent[] = [];
  for (let i = 0; i < s.count; i++) out.push([...s.data.subarray(i * S, i * S + S)] as Ent);
  return out;
}

const LAT = 90_000_000;
const LON = 180_000_000;
const clampLat = (v: number): number => Math.max(-LAT, Math.min(LAT, v));
const wrapLon = (v: number): number => wrapDelta(v, 2 * LON);

const entBody = fc.tuple(
  arb.u8,
  fc.integer({ min: -LAT, max: LAT }),
  fc.oneof(fc.integer({ min: -LON, max: LON - 1 }), fc.constantFrom(179_999_900, -179_999_900, -LON, LON - 1)),
  fc.oneof(fc.integer({ min: -1000, max: 1000 }), arb.i32),
  arb.u8,
  arb.u8,
  arb.u8,
);

/** How a kept entity changes between baseline and current. */
const change = fc.oneof(
  fc.constant({ k: 'same' as const }),
  fc.record({ k: fc.constant('small' as const), dLat: fc.integer({ min: -8, max: 7 }), dLon: fc.integer({ min: -8, max: 7 }) }),
  fc.record({ k: fc.constant('move' as const), dLat: fc.integer({ min: -5000, max: 5000 }), dLon: fc.integer({ min: -5000, max: 5000 }) }),
  fc.record({ k: fc.constant('big' as const), dLat: fc.integer({ min: -LAT, max: LAT }), dLon: fc.integer({ min: -2 * LON, max: 2 * LON }) }),
  fc.record({ k: fc.constant('cross' as const), dLon: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ k: fc.constant('other' as const), body: entBody, fields: fc.integer({ min: 1, max: 63 }) }),
);

function applyChange(e: Ent, c: (typeof change extends fc.Arbitrary<infer T> ? T : never)): Ent {
  const n = [...e] as Ent;
  switch (c.k) {
    case 'same':
      break;
    case 'small':
    case 'move':
    case 'big':
      n[2] = clampLat(n[2] + c.dLat);
      n[3] = wrapLon(n[3] + c.dLon);
      break;
    case 'cross':
      // Put it just east of the antimeridian and move it west across it.
      n[3] = LON - 1 - (c.dLon >> 1);
      e[3] = n[3];
      n[3] = wrapLon(n[3] + c.dLon);
      break;
    case 'other':
      // Each bit of `fields` takes one field from `body`.
      for (let f = 0; f < 6; f++) if (c.fields & (1 << f)) n[f + 1] = c.body[f]!;
      if (c.fields & 32) n[7] = c.body[6];
      break;
  }
  return n;
}

interface Pair {
  baseline: FrameState;
  current: FrameState;
  baseIds: number[];
  curIds: number[];
}

const pair: fc.Arbitrary<Pair> = fc
  .record(
    {
      ids: fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 0x7fffffff })), { maxLength: 70 }),
      world: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), entBody, change), { minLength: 70, maxLength: 70 }),
      ownA: arb.ownState,
      ownB: fc.oneof(arb.ownState, fc.constant(null)),
      inputA: fc.oneof(arb.u32, fc.constantFrom(0, 0xffffffff)),
      inputB: fc.oneof(arb.u32, fc.constantFrom(0, 0xffffffff), fc.constant(null)),
    },
    { noNullPrototype: true },
  )
  .map(({ ids, world, ownA, ownB, inputA, inputB }) => {
    const base: Ent[] = [];
    const cur: Ent[] = [];
    ids.forEach((id, i) => {
      const [where, body, c] = world[i]!;
      const e: Ent = [id, ...body];
      const moved = applyChange(e, c); // may adjust e (antimeridian case)
      if (where & 1) base.push(e);
      if (where & 2) cur.push(where === 3 ? moved : e);
    });
    const own: OwnState = ownB ?? { ...ownA, lonE7: wrapDelta(ownA.lonE7 + 3, 3.6e9), latE7: Math.min(900_000_000, ownA.latE7 + 1) };
    // Usually a few inputs later than the baseline; sometimes anything in u32.
    const lastInputSeq = inputB ?? Math.min(0xffffffff, inputA + 2);
    return {
      baseline: { own: ownA, entities: snapshot(base), lastInputSeq: inputA },
      current: { own, entities: snapshot(cur), lastInputSeq },
      baseIds: base.map((e) => e[0]).sort((a, b) => a - b),
      curIds: cur.map((e) => e[0]).sort((a, b) => a - b),
    };
  });

const shared = new Writer(64); // reused across all encodes, as the server does
/** The zone of the "previous FRAME" for decodes of frames whose header omits it. */
const PREV_ZONE = '8928308280fffff';

function roundTrip(f: FrameEncodeInput, baselines: Map<number, FrameState>, previousZone = PREV_ZONE): { bytes: Uint8Array; decoded: FrameDecoded } {
  const bytes = encodeFrame(shared, f);
  const m = decodeMessage(bytes);
  assert.equal(m.type, MessageType.Frame);
  if (m.type !== MessageType.Frame) throw new Error('unreachable');
  return { bytes, decoded: decodeFrame(m.header, m.payload, (s) => baselines.get(s), previousZone) };
}

function isProtocolError(e: unknown, ...codes: string[]): boolean {
  return e instanceof ProtocolError && (codes.length === 0 || codes.includes(e.code));
}

test('frame round trip: delta against a baseline and full snapshot', () => {
  fc.assert(
    fc.property(pair, arb.zone, arb.u32, fc.boolean(), fc.integer({ min: 1, max: 200 }), (p, zone, serverTime, full, gap) => {
      const seq = 1000;
      const baselineSeq = full ? 0 : seq - gap;
      const { bytes, decoded } = roundTrip(
        { seq, serverTime, zone, baselineSeq, baseline: full ? null : p.baseline, current: p.current },
        new Map([[baselineSeq, p.baseline]]),
      );
      assert.equal(bytes[0], 2);
      assert.equal(bytes[1], MessageType.Frame | (zone === '0' ? 0 : 0x80));
      assert.deepEqual(decoded.state.own, p.current.own);
      assert.deepEqual(entities(decoded.state.entities), entities(p.current.entities));
      assert.equal(decoded.state.entities.count, p.current.entities.count);
      assert.equal(decoded.state.lastInputSeq, p.current.lastInputSeq);
      assert.notEqual(decoded.state.entities.data.buffer, p.baseline.entities.data.buffer);
      assert.notEqual(decoded.state.own, p.baseline.own);
      const baseIds = full ? [] : p.baseIds;
      assert.deepEqual(decoded.added, p.curIds.filter((id) => !baseIds.includes(id)));
      assert.deepEqual(decoded.removed, baseIds.filter((id) => !p.curIds.includes(id)));
      assert.deepEqual(
        { seq: decoded.seq, serverTime: decoded.serverTime, zone: decoded.zone, baselineSeq: decoded.baselineSeq, lastInputSeq: decoded.lastInputSeq },
        { seq, serverTime, zone: zone === '0' ? PREV_ZONE : zone, baselineSeq, lastInputSeq: p.current.lastInputSeq },
      );
    }),
    { numRuns: 1000 },
  );
});

test('a baseline that equals current encodes to a few bytes', () => {
  fc.assert(
    fc.property(pair, (p) => {
      const bytes = encodeFrame(shared, { seq: 2, serverTime: 0, zone: '0', baselineSeq: 1, baseline: p.current, current: p.current });
      const kept = p.current.entities.count;
      // 13-byte header (seq 2, no zone), baselineGap, lastInputDelta 0, flags, bitmap.
      assert.equal(bytes.length, 13 + 1 + 1 + 1 + Math.ceil((2 * kept) / 8));
    }),
  );
});

test('a client chain of frames, each decoded against an earlier decoded frame', () => {
  fc.assert(
    fc.property(
      fc.array(pair, { minLength: 2, maxLength: 8 }),
      fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
      fc.array(fc.constantFrom('0', '0', '8828308281fffff', '8828308283fffff'), { minLength: 8, maxLength: 8 }),
      (states, picks, zones) => {
        const clientHistory = new Map<number, FrameState>();
        const serverHistory = new Map<number, FrameState>();
        let clientZone = '0';
        let serverZone = '0';
        states.forEach((p, i) => {
          const seq = i + 1;
          const choices = [0, ...serverHistory.keys()];
          const baselineSeq = choices[picks[i]! % choices.length]!;
          const current = i % 2 ? p.current : p.baseline;
          // The first frame must name its zone; later ones may omit it (= the previous frame's).
          const zone = i === 0 && zones[i] === '0' ? '8828308281fffff' : zones[i]!;
          if (zone !== '0') serverZone = zone;
          const { decoded } = roundTrip(
            { seq, serverTime: seq * 50, zone, baselineSeq, baseline: serverHistory.get(baselineSeq) ?? null, current },
            clientHistory,
            clientZone,
          );
          assert.deepEqual(decoded.state.own, current.own);
          assert.deepEqual(entities(decoded.state.entities), entities(current.entities));
          assert.equal(decoded.lastInputSeq, current.lastInputSeq);
          assert.equal(decoded.zone, serverZone);
          clientZone = decoded.zone;
          serverHistory.set(seq, current);
          clientHistory.set(seq, decoded.state);
        });
      },
    ),
    { numRuns: 200 },
  );
});

test('antimeridian crossing gives a tiny wire delta', () => {
  const own: OwnState = { latE7: 0, lonE7: 1_799_999_999, altCm: 0, heading16: 0, action: 0, actionSeq: 0 };
  const base = { own, entities: snapshot([[5, 0, 10, 179_999_900, 0, 0, 0, 0], [6, 0, 10, 179_999_999, 0, 0, 0, 0]]), lastInputSeq: 7 };
  const cur = {
    own: { ...own, lonE7: -1_799_999_999 },
    entities: snapshot([[5, 0, 10, -179_999_900, 0, 0, 0, 0], [6, 0, 10, -180_000_000, 0, 0, 0, 0]]),
    lastInputSeq: 8,
  };
  const { bytes, decoded } = roundTrip(
    { seq: 2, serverTime: 0, zone: '0', baselineSeq: 1, baseline: base, current: cur },
    new Map([[1, base]]),
  );
  assert.deepEqual(entities(decoded.state.entities), entities(cur.entities));
  assert.deepEqual(decoded.state.own, cur.own);
  // 13-byte header, baselineGap, lastInputDelta, flags + dLat(1) + dLon(1: zigzag 2 -> 4), no
  // removed or added block, bitmap (1 byte), entity 5 code 2: dLat 0 (1) + dLon 200 (2), entity 6 code 1 (1).
  assert.equal(bytes.length, 13 + 1 + 1 + 3 + 1 + 3 + 1);
});

test('50 entities moving 0.25 m: frame fits in 130 bytes (typical size in docs/protocol.md)', () => {
  const rnd = fc.sample(fc.tuple(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 0, max: 3 })), { numRuns: 50, seed: 42 });
  const base: Ent[] = [];
  const cur: Ent[] = [];
  for (let i = 0; i < 50; i++) {
    const e: Ent = [1000 + i * 7, 0, 48_856_600 + i * 100, 2_352_200 - i * 100, 350, 64, 0, 0];
    const [mag, dir] = rnd[i]!;
    // 0.25 m is about 2.2 E6 units of latitude; vary the direction per entity.
    const dLat = dir === 0 ? mag : dir === 1 ? -mag : dir === 2 ? 1 : -2;
    const dLon = dir === 0 ? 1 : dir === 1 ? -1 : dir === 2 ? mag : -mag;
    base.push(e);
    cur.push([e[0], e[1], e[2] + dLat, e[3] + dLon, e[4], e[5], e[6], e[7]]);
  }
  const own: OwnState = { latE7: 488_566_000, lonE7: 23_522_000, altCm: 3500, heading16: 16384, action: 0, actionSeq: 0 };
  const baseline = { own, entities: snapshot(base), lastInputSeq: 4566 };
  const current = { own: { ...own, latE7: own.latE7 + 22, lonE7: own.lonE7 - 7 }, entities: snapshot(cur), lastInputSeq: 4567 };
  // A steady-state frame: the zone is the previous frame's, so the header omits it.
  const { bytes, decoded } = roundTrip(
    { seq: 1234, serverTime: 5_000_000, zone: '0', baselineSeq: 1232, baseline, current },
    new Map([[1232, baseline]]),
  );
  assert.deepEqual(entities(decoded.state.entities), entities(current.entities));
  console.log(`50-entity 0.25 m delta frame: ${bytes.length} bytes (header included)`);
  assert.ok(bytes.length <= 130, `${bytes.length} bytes`);
  // With the zone in the header (a handoff): 8 bytes more.
  const zoned = encodeFrame(shared, { seq: 1234, serverTime: 5_000_000, zone: '8828308281fffff', baselineSeq: 1232, baseline, current });
  assert.equal(zoned.length, bytes.length + 8);
});

test('full snapshot when baseline is null or baselineSeq is 0', () => {
  const s = { own: { latE7: 1, lonE7: 2, altCm: 3, heading16: 4, action: 5, actionSeq: 6 }, entities: snapshot([[9, 1, 1, 1, 1, 1, 1, 1]]), lastInputSeq: 77 };
  const a = encodeFrame(shared, { seq: 5, serverTime: 0, zone: '1', baselineSeq: 0, baseline: s, current: s });
  const b = encodeFrame(shared, { seq: 5, serverTime: 0, zone: '1', baselineSeq: 4, baseline: null, current: s });
  const c = encodeFrame(shared, { seq: 5, serverTime: 0, zone: '1', baselineSeq: 0, baseline: null, current: s });
  assert.deepEqual(a, c);
  assert.deepEqual(b, c);
  const m = decodeMessage(c);
  if (m.type !== MessageType.Frame) throw new Error('not a frame');
  const d = decodeFrame(m.header, m.payload, () => assert.fail('full frames need no baseline'));
  assert.deepEqual(d.added, [9]);
  assert.equal(d.lastInputSeq, 77); // a delta against 0
  assert.equal(d.baselineSeq, 0);
});

test('encodeFrame refuses invalid input', () => {
  const ok = { own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 }, entities: snapshot([]), lastInputSeq: 0 };
  const f = (over: Partial<FrameEncodeInput>): FrameEncodeInput => ({ seq: 5, serverTime: 0, zone: '0', baselineSeq: 0, baseline: null, current: ok, ...over });
  assert.throws(() => encodeFrame(shared, f({ seq: 0 })), RangeError);
  assert.throws(() => encodeFrame(shared, f({ baselineSeq: 5, baseline: ok })), RangeError);
  assert.throws(() => encodeFrame(shared, f({ current: { ...ok, entities: snapshot([[0, 0, 0, 0, 0, 0, 0, 0]]) } })), RangeError);
  const unsorted = snapshot([]);
  unsorted.data = Int32Array.from([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  unsorted.count = 2;
  assert.throws(() => encodeFrame(shared, f({ current: { ...ok, entities: unsorted } })), RangeError);
  assert.throws(() => encodeFrame(shared, f({ current: { ...ok, entities: snapshot([[1, 0, 90_000_001, 0, 0, 0, 0, 0]]) } })), RangeError);
  assert.throws(() => encodeFrame(shared, f({ current: { ...ok, own: { ...ok.own, lonE7: 1_800_000_000 } } })), RangeError);
  assert.throws(() => encodeFrame(shared, f({ current: { ...ok, entities: snapshot([[1, 256, 0, 0, 0, 0, 0, 0]]) } })), RangeError);
  for (const bad of [-1, 2 ** 32, 1.5]) {
    assert.throws(() => encodeFrame(shared, f({ current: { ...ok, lastInputSeq: bad } })), RangeError);
    assert.throws(() => encodeFrame(shared, f({ baselineSeq: 4, baseline: { ...ok, lastInputSeq: bad } })), RangeError);
  }
  assert.throws(() => encodeFrame(shared, f({ zone: 'nope' })), RangeError);
});

// Hand-built payloads for the decoder's validation rules.
const base3: FrameState = {
  own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 },
  entities: snapshot([[10, 0, 0, 0, 0, 0, 0, 0], [20, 0, 0, 0, 0, 0, 0, 0], [30, 0, 0, 0, 0, 0, 0, 0]]),
  lastInputSeq: 100,
};

/** A FRAME of seq 2 (zone '1') with baselineGap `gap` (1 = frame 1 = base3) and lastInputDelta `delta`. */
function decodeRaw(write: (w: Writer) => void, gap = 1, delta = 0, seq = 2): FrameDecoded {
  const bytes = encodeMessage(MessageType.Frame, { seq, zone: '1' }, (w) => {
    w.uvarint(gap);
    w.svarint(delta);
    write(w);
  });
  const m = decodeMessage(bytes);
  if (m.type !== MessageType.Frame) throw new Error('not a frame');
  return decodeFrame(m.header, m.payload, (s) => (s === 1 ? base3 : undefined));
}

const addEntity = (w: Writer, gap: number): void => {
  w.uvarint(gap);
  for (let k = 0; k < 7; k++) w.u8(0);
};

test('decodeFrame validation', () => {
  const bad = (write: (w: Writer) => void, code = 'bad_field', gap = 1, delta = 0, seq = 2): void =>
    void assert.throws(() => decodeRaw(write, gap, delta, seq), (e: unknown) => isProtocolError(e, code));
  // Valid reference: remove 20, add 25, keep 10 and 30 unchanged.
  const okd = decodeRaw((w) => (w.u8(0x30), w.uvarint(1), w.uvarint(1), w.uvarint(1), addEntity(w, 25), w.u8(0)));
  assert.deepEqual(okd.removed, [20]);
  assert.deepEqual(okd.added, [25]);
  assert.deepEqual(entities(okd.state.entities).map((e) => e[0]), [10, 25, 30]);
  assert.equal(okd.baselineSeq, 1);
  assert.equal(okd.lastInputSeq, 100);
  // Without the block flags the blocks and their counts are absent.
  const plain = decodeRaw((w) => (w.u8(0), w.u8(0)));
  assert.deepEqual([plain.added, plain.removed, plain.state.entities.count], [[], [], 3]);

  bad((w) => (w.u8(0x40), w.u8(0))); // flags bit 6
  bad((w) => (w.u8(0x80), w.u8(0))); // flags bit 7
  bad((w) => (w.u8(0x10), w.uvarint(0), w.u8(0))); // REMOVED block present with count 0
  bad((w) => (w.u8(0x20), w.uvarint(0), w.u8(0))); // ADDED block present with count 0
  bad((w) => (w.u8(0x10), w.uvarint(4))); // removes more than the baseline has
  bad((w) => (w.u8(0x10), w.uvarint(1), w.uvarint(3))); // removed index out of range
  bad((w) => (w.u8(0x20), w.uvarint(1), addEntity(w, 20), w.u8(0))); // added id equals kept id
  bad((w) => (w.u8(0x20), w.uvarint(2), addEntity(w, 5), addEntity(w, 0), w.u8(0))); // not ascending
  bad((w) => (w.u8(0x20), w.uvarint(1), addEntity(w, 0), w.u8(0))); // id 0
  bad((w) => (w.u8(0x20), w.uvarint(1), addEntity(w, 2 ** 31), w.u8(0))); // id beyond Int32
  bad((w) => (w.u8(0), w.u8(0b01000000))); // unused bitmap bits
  bad((w) => (w.u8(0), w.u8(0b11), w.u8(0x20))); // update mask unknown bit
  bad((w) => (w.u8(0), w.u8(0b10), w.svarint(90_000_001), w.svarint(0))); // lat out of range
  bad((w) => (w.u8(0), w.u8(0b10), w.svarint(0), w.svarint(180_000_000))); // dLon not wrapped
  bad((w) => (w.u8(0), w.u8(0b11), w.u8(2), w.svarint(2 ** 31))); // alt overflow
  bad((w) => (w.u8(0), w.u8(0), w.u8(0)), 'bad_length'); // trailing byte
  bad((w) => w.u8(0), 'truncated'); // missing bitmap
  bad((w) => (w.u8(0x20), w.uvarint(1000)), 'truncated'); // absurd added count
  bad(() => undefined, 'truncated'); // no flags
  // A block flag whose block is missing: its count runs out.
  bad((w) => w.u8(0x10), 'truncated');
  // baselineGap: 1..seq-1 (the baseline is a frame >= 1), else bad_field; a missing baseline is no_baseline.
  bad((w) => (w.u8(0), w.u8(0)), 'bad_field', 2); // baseline would be frame 0
  bad((w) => (w.u8(0), w.u8(0)), 'bad_field', 3); // before frame 0
  bad((w) => (w.u8(0), w.u8(0)), 'bad_field', 2 ** 32); // far beyond u32
  bad((w) => (w.u8(0), w.uvarint(0)), 'no_baseline', 1, 0, 9); // frame 8 is not held
  assert.equal(decodeRaw((w) => (w.u8(0), w.u8(0)), 8, 0, 9).baselineSeq, 1);
  // lastInputDelta: the result must stay in 0..2^32-1 (base3 has lastInputSeq 100).
  assert.equal(decodeRaw((w) => (w.u8(0), w.u8(0)), 1, -100).lastInputSeq, 0);
  assert.equal(decodeRaw((w) => (w.u8(0), w.u8(0)), 1, 0xffffffff - 100).lastInputSeq, 0xffffffff);
  bad((w) => (w.u8(0), w.u8(0)), 'bad_field', 1, -101);
  bad((w) => (w.u8(0), w.u8(0)), 'bad_field', 1, 0xffffffff - 99);
  // Against 0 for a full snapshot.
  assert.equal(decodeRaw((w) => w.u8(0), 0, 0xffffffff).lastInputSeq, 0xffffffff);
  bad((w) => w.u8(0), 'bad_field', 0, -1);
  bad((w) => w.u8(0), 'bad_field', 0, 2 ** 32);
});

test('a FRAME without a zone is in the previous FRAME\'s zone; the first one must carry it', () => {
  const st: FrameState = { own: base3.own, entities: snapshot([]), lastInputSeq: 0 };
  const frame = (zone: string, seq: number): { header: FrameHeader; payload: Uint8Array } => {
    const m = decodeMessage(encodeFrame(shared, { seq, serverTime: 0, zone, baselineSeq: 0, baseline: null, current: st }));
    if (m.type !== MessageType.Frame) throw new Error('not a frame');
    return m;
  };
  const none = (): undefined => undefined;
  const omitted = frame('0', 2);
  assert.equal(omitted.header.zone, '0');
  // First FRAME of a connection (no previous zone): refused.
  assert.throws(() => decodeFrame(omitted.header, omitted.payload, none), (e: unknown) => isProtocolError(e, 'bad_field'));
  // Otherwise it is the previous FRAME's zone ...
  assert.equal(decodeFrame(omitted.header, omitted.payload, none, '8828308281fffff').zone, '8828308281fffff');
  // ... and a zone in the header replaces it.
  const named = frame('8828308283fffff', 3);
  assert.equal(decodeFrame(named.header, named.payload, none, '8828308281fffff').zone, '8828308283fffff');
  assert.equal(decodeFrame(named.header, named.payload, none).zone, '8828308283fffff');
  // decodeFrameInto does the same and reports the zone in the target.
  const out = createFrameDecodeTarget();
  decodeFrameInto(omitted.header, omitted.payload, none, out, 0, '8828308283fffff');
  assert.equal(out.zone, '8828308283fffff');
  assert.throws(() => decodeFrameInto(omitted.header, omitted.payload, none, createFrameDecodeTarget()), (e: unknown) => isProtocolError(e, 'bad_field'));
  // Only version-2 FRAMEs have this payload.
  assert.throws(
    () => decodeFrame({ ...named.header, version: 1 }, named.payload, none),
    (e: unknown) => isProtocolError(e, 'bad_version'),
  );
});

test('frame payload prefixes and mutations never decode wrongly', () => {
  fc.assert(
    fc.property(pair, fc.nat(), fc.integer({ min: 1, max: 255 }), (p, pos, x) => {
      const bytes = encodeFrame(shared, { seq: 3, serverTime: 0, zone: '1', baselineSeq: 1, baseline: p.baseline, current: p.current });
      const m = decodeMessage(bytes);
      if (m.type !== MessageType.Frame) throw new Error('not a frame');
      const of = (s: number): FrameState | undefined => (s === 1 ? p.baseline : s === 2 ? p.current : undefined);
      for (let n = 0; n < m.payload.length; n++) {
        assert.throws(() => decodeFrame(m.header, m.payload.subarray(0, n), of), (e: unknown) => isProtocolError(e));
      }
      // A corrupted payload (as if the CRC had been forged) must fail cleanly or decode to something.
      const copy = m.payload.slice();
      copy[pos % copy.length]! ^= x;
      try {
        decodeFrame(m.header, copy, of);
      } catch (e) {
        assert.ok(isProtocolError(e), String(e));
      }
    }),
    { numRuns: 300 },
  );
});

test('random frame payloads only ever raise ProtocolError', () => {
  fc.assert(
    fc.property(pair, fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x80, 0xff), arb.u8), { maxLength: 80 }), (p, payload) => {
      const header = { version: 2, type: MessageType.Frame, payloadLength: payload.length, seq: 5, serverTime: 0, zone: '1', headerLength: 13 };
      try {
        const d = decodeFrame(header, Uint8Array.from(payload), (s) => (s < 5 ? p.baseline : undefined));
        assert.ok(d.state.entities.count >= 0);
      } catch (e) {
        assert.ok(isProtocolError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});


// The worked FRAME examples of docs/protocol.md: frame 1 (full), 3 (delta on 1), 4 (delta on 3).
const exOwn: OwnState = { latE7: 488_566_000, lonE7: 23_522_000, altCm: 3500, heading16: 16384, action: 0, actionSeq: 0 };
const exF1: FrameState = {
  own: exOwn,
  entities: snapshot([[5, 0, 48_856_700, 2_352_300, 350, 64, 0, 0], [9, 1, 48_856_500, 2_352_100, 340, 128, 0, 0]]),
  lastInputSeq: 0,
};
const exF3: FrameState = {
  own: { ...exOwn, latE7: exOwn.latE7 + 22, lonE7: exOwn.lonE7 - 7 },
  entities: snapshot([[5, 0, 48_856_702, 2_352_299, 350, 64, 0, 0], [12, 0, 48_856_900, 2_352_000, 360, 0, 0, 0]]),
  lastInputSeq: 101,
};
const exF4: FrameState = {
  own: exF3.own,
  entities: snapshot([[5, 0, 48_856_702, 2_352_299, 352, 70, 2, 1], [12, 0, 48_857_400, 2_352_000, 360, 0, 0, 0]]),
  lastInputSeq: 102,
};
const exZone = '8828308281fffff';
const exFrame1 = (): Uint8Array => encodeFrame(shared, { seq: 1, serverTime: 1050, zone: exZone, baselineSeq: 0, baseline: null, current: exF1 });
// The client acknowledged frame 1, which named the zone: later frames omit it.
const exFrame3 = (): Uint8Array => encodeFrame(shared, { seq: 3, serverTime: 1150, zone: '0', baselineSeq: 1, baseline: exF1, current: exF3 });
const exFrame4 = (): Uint8Array => encodeFrame(shared, { seq: 4, serverTime: 1200, zone: '0', baselineSeq: 3, baseline: exF3, current: exF4 });

test('golden bytes (the worked examples in docs/protocol.md)', () => {
  assert.equal(
    hex(exFrame1()),
    '02c12f0001' + '1a040000' + 'ffff1f2808838208' + '7c437872' +
      '0000' + '27' + 'e0b3f7d103a0abb716d8360040' + '0205' + '00f8f9cb2ed8929f02bc0540000004' + '01e8f6cb2ec88f9f02a805800000',
  );
  assert.equal(hex(exFrame3()), '02411a0003' + '7e040000' + 'da6f65cd' + '02ca0131' + '2c0d' + '0101' + '010c0088fdcb2e808e9f02d0050000' + '0001f2');
  assert.equal(hex(exFrame4()), '02410c0004' + 'b0040000' + '83329312' + '010200' + '0b' + '0e04460201' + 'e80700');
  // And they decode, in order, to what was encoded.
  const history = new Map<number, FrameState>();
  let zone = '0';
  for (const [seq, bytes, expect] of [[1, exFrame1(), exF1], [3, exFrame3(), exF3], [4, exFrame4(), exF4]] as const) {
    const m = decodeMessage(bytes);
    if (m.type !== MessageType.Frame) throw new Error('not a frame');
    const d = decodeFrame(m.header, m.payload, (s) => history.get(s), zone);
    assert.deepEqual(entities(d.state.entities), entities(expect.entities));
    assert.deepEqual(d.state.own, expect.own);
    assert.equal(d.lastInputSeq, expect.lastInputSeq);
    assert.equal(d.zone, exZone);
    zone = d.zone;
    history.set(seq, d.state);
  }
});

test('the FRAME hex dumps in docs/protocol.md are what the encoder writes', () => {
  assert.equal(docDump('FRAME 1: full snapshot'), hex(exFrame1()));
  assert.equal(docDump('FRAME 3: delta against frame 1'), hex(exFrame3()));
  assert.equal(docDump('FRAME 4: delta against frame 3'), hex(exFrame4()));
});
