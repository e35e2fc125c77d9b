import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { distanceM, E7, initialBearingDeg, poseDistanceM, poseFromDegrees } from '../../src/world/geo.ts';
import { checkIntent, intentFromWire, MoveClock, stepPose } from '../../src/world/movement.ts';
import { DEFAULT_MOVEMENT_RULES, RejectReason } from '../../src/world/types.ts';
import type { MoveIntent, Pose } from '../../src/world/types.ts';

const R = DEFAULT_MOVEMENT_RULES;
const HEADING_UNIT_RAD = (2 * Math.PI) / 65536;

const latE7 = fc.oneof(
  fc.integer({ min: -900_000_000, max: 900_000_000 }),
  fc.constantFrom(900_000_000, -900_000_000, 899_999_999, -899_999_999, 0),
  fc.integer({ min: 899_900_000, max: 900_000_000 }),
);
const lonE7 = fc.oneof(
  fc.integer({ min: -1_800_000_000, max: 1_799_999_999 }),
  fc.constantFrom(-1_800_000_000, 1_799_999_999, 0),
  fc.integer({ min: 1_799_900_000, max: 1_799_999_999 }),
  fc.integer({ min: -1_800_000_000, max: -1_799_900_000 }),
);
const pose: fc.Arbitrary<Pose> = fc.record({
  latE7,
  lonE7,
  altCm: fc.integer({ min: 0, max: 1_000_000 }),
  heading16: fc.integer({ min: 0, max: 65535 }),
});
/** An intent that passes checkIntent with speed <= maxSpeed (not the tolerance). */
const legalIntent: fc.Arbitrary<MoveIntent> = fc
  .record({
    dtMs: fc.oneof(fc.integer({ min: 1, max: 250 }), fc.double({ min: 0.001, max: 250, noNaN: true })),
    angle: fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
    speed: fc.oneof(fc.double({ min: 0, max: R.maxSpeed, noNaN: true }), fc.constant(R.maxSpeed)),
    up: fc.double({ min: -R.maxVerticalSpeed, max: R.maxVerticalSpeed, noNaN: true }),
  })
  .map(({ dtMs, angle, speed, up }) => ({ dtMs, east: speed * Math.sin(angle), north: speed * Math.cos(angle), up }));

function assertOnGrid(p: Pose): void {
  for (const v of [p.latE7, p.lonE7, p.altCm, p.heading16]) assert.ok(Number.isInteger(v) && !Object.is(v, -0), `not a grid int: ${v}`);
  assert.ok(p.latE7 >= -900_000_000 && p.latE7 <= 900_000_000);
  assert.ok(p.lonE7 >= -1_800_000_000 && p.lonE7 < 1_800_000_000);
  assert.ok(p.heading16 >= 0 && p.heading16 <= 65535);
}

test('stepPose: never farther than speed*dt + 2 cm, on the grid, anywhere incl. poles and antimeridian', () => {
  fc.assert(
    fc.property(pose, legalIntent, (p, it) => {
      const q = stepPose(p, it, R);
      assertOnGrid(q);
      const speed = Math.sqrt(it.east * it.east + it.north * it.north);
      const d = poseDistanceM(p, q);
      assert.ok(d <= (speed * it.dtMs) / 1000 + 0.02, `moved ${d}`);
      assert.ok(d <= (R.maxSpeed * it.dtMs) / 1000 + 0.02);
      assert.ok(q.altCm >= R.minAltCm && q.altCm <= R.maxAltCm);
      if (speed <= 0.05) assert.equal(q.heading16, p.heading16);
      // Pure: the input pose is untouched and a second call is bit-identical.
      assert.deepEqual(stepPose(p, it, R), q);
    }),
    { numRuns: 5000 },
  );
});

test('stepPose: even junk intents never produce NaN', () => {
  fc.assert(
    fc.property(pose, fc.double(), fc.double(), fc.double(), fc.double(), (p, dtMs, east, north, up) => {
      assertOnGrid(stepPose(p, { dtMs, east, north, up }, R));
    }),
  );
});

