// Prediction, reconciliation and interpolation, without a network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PlaybackClock, Predictor, RemoteEntity, ServerClock } from '../../src/client/index.ts';
import { intentFromWire, stepPose } from '../../src/world/movement.ts';
import { DEFAULT_MOVEMENT_RULES } from '../../src/world/types.ts';
import type { Pose } from '../../src/world/types.ts';
import { SNAPSHOT_STRIDE } from '../../src/protocol/types.ts';

const rules = DEFAULT_MOVEMENT_RULES;
const start: Pose = { latE7: 488_566_000, lonE7: 23_522_000, altCm: 500, heading16: 0 };
const vel = fc.record({ e: fc.integer({ min: -600, max: 600 }), n: fc.integer({ min: -600, max: 600 }), u: fc.integer({ min: -300, max: 300 }) });

test('prediction equals the server rules exactly, input after input', () => {
  fc.assert(
    fc.property(fc.array(vel, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 200 }), (vs, ack) => {
      const p = new Predictor(rules);
      p.reset(start, 10);
      let server = start;
      const serverAt: Pose[] = [];
      vs.forEach((v, i) => {
        p.predict(10 + i, 50, v.e, v.n, v.u);
        server = stepPose(server, intentFromWire({ dtMs: 50, eastCms: v.e, northCms: v.n, upCms: v.u }), rules);
        serverAt.push(server);
      });
      assert.deepEqual({ ...p.pose }, server);
      // Any acknowledged prefix matches without a replay.
      const k = Math.min(ack, vs.length) - 1;
      const r = p.reconcile(10 + k, serverAt[k]!);
      assert.equal(r.matched, true);
      assert.equal(r.corrected, false);
      assert.deepEqual({ ...p.pose }, server);
    }),
  );
});

test('a server correction replays the unacknowledged inputs on top of it', () => {
  const p = new Predictor(rules);
  p.reset(start, 1);
  for (let s = 1; s <= 10; s++) p.predict(s, 50, 500, 0, 0);
  // The server saw input 4 refused and a pose 1 m further south.
  const server: Pose = { ...start };
  let q = server;
  for (let s = 1; s <= 6; s++) if (s !== 4) q = stepPose(q, { dtMs: 50, east: 5, north: 0, up: 0 }, rules);
  q = { ...q, latE7: q.latE7 - 90 };
  const r = p.reconcile(6, q);
  assert.equal(r.matched, false);
  assert.ok(r.errorM > 0.2 && r.errorM < 2, `${r.errorM}`);
  assert.equal(r.corrected, true);
  let want = q;
  for (let s = 7; s <= 10; s++) want = stepPose(want, { dtMs: 50, east: 5, north: 0, up: 0 }, rules);
  assert.deepEqual({ ...p.pose }, want);
  assert.equal(p.mismatches, 1);
});

test('a rejected movement is taken out of the prediction at once', () => {
  const p = new Predictor(rules);
  p.reset(start, 1);
  for (let s = 1; s <= 5; s++) p.predict(s, 50, 0, 600, 0);
  assert.equal(p.rejectMovement(3), true);
  let want = start;
  for (let s = 1; s <= 5; s++) if (s !== 3) want = stepPose(want, { dtMs: 50, east: 0, north: 6, up: 0 }, rules);
  assert.deepEqual({ ...p.pose }, want);
  // The frame that then acknowledges input 5 agrees.
  assert.equal(p.reconcile(5, want).matched, true);
  assert.equal(p.rejectMovement(2), false, 'already acknowledged');
});

test('altitude is clamped to the rules from WELCOME', () => {
  const p = new Predictor({ ...rules, minAltCm: 100, maxAltCm: 600 });
  p.reset(start, 1);
  for (let s = 1; s <= 10; s++) p.predict(s, 50, 0, 0, 300);
  assert.equal(p.pose.altCm, 600);
});

function row(id: number, latE6: number, lonE6: number): Int32Array {
  const d = new Int32Array(SNAPSHOT_STRIDE);
  d[0] = id;
  d[2] = latE6;
  d[3] = lonE6;
  return d;
}

