// Zero drift: 60 s of changing input at 150 ms round trip (with jitter and reordering), against a
// real server. Every authoritative frame's own pose must equal, exactly, the client's prediction
// for the input seq the frame acknowledges. Runs in real time (about 62 s; SDK_DRIFT_SECONDS
// shortens it); kept in its own file so it runs beside the other test files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlueMarbleClient, SimulatedLink, symmetricLink } from '../../src/client/index.ts';
import { createBotSocket } from '../../src/bots/socket.ts';
import { startTestServer } from '../helpers/server.ts';

const SECONDS = Number(process.env.SDK_DRIFT_SECONDS ?? 60);

test(`zero drift after ${SECONDS} s of input at 150 ms round trip`, { timeout: (SECONDS + 30) * 1000 }, async () => {
  const server = await startTestServer(['--npcs', '0']);
  try {
    const link = new SimulatedLink(createBotSocket, symmetricLink(150, 20, true));
    const c = new BlueMarbleClient({ baseUrl: server.url, createSocket: link.createSocket });
    let compared = 0;
    let maxErrorM = 0;
    const bad: string[] = [];
    c.on('reconciled', (r) => {
      compared++;
      if (r.errorM > maxErrorM) maxErrorM = r.errorM;
      const same = r.server.latE7 === r.predicted.latE7 && r.server.lonE7 === r.predicted.lonE7 &&
        r.server.altCm === r.predicted.altCm && r.server.heading16 === r.predicted.heading16;
      if (!same && bad.length < 5) bad.push(`input ${r.inputSeq}: server ${JSON.stringify(r.server)} predicted ${JSON.stringify(r.predicted)}`);
    });
    await c.connect();
    const start = performance.now();
    let k = 0;
    while (performance.now() - start < SECONDS * 1000) {
      // A new heading and speed every 0.5 s, some climbing and sinking.
      const a = k * 2.399963;
      const speed = 1 + (k % 6);
      c.setMove({ east: Math.sin(a) * speed, north: Math.cos(a) * speed, up: ((k % 5) - 2) * 1.2 });
      k++;
      await new Promise((r) => setTimeout(r, 500));
    }
    c.setMove({ east: 0, north: 0, up: 0 });
    await new Promise((r) => setTimeout(r, 500));
    const s = c.stats;
    console.log(`# drift: ${compared} frames compared over ${SECONDS} s, ${s.predictionMismatches} mismatches, max error ${maxErrorM} m, ${s.inputsSent} inputs, rtt ${s.rttMs.toFixed(0)} ms`);
    assert.deepEqual(bad, []);
    assert.equal(s.predictionMismatches, 0);
    assert.equal(s.rejects, 0);
    assert.ok(compared >= SECONDS * 15, `only ${compared} frames compared`);
    await c.close();
  } finally {
    await server.close();
  }
});
