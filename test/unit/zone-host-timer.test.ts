// The zone host's timer on the real clock: every zone ticks once per period, on one fixed grid,
// and frames carry the grid time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '../../src/cluster/memory-bus.ts';
import { newPlayerEntity, type GatewayBatch } from '../../src/cluster/messages.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { decodeMessage } from '../../src/protocol/messages.ts';
import { MessageType } from '../../src/protocol/types.ts';
import { poseFromDegrees } from '../../src/world/geo.ts';
import type { ZoneId } from '../../src/world/types.ts';
import { zoneOfPose } from '../../src/world/zoning.ts';
import { ZoneHost } from '../../src/zone/host.ts';
import { testZoneSettings } from '../helpers/sim.ts';

/** A host on the real clock with one player in each of `zones` zones; frames' serverTimes per zone. */
async function runHost(zones: number, runMs: number) {
  const bus = new MemoryBus();
  bus.onHandlerError = (err) => {
    throw err;
  };
  const now = (): number => performance.timeOrigin + performance.now();
  const settings = testZoneSettings();
  const host = new ZoneHost({ bus, metrics: new Metrics(), logger: createLogger({ level: 'silent' }), settings, now }, bus);
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

test('ZoneHost ticks every zone once per period on one grid, and frames carry the grid time', async () => {
  const { times, timings, stats } = await runHost(3, 700);
  assert.equal(times.size, 3);
  const offsets = new Set<number>();
  for (const [zone, t] of times) {
    assert.ok(t.length >= 8, `zone ${zone}: ${t.length} frames in 700 ms`);
    // Exactly one period apart, whatever the timer's jitter: a timer may fire up to a
    // millisecond early, and the step is still stamped with the time it was due. (A stall of
    // five periods on a loaded test machine moves the grid on, so only most gaps are exact.)
    let exact = 0;
    for (let i = 1; i < t.length; i++) {
      const gap = t[i]! - t[i - 1]!;
      assert.ok(gap >= 50, `zone ${zone}: frames ${t.join(',')}`);
      if (gap === 50) exact++;
    }
    assert.ok(exact >= (t.length - 1) * 0.75, `zone ${zone}: frames ${t.join(',')}`);
    offsets.add(t[t.length - 1]! % 50);
  }
  assert.equal(offsets.size, 1, 'every zone ticks at the same moment of the period');
  assert.ok(timings.samples >= 8, `${timings.samples} steps`);
  assert.equal(stats.players, 3);
  assert.equal(stats.awake, 3);
});

test('ZoneHost timings: gap is lateness after the previous step only, lag is lateness against the grid', () => {
  const bus = new MemoryBus();
  let now = 10_000;
  const settings = testZoneSettings();
  const host = new ZoneHost({ bus, metrics: new Metrics(), logger: createLogger({ level: 'silent' }), settings, now: () => now }, bus);
  host.start({ autoTick: false }); // the grid: 10,050, 10,100, 10,150, ...
  // Each step starts 80 ms after the one before (30 ms more than a period): the gap stays 30 ms
  // while the lateness against the grid adds up: 0, 30, 60, 90 ms.
  for (const t of [10_050, 10_130, 10_210, 10_290]) {
    now = t;
    host.step();
  }
  const timings = host.timings();
  assert.equal(timings.samples, 4);
  assert.equal(timings.gapP99Ms, 30);
  assert.equal(timings.lagP99Ms, 90);
  void bus.close();
});