test('stepPose: standing still is exact; vertical motion rounds and clamps', () => {
  const p = poseFromDegrees(45.1234567, 7.7654321, 10, 33);
  assert.deepEqual(stepPose(p, { dtMs: 50, east: 0, north: 0, up: 0 }, R), p);
  assert.equal(stepPose(p, { dtMs: 50, east: 0, north: 0, up: 3 }, R).altCm, 1015);
  assert.equal(stepPose({ ...p, altCm: 5 }, { dtMs: 50, east: 0, north: 0, up: -3 }, R).altCm, 0);
  assert.equal(stepPose({ ...p, altCm: 999_999 }, { dtMs: 50, east: 0, north: 0, up: 3 }, R).altCm, 1_000_000);
  // Slow drift moves but keeps the heading; real motion sets it.
  assert.equal(stepPose(p, { dtMs: 50, east: 0.04, north: 0, up: 0 }, R).heading16, p.heading16);
  assert.equal(stepPose(p, { dtMs: 50, east: 5, north: 0, up: 0 }, R).heading16, 16384);
  assert.equal(stepPose(p, { dtMs: 50, east: 0, north: -5, up: 0 }, R).heading16, 32768);
  assert.equal(stepPose(p, { dtMs: 50, east: -5, north: 0, up: 0 }, R).heading16, 49152);
});

test('stepPose: fixed table of exact results (cross-check for client implementations)', () => {
  // Inputs -> exact outputs. If this ever changes, client prediction and replays change with it.
  const table: [Pose, MoveIntent, Pose][] = [
    [
      { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 },
      { dtMs: 50, east: 6, north: 0, up: 0 },
      { latE7: 0, lonE7: 27, altCm: 0, heading16: 16384 },
    ],
    [
      { latE7: 515_007_000, lonE7: -1_246_000, altCm: 1234, heading16: 100 },
      { dtMs: 50, east: 3.21, north: -4.56, up: 1.5 },
      { latE7: 515_006_979, lonE7: -1_245_977, altCm: 1242, heading16: 26370 },
    ],
    [
      { latE7: 100_000_000, lonE7: 1_799_999_990, altCm: 0, heading16: 0 },
      { dtMs: 250, east: 6, north: 0, up: 0 },
      { latE7: 100_000_000, lonE7: -1_799_999_873, altCm: 0, heading16: 16384 },
    ],
    [
      { latE7: 899_999_990, lonE7: 100_000_000, altCm: 0, heading16: 0 },
      { dtMs: 250, east: 0, north: 6, up: 0 },
      { latE7: 899_999_875, lonE7: -1_700_000_000, altCm: 0, heading16: 32768 },
    ],
    [
      { latE7: 900_000_000, lonE7: 0, altCm: 0, heading16: 0 },
      { dtMs: 100, east: 4, north: 0, up: 0 },
      { latE7: 899_999_964, lonE7: 899_999_999, altCm: 0, heading16: 32768 },
    ],
    [
      { latE7: -337_000_000, lonE7: 1_512_000_000, altCm: 50, heading16: 65535 },
      { dtMs: 33.333, east: -1.1, north: 2.2, up: -0.7 },
      { latE7: -336_999_993, lonE7: 1_511_999_996, altCm: 48, heading16: 60700 },
    ],
  ];
  for (const [p, it, want] of table) assert.deepEqual(stepPose(p, it, R), want, JSON.stringify({ p, it }));
});

/** Step length between consecutive poses with the tolerance of grid rounding. */
function assertStep(a: Pose, b: Pose, expectM: number): void {
  const d = poseDistanceM(a, b);
  assert.ok(Math.abs(d - expectM) <= 0.02, `step ${d} m, expected ${expectM}`);
}

test('walking east along lat 10 across the antimeridian: even steps, no jump', () => {
  let p = poseFromDegrees(10, 179.99);
  const it = { dtMs: 50, east: 6, north: 0, up: 0 };
  let crossed = false;
  for (let i = 0; i < 5000; i++) {
    const q = stepPose(p, it, R);
    assertStep(p, q, 0.3);
    if (q.lonE7 < p.lonE7) crossed = true;
    assert.ok(Math.abs(q.latE7 / E7 - 10) < 1e-5, 'stays on the parallel');
    p = q;
  }
  assert.ok(crossed);
  // Grid rounding of each 30 cm step to ~1.1 cm costs a systematic ~1.4 % here (27 lonE7 units per step).
  assert.ok(Math.abs(distanceM(10, 179.99, p.latE7 / E7, p.lonE7 / E7) - 5000 * 0.2957) < 0.5);
});

