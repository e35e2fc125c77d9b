// The Colyseus peer of `npm run bench:peers` (bench/peers/), small and short: its server and a
// bots process start, the bots join, walk and get patches, and every figure the comparison
// needs comes back, so the peer cannot rot as Colyseus or the runner change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runColyseus } from '../../bench/peers/colyseus.ts';

test('bench:peers: the Colyseus peer runs and reports its figures', { timeout: 30_000 }, async () => {
  const clients = 8;
  const r = await runColyseus({ clients, spawnRadiusM: 50, tetherM: 80, rampS: 1, warmupS: 1, durationS: 3, botProcs: 1 });
  assert.equal(r.connected, clients, JSON.stringify(r));
  assert.equal(r.connectFailures, 0);
  assert.equal(r.disconnects, 0);
  assert.ok(r.measuredSeconds >= 2, `measured ${r.measuredSeconds} s`);
  // Patches at the 20 Hz patch rate (loosely: the machine may be busy).
  assert.ok((r.framesPerClientPerS ?? 0) >= 10, `patches/s ${r.framesPerClientPerS}`);
  assert.ok((r.bytesInPerClientPerS ?? 0) > 0, `bytes in ${r.bytesInPerClientPerS}`);
  assert.ok((r.bytesOutPerClientPerS ?? 0) > 0, `bytes out ${r.bytesOutPerClientPerS}`);
  // Within 50 m of each other and a 200 m view: everyone sees everyone else.
  assert.ok((r.visibleAvg ?? 0) >= clients - 2, `in view ${r.visibleAvg}`);
  assert.ok(r.updateP99Ms !== null && r.updateP99Ms > 0, `input-to-update p99 ${r.updateP99Ms}`);
  assert.ok(r.tickP99Ms !== null && r.tickP99Ms > 0, `tick p99 ${r.tickP99Ms}`);
  assert.ok(r.gapP99Ms !== null, 'gap after the previous step measured');
  assert.ok(r.serverCpuPct !== null, 'server CPU measured');
});