test('remote entities interpolate between samples and ride out a late frame', () => {
  const e = new RemoteEntity(5, 0);
  // Moving 10 units east per 50 ms frame.
  for (let i = 0; i < 5; i++) e.push(row(5, 0, i * 10), 0, 1000 + i * 50, 225);
  e.sampleAt(1125);
  assert.ok(Math.abs(e.lon * 1e6 - 25) < 1e-6);
  // Past the newest sample (frame 1250 is late): keeps the pace instead of stopping.
  e.sampleAt(1220, 100, 225);
  assert.ok(Math.abs(e.lon * 1e6 - 44) < 1e-6, `${e.lon * 1e6}`);
  // Frames that say it stopped: hold.
  for (let i = 5; i < 10; i++) e.push(row(5, 0, 40), 0, 1000 + i * 50, 225);
  e.sampleAt(1400, 100, 225);
  assert.ok(Math.abs(e.lon * 1e6 - 40) < 1e-6);
});

test('samples that contradict an extrapolation are blended in without a step back or a stop', () => {
  const e = new RemoteEntity(5, 0);
  // 10 units per 100 ms (a far entity refreshed every other frame), then frame 1500 is late and
  // shows the entity slowed down (2 units), frame 1600 back to pace.
  for (let i = 0; i <= 4; i++) e.push(row(5, 0, i * 10), 0, 1000 + i * 100, 225);
  const drawn: number[] = [];
  let t = 1380;
  const render = (): void => {
    e.sampleAt(t, 100, 225);
    drawn.push(e.lon * 1e6);
    t += 16;
  };
  while (t < 1480) render(); // past 1400: extrapolating, about 47 by now
  assert.ok(drawn[drawn.length - 1]! > 46, `${drawn[drawn.length - 1]}`);
  e.push(row(5, 0, 42), 0, 1500, 225);
  while (t < 1560) render();
  e.push(row(5, 0, 52), 0, 1600, 225);
  e.push(row(5, 0, 62), 0, 1700, 225);
  e.push(row(5, 0, 72), 0, 1800, 225);
  while (t < 1900) render();
  for (let i = 1; i < drawn.length; i++) assert.ok(drawn[i]! > drawn[i - 1]!, `render ${i}: ${drawn[i - 1]} -> ${drawn[i]}`);
  // Converged on the samples again.
  e.sampleAt(1790, 100, 225);
  assert.ok(Math.abs(e.lon * 1e6 - 71) < 1e-6, `${e.lon * 1e6}`);
});

test('an entity that stood still and moves again does not creep over the pause', () => {
  const e = new RemoteEntity(5, 0);
  for (let i = 0; i < 10; i++) e.push(row(5, 0, 0), 0, 1000 + i * 50, 225);
  e.push(row(5, 0, 10), 0, 1500, 225);
  e.sampleAt(1300);
  assert.equal(e.lon, 0);
  e.sampleAt(1475);
  assert.ok(Math.abs(e.lon * 1e6 - 5) < 1e-6);
});

test('playback delay grows with jitter and steers without jumping', () => {
  const c = new PlaybackClock(100, 50);
  let now = 0;
  for (let i = 0; i < 40; i++) {
    now = i * 50 + 80 + (i % 3 === 0 ? 70 : 0); // every third frame 70 ms late
    c.observe(i * 50, now);
  }
  assert.ok(c.jitterMs >= 69 && c.jitterMs <= 71);
  assert.ok(c.delayMs >= 50 + 70, `${c.delayMs}`);
  let last = c.time(now);
  for (let k = 1; k <= 10; k++) {
    const t = c.time(now + k * 16);
    assert.ok(t > last && t - last <= 16 * 1.1 + 1e-9);
    last = t;
  }
});

test('frame timestamps unwrap across 2^32', () => {
  const clock = new ServerClock();
  const a = clock.unwrapFrameTime(0xffff_fff0, 0);
  const b = clock.unwrapFrameTime(0x20, 50);
  assert.equal(b - a, 0x30);
});

test('a frame acknowledging an input never sent takes its pose but keeps the input numbering', () => {
  const p = new Predictor(rules);
  p.reset(start, 5);
  p.predict(5, 50, 300, 0, 0);
  p.predict(6, 50, 300, 0, 0);
  const server: Pose = { ...start, latE7: start.latE7 + 1000 };
  // The server claims input 1,000; only 5 and 6 were sent.
  const r = p.reconcile(1000, server);
  assert.equal(r.matched, false);
  assert.equal(r.corrected, true);
  assert.deepEqual({ ...p.pose }, server);
  assert.equal(p.lastSeq, 6);
  // The next input is still 7, and predicting it does not throw.
  assert.doesNotThrow(() => p.predict(7, 50, 0, 300, 0));
  assert.equal(p.lastSeq, 7);
  // Later frames reconcile as usual.
  const after = p.reconcile(7, { ...p.pose });
  assert.equal(after.matched, true);
});
