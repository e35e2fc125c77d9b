// The bots against a real server, through the `bots` command: as guests they connect, walk, see
// each other, and their summary holds the figures a load test needs; with accounts (the default)
// they register on the first run, reuse the accounts on the next, play, and look up what they see.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { botsCommand } from '../../src/bots/cli.ts';
import type { BotSummary } from '../../src/bots/bots.ts';
import { metric, startTestServer } from '../helpers/server.ts';

/** Runs `bluemarble bots`; returns the exit code, stderr, and the --json summary when there is one. */
async function bots(argv: string[]): Promise<{ code: number; err: string; summary: BotSummary | undefined }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await botsCommand(argv, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY: false },
    signal: new AbortController().signal,
  });
  const lines = out.join('').trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { code, err: err.join(''), summary: last.startsWith('{') ? (JSON.parse(last) as BotSummary) : undefined };
}

test('20 guest bots connect, move and see each other at the tick rate', async () => {
  const server = await startTestServer(['--npcs', '0', '--spawn-radius', '60']);
  try {
    const { code, err, summary } = await bots(['--url', server.wsUrl, '--guest', '--count', '20', '--duration', '3', '--ramp', '0.5', '--json']);
    assert.equal(code, 0, err);
    assert.ok(summary);
    assert.equal(summary.connected, 20);
    assert.equal(summary.disconnects, 0);
    assert.equal(summary.protocolErrors, 0);
    assert.equal(summary.inputsRejected, 0, JSON.stringify(summary.rejectsByReason));
    assert.ok(summary.framesPerClientPerSecond > 17, `frames/s per client ${summary.framesPerClientPerSecond}`);
    // All 20 stand within 60 m of the spawn point, so each sees the other 19.
    assert.ok(summary.visibleEntitiesAvg > 15, `visible ${summary.visibleEntitiesAvg}`);
    assert.ok(summary.updateLatencyP50Ms > 0 && summary.updateLatencyP99Ms < 500);
    assert.equal(summary.lookups, 0, 'guests make no lookups');
    // Every bot predicts its own movement with the SDK and checks it against every frame.
    assert.ok(summary.predictionChecks > 20 * 3 * 15, `prediction checks ${summary.predictionChecks}`);
    assert.equal(summary.predictionMismatches, 0);
    assert.ok((await metric(server, 'bluemarble_inputs_applied_total')) > 20 * 40, 'inputs applied on the server');
  } finally {
    await server.close();
  }
});

test('bots with accounts: created on the first run, reused on the second; they play, get CHARACTER and look up players', async () => {
  const server = await startTestServer(['--guests', 'false', '--npcs', '0', '--spawn-radius', '60']);
  const registered = async (): Promise<number> => metric(server, 'bluemarble_auth_requests_total{op="register",result="ok"}');
  try {
    const argv = ['--url', server.wsUrl, '--count', '6', '--duration', '2', '--ramp', '0.3', '--name-prefix', 'e2ebot', '--json'];
    for (const run of ['first', 'second']) {
      const { code, err, summary } = await bots(argv);
      assert.equal(code, 0, `${run} run: ${err}`);
      assert.match(err, /logging in 6\/6/);
      assert.ok(summary, run);
      assert.equal(summary.connected, 6, run);
      assert.equal(summary.disconnects, 0, `${run}: ${JSON.stringify(summary.kicksByReason)}`);
      assert.equal(summary.protocolErrors, 0, run);
      assert.equal(summary.botsWithCharacter, 6, `${run}: every bot got its character sheet`);
      // Each bot sees the other five players and fetches each profile once.
      assert.ok(summary.lookups >= 6 * 5, `${run}: lookups ${summary.lookups}`);
      assert.equal(summary.lookupFailures, 0, run);
      assert.equal(summary.lookupsDropped, 0, run);
      assert.equal(await registered(), 6, `${run}: six accounts in all`);
    }
    const limited = await metric(server, 'bluemarble_auth_requests_total{op="login",result="rate_limited"}');
    assert.ok(Number.isNaN(limited) || limited === 0, `rate limited ${limited}`); // NaN: never counted

    // Without accounts the server turns the bots away, and says so.
    const guests = await bots(['--url', server.wsUrl, '--guest', '--count', '2', '--duration', '1']);
    assert.equal(guests.code, 1);
    assert.match(guests.err, /does not allow guests/);
  } finally {
    await server.close();
  }
});
