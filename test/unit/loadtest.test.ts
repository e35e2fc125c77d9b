// The load test's parts that need no sockets: Prometheus parsing, ramp levels and the held
// criterion, argument parsing, scenario plans, and the report (summary table, self-contained HTML).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latLngToCell, gridDisk } from 'h3-js';
import { parseLoadtestArgs } from '../../src/loadtest/cli.ts';
import { parseProm, promByLabel, promSum } from '../../src/loadtest/prom.ts';
import { formatSummary, renderHtml, PLOTS } from '../../src/loadtest/report.ts';
import { heldVerdict, median, rampLevels } from '../../src/loadtest/runner.ts';
import { PARIS, SCENARIOS, SCENARIO_NAMES } from '../../src/loadtest/scenarios.ts';
import { RESULT_SCHEMA } from '../../src/loadtest/schema.ts';
import type { LoadtestResult, Sample } from '../../src/loadtest/schema.ts';
import { offsetM } from '../../src/bots/bots.ts';

test('parseProm reads counters with labels; promSum and promByLabel add them up', () => {
  const p = parseProm(
    [
      '# HELP bluemarble_inputs_rejected_total Client inputs refused, by reason.',
      '# TYPE bluemarble_inputs_rejected_total counter',
      'bluemarble_inputs_rejected_total{reason="speed"} 3',
      'bluemarble_inputs_rejected_total{reason="rate"} 4',
      'bluemarble_handoffs_total{result="accepted",zone="a b"} 7',
      'process_cpu_seconds_total 1.5',
      'process_resident_memory_bytes 104857600 1700000000000',
      '',
    ].join('\n'),
  );
  assert.equal(promSum(p, 'bluemarble_inputs_rejected_total'), 7);
  assert.deepEqual(promByLabel(p, 'bluemarble_inputs_rejected_total', 'reason'), { speed: 3, rate: 4 });
  assert.deepEqual(promByLabel(p, 'bluemarble_handoffs_total', 'result'), { accepted: 7 });
  assert.equal(promSum(p, 'process_cpu_seconds_total'), 1.5);
  assert.equal(promSum(p, 'process_resident_memory_bytes'), 104857600);
  assert.ok(Number.isNaN(promSum(p, 'bluemarble_missing_total')));
  assert.ok(Number.isNaN(promSum(p, 'process_cpu')), 'a prefix of another name is not that metric');
});

test('rampLevels grows by 15 % or the minimum step, and ends at the maximum', () => {
  assert.deepEqual(rampLevels(10, 30, 10), [10, 20, 30]);
  const full = rampLevels(100, 5000, 50);
  assert.deepEqual(full.slice(0, 4), [100, 150, 200, 250]);
  assert.equal(full.at(-1), 5000);
  for (let i = 1; i < full.length; i++) assert.ok(full[i]! > full[i - 1]!);
  assert.deepEqual(rampLevels(100, 40, 10), [40]);
});

test('heldVerdict: frames, tick p99, lag p99 and connections, with reasons', () => {
  const ok = { clients: 100, connected: 100, framesPerClientPerS: 19.8, tickP99Ms: 12, lagP99Ms: 3 };
  assert.deepEqual(heldVerdict(ok, 20), { held: true, why: '' });
  const bad = heldVerdict({ clients: 100, connected: 90, framesPerClientPerS: 15, tickP99Ms: 30, lagP99Ms: 80 }, 20);
  assert.equal(bad.held, false);
  assert.match(bad.why, /90\/100 connected/);
  assert.match(bad.why, /15 frames\/s/);
  assert.match(bad.why, /tick p99 30 ms/);
  assert.match(bad.why, /lag p99 80 ms/);
  assert.equal(heldVerdict({ ...ok, tickP99Ms: null }, 20).held, false, 'unmeasured is not held');
  assert.equal(heldVerdict({ ...ok, framesPerClientPerS: 9.6 }, 10).held, true, 'follows the tick rate');
});

