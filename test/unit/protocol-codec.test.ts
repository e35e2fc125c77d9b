import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32 } from '../../src/protocol/crc32.ts';
import { MAX_SVARINT, MIN_SVARINT, ProtocolError, Reader, Writer } from '../../src/protocol/codec.ts';
import { wordsToZone, zoneToWords } from '../../src/protocol/zone-id.ts';
import {
  LON_E6_PERIOD,
  LON_E7_PERIOD,
  altCmToDm,
  heading16To8,
  latE7ToE6,
  lonE7ToE6,
  wrapDelta,
} from '../../src/protocol/quantize.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.code === code);
}

test('crc32 known vectors', () => {
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(ascii('a')), 0xe8b7be43);
  assert.equal(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad);
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

test('crc32 ranges and incremental seed', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      const ab = new Uint8Array(a.length + b.length);
      ab.set(a);
      ab.set(b, a.length);
      const whole = crc32(ab);
      assert.equal(crc32(b, 0, b.length, crc32(a)), whole);
      assert.equal(crc32(ab, a.length, ab.length, crc32(ab, 0, a.length)), whole);
      assert.ok(whole >= 0 && whole <= 0xffffffff && Number.isInteger(whole));
    }),
  );
});

test('crc32 equals zlib.crc32 on any bytes, any range and seed (every tail length of the 4-byte steps)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), fc.nat({ max: 0xffffffff }), (bytes, a, b, seed) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      const part = bytes.subarray(start, end);
      // zlib answers its initial value (0) for an empty buffer with no memory behind it, whatever
      // the seed; continuing over nothing leaves the seed as it is.
      assert.equal(crc32(bytes, start, end, seed), part.length === 0 ? seed : zlibCrc32(part, seed));
      assert.equal(crc32(part), zlibCrc32(part));
    }),
    { numRuns: 500 },
  );
});

test('uvarint / svarint known encodings', () => {
  const enc = (f: (w: Writer) => void): number[] => {
    const w = new Writer(1);
    f(w);
    return [...w.toBytes()];
  };
  assert.deepEqual(enc((w) => w.uvarint(0)), [0x00]);
  assert.deepEqual(enc((w) => w.uvarint(127)), [0x7f]);
  assert.deepEqual(enc((w) => w.uvarint(128)), [0x80, 0x01]);
  assert.deepEqual(enc((w) => w.uvarint(300)), [0xac, 0x02]);
  assert.deepEqual(enc((w) => w.uvarint(2 ** 53 - 1)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual(enc((w) => w.svarint(0)), [0x00]);
  assert.deepEqual(enc((w) => w.svarint(-1)), [0x01]);
  assert.deepEqual(enc((w) => w.svarint(1)), [0x02]);
  assert.deepEqual(enc((w) => w.svarint(-64)), [0x7f]);
  assert.deepEqual(enc((w) => w.svarint(64)), [0x80, 0x01]);
  for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53]) assert.throws(() => new Writer().uvarint(bad), RangeError);
  for (const bad of [MIN_SVARINT - 2, MAX_SVARINT + 1, 0.5, NaN]) assert.throws(() => new Writer().svarint(bad), RangeError);
  for (const bad of [-1, 256, 1.5, NaN]) assert.throws(() => new Writer().u8(bad), RangeError);
  assert.throws(() => new Writer().u16(65536), RangeError);
  assert.throws(() => new Writer().u32(2 ** 32), RangeError);
  assert.throws(() => new Writer().i32(2 ** 31), RangeError);
});

test('Reader rejects bad varints', () => {
  throwsCode(() => new Reader(new Uint8Array([0x80])).uvarint(), 'truncated');
  throwsCode(() => new Reader(new Uint8Array(9).fill(0x80)).uvarint(), 'bad_field'); // 9 bytes
  throwsCode(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10])).uvarint(), 'bad_field'); // 2^53
  throwsCode(() => new Reader(new Uint8Array([0x80, 0x00])).uvarint(), 'bad_field'); // non-canonical
  assert.equal(new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).uvarint(), 2 ** 53 - 1);
});

test('Writer/Reader round trip of every primitive', () => {
  type Op =
    | { k: 'u8' | 'u16' | 'u32' | 'i32' | 'uvarint' | 'svarint' | 'f64' | 'f32'; v: number }
    | { k: 'bytes'; v: Uint8Array }
    | { k: 'string'; v: string };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((v) => ({ k: 'u8' as const, v })),
    fc.integer({ min: 0, max: 65535 }).map((v) => ({ k: 'u16' as const, v })),
    fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ k: 'u32' as const, v })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => ({ k: 'i32' as const, v })),
    fc.oneof(fc.nat(), fc.maxSafeNat()).map((v) => ({ k: 'uvarint' as const, v })),
    fc.oneof(fc.integer(), fc.integer({ min: MIN_SVARINT, max: MAX_SVARINT })).map((v) => ({ k: 'svarint' as const, v })),
    fc.double().map((v) => ({ k: 'f64' as const, v })),
    fc.float().map((v) => ({ k: 'f32' as const, v })),
    fc.uint8Array({ maxLength: 40 }).map((v) => ({ k: 'bytes' as const, v })),
    fc.string({ unit: 'binary', maxLength: 20 }).map((v) => ({ k: 'string' as const, v })),
  );
  const w = new Writer(1); // reused and forced to grow
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      w.reset();
      for (const o of ops) {
        if (o.k === 'bytes') w.bytes(o.v);
        else if (o.k === 'string') w.string(o.v);
        else w[o.k](o.v);
      }
      const bytes = w.toBytes();
      assert.equal(bytes.length, w.length);
      const r = new Reader(bytes);
      for (const o of ops) {
        if (o.k === 'bytes') assert.deepEqual(r.bytes(o.v.length), o.v);
        else if (o.k === 'string') assert.equal(r.string(1000), o.v);
        else assert.ok(Object.is(r[o.k](), o.v) || (Number.isNaN(o.v) && o.k.startsWith('f')));
      }
      r.expectEnd();
      assert.equal(r.remaining, 0);
    }),
  );
});

