// The put*/check* primitives behind Writer's methods, Writer's reserve/commit runs, take() as a
// slab, and the array-free zone word lookups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_SVARINT,
  MAX_UVARINT_BYTES,
  MIN_SVARINT,
  Reader,
  Writer,
  checkSvarint,
  checkU16,
  checkU32,
  checkU8,
  checkUvarint,
  putSvarint,
  putU16,
  putU32,
  putUvarint,
} from '../../src/protocol/codec.ts';
import { wordsToZone, zoneHiWord, zoneLoWord, zoneToWords } from '../../src/protocol/zone-id.ts';
import * as arb from './protocol-arbitraries.ts';

/** Numbers around every boundary the checks draw, and anything else fast-check likes. */
const anyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0, -0, 1, -1, 0.5, -0.5, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1,
    2 ** 32 - 1, 2 ** 32, MIN_SVARINT, MIN_SVARINT - 1, MAX_SVARINT, MAX_SVARINT + 1, 2 ** 53 - 1, 2 ** 53,
    -(2 ** 53), NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.EPSILON,
  ),
  fc.integer(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double(),
);

/** The checks as the Writer methods wrote them before they were split out. */
const rule = {
  u8: (v: number) => (v & 0xff) === v,
  u16: (v: number) => (v & 0xffff) === v,
  u32: (v: number) => v >>> 0 === v,
  uvarint: (v: number) => Number.isSafeInteger(v) && v >= 0,
  svarint: (v: number) => Number.isInteger(v) && v >= MIN_SVARINT && v <= MAX_SVARINT,
};
const checks = { u8: checkU8, u16: checkU16, u32: checkU32, uvarint: checkUvarint, svarint: checkSvarint };

test('check* accept exactly what the field holds and throw RangeError otherwise, as the Writer methods do', () => {
  fc.assert(
    fc.property(anyNumber, (v) => {
      for (const k of Object.keys(rule) as (keyof typeof rule)[]) {
        const ok = rule[k](v);
        if (ok) {
          checks[k](v);
          new Writer(1)[k](v);
        } else {
          assert.throws(() => checks[k](v), (e: unknown) => e instanceof RangeError && e.message === `${k} out of range: ${v}`, `${k} ${v}`);
          assert.throws(() => new Writer(1)[k](v), RangeError);
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test('put* write what the Writer methods write, return the end, and stay inside their bytes', () => {
  type Field = { k: 'u16' | 'u32' | 'uvarint' | 'svarint'; v: number };
  const field: fc.Arbitrary<Field> = fc.oneof(
    arb.u16.map((v) => ({ k: 'u16' as const, v })),
    arb.u32.map((v) => ({ k: 'u32' as const, v })),
    fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1)).map((v) => ({ k: 'uvarint' as const, v })),
    fc.oneof(fc.integer(), fc.integer({ min: MIN_SVARINT, max: MAX_SVARINT }), fc.constantFrom(-0, MIN_SVARINT, MAX_SVARINT)).map((v) => ({
      k: 'svarint' as const,
      v,
    })),
  );
  const put = { u16: putU16, u32: putU32, uvarint: putUvarint, svarint: putSvarint };
  fc.assert(
    fc.property(fc.array(field, { maxLength: 30 }), fc.nat({ max: 7 }), (fields, offset) => {
      const w = new Writer(1);
      // Guard bytes around the run show nothing is written outside it.
      const buf = new Uint8Array(offset + fields.length * MAX_UVARINT_BYTES + 8).fill(0xa5);
      let p = offset;
      for (const f of fields) {
        w[f.k](f.v);
        const end = put[f.k](buf, p, f.v);
        assert.ok(end > p && end - p <= MAX_UVARINT_BYTES);
        p = end;
      }
      assert.deepEqual(buf.subarray(offset, p), w.toBytes());
      assert.ok(buf.subarray(0, offset).every((b) => b === 0xa5));
      assert.ok(buf.subarray(p).every((b) => b === 0xa5));
      const r = new Reader(buf, offset, p);
      for (const f of fields) assert.equal(r[f.k](), f.v + 0); // + 0: -0 is written as 0
      r.expectEnd();
    }),
  );
});

test('reserve/commit: a run of put* fields, one capacity check, the buffer growing under a message', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.maxSafeNat(), { maxLength: 12 }), { maxLength: 12 }), fc.nat({ max: 40 }), (runs, initial) => {
      const w = new Writer(initial);
      const expect = new Writer(1);
      w.reset();
      w.u8(7);
      expect.u8(7);
      for (const run of runs) {
        const buf = w.reserve(run.length * MAX_UVARINT_BYTES);
        let p = w.cursor;
        assert.equal(w.memory, buf);
        assert.ok(p + run.length * MAX_UVARINT_BYTES <= buf.length);
        for (const v of run) {
          p = putUvarint(buf, p, v);
          expect.uvarint(v);
        }
        w.commit(p);
        assert.equal(w.length, expect.length);
        // The message is memory[cursor - length, cursor).
        assert.deepEqual(w.memory.subarray(w.cursor - w.length, w.cursor), expect.view());
      }
      assert.deepEqual(w.toBytes(), expect.toBytes());
    }),
  );
  const w = new Writer(16);
  w.u32(1);
  w.reserve(4);
  assert.throws(() => w.commit(w.cursor - 1), RangeError, 'a run cannot end before it starts');
  assert.throws(() => w.commit(w.memory.length + 1), RangeError, 'nor past the buffer');
  w.commit(w.cursor); // an empty run
  assert.equal(w.length, 4);
});