test('walking a great circle over the north pole toward the far side: no NaN, no jump, steady progress', () => {
  const target = { lat: 89.99, lon: -170 };
  let p = poseFromDegrees(89.99, 10);
  let remaining = distanceM(89.99, 10, target.lat, target.lon);
  let maxLat = 0;
  let steps = 0;
  while (remaining > 0.5) {
    const b = (initialBearingDeg(p.latE7 / E7, p.lonE7 / E7, target.lat, target.lon) * Math.PI) / 180;
    const q = stepPose(p, { dtMs: 50, east: 6 * Math.sin(b), north: 6 * Math.cos(b), up: 0 }, R);
    assertStep(p, q, 0.3);
    const r = distanceM(q.latE7 / E7, q.lonE7 / E7, target.lat, target.lon);
    assert.ok(remaining - r > 0.27, `progress ${remaining - r}`);
    remaining = r;
    maxLat = Math.max(maxLat, q.latE7);
    p = q;
    assert.ok(++steps < 8000);
  }
  assert.ok(maxLat >= 899_999_900, 'went over the pole');
});

test('walking straight along heading16 through the pole continues down the other side', () => {
  let p = poseFromDegrees(89.999, 30, 0, 0);
  const start = p;
  let travelled = 0;
  for (let i = 0; i < 740; i++) {
    const h = p.heading16 * HEADING_UNIT_RAD;
    const q = stepPose(p, { dtMs: 50, east: 6 * Math.sin(h), north: 6 * Math.cos(h), up: 0 }, R);
    assertStep(p, q, 0.3);
    travelled += poseDistanceM(p, q);
    // Straight line: distance from the start grows exactly like the path length, through the pole.
    assert.ok(Math.abs(poseDistanceM(start, q) - travelled) < 0.05);
    p = q;
  }
  assert.ok(Math.abs(p.latE7 / E7 - (90 - (travelled - distanceM(89.999, 30, 90, 30)) / 111_195)) < 1e-7, `lat ${p.latE7}`);
  assert.ok(Math.abs(p.lonE7 / E7 - -150) < 0.05, `lon ${p.lonE7}`);
});

test('walking around the pole on the small circle at lat 89.999: no NaN, no jump, no lost progress', () => {
  const lat0 = 89.999;
  let p = poseFromDegrees(lat0, 0);
  let unwrapped = 0;
  for (let i = 0; i < 2600; i++) {
    const ahead = (p.lonE7 / E7 + 1) % 360; // aim 1 deg of lon (~1.9 m) ahead on the circle
    const b = (initialBearingDeg(p.latE7 / E7, p.lonE7 / E7, lat0, ahead) * Math.PI) / 180;
    const q = stepPose(p, { dtMs: 50, east: 6 * Math.sin(b), north: 6 * Math.cos(b), up: 0 }, R);
    assertStep(p, q, 0.3);
    assert.ok(Math.abs(q.latE7 / E7 - lat0) < 1e-5);
    let dl = (q.lonE7 - p.lonE7) / E7;
    if (dl < -180) dl += 360;
    assert.ok(dl > 0.14 && dl < 0.17, `lon step ${dl}`); // 0.3 m on a 111 m radius circle
    unwrapped += dl;
    p = q;
  }
  assert.ok(unwrapped > 360, 'went all the way round');
});

