import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  destination,
  distanceM,
  initialBearingDeg,
  normalizeLonDeg,
  poseDistanceM,
  poseFromDegrees,
  poseLatDeg,
  poseLonDeg,
  TangentPlane,
  unitVector,
} from '../../src/world/geo.ts';

// Latitudes/longitudes biased towards the awkward places: poles and the antimeridian.
const lat = fc.oneof(
  fc.double({ min: -90, max: 90, noNaN: true }),
  fc.constantFrom(90, -90, 89.9999999, -89.9999999, 0),
  fc.double({ min: 89.99, max: 90, noNaN: true }),
  fc.double({ min: -90, max: -89.99, noNaN: true }),
);
const lon = fc.oneof(
  fc.double({ min: -180, max: 180, noNaN: true, maxExcluded: true }),
  fc.constantFrom(-180, 179.9999999, 0),
  fc.double({ min: 179.99, max: 180, noNaN: true, maxExcluded: true }),
  fc.double({ min: -180, max: -179.99, noNaN: true }),
);

test('normalizeLonDeg wraps into [-180, 180)', () => {
  assert.equal(normalizeLonDeg(180), -180);
  assert.equal(normalizeLonDeg(-180), -180);
  assert.equal(normalizeLonDeg(540), -180);
  assert.equal(normalizeLonDeg(190), -170);
  assert.equal(normalizeLonDeg(-190), 170);
  assert.equal(normalizeLonDeg(12.345), 12.345);
  fc.assert(
    fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (x) => {
      const r = normalizeLonDeg(x);
      return r >= -180 && r < 180;
    }),
  );
});

test('destination: lands at the requested distance, never NaN, in range (poles, antimeridian)', () => {
  fc.assert(
    fc.property(lat, lon, fc.double({ min: -720, max: 720, noNaN: true }), fc.double({ min: 0, max: 5_000_000, noNaN: true }), (la, lo, b, d) => {
      const p = destination(la, lo, b, d);
      assert.ok(Number.isFinite(p.lat) && Number.isFinite(p.lon));
      assert.ok(p.lat >= -90 && p.lat <= 90);
      assert.ok(p.lon >= -180 && p.lon < 180);
      assert.ok(Math.abs(distanceM(la, lo, p.lat, p.lon) - d) < 1e-6 * d + 1e-6);
    }),
  );
});

test('destination: known values', () => {
  // Due north a quarter of the circumference from the equator reaches the pole.
  const q = destination(0, 20, 0, (Math.PI / 2) * 6_371_008.8);
  assert.ok(Math.abs(q.lat - 90) < 1e-9);
  // Due east on the equator across the antimeridian.
  const e = destination(0, 179.5, 90, (Math.PI / 180) * 6_371_008.8);
  assert.ok(Math.abs(e.lat) < 1e-12);
  assert.ok(Math.abs(e.lon - -179.5) < 1e-9);
  // North through the pole continues down the other side.
  const o = destination(89.99, 10, 0, distanceM(89.99, 10, 90, 10) * 2);
  assert.ok(Math.abs(o.lat - 89.99) < 1e-9);
  assert.ok(Math.abs(o.lon - -170) < 1e-6);
});

test('initialBearingDeg agrees with destination', () => {
  fc.assert(
    fc.property(fc.double({ min: -89, max: 89, noNaN: true }), lon, fc.double({ min: 0, max: 360, noNaN: true, maxExcluded: true }), (la, lo, b) => {
      const p = destination(la, lo, b, 1000);
      const got = initialBearingDeg(la, lo, p.lat, p.lon);
      assert.ok(got >= 0 && got < 360);
      const diff = Math.abs(((got - b + 540) % 360) - 180);
      assert.ok(diff < 1e-5, `${got} vs ${b}`);
    }),
  );
  assert.equal(initialBearingDeg(0, 0, 1, 0), 0);
  assert.equal(initialBearingDeg(0, 0, 0, 1), 90);
  assert.equal(initialBearingDeg(0, 179.9, 0, -179.9), 90);
});