test('median ignores nulls and NaN', () => {
  assert.equal(median([3, null, 1, NaN, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([null]), null);
});

test('loadtest arguments: defaults, and clear errors', () => {
  const a = parseLoadtestArgs(['--scenario', 'spread']);
  assert.ok(a !== 'help');
  assert.equal(a.scenario, 'spread');
  assert.equal(a.report, 'loadtest-results');
  assert.equal(a.seed, 1);
  assert.equal(a.botsNice, 0);
  const b = parseLoadtestArgs(['crowd', '--clients', '50', '--duration', '5', '--no-report', '--server-args', '--zone-threads 1', '--bots-nice', '10']);
  assert.ok(b !== 'help');
  assert.equal(b.scenario, 'crowd');
  assert.equal(b.clients, 50);
  assert.equal(b.report, undefined);
  assert.deepEqual(b.serverArgs, ['--zone-threads', '1']);
  assert.equal(b.botsNice, 10);
  assert.equal(parseLoadtestArgs(['--help']), 'help');
  const bad: [string[], RegExp][] = [
    [[], /--scenario is required/],
    [['--scenario', 'nope'], /unknown scenario 'nope'/],
    [['--scenario', 'spread', '--clients', '0'], /--clients must be a positive integer/],
    [['--scenario', 'spread', '--clients', '1.5'], /--clients must be a positive integer/],
    [['--scenario', 'ramp', '--duration', '400'], /at most 270/],
    [['--scenario', 'spread', '--url', 'http://x'], /ws:\/\/ or wss:\/\//],
    [['--scenario', 'spread', '--pid', '12'], /--pid only goes with --url/],
    [['--scenario', 'spread', '--url', 'ws://x/ws', '--server-args', '--npcs 1'], /no effect with --url/],
    [['--scenario', 'spread', '--report', 'x', '--no-report'], /contradict/],
    [['--scenario', 'spread', '--bogus'], /bogus/],
    [['--scenario', 'spread', '--bots-nice', '20'], /--bots-nice must be an integer 0\.\.19, got '20'/],
    [['--scenario', 'spread', '--bots-nice', ''], /--bots-nice must be an integer 0\.\.19/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseLoadtestArgs(argv), re, argv.join(' '));
});

test('scenario plans: crowd in one zone, migrate at a corner of three zones, hostile split off', () => {
  for (const name of SCENARIO_NAMES) {
    const plan = SCENARIOS[name].plan({ clients: 40, durationS: 5, smoke: true, zoneResolution: 8 });
    assert.equal(
      plan.groups.reduce((n, g) => n + g.count, 0),
      40,
      name,
    );
    assert.ok(plan.world.spawnRadiusM > 0);
  }
  const crowd = SCENARIOS.crowd.plan({ clients: 400, durationS: 30, smoke: false, zoneResolution: 8 });
  const home = latLngToCell(PARIS.lat, PARIS.lon, 8);
  assert.equal(latLngToCell(crowd.world.spawnLat, crowd.world.spawnLon, 8), home, 'the crowd stands in the zone holding Paris');
  const migrate = SCENARIOS.migrate.plan({ clients: 100, durationS: 30, smoke: false, zoneResolution: 8 });
  // Within a few metres of the spawn point, three different zones.
  const cells = new Set<string>();
  for (const [dE, dN] of [[5, 0], [-5, 0], [0, 5], [0, -5], [4, 4], [-4, -4], [4, -4], [-4, 4]] as const) {
    cells.add(latLngToCell(migrate.world.spawnLat + dN / 111_320, migrate.world.spawnLon + dE / (111_320 * Math.cos((migrate.world.spawnLat * Math.PI) / 180)), 8));
  }
  assert.equal(cells.size, 3, 'migrate spawns at a vertex');
  assert.ok([...cells].every((c) => gridDisk(home, 1).includes(c)));
  assert.equal(migrate.groups[0]!.behaviour.move, 'shuttle');
  const hostile = SCENARIOS.hostile.plan({ clients: 400, durationS: 30, smoke: false, zoneResolution: 8 });
  assert.deepEqual(
    hostile.groups.map((g) => [g.role, g.count]),
    [
      ['honest', 300],
      ['hostile', 100],
    ],
  );
});

test('offsetM measures east/north metres', () => {
  const d = offsetM(48.8566, 2.3522, 48.8566 + 0.001, 2.3522 + 0.001);
  assert.ok(Math.abs(d.north - 111.32) < 0.01);
  assert.ok(Math.abs(d.east - 111.32 * Math.cos((48.8566 * Math.PI) / 180)) < 0.01);
});

function sample(t: number, measured: boolean): Sample {
  return {
    t,
    phase: measured ? 'measure' : 'warmup',
    measured,
    targetClients: 10,
    clients: 10,
    hostileClients: 0,
    serverPlayers: 10,
    zones: 2,
    serverSteps: 20,
    tickP50Ms: 1,
    tickP99Ms: 2 + t / 10,
    stepP99Ms: 3,
    stepMaxMs: 4,
    lagP99Ms: 0.5,
    gapP99Ms: 0.2,
    serverBytesOutPerS: 9000,
    serverRejectsPerS: 0,
    handoffsPerS: 0.5,
    connectionsOpenedPerS: 0,
    framesSkippedPerS: 0,
    serverCpuPct: 10 + t,
    serverRssMB: 200,
    framesPerClientPerS: 20,
    bytesInPerClientPerS: 900,
    bytesOutPerClientPerS: 700,
    updateP50Ms: 25,
    updateP99Ms: t === 3 ? null : 50,
    rejects: 0,
    hostileRejects: 0,
    joins: 0,
    kicks: 0,
    botsCpuPct: 8,
  };
}

export function syntheticResult(): LoadtestResult {
  const samples = Array.from({ length: 8 }, (_, i) => sample(i + 1, i >= 2));
  return {
    schema: RESULT_SCHEMA,
    scenario: 'spread',
    description: 'a test </script><b>',
    startedAt: '2026-01-01T00:00:00.000Z',
    elapsedS: 10,
    config: {
      clients: 10,
      durationS: 6,
      rampS: 1,
      warmupS: 1,
      botProcesses: 1,
      smoke: true,
      seed: 1,
      target: { kind: 'bluemarble', url: 'ws://127.0.0.1:1/ws', serverArgs: [] },
      world: { spawnRadiusM: 1500 },
    },
    host: { cpus: 2, node: 'v20', platform: 'linux', loadavg: [1, 1, 1] },
    samples,
    summary: {
      clients: 10,
      peakConnected: 10,
      measuredSeconds: 6,
      framesPerClientPerS: 20,
      bytesInPerClientPerS: 900,
      bytesOutPerClientPerS: 700,
      updateP50Ms: 25,
      updateP99Ms: 50,
      rttP50Ms: 1,
      rttP99Ms: 3,
      tickP50Ms: 1,
      tickP99Ms: 2.5,
      tickP99WorstMs: 2.8,
      lagP99Ms: 0.5,
      gapP99Ms: 0.2,
      serverCpuPct: 14,
      serverRssMaxMB: 200,
      botsCpuPct: 8,
      zones: 2,
      visibleAvg: 1.5,
      handoffsPerS: 0.5,
      joinsPerS: 0,
      joinP50Ms: 5,
      joinP99Ms: 9,
      inputsSent: 1200,
      inputsRejected: 0,
      rejectsByReason: {},
      disconnects: 0,
      kicksByReason: {},
      connectFailures: 0,
      protocolErrors: 0,
      lateTicks: 0,
      held: true,
      serverWarnings: 0,
    },
    ramp: null,
    hostile: null,
    serverCounters: { handoffs_accepted: 3 },
    checks: [{ name: 'bots connected', ok: true, detail: 'peak 10 of 10' }],
  };
}

test('formatSummary prints the key figures and the checks', () => {
  const text = formatSummary(syntheticResult());
  assert.match(text, /input->update p50 \/ p99\s+25 \/ 50 ms/);
  assert.match(text, /tick p50 \/ p99 \(worst second\)\s+1 \/ 2\.50 \(2\.80\) ms/);
  assert.match(text, /ok\s+bots connected: peak 10 of 10/);
});

test('renderHtml is self-contained: uPlot inlined, no external resources, data escaped', () => {
  const html = renderHtml(syntheticResult());
  assert.match(html, /uPlot/);
  assert.match(html, /\.uplot/, 'uPlot CSS inlined');
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'nothing loaded from elsewhere');
  // The data's '</script>' cannot close the script element early.
  assert.equal(html.split('</script>').length - 1, 4);
  assert.match(html, /a test &lt;\/script&gt;&lt;b&gt;/);
  for (const p of PLOTS) for (const [field] of p.series) if (field !== 'budget') assert.ok(field in syntheticResult().samples[0]!, field);
});
