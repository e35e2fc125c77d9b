import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { distanceM, E7, poseFromDegrees } from '../../src/world/geo.ts';
import { stepPose } from '../../src/world/movement.ts';
import { NpcBrain } from '../../src/world/npc.ts';
import { Rng } from '../../src/world/rng.ts';
import { DEFAULT_MOVEMENT_RULES } from '../../src/world/types.ts';
import type { MoveIntent, Pose } from '../../src/world/types.ts';

test('Rng: deterministic, in range, state round trip', () => {
  const a = new Rng(12345);
  const b = new Rng(12345);
  for (let i = 0; i < 1000; i++) {
    const x = a.next();
    assert.equal(x, b.next());
    assert.ok(x >= 0 && x < 1);
  }
  const c = Rng.fromJSON(JSON.parse(JSON.stringify(a)) as number);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), c.next());
  assert.notEqual(new Rng(1).next(), new Rng(2).next());
  // Fixed first values, so a change of algorithm (and of every NPC's path) is noticed.
  const r = new Rng(42);
  assert.deepEqual([r.next(), r.next(), r.int(0, 100)], [0.6011037519201636, 0.44829055899754167, 85]);
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (seed, min, span) => {
      const v = new Rng(seed).int(min, min + span);
      return Number.isInteger(v) && v >= min && v < min + span;
    }),
  );
  const counts = [0, 0, 0, 0];
  const u = new Rng(7);
  for (let i = 0; i < 40_000; i++) counts[u.int(0, 4)]!++;
  for (const n of counts) assert.ok(Math.abs(n - 10_000) < 500);
});

function simulate(brain: NpcBrain, start: Pose, ticks: number, dtMs: number, onTick?: (p: Pose, it: MoveIntent) => void): Pose {
  let p = start;
  for (let i = 0; i < ticks; i++) {
    const it = brain.next(p, dtMs);
    p = stepPose(p, it, DEFAULT_MOVEMENT_RULES);
    onTick?.(p, it);
  }
  return p;
}

const homes = [
  { lat: 48.8566, lon: 2.3522 },
  { lat: 0.0005, lon: 179.9995 }, // straddles the antimeridian
  { lat: 89.9995, lon: 0 }, // the leash circle contains the north pole
  { lat: -90, lon: 0 },
];

test('NpcBrain stays within 1.5 x homeRadius over 10 simulated minutes, anywhere', () => {
  for (const [i, home] of homes.entries()) {
    for (const seed of [1, 2, 3, 1000 + i]) {
      const brain = new NpcBrain(seed, home, 150, 1.4);
      let maxD = 0;
      let moved = 0;
      simulate(brain, poseFromDegrees(home.lat, home.lon), 12_000, 50, (p, it) => {
        maxD = Math.max(maxD, distanceM(home.lat, home.lon, p.latE7 / E7, p.lonE7 / E7));
        if (it.east !== 0 || it.north !== 0) moved++;
      });
      assert.ok(maxD <= 225, `seed ${seed} home ${JSON.stringify(home)} strayed ${maxD} m`);
      assert.ok(maxD > 20, 'it actually wanders');
      assert.ok(moved > 6000 && moved < 12_000, 'walks most of the time and pauses sometimes');
    }
  }
});

test('NpcBrain: a far-away NPC heads home', () => {
  const home = { lat: 10, lon: 20 };
  const brain = new NpcBrain(5, home);
  const end = simulate(brain, poseFromDegrees(10.01, 20.01), 20 * 60 * 20, 50);
  assert.ok(distanceM(home.lat, home.lon, end.latE7 / E7, end.lonE7 / E7) <= 151);
});

test('NpcBrain is deterministic for a seed and survives a JSON round trip mid-walk', () => {
  const home = homes[0]!;
  const start = poseFromDegrees(home.lat, home.lon);
  const a = simulate(new NpcBrain(99, home), start, 6000, 50);
  const b = simulate(new NpcBrain(99, home), start, 6000, 50);
  assert.deepEqual(a, b);
  assert.notDeepEqual(simulate(new NpcBrain(100, home), start, 6000, 50), a);

  const brain = new NpcBrain(99, home);
  const mid = simulate(brain, start, 3000, 50);
  const moved = NpcBrain.fromJSON(JSON.parse(JSON.stringify(brain)) as ReturnType<NpcBrain['toJSON']>);
  assert.deepEqual(simulate(moved, mid, 3000, 50), a);
});