test('take(): each message is a view of the Writer memory that later messages and new buffers never touch', () => {
  for (const capacity of [16, 64, 1024]) {
    const w = new Writer(capacity);
    const taken: { view: Uint8Array; bytes: number[] }[] = [];
    for (let i = 0; i < 2000; i++) {
      w.reset();
      const n = i % 97 === 0 ? capacity * 3 : (i * 7) % 23; // now and then a message larger than the buffer
      for (let k = 0; k < n; k++) w.u8((i + k) & 0xff);
      const expect = [...w.view()];
      const view = w.take();
      assert.equal(view.length, n);
      taken.push({ view, bytes: expect });
    }
    for (const [i, t] of taken.entries()) assert.deepEqual([...t.view], t.bytes, `message ${i} (capacity ${capacity})`);
    // Views in one buffer never overlap.
    const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
    for (const { view } of taken) {
      if (view.length === 0) continue;
      const list = byBuffer.get(view.buffer) ?? [];
      list.push([view.byteOffset, view.byteOffset + view.length]);
      byBuffer.set(view.buffer, list);
    }
    for (const list of byBuffer.values()) {
      list.sort((a, b) => a[0] - b[0]);
      for (let k = 1; k < list.length; k++) assert.ok(list[k - 1]![1] <= list[k]![0]);
    }
    assert.ok([...byBuffer.values()].some((l) => l.length > 1), 'messages share buffers (a slab)');
  }
  // wrap makes the view: what a server passes to hand out Node Buffers.
  const w = new Writer(64);
  w.u16(0x0102);
  const b = w.take((buffer, byteOffset, length) => Buffer.from(buffer, byteOffset, length));
  assert.ok(Buffer.isBuffer(b));
  assert.deepEqual([...b], [2, 1]);
});

test('zoneLoWord / zoneHiWord are zoneToWords without the array, with the same RangeError', () => {
  fc.assert(
    fc.property(arb.zone, arb.zone, (a, b) => {
      for (const z of [a, b, a]) {
        const words = zoneToWords(z);
        assert.equal(zoneLoWord(z), words[0]);
        assert.equal(zoneHiWord(z), words[1]);
        assert.equal(wordsToZone(zoneLoWord(z), zoneHiWord(z)), z);
      }
    }),
  );
  zoneToWords('8828308281fffff');
  for (const bad of ['', '08', 'ABC', '1'.repeat(17), ' 1', undefined as unknown as string]) {
    assert.throws(() => zoneLoWord(bad), RangeError);
    assert.throws(() => zoneHiWord(bad), RangeError);
  }
  // A refused id leaves the cached one in place.
  assert.equal(zoneHiWord('8828308281fffff'), 0x8828308);
});
