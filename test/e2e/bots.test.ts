// The bots against a real server: they connect, walk, see each other, and their summary holds
// the figures a load test needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { runBots } from '../../src/bots/bots.ts';
import type { WebSocketLike } from '../../src/client/connection.ts';
import { metric, startTestServer } from '../helpers/server.ts';

test('20 bots connect, move and see each other at the tick rate', async () => {
  const server = await startTestServer(['--npcs', '0', '--spawn-radius', '60']);
  try {
    const summary = await runBots({
      url: server.wsUrl,
      count: 20,
      durationS: 3,
      rampS: 0.5,
      createSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as WebSocketLike,
    });
    assert.equal(summary.connected, 20);
    assert.equal(summary.disconnects, 0);
    assert.equal(summary.protocolErrors, 0);
    assert.equal(summary.inputsRejected, 0, JSON.stringify(summary.rejectsByReason));
    assert.ok(summary.framesPerClientPerSecond > 17, `frames/s per client ${summary.framesPerClientPerSecond}`);
    // All 20 stand within 60 m of the spawn point, so each sees the other 19.
    assert.ok(summary.visibleEntitiesAvg > 15, `visible ${summary.visibleEntitiesAvg}`);
    assert.ok(summary.updateLatencyP50Ms > 0 && summary.updateLatencyP99Ms < 500);
    assert.ok((await metric(server, 'bluemarble_inputs_applied_total')) > 20 * 40, 'inputs applied on the server');
  } finally {
    await server.close();
  }
});
