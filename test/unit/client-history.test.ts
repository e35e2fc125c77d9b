// FrameHistory.writable()/commit(), the no-copy path the client decodes frames through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameHistory } from '../../src/protocol/history.ts';
import { SNAPSHOT_STRIDE } from '../../src/protocol/types.ts';
import type { FrameState } from '../../src/protocol/types.ts';

/** Writes a recognisable state for `seq` into st (count depends on seq; data grows as needed). */
function fill(st: FrameState, seq: number): void {
  const count = seq % 7;
  if (st.entities.data.length < count * SNAPSHOT_STRIDE) st.entities.data = new Int32Array(count * SNAPSHOT_STRIDE);
  for (let i = 0; i < count * SNAPSHOT_STRIDE; i++) st.entities.data[i] = seq * 1000 + i;
  st.entities.count = count;
  st.own.latE7 = seq;
  st.own.actionSeq = seq & 0xff;
  st.lastInputSeq = seq * 3;
}

function check(st: FrameState | undefined, seq: number): void {
  assert.ok(st, `frame ${seq} missing`);
  const count = seq % 7;
  assert.equal(st.entities.count, count);
  assert.equal(st.own.latE7, seq);
  assert.equal(st.lastInputSeq, seq * 3);
  for (let i = 0; i < count * SNAPSHOT_STRIDE; i++) assert.equal(st.entities.data[i], seq * 1000 + i);
}

test('writable() is never a stored frame, and commit() stores it without copying', () => {
  const h = new FrameHistory(4);
  const w1 = h.writable();
  assert.equal(h.writable(), w1, 'same build slot until commit');
  fill(w1, 1);
  h.commit(1);
  assert.equal(h.get(1), w1, 'stored as is');
  const w2 = h.writable();
  assert.notEqual(w2, w1);
  assert.throws(() => h.commit(1), RangeError, 'seq must increase');
  w2.entities.count = 99; // does not fit its data
  assert.throws(() => h.commit(2), RangeError);
  fill(w2, 2);
  h.commit(2);
  check(h.get(1), 1);
  check(h.get(2), 2);
  assert.equal(h.latestSeq, 2);
});

test('commit/put/dropBefore/clear agree with a simple model, and writable() never aliases a stored frame', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('commit' as const), gap: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant('put' as const), gap: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant('drop' as const), back: fc.integer({ min: 0, max: 6 }) }),
    fc.constant({ k: 'clear' as const }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 80 }), (cap, ops) => {
      const h = new FrameHistory(cap);
      let model: number[] = [];
      let latest = 0;
      const scratch: FrameState = { own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 }, entities: { count: 0, data: new Int32Array(0) }, lastInputSeq: 0 };
      for (const o of ops) {
        if (o.k === 'commit' || o.k === 'put') {
          const seq = latest + o.gap;
          if (o.k === 'commit') {
            const w = h.writable();
            for (const s of model) assert.notEqual(h.get(s), w, 'build slot aliases a stored frame');
            fill(w, seq);
            h.commit(seq);
          } else {
            fill(scratch, seq);
            h.put(seq, scratch);
          }
          latest = seq;
          model.push(seq);
          if (model.length > cap) model = model.slice(model.length - cap);
        } else if (o.k === 'drop') {
          const floor = latest - o.back;
          h.dropBefore(floor);
          model = model.filter((s) => s >= floor);
        } else {
          h.clear();
          model = [];
          latest = 0;
        }
        assert.equal(h.size, model.length);
        assert.equal(h.latestSeq, latest);
        for (const s of model) check(h.get(s), s);
        for (let s = 1; s <= latest; s++) if (!model.includes(s)) assert.equal(h.get(s), undefined);
      }
    }),
  );
});
