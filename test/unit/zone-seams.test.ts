// Zones at the planet's seams: a player walking across the antimeridian and over a pole changes
// zone like anywhere else, with no jump, no NaN, and never owned by zero or two zones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialBearingDeg, poseDistanceM, poseFromDegrees, poseLatDeg, poseLonDeg } from '../../src/world/geo.ts';
import type { Pose } from '../../src/world/types.ts';
import { Sim, input, type SimPlayer } from '../helpers/sim.ts';

const SPEED = 5.5; // m/s, 0.275 m per 50 ms tick

/** Walk for `ticks`, steering each tick with `bearing(pose)`; check the invariants every tick. */
async function walk(sim: Sim, p: SimPlayer, start: Pose, ticks: number, bearing: (pose: Pose) => number): Promise<Set<string>> {
  const zones = new Set<string>();
  let prev: Pose | undefined;
  for (let t = 0; t < ticks; t++) {
    const pose = p.lastFrame ? (p.lastFrame.state.own as Pose) : start;
    const b = (bearing(pose) * Math.PI) / 180;
    sim.sendInputs(p, [input(p.nextSeq++, SPEED * Math.sin(b), SPEED * Math.cos(b))]);
    await sim.tick();
    assert.equal(sim.ownersOf(p.id).length, 1, `exactly one owner at tick ${t}`);
    const own = p.lastFrame!.state.own;
    const now: Pose = { latE7: own.latE7, lonE7: own.lonE7, altCm: own.altCm, heading16: own.heading16 };
    assert.ok(Number.isFinite(now.latE7) && Number.isFinite(now.lonE7), 'no NaN');
    if (prev) {
      const step = poseDistanceM(prev, now);
      assert.ok(step < 0.4, `no jump at tick ${t}: moved ${step.toFixed(3)} m`);
    }
    prev = now;
    zones.add(p.lastFrame!.zone);
  }
  assert.equal(p.rejects.length, 0, 'no input rejected');
  assert.equal(p.lastFrame!.lastInputSeq, p.nextSeq - 1, 'every input applied');
  return zones;
}

test('walking east across the antimeridian changes zones without a seam', async () => {
  const sim = new Sim();
  const start = poseFromDegrees(20, 179.9985); // ~157 m west of the line
  const p = await sim.addPlayer(start);
  const zones = await walk(sim, p, start, 1400, () => 90); // 385 m east
  const lon = poseLonDeg(p.lastFrame!.state.own as Pose);
  assert.ok(lon < -179.99 && lon > -180, `ended east of the antimeridian (lon ${lon})`);
  assert.ok(zones.size >= 2, `crossed zones: ${[...zones].join(',')}`);
});

test('walking straight over the north pole changes zones without a seam', async () => {
  const sim = new Sim();
  // 150 m short of the pole on the 0 meridian, heading for a point on the 180 meridian beyond it.
  const target = { lat: 89.998, lon: 180 };
  const start = poseFromDegrees(89.99865, 0);
  const p = await sim.addPlayer(start);
  const zones = await walk(sim, p, start, 1200, (pose) =>
    initialBearingDeg(poseLatDeg(pose), poseLonDeg(pose), target.lat, target.lon),
  );
  const end = p.lastFrame!.state.own as Pose;
  assert.ok(Math.abs(Math.abs(poseLonDeg(end)) - 180) < 1, `ended on the far side (lon ${poseLonDeg(end)})`);
  assert.ok(poseLatDeg(end) < 89.9995, 'walked past the pole');
  assert.ok(zones.size >= 2, `crossed zones: ${[...zones].join(',')}`);
});

test('circling the south pole keeps one owner and a continuous path', async () => {
  const sim = new Sim();
  const start = poseFromDegrees(-89.999, 0); // 111 m from the pole
  const p = await sim.addPlayer(start);
  // Walk due east: a small circle round the pole (about 700 m around), crossing every meridian.
  const zones = await walk(sim, p, start, 2600, () => 90);
  assert.ok(zones.size >= 2, `crossed zones: ${[...zones].join(',')}`);
});
