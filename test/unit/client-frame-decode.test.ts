// decodeFrameInto's path for frames where nobody entered view (the client's usual frame): kept
// rows are copied in runs around the removed ones and the updates applied in place afterwards.
// Checked against the encoder on random crowds, and for the errors a row-by-row walk would raise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError, Writer } from '../../src/protocol/codec.ts';
import { createFrameDecodeTarget, createSnapshot, decodeFrameInto, encodeFrame } from '../../src/protocol/frame.ts';
import { decodeMessage } from '../../src/protocol/messages.ts';
import { MessageType, ProtocolErrorCode, SNAPSHOT_STRIDE as S } from '../../src/protocol/types.ts';
import type { EntitySnapshot, FrameHeader, FrameState } from '../../src/protocol/types.ts';

const OWN = { latE7: 1, lonE7: 2, altCm: 3, heading16: 4, action: 0, actionSeq: 0 };

function state(rows: number[][], lastInputSeq: number): FrameState {
  const entities: EntitySnapshot = createSnapshot(rows.length);
  rows.forEach((r, i) => entities.data.set(r, i * S));
  entities.count = rows.length;
  return { own: { ...OWN }, entities, lastInputSeq };
}

function encode(baseline: FrameState, current: FrameState): Uint8Array {
  return encodeFrame(new Writer(256), { seq: 10, serverTime: 0, zone: '8928308280fffff', baselineSeq: 9, baseline, current });
}

function decodeInto(bytes: Uint8Array, baseline: FrameState, target = createFrameDecodeTarget()): FrameState {
  const msg = decodeMessage(bytes);
  assert.equal(msg.type, MessageType.Frame);
  if (msg.type !== MessageType.Frame) throw new Error('not a frame');
  decodeFrameInto(msg.header, msg.payload, (s) => (s === 9 ? baseline : undefined), target);
  return target.state;
}

function rows(s: FrameState): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < s.entities.count; i++) out.push([...s.entities.data.subarray(i * S, i * S + S)]);
  return out;
}

/** A crowd of `n` entities (ids ascending) and a next frame: some removed, the rest moved or changed. */
const crowd = fc
  .integer({ min: 0, max: 60 })
  .chain((n) =>
    fc.record({
      base: fc.array(
        fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 255 })),
        { minLength: n, maxLength: n },
      ),
      keep: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n }),
      moves: fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: 0, max: 3 })), { minLength: n, maxLength: n }),
    }),
  );

test('frames where nobody entered view decode to exactly the current rows (runs around removals, reused target)', () => {
  const target = createFrameDecodeTarget();
  fc.assert(
    fc.property(crowd, ({ base, keep, moves }) => {
      let id = 0;
      const baseRows = base.map(([gap, lat, lon, heading]) => [(id += gap), 1, 45_000_000 + lat, 7_000_000 + lon, 100, heading, 0, 0]);
      const curRows: number[][] = [];
      baseRows.forEach((r, i) => {
        if (keep[i] === 0) return; // removed
        const [dLat, dLon, change] = moves[i]!;
        const c = [...r];
        c[2]! += dLat;
        c[3]! += dLon;
        if (change === 1) c[4]! += 7; // altitude: a General update
        if (change === 2) c[6] = 3; // action
        curRows.push(c);
      });
      const baseline = state(baseRows, 5);
      const current = state(curRows, 6);
      // Leftovers of a bigger earlier frame in the reused target must not show.
      target.state.entities.data.fill(-1);
      const got = decodeInto(encode(baseline, current), baseline, target);
      assert.deepEqual(rows(got), curRows);
      assert.equal(target.addedCount, 0);
      assert.equal(target.removedCount, baseRows.length - curRows.length);
      assert.equal(got.lastInputSeq, 6);
    }),
    { numRuns: 500 },
  );
});

test('a bad kept update after a removal raises the ProtocolError a row-by-row walk raises', () => {
  const baseRows = [1, 2, 3, 4, 5, 6].map((id) => [id, 1, 89_999_990, 0, 0, 0, 0, 0]);
  const baseline = state(baseRows, 0);
  // Entity 2 removed; 3 moves north by 8 (still in range): a Move (dLat, dLon), the payload's last 2 bytes.
  const current = state(
    baseRows.filter((r) => r[0] !== 2).map((r) => (r[0] === 3 ? [3, 1, 89_999_998, 0, 0, 0, 0, 0] : r)),
    0,
  );
  const ok = encode(baseline, current);
  assert.deepEqual(rows(decodeInto(ok, baseline)), rows(current));
  const msg = decodeMessage(ok);
  if (msg.type !== MessageType.Frame) throw new Error('not a frame');
  const payload = Uint8Array.from(msg.payload);
  const header: FrameHeader = msg.header;
  const at = payload.length - 1; // the Move's dLon; its dLat is the byte before
  const tamper = (p: Uint8Array): ProtocolError => {
    try {
      decodeFrameInto(header, p, (s) => (s === 9 ? baseline : undefined), createFrameDecodeTarget());
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      return err;
    }
    assert.fail('decoded');
  };
  // Truncated inside the kept updates.
  const cut = tamper(payload.subarray(0, at));
  assert.equal(cut.code, ProtocolErrorCode.Truncated);
  // The Move's dLat (zigzag 16 = +8) made +11 (zigzag 22): latE6 90,000,001.
  const over = Uint8Array.from(payload);
  assert.equal(over[at - 1], 16);
  over[at - 1] = 22;
  const err = tamper(over);
  assert.equal(err.code, ProtocolErrorCode.BadField);
  assert.match(err.message, /latE6 90000001/);
});