test('Reader strings: max length, invalid UTF-8, BOM kept', () => {
  const w = new Writer();
  w.string('abcd');
  throwsCode(() => new Reader(w.toBytes()).string(3), 'bad_field');
  throwsCode(() => new Reader(new Uint8Array([2, 0xc3, 0x28])).string(10), 'bad_field');
  throwsCode(() => new Reader(new Uint8Array([3, 0x41])).string(10), 'truncated');
  w.reset();
  w.string('\ufeffx');
  assert.equal(new Reader(w.toBytes()).string(10), '\ufeffx');
});

test('Reader bounds: sub-range, truncation, expectEnd', () => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const r = new Reader(bytes, 2, 5);
  assert.equal(r.u8(), 3);
  assert.equal(r.remaining, 2);
  throwsCode(() => r.u32(), 'truncated');
  throwsCode(() => r.expectEnd(), 'bad_length');
  assert.equal(r.u16(), 4 | (5 << 8));
  r.expectEnd();
  throwsCode(() => r.u8(), 'truncated');
  // A Reader over a subarray must respect its byteOffset.
  assert.equal(new Reader(bytes.subarray(3)).u8(), 4);
});

test('Writer patch and view', () => {
  const w = new Writer(4);
  w.u32(0);
  w.u16(0);
  w.patchU32(0, 0xdeadbeef);
  w.patchU16(4, 0x1234);
  assert.deepEqual([...w.view()], [0xef, 0xbe, 0xad, 0xde, 0x34, 0x12]);
  assert.throws(() => w.patchU32(4, 1), RangeError);
  const copy = w.toBytes();
  w.reset();
  w.u8(9);
  assert.equal(copy[0], 0xef); // toBytes is a copy
});

test('zone ids round trip', () => {
  assert.deepEqual(zoneToWords('0'), [0, 0]);
  assert.deepEqual(zoneToWords('8828308281fffff'), [0x281fffff, 0x8828308]);
  assert.equal(wordsToZone(0x281fffff, 0x8828308), '8828308281fffff');
  assert.equal(wordsToZone(0, 0), '0');
  assert.equal(wordsToZone(0xffffffff, 0xffffffff), 'ffffffffffffffff');
  assert.equal(wordsToZone(1, 1), '100000001');
  for (const bad of ['', '08', 'ABC', 'xyz', '1'.repeat(17), '-1', ' 1']) assert.throws(() => zoneToWords(bad), RangeError);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (lo, hi) => {
      const z = wordsToZone(lo, hi);
      assert.match(z, /^(0|[1-9a-f][0-9a-f]*)$/);
      assert.deepEqual(zoneToWords(z), [lo, hi]);
      assert.deepEqual(zoneToWords(z), [lo, hi]); // cached path too
    }),
  );
});

test('quantisation', () => {
  assert.equal(latE7ToE6(15), 2);
  assert.equal(latE7ToE6(14), 1);
  assert.equal(latE7ToE6(-15), -2);
  assert.ok(Object.is(latE7ToE6(-4), 0));
  assert.equal(latE7ToE6(900_000_000), 90_000_000);
  assert.equal(lonE7ToE6(1_799_999_995), -180_000_000);
  assert.equal(lonE7ToE6(1_799_999_994), 179_999_999);
  assert.equal(lonE7ToE6(-1_800_000_000), -180_000_000);
  assert.equal(altCmToDm(-25), -3);
  assert.equal(heading16To8(0), 0);
  assert.equal(heading16To8(127), 0);
  assert.equal(heading16To8(128), 1);
  assert.equal(heading16To8(65535), 0);
  assert.equal(heading16To8(65407), 255);
  assert.equal(wrapDelta(LON_E6_PERIOD / 2, LON_E6_PERIOD), -LON_E6_PERIOD / 2);
  assert.equal(wrapDelta(-359_999_800, LON_E6_PERIOD), 200);
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
      const q = latE7ToE6(v);
      assert.ok(Math.abs(q * 10 - v) <= 5 && Number.isInteger(q));
      assert.equal(latE7ToE6(-v), -q || 0);
      const lon = lonE7ToE6(v);
      assert.ok(lon >= -180e6 && lon < 180e6);
      assert.equal(wrapDelta(lon - q, LON_E6_PERIOD), 0);
      const d = wrapDelta(v * 3, LON_E7_PERIOD);
      assert.ok(d >= -1.8e9 && d < 1.8e9 && (d - v * 3) % LON_E7_PERIOD === 0);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), (h) => {
      const q = heading16To8(h);
      assert.ok(q >= 0 && q <= 255);
      const err = Math.abs(wrapDelta(q * 256 - h, 65536));
      assert.ok(err <= 128);
    }),
  );
});
