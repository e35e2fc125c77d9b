import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameHistory } from '../../src/protocol/history.ts';
import type { FrameState } from '../../src/protocol/types.ts';
import { SNAPSHOT_STRIDE } from '../../src/protocol/types.ts';

/** Deterministic state derived from a seed, with `count` entities (data may be longer than needed). */
function makeState(seed: number, count: number, slack = 0): FrameState {
  const data = new Int32Array((count + slack) * SNAPSHOT_STRIDE);
  for (let i = 0; i < data.length; i++) data[i] = (Math.imul(seed + 1, 2654435761) ^ Math.imul(i + 7, 40503)) | 0;
  return {
    own: { latE7: seed * 3, lonE7: -seed * 5, altCm: seed % 1000, heading16: seed & 0xffff, action: seed & 0xff, actionSeq: (seed >> 3) & 0xff },
    entities: { count, data },
    lastInputSeq: (seed * 7919) >>> 0,
  };
}

/** Comparable plain view of a state: own fields plus only the first count * STRIDE ints. */
function plain(s: FrameState): unknown {
  return {
    own: { ...s.own },
    lastInputSeq: s.lastInputSeq,
    count: s.entities.count,
    data: Array.from(s.entities.data.subarray(0, s.entities.count * SNAPSHOT_STRIDE)),
  };
}

test('put/get round trip copies the state', () => {
  const h = new FrameHistory();
  const s = makeState(1, 5, 3);
  h.put(10, s);
  const expected = plain(s);
  assert.deepEqual(plain(h.get(10)!), expected);
  // Not aliased to the caller's object.
  s.entities.data[0] = 12345;
  s.own.latE7 = -1;
  s.lastInputSeq = 1;
  assert.deepEqual(plain(h.get(10)!), expected);
  assert.notEqual(h.get(10)!.entities.data, s.entities.data);
  assert.ok(h.has(10));
  assert.equal(h.get(9), undefined);
  assert.equal(h.get(11), undefined);
  assert.equal(h.get(Number.NaN), undefined);
  assert.equal(h.latestSeq, 10);
  assert.equal(h.oldestSeq, 10);
  assert.equal(h.size, 1);
});

test('empty snapshots are stored', () => {
  const h = new FrameHistory(4);
  h.put(1, makeState(3, 0));
  assert.equal(h.get(1)!.entities.count, 0);
});

test('oldest frames are evicted after capacity puts, gaps do not shorten retention', () => {
  const h = new FrameHistory(4);
  const seqs = [1, 2, 5, 9, 10, 20];
  for (const s of seqs) h.put(s, makeState(s, s % 3));
  assert.equal(h.size, 4);
  for (const s of [1, 2]) assert.equal(h.get(s), undefined);
  for (const s of [5, 9, 10, 20]) assert.deepEqual(plain(h.get(s)!), plain(makeState(s, s % 3)));
  assert.equal(h.oldestSeq, 5);
  assert.equal(h.latestSeq, 20);
});

test('dropBefore forgets older frames and keeps the seq floor', () => {
  const h = new FrameHistory(8);
  for (let s = 1; s <= 6; s++) h.put(s, makeState(s, 2));
  h.dropBefore(4);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((s) => h.has(s)), [false, false, false, true, true, true]);
  assert.equal(h.oldestSeq, 4);
  h.dropBefore(100);
  assert.equal(h.size, 0);
  assert.equal(h.oldestSeq, 0);
  assert.equal(h.latestSeq, 6);
  assert.throws(() => h.put(6, makeState(6, 1)), RangeError);
  h.put(7, makeState(7, 1));
  assert.deepEqual(plain(h.get(7)!), plain(makeState(7, 1)));
  // Dropping made room: the ring holds up to capacity again without losing 7 early.
  for (let s = 8; s <= 14; s++) h.put(s, makeState(s, 1));
  assert.ok(h.has(7));
  h.put(15, makeState(15, 1));
  assert.ok(!h.has(7));
});

test('seq must strictly increase; clear() resets the floor', () => {
  const h = new FrameHistory(4);
  assert.throws(() => h.put(0, makeState(0, 1)), RangeError); // 0 = "no baseline" in the protocol
  assert.throws(() => h.put(-3, makeState(0, 1)), RangeError);
  assert.throws(() => h.put(1.5, makeState(0, 1)), RangeError);
  assert.throws(() => h.put(Number.NaN, makeState(0, 1)), RangeError);
  h.put(5, makeState(5, 1));
  assert.throws(() => h.put(5, makeState(5, 1)), RangeError);
  assert.throws(() => h.put(4, makeState(4, 1)), RangeError);
  assert.equal(h.size, 1, 'a rejected put changes nothing');
  h.clear();
  assert.equal(h.size, 0);
  assert.equal(h.latestSeq, 0);
  assert.equal(h.get(5), undefined);
  h.put(1, makeState(1, 1));
  assert.ok(h.has(1));
});

test('put rejects a snapshot whose data is shorter than count * stride', () => {
  const h = new FrameHistory(4);
  const bad: FrameState = { own: makeState(1, 0).own, entities: { count: 3, data: new Int32Array(2 * SNAPSHOT_STRIDE) }, lastInputSeq: 0 };
  assert.throws(() => h.put(1, bad), RangeError);
  assert.equal(h.latestSeq, 0);
});

