// Tick phases: the balanced assignment (property tests) and a zone host ticking its zones at
// their phases on a real clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryBus } from '../../src/cluster/memory-bus.ts';
import { newPlayerEntity, type GatewayBatch } from '../../src/cluster/messages.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { decodeMessage } from '../../src/protocol/messages.ts';
import { MessageType } from '../../src/protocol/types.ts';
import { poseFromDegrees } from '../../src/world/geo.ts';
import type { ZoneId } from '../../src/world/types.ts';
import { DEFAULT_MOVEMENT_RULES } from '../../src/world/types.ts';
import { zoneOfPose } from '../../src/world/zoning.ts';
import { ZoneHost } from '../../src/zone/host.ts';
import { TickPhases } from '../../src/zone/phases.ts';

test('TickPhases: every member in exactly one phase, added to an emptiest phase, stepsToNext finds the next phase with members', () => {
  const op = fc.oneof(
    fc.record({ add: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ remove: fc.integer({ min: 0, max: 40 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 120 }), (count, ops) => {
      const phases = new TickPhases<number>(count);
      const model = new Map<number, number>();
      for (const o of ops) {
        if ('add' in o) {
          const sizes = Array.from({ length: count }, (_, p) => phases.members(p).length);
          const p = phases.add(o.add);
          if (model.has(o.add)) assert.equal(p, model.get(o.add), 'adding twice keeps the phase');
          else {
            assert.equal(sizes[p], Math.min(...sizes), 'a new member goes to an emptiest phase');
            assert.equal(p, sizes.indexOf(Math.min(...sizes)), 'the lowest of the emptiest');
            model.set(o.add, p);
          }
        } else {
          phases.remove(o.remove);
          model.delete(o.remove);
        }
        assert.equal(phases.size, model.size);
        let listed = 0;
        for (let p = 0; p < count; p++) {
          for (const m of phases.members(p)) {
            assert.equal(model.get(m), p);
            assert.equal(phases.of(m), p);
            listed++;
          }
        }
        assert.equal(listed, model.size, 'no member listed twice or lost');
        for (let p = 0; p < count; p++) {
          const s = phases.stepsToNext(p);
          assert.ok(s >= 1 && s <= count);
          for (let k = 1; k < s; k++) assert.equal(phases.members((p + k) % count).length, 0, 'no phase with members is skipped');
          if (s < count) assert.ok(phases.members((p + s) % count).length > 0);
        }
      }
    }),
  );
});

test('TickPhases: refuses a count that is not a whole number >= 1', () => {
  assert.throws(() => new TickPhases(0), /whole number >= 1/);
  assert.throws(() => new TickPhases(2.5), /whole number >= 1/);
});

/** A host on the real clock with one player in each of `zones` zones; frames' serverTimes per zone. */
async function runHost(tickPhases: number, zones: number, runMs: number) {
  const bus = new MemoryBus();
  bus.onHandlerError = (err) => {
    throw err;
  };
  const now = (): number => performance.timeOrigin + performance.now();
  const settings = {
    tickRate: 20,
    aoiRadius: 200,
    aoiHysteresis: 0.1,
    frameBudget: 1200,
    rules: DEFAULT_MOVEMENT_RULES,
    maxInputsPerSecond: 40,
    zoneResolution: 8,
    inputGapTimeoutMs: 250,
    moveClockSlackMs: 1000,
  };
  const host = new ZoneHost({ bus, metrics: new Metrics(), logger: createLogger({ level: 'silent' }), settings, now }, bus, { tickPhases });
  const times = new Map<ZoneId, number[]>();
  bus.serveGateway('gw', (b: GatewayBatch) => {
    for (const d of b.deliveries) {
      const msg = decodeMessage(d.bytes);
      if (msg.type !== MessageType.Frame) continue;
      let list = times.get(b.zone);
      if (!list) times.set(b.zone, (list = []));
      list.push(msg.header.serverTime);
    }
  });
  host.start();
  const placed = new Set<ZoneId>();
  for (let i = 0; placed.size < zones; i++) {
    // About 2 km apart in longitude: every player in a zone of its own (resolution 8 cells are ~0.5 km).
    const pose = poseFromDegrees(48.85, 2.35 + i * 0.03);
    const zone = zoneOfPose(pose, settings.zoneResolution);
    assert.ok(!placed.has(zone));
    placed.add(zone);
    const entity = newPlayerEntity({ id: i + 1, name: `p${i}`, pose, gatewayId: 'gw', sessionId: `s${i}`, moveClockSlackMs: 1000 });
    const answer = await bus.offerEntity(zone, { from: '0', entity });
    assert.ok(answer.accepted);
  }
  await new Promise((r) => setTimeout(r, runMs));
  const timings = host.timings();
  const stats = host.stats();
  await host.stop();
  await bus.close();
  return { times, timings, stats };
}

test('ZoneHost ticks each zone once per period on its own phase of the grid', async () => {
  const { times, timings, stats } = await runHost(5, 5, 700);
  assert.equal(times.size, 5);
  const offsets: number[] = [];
  for (const [zone, t] of times) {
    assert.ok(t.length >= 8, `zone ${zone}: ${t.length} frames in 700 ms`);
    // Frames carry the grid time: one period apart, whatever the timer's jitter (a stall of five
    // periods on a loaded test machine moves the grid on, so only most gaps are checked exactly).
    let exact = 0;
    for (let i = 1; i < t.length; i++) {
      const gap = t[i]! - t[i - 1]!;
      assert.ok(gap >= 50, `zone ${zone}: frames ${t.join(',')}`);
      if (gap === 50) exact++;
    }
    assert.ok(exact >= (t.length - 1) * 0.75, `zone ${zone}: frames ${t.join(',')}`);
    offsets.push(t[t.length - 1]! % 50);
  }
  // Five zones on five phases 10 ms apart (the grid times are floored to whole ms).
  const phase = offsets.map((o) => Math.round((((o - offsets[0]!) % 50) + 50) % 50 / 10) % 5).sort();
  assert.deepEqual(phase, [0, 1, 2, 3, 4], `offsets ${offsets.join(',')}`);
  assert.equal(timings.phases, 5);
  assert.ok(timings.samples >= 8, `${timings.samples} steps`);
  assert.equal(stats.players, 5);
  assert.equal(stats.awake, 5);
});

test('ZoneHost with one phase ticks every zone at the same moment', async () => {
  const { times, timings } = await runHost(1, 3, 400);
  assert.equal(times.size, 3);
  const firsts = new Set<number>();
  const seen = [...times.values()];
  const common = Math.max(...seen.map((t) => t[0]!));
  for (const t of seen) {
    assert.ok(t.includes(common), `every zone ticked at ${common}: ${seen.map((x) => x.join(',')).join(' | ')}`);
    firsts.add(t[0]! % 50);
  }
  assert.equal(firsts.size, 1);
  assert.equal(timings.phases, 1);
});
