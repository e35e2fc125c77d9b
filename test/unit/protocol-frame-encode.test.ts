// encodeFrame's scratch sections (raw bytes sized per frame) and its out-of-line RangeErrors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/protocol/codec.ts';
import { createSnapshot, decodeFrame, encodeFrame } from '../../src/protocol/frame.ts';
import { FrameRing } from '../../src/protocol/history.ts';
import { decodeMessage } from '../../src/protocol/messages.ts';
import { MessageType, SNAPSHOT_STRIDE as S } from '../../src/protocol/types.ts';
import type { EntitySnapshot, FrameState, OwnState } from '../../src/protocol/types.ts';

type Ent = [id: number, kind: number, latE6: number, lonE6: number, altDm: number, heading8: number, action: number, actionSeq: number];

function snapshot(ents: readonly Ent[]): EntitySnapshot {
  const s = createSnapshot(ents.length);
  ents.forEach((e, i) => s.data.set(e, i * S));
  s.count = ents.length;
  return s;
}

const OWN: OwnState = { latE7: 488_566_000, lonE7: 23_522_000, altCm: 0, heading16: 0, action: 0, actionSeq: 0 };

function state(ents: readonly Ent[], own: OwnState = OWN, lastInputSeq = 7): FrameState {
  return { own, entities: snapshot(ents), lastInputSeq };
}

test('frames larger than every initial scratch section round-trip (the sections grow)', () => {
  // 600 in the baseline, 400 of them removed, 500 added, the 200 kept with every update code,
  // the widest svarints (int32 extremes) and a longitude delta across the antimeridian.
  const base: Ent[] = [];
  const cur: Ent[] = [];
  for (let k = 0; k < 600; k++) {
    const id = 2 * k + 1;
    const e: Ent = [id, 0, 1_000 * k, k % 2 === 0 ? 179_999_990 : -5_000, k % 5 === 0 ? -2_147_483_648 : 10, 3, 0, 0];
    base.push(e);
    if (k % 3 !== 0) continue;
    const c: Ent = [...e];
    switch (k % 4) {
      case 0:
        c[3] = -179_999_995; // small move across the antimeridian
        break;
      case 1:
        c[2] += 5_000_000; // move
        break;
      case 2:
        c[4] = 2_147_483_647; // general: altitude delta of 2^32 - 1
        c[1] = 1;
        c[5] = 255;
        c[6] = 2;
        c[7] = 9;
        break;
    }
    cur.push(c);
  }
  for (let k = 0; k < 500; k++) cur.push([2 * k + 2, 1, -90_000_000 + k, -180_000_000 + k, 2_147_483_647 - k, 255, 255, 255]);
  cur.sort((a, b) => a[0] - b[0]);
  const w = new Writer(64);
  const bytes = encodeFrame(w, { seq: 9, serverTime: 1, zone: '0', baselineSeq: 4, baseline: state(base), current: state(cur, { ...OWN, altCm: -5 }, 3) });
  const m = decodeMessage(bytes);
  if (m.type !== MessageType.Frame) throw new Error('not a FRAME');
  const d = decodeFrame(m.header, m.payload, (s) => (s === 4 ? state(base) : undefined), '881fb46625fffff');
  assert.equal(d.state.entities.count, cur.length);
  assert.deepEqual(Array.from(d.state.entities.data.subarray(0, cur.length * S)), cur.flat());
  assert.equal(d.lastInputSeq, 3);
  assert.equal(d.state.own.altCm, -5);
  assert.equal(d.removed.length, 400);
  assert.equal(d.added.length, 500);
});

test('encodeFrame keeps its RangeErrors and their messages', () => {
  const w = new Writer();
  const enc = (current: FrameState, baseline: FrameState | null = null, seq = 2, baselineSeq = baseline ? 1 : 0) => () =>
    encodeFrame(w, { seq, serverTime: 0, zone: '0', baselineSeq, baseline, current });
  const ok: Ent = [5, 0, 0, 0, 0, 0, 0, 0];
  assert.throws(enc(state([ok, [5, 0, 0, 0, 0, 0, 0, 0]])), { name: 'RangeError', message: 'entity ids must be ascending and >= 1: 5 after 5' });
  assert.throws(enc(state([[0, 0, 0, 0, 0, 0, 0, 0]])), { message: 'entity ids must be ascending and >= 1: 0 after 0' });
  assert.throws(enc(state([[6, 0, 90_000_001, 0, 0, 0, 0, 0]])), { message: 'entity 6 latE6 out of range: 90000001' });
  assert.throws(enc(state([[6, 0, 0, 180_000_000, 0, 0, 0, 0]])), { message: 'entity 6 lonE6 out of range: 180000000' });
  // A u8 field out of range, in an added row and in a kept row's general update.
  assert.throws(enc(state([[6, 256, 0, 0, 0, 0, 0, 0]])), { message: 'u8 out of range: 256' });
  assert.throws(enc(state([[5, 0, 0, 0, 0, 300, 0, 0]]), state([ok])), { message: 'u8 out of range: 300' });
  assert.throws(enc(state([ok], { ...OWN, latE7: 900_000_001 })), { message: 'own latE7 out of range: 900000001' });
  assert.throws(enc(state([ok], { ...OWN, lonE7: 1_800_000_000 })), { message: 'own lonE7 out of range: 1800000000' });
  assert.throws(enc(state([ok], { ...OWN, altCm: 0.5 })), { message: 'own altCm out of i32: 0.5' });
  assert.throws(enc(state([ok]), null, 0), { message: 'frame seq must be 1..2^32-1: 0' });
  assert.throws(enc(state([ok], OWN, -1)), { message: 'lastInputSeq out of u32: -1' });
  assert.throws(enc(state([ok]), state([ok], OWN, 2 ** 32)), { message: 'baseline lastInputSeq out of u32: 4294967296' });
  assert.throws(enc(state([ok]), state([ok]), 2, 2), { message: 'baselineSeq must precede the frame: 2 vs 2' });
});

test('FrameRing.commit keeps its RangeErrors and their messages', () => {
  const r = new FrameRing(4, 2);
  r.build(1);
  r.commit(3, 1, 0);
  assert.throws(() => r.commit(3, 0, 0), { name: 'RangeError', message: 'frame seq must increase: got 3 after 3' });
  assert.throws(() => r.commit(4, 3, 0), { message: 'entity count 3 does not fit 2 rows' });
  assert.throws(() => r.commit(4, 0, -1), { message: 'lastInputSeq out of u32: -1' });
});