test('checkIntent boundaries', () => {
  const ok = { dtMs: 50, east: 0, north: 0, up: 0 };
  assert.equal(checkIntent(ok, R), 0);
  assert.equal(checkIntent({ ...ok, east: NaN }, R), RejectReason.Malformed);
  assert.equal(checkIntent({ ...ok, up: Infinity }, R), RejectReason.Malformed);
  assert.equal(checkIntent({ ...ok, dtMs: -Infinity }, R), RejectReason.Malformed);
  assert.equal(checkIntent({ ...ok, dtMs: 0 }, R), RejectReason.Teleport);
  assert.equal(checkIntent({ ...ok, dtMs: -1 }, R), RejectReason.Teleport);
  assert.equal(checkIntent({ ...ok, dtMs: 250 }, R), 0);
  assert.equal(checkIntent({ ...ok, dtMs: 250.001 }, R), RejectReason.Teleport);
  assert.equal(checkIntent({ ...ok, dtMs: 0.001 }, R), 0);
  const maxH = R.maxSpeed * (1 + R.speedTolerance);
  assert.equal(checkIntent({ ...ok, east: maxH }, R), 0);
  assert.equal(checkIntent({ ...ok, north: -6.6 }, R), 0);
  assert.equal(checkIntent(intentFromWire({ dtMs: 50, eastCms: 396, northCms: 528, upCms: 0 }), R), 0); // 3-4-5: 660 cm/s
  assert.equal(checkIntent(intentFromWire({ dtMs: 50, eastCms: 661, northCms: 0, upCms: 0 }), R), RejectReason.Speed);
  assert.equal(checkIntent({ ...ok, east: maxH * 1.0001 }, R), RejectReason.Speed);
  assert.equal(checkIntent({ ...ok, east: 5, north: 5 }, R), RejectReason.Speed);
  const maxV = R.maxVerticalSpeed * (1 + R.speedTolerance);
  assert.equal(checkIntent({ ...ok, up: maxV }, R), 0);
  assert.equal(checkIntent({ ...ok, up: -maxV }, R), 0);
  assert.equal(checkIntent({ ...ok, up: 3.31 }, R), RejectReason.Speed);
  assert.equal(checkIntent({ ...ok, up: -3.31 }, R), RejectReason.Speed);
  fc.assert(
    fc.property(fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }), fc.double({ min: 1.00001, max: 100, noNaN: true }), (a, k) => {
      const s = maxH * k;
      return checkIntent({ ...ok, east: s * Math.sin(a), north: s * Math.cos(a) }, R) === RejectReason.Speed;
    }),
  );
});

test('intentFromWire converts cm/s to m/s', () => {
  assert.deepEqual(intentFromWire({ dtMs: 50, eastCms: 150, northCms: -600, upCms: 7 }), { dtMs: 50, east: 1.5, north: -6, up: 0.07 });
});

test('MoveClock: claimed time never exceeds real time + slack, whatever the bursts', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ elapsed: fc.integer({ min: 0, max: 400 }), claims: fc.array(fc.integer({ min: 1, max: 250 }), { maxLength: 12 }) }), { maxLength: 200 }),
      (ticks) => {
        const clock = new MoveClock(250);
        let real = 0;
        let claimed = 0;
        for (const t of ticks) {
          clock.credit(t.elapsed);
          real += t.elapsed;
          for (const c of t.claims) {
            const before = clock.bankMs;
            if (clock.spend(c)) claimed += c;
            else assert.equal(clock.bankMs, before, 'a refused spend spends nothing');
          }
          assert.ok(claimed <= real + 250);
          assert.ok(clock.bankMs >= 0 && clock.bankMs <= 250);
        }
      },
    ),
  );
});

test('MoveClock: honest 20 Hz client is never refused; a 2x speed-hack is', () => {
  const honest = new MoveClock();
  for (let i = 0; i < 1000; i++) {
    honest.credit(50);
    assert.equal(honest.spend(50), true);
  }
  const cheat = new MoveClock();
  let refused = 0;
  for (let i = 0; i < 1000; i++) {
    cheat.credit(50);
    if (!cheat.spend(50)) refused++;
    if (!cheat.spend(50)) refused++;
  }
  assert.ok(refused >= 995);
  assert.equal(new MoveClock().spend(251), false);
  const c = new MoveClock();
  c.spend(200);
  c.credit(-1000);
  c.credit(NaN);
  assert.equal(c.bankMs, 50);
  const copy = MoveClock.fromJSON(JSON.parse(JSON.stringify(c)) as { slackMs: number; bankMs: number });
  assert.equal(copy.bankMs, 50);
  assert.equal(copy.spend(51), false);
});
