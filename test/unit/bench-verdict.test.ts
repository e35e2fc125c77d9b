// `bench sockets --repeat N`: how a client count's runs become one verdict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { StepResult } from '../../bench/sockets.ts';
import { verdictOf } from '../../bench/sockets.ts';

function step(over: Partial<StepResult>): StepResult {
  return {
    label: 'spread 2000',
    clients: 2000,
    botProcesses: 2,
    botsNice: 0,
    spawnRadiusM: 2523,
    npcs: 0,
    connected: 2000,
    framesPerClientPerSecond: 20,
    simStepP50Ms: 8,
    simStepP99Ms: 20,
    stepP50Ms: 22,
    stepP99Ms: 45,
    stepMaxMs: 60,
    zoneTickP99Ms: 2,
    lagP99Ms: 30,
    serverSteps: 300,
    serverWindowS: 15,
    zones: 40,
    bytesPerClientPerSecond: 650,
    bytesPerFrame: 33,
    updateLatencyP50Ms: 40,
    updateLatencyP99Ms: 90,
    rttP99Ms: 10,
    inputsRejected: 0,
    rejectsByReason: {},
    disconnects: 0,
    kicksByReason: {},
    connectFailures: 0,
    protocolErrors: 0,
    visibleEntitiesAvg: 13,
    botLateTicks: 0,
    serverCpuPct: 78,
    botsCpuPct: [41, 42],
    serverWarnings: 0,
    serverWarningSamples: [],
    held: true,
    ...over,
  };
}

test('a count is held when most of its runs held; a tie is not held', () => {
  const held = step({ held: true, lagP99Ms: 20 });
  const missed = step({ held: false, lagP99Ms: 60 });
  assert.equal(verdictOf(2000, [held]).held, true);
  assert.equal(verdictOf(2000, [missed]).held, false);
  assert.equal(verdictOf(2000, [held, missed]).held, false);
  const v = verdictOf(2000, [missed, held, held]);
  assert.deepEqual([v.held, v.heldRuns, v.runs], [true, 2, 3]);
  assert.equal(verdictOf(2000, [missed, missed, held]).held, false);
});

test('verdict figures are the medians of the runs (bots: both processes summed)', () => {
  const v = verdictOf(2000, [
    step({ lagP99Ms: 10, simStepP99Ms: 30, serverCpuPct: 70, botsCpuPct: [40, 40] }),
    step({ lagP99Ms: 90, simStepP99Ms: 10, serverCpuPct: 90, botsCpuPct: [50, 50] }),
    step({ lagP99Ms: 40, simStepP99Ms: 20, serverCpuPct: 80, botsCpuPct: [45, 44] }),
  ]);
  assert.equal(v.lagP99Ms, 40);
  assert.equal(v.simStepP99Ms, 20);
  assert.equal(v.serverCpuPct, 80);
  assert.equal(v.botsCpuPct, 89);
});

test('property: held exactly when held runs are a strict majority; medians within the runs', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ held: fc.boolean(), lag: fc.integer({ min: 0, max: 500 }) }), { minLength: 1, maxLength: 9 }),
      (runs) => {
        const v = verdictOf(
          1000,
          runs.map((r) => step({ held: r.held, lagP99Ms: r.lag })),
        );
        const heldRuns = runs.filter((r) => r.held).length;
        assert.equal(v.heldRuns, heldRuns);
        assert.equal(v.held, heldRuns > runs.length / 2);
        const lags = runs.map((r) => r.lag);
        assert.ok(v.lagP99Ms >= Math.min(...lags) && v.lagP99Ms <= Math.max(...lags));
      },
    ),
  );
});