test('a state read from get() is not changed by later puts into other slots', () => {
  const h = new FrameHistory(4);
  h.put(1, makeState(1, 10));
  const first = h.get(1)!;
  const snapshot = plain(first);
  // Three more puts fill the other slots (some with bigger snapshots, forcing growth there).
  h.put(2, makeState(2, 50));
  h.put(3, makeState(3, 1));
  h.put(4, makeState(4, 200));
  assert.deepEqual(plain(first), snapshot);
  assert.deepEqual(plain(h.get(1)!), snapshot);
  // The next put reuses slot 1's storage: documented end of validity.
  h.put(5, makeState(5, 1));
  assert.equal(h.get(1), undefined);
});

test('steady state reuses pooled storage', () => {
  const cap = 8;
  const h = new FrameHistory(cap);
  for (let s = 1; s <= cap; s++) h.put(s, makeState(s, 40));
  const arrays = new Set<Int32Array>();
  const objects = new Set<FrameState>();
  for (let s = 1; s <= cap; s++) {
    arrays.add(h.get(s)!.entities.data);
    objects.add(h.get(s)!);
  }
  for (let s = cap + 1; s <= cap * 10; s++) {
    h.put(s, makeState(s, s % 40));
    const got = h.get(s)!;
    assert.ok(arrays.has(got.entities.data), 'entity storage reused');
    assert.ok(objects.has(got), 'state object reused');
    assert.deepEqual(plain(got), plain(makeState(s, s % 40)));
  }
});

test('serialisation round trip through JSON text', () => {
  const h = new FrameHistory(5);
  for (const s of [3, 4, 8, 9, 11, 12, 40]) h.put(s, makeState(s, s % 4, 1));
  h.dropBefore(9);
  const text = JSON.stringify(h);
  const back = FrameHistory.fromJSON(JSON.parse(text) as unknown);
  assert.equal(back.capacity, 5);
  assert.equal(back.latestSeq, 40);
  assert.equal(back.size, h.size);
  for (const s of [3, 4, 8, 9, 11, 12, 40]) {
    assert.equal(back.has(s), h.has(s), `seq ${s}`);
    if (h.has(s)) assert.deepEqual(plain(back.get(s)!), plain(h.get(s)!));
  }
  assert.deepEqual(back.toJSON(), h.toJSON());
  assert.throws(() => back.put(40, makeState(1, 1)), RangeError, 'seq floor survives serialisation');
  // latestSeq survives even when no frame is held any more.
  h.dropBefore(1000);
  assert.equal(FrameHistory.fromJSON(JSON.parse(JSON.stringify(h)) as unknown).latestSeq, 40);
});

test('fromJSON rejects malformed input', () => {
  const good = (() => {
    const h = new FrameHistory(3);
    h.put(1, makeState(1, 2));
    return JSON.parse(JSON.stringify(h)) as { capacity: number; latestSeq: number; frames: Array<Record<string, unknown>> };
  })();
  const variants: unknown[] = [
    null,
    42,
    { ...good, capacity: 0 },
    { ...good, latestSeq: -1 },
    { ...good, latestSeq: 0 },
    { ...good, frames: 'x' },
    { ...good, frames: [{ ...good.frames[0], data: [1, 2, 3] }] },
    { ...good, frames: [{ ...good.frames[0], data: (good.frames[0]!['data'] as number[]).map(() => 2 ** 31) }] },
    { ...good, frames: [{ ...good.frames[0], own: [1, 2, 3] }] },
    { ...good, frames: [{ ...good.frames[0], lastInputSeq: undefined }] },
    { ...good, frames: [{ ...good.frames[0], lastInputSeq: -1 }] },
    { ...good, frames: [{ ...good.frames[0], lastInputSeq: 2 ** 32 }] },
    { ...good, frames: [{ ...good.frames[0], lastInputSeq: 1.5 }] },
    { ...good, frames: [good.frames[0], good.frames[0]] },
    { ...good, capacity: 1, frames: [good.frames[0], { ...good.frames[0], seq: 2 }] },
  ];
  for (const v of variants) assert.throws(() => FrameHistory.fromJSON(v), TypeError, JSON.stringify(v));
  assert.doesNotThrow(() => FrameHistory.fromJSON(good));
});

test('matches a simple model under random put/dropBefore/clear sequences', () => {
  type Op = { kind: 'put'; gap: number; count: number } | { kind: 'drop'; back: number } | { kind: 'clear' };
  const arbOp: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('put' as const), gap: fc.integer({ min: 1, max: 3 }), count: fc.integer({ min: 0, max: 30 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), back: fc.integer({ min: 0, max: 12 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(arbOp, { maxLength: 80 }), (cap, ops) => {
      const h = new FrameHistory(cap);
      let model: Array<{ seq: number; state: unknown }> = [];
      let latest = 0;
      for (const op of ops) {
        if (op.kind === 'put') {
          const seq = latest + op.gap;
          const st = makeState(seq, op.count, seq % 2);
          h.put(seq, st);
          model.push({ seq, state: plain(st) });
          if (model.length > cap) model.shift();
          latest = seq;
        } else if (op.kind === 'drop') {
          const cut = latest - op.back;
          h.dropBefore(cut);
          model = model.filter((m) => m.seq >= cut);
        } else {
          h.clear();
          model = [];
          latest = 0;
        }
        assert.equal(h.size, model.length);
        assert.equal(h.latestSeq, latest);
        assert.equal(h.oldestSeq, model[0]?.seq ?? 0);
        for (let s = Math.max(1, latest - 3 * cap); s <= latest + 1; s++) {
          const m = model.find((e) => e.seq === s);
          const got = h.get(s);
          if (m === undefined) assert.equal(got, undefined);
          else assert.deepEqual(plain(got!), m.state);
        }
      }
      const back = FrameHistory.fromJSON(JSON.parse(JSON.stringify(h)) as unknown);
      assert.deepEqual(back.toJSON(), h.toJSON());
    }),
    { numRuns: 300 },
  );
});