test('unitVector is unit length and writes into out', () => {
  const v = unitVector(90, 123);
  assert.ok(Math.abs(v[2] - 1) < 1e-15);
  const out = new Float64Array(3);
  assert.equal(unitVector(10, -170, out), out);
  assert.ok(Math.abs(out[0]! * out[0]! + out[1]! * out[1]! + out[2]! * out[2]! - 1) < 1e-15);
});

test('poseFromDegrees rounds to the grid, clamps lat, wraps lon, never -0', () => {
  assert.deepEqual(poseFromDegrees(12.34567891, -45.00000005, 1.234, 90), { latE7: 123456789, lonE7: -450000000, altCm: 123, heading16: 16384 });
  assert.deepEqual(poseFromDegrees(90.5, 180, 0, 360), { latE7: 900000000, lonE7: -1800000000, altCm: 0, heading16: 0 });
  assert.deepEqual(poseFromDegrees(-91, 179.99999999, 0, -90), { latE7: -900000000, lonE7: -1800000000, altCm: 0, heading16: 49152 });
  const z = poseFromDegrees(-0.00000001, -0.00000001, -0.001, 0);
  assert.ok(Object.is(z.latE7, 0) && Object.is(z.lonE7, 0) && Object.is(z.altCm, 0));
  const p = poseFromDegrees(51.5, -0.1);
  assert.equal(poseLatDeg(p), 51.5);
  assert.equal(poseLonDeg(p), -0.1);
  assert.ok(Math.abs(poseDistanceM(poseFromDegrees(0, 179.99999), poseFromDegrees(0, -179.99999)) - 2.2239) < 1e-3);
});

// Centre anywhere (incl. poles/antimeridian), two points within 2 km of it.
const local = fc.record({
  la: lat,
  lo: lon,
  b1: fc.double({ min: 0, max: 360, noNaN: true }),
  d1: fc.double({ min: 0, max: 2000, noNaN: true }),
  b2: fc.double({ min: 0, max: 360, noNaN: true }),
  d2: fc.double({ min: 0, max: 2000, noNaN: true }),
});

test('TangentPlane: projected distance within 0.1 % of haversine (and never more) within 2 km', () => {
  fc.assert(
    fc.property(local, ({ la, lo, b1, d1, b2, d2 }) => {
      const plane = new TangentPlane(la, lo);
      const p1 = destination(la, lo, b1, d1);
      const p2 = destination(la, lo, b2, d2);
      const a = { x: 0, y: 0 };
      const b = { x: 0, y: 0 };
      assert.equal(plane.project(p1.lat, p1.lon, a), true);
      plane.project(p2.lat, p2.lon, b);
      const dx = a.x - b.x;
      const dy = a.y - b.y;
      const planar = Math.sqrt(dx * dx + dy * dy);
      const truth = distanceM(p1.lat, p1.lon, p2.lat, p2.lon);
      assert.ok(Math.abs(planar - truth) <= 1e-3 * truth + 1e-6, `${planar} vs ${truth}`);
      assert.ok(planar <= truth + 1e-6, 'contraction');
      // Distance from the centre is also right, and unproject inverts project.
      assert.ok(Math.abs(Math.sqrt(a.x * a.x + a.y * a.y) - d1) <= 1e-3 * d1 + 1e-6);
      const back = plane.unproject(a.x, a.y);
      assert.ok(distanceM(back.lat, back.lon, p1.lat, p1.lon) < 1e-6);
    }),
    { numRuns: 2000 },
  );
});

test('TangentPlane: east/north axes away from the poles, far side reported', () => {
  const plane = new TangentPlane(10, 179.999);
  const o = { x: 0, y: 0 };
  const p = destination(10, 179.999, 90, 500);
  plane.project(p.lat, p.lon, o);
  assert.ok(Math.abs(o.x - 500) < 1e-3 && Math.abs(o.y) < 0.1);
  const q = destination(10, 179.999, 0, 500);
  plane.project(q.lat, q.lon, o);
  assert.ok(Math.abs(o.y - 500) < 1e-3 && Math.abs(o.x) < 1e-6);
  assert.equal(plane.project(-10, 0.001, o), false);
  const pose = poseFromDegrees(10, 179.999);
  plane.projectPose(pose, o);
  assert.ok(Math.abs(o.x) < 0.01 && Math.abs(o.y) < 0.01);
});
