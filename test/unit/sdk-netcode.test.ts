// BlueMarbleClient against a real server, through a simulated link (latency, jitter, reordering,
// late messages, a cut connection).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlueMarbleClient, SimulatedLink, symmetricLink } from '../../src/client/index.ts';
import type { LinkOptions, ReconciledEvent, RejectedEvent } from '../../src/client/index.ts';
import { createBotSocket } from '../../src/bots/socket.ts';
import { startTestServer } from '../helpers/server.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;

before(async () => {
  server = await startTestServer(['--npcs', '0']);
});
after(async () => {
  await server.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function client(link: LinkOptions, extra: Partial<ConstructorParameters<typeof BlueMarbleClient>[0]> = {}): {
  c: BlueMarbleClient;
  link: SimulatedLink;
} {
  const l = new SimulatedLink(createBotSocket, link);
  return { c: new BlueMarbleClient({ baseUrl: server.url, createSocket: l.createSocket, ...extra }), link: l };
}

test('with 150 ms round trip, jitter and reordering the prediction equals the server exactly', async () => {
  const { c } = client(symmetricLink(150, 30, true));
  const seen: ReconciledEvent[] = [];
  c.on('reconciled', (r) => seen.push(r));
  const w = await c.connect();
  assert.equal(w.minAltCm, 0);
  assert.ok(w.maxAltCm > 0);
  // Walk, turn, climb; every acknowledged frame's own pose must equal the prediction for its input.
  const moves = [
    { east: 5, north: 0, up: 0 },
    { east: -3, north: 4, up: 2 },
    { east: 100, north: 100, up: 100 }, // clamped to the server's limits: never rejected
    { east: 0, north: 0, up: -3 },
  ];
  for (const m of moves) {
    c.setMove(m);
    await sleep(700);
  }
  c.setMove({ east: 0, north: 0, up: 0 });
  await sleep(400);
  const s = c.stats;
  assert.ok(seen.length >= 40, `only ${seen.length} frames compared`);
  for (const r of seen) assert.deepEqual(r.server, r.predicted, `input ${r.inputSeq}`);
  assert.equal(s.predictionMismatches, 0);
  assert.equal(s.predictionErrorM, 0);
  assert.equal(s.rejects, 0);
  assert.ok(s.rttMs > 140 && s.rttMs < 260, `rtt ${s.rttMs}`);
  assert.ok(Math.abs(c.serverTime() - (Date.now() + (c.serverTime() - Date.now()))) < 1);
  // Standing still with everything acknowledged: self is exactly the server's pose.
  const last = seen[seen.length - 1]!;
  assert.equal(c.self!.latE7, last.server.latE7);
  assert.equal(c.self!.lonE7, last.server.lonE7);
  assert.equal(c.self!.altCm, last.server.altCm);
  await c.close();
});

test('a rejected move is corrected within one round trip', async () => {
  const { c } = client(symmetricLink(150, 10, false), { autoInputs: false });
  const w = await c.connect();
  const tick = 1000 / w.tickRate;
  c.setMove({ east: 6, north: 0, up: 0 });
  const sentAt = new Map<number, number>();
  const rejected: RejectedEvent[] = [];
  c.on('rejected', (r) => rejected.push(r));
  const timer = setInterval(() => sentAt.set(c.step(), performance.now()), tick);
  await sleep(500);
  // A burst well beyond the time that passed: the server's move clock refuses the excess.
  const burst: number[] = [];
  for (let i = 0; i < 35; i++) {
    const seq = c.step();
    sentAt.set(seq, performance.now());
    burst.push(seq);
  }
  const aheadBy = c.stats.inputsPending;
  assert.ok(aheadBy >= 35);
  await until(() => rejected.length > 0, 3000, 'a reject');
  const firstRejectedAt = performance.now();
  const first = rejected[0]!;
  assert.equal(first.reasonName, 'teleport');
  assert.equal(first.movementRefused, true);
  await sleep(600);
  clearInterval(timer);
  await sleep(400);
  // Corrected: the prediction agrees with the server again, with no further mismatch.
  const checks = c.stats.predictionChecks;
  const mismatches = c.stats.predictionMismatches;
  c.setMove({ east: 0, north: 0, up: 0 });
  for (let i = 0; i < 5; i++) {
    c.step();
    await sleep(tick);
  }
  await sleep(400);
  assert.ok(c.stats.predictionChecks > checks);
  assert.equal(c.stats.predictionMismatches, mismatches, 'prediction disagrees after the correction');
  // The correction happened when the reject arrived: one round trip (plus a tick) after sending.
  const correctionMs = firstRejectedAt - sentAt.get(first.inputSeq)!;
  assert.ok(correctionMs <= 150 + 10 + tick + 40, `corrected after ${correctionMs.toFixed(0)} ms`);
  console.log(`# rejected move corrected ${correctionMs.toFixed(0)} ms after it was sent (RTT 150-170 ms)`);
  await c.close();
});

test('remote entities move without stalls when a frame is late', async () => {
  const a = client(symmetricLink(100, 20, false));
  const b = client(symmetricLink(40, 0, false));
  try {
    await a.c.connect();
    const wb = await b.c.connect();
    // Put b next to a: both guests spawn around the same point; just walk b east.
    b.c.setMove({ east: 4, north: 0, up: 0 });
    a.c.setMove({ east: 0, north: 0, up: 0 });
    await until(() => a.c.entities.has(wb.entityId), 3000, 'b in view of a');
    await sleep(600);
    // Render at 60 Hz; every 0.7 s one frame to a is held back 60 ms (on top of 50 +- 20 ms
    // one-way; later ones queue behind it, as on TCP).
    const lons: number[] = [];
    const notes: string[] = [];
    // The same RemoteEntity all along: b never drops out of view, not even crossing a zone seam
    // (where it may be missing from a frame or two).
    const first = a.c.entities.get(wb.entityId);
    let replaced = 0;
    let lateAt = performance.now() + 400;
    const sampler = setInterval(() => {
      const now = performance.now();
      if (now >= lateAt) {
        a.link.delayNextDown(60);
        lateAt = now + 700;
      }
      a.c.sample(now);
      const e = a.c.entities.get(wb.entityId);
      if (!e) return;
      if (e !== first) replaced++;
      lons.push(e.lon);
      notes.push(`${now.toFixed(0)} playback ${a.c.playbackTime(now).toFixed(0)} lon ${e.lon.toFixed(8)}`);
    }, 1000 / 60);
    await sleep(3000);
    clearInterval(sampler);
    assert.ok(lons.length > 120, `${lons.length} samples`);
    // b walks east all along (no input of it refused), so on the server it is always moving.
    assert.equal(b.c.stats.rejects, 0);
    // A stall: the entity drawn at the same place in more than 2 consecutive render frames.
    let stalls = 0;
    let backwards = 0;
    let run = 0;
    const where: number[] = [];
    for (let i = 1; i < lons.length; i++) {
      const d = lons[i]! - lons[i - 1]!;
      if (d < -1e-9) backwards++;
      run = d === 0 ? run + 1 : 0;
      if (run === 3) {
        stalls++;
        where.push(i);
      }
    }
    const around = (i: number): string => notes.slice(Math.max(0, i - 6), i + 4).join('\n');
    console.log(`# remote entity: ${lons.length} render samples, ${stalls} stalls, ${backwards} backwards, delay ${a.c.stats.interpolationDelayMs.toFixed(0)} ms, jitter ${a.c.stats.jitterMs.toFixed(0)} ms`);
    assert.equal(replaced, 0, 'b left view and came back');
    assert.equal(backwards, 0, notes.join('\n'));
    assert.equal(stalls, 0, where.map(around).join('\n--\n'));
  } finally {
    await a.c.close();
    await b.c.close();
  }
});

test('after a dropped connection the client reconnects with its token and resumes', async () => {
  const { c, link } = client(symmetricLink(60, 10, false));
  const username = `sdk_${process.pid % 10000}_${Date.now() % 100000}`;
  const { playerId } = await c.register({ username, email: `${username}@example.test`, password: 'correct horse battery' });
  await c.login({ username, password: 'correct horse battery' });
  assert.equal(c.playerId, playerId);
  const events: string[] = [];
  for (const type of ['connected', 'disconnected', 'reconnecting'] as const) c.on(type, () => events.push(type));
  const w1 = await c.connect();
  c.setMove({ east: 3, north: 0, up: 0 });
  await sleep(1000);
  const before = { ...c.self! };
  const checks = c.stats.predictionChecks;
  link.cut();
  await until(() => events.filter((e) => e === 'connected').length >= 2, 8000, 'reconnected');
  const w2 = c.welcome!;
  assert.equal(w2.entityId, w1.entityId, 'same player entity');
  assert.deepEqual(events.slice(0, 4), ['connected', 'disconnected', 'reconnecting', 'connected']);
  // Resumed from where the server had us (the character was saved as it left).
  const dLonE7 = Math.abs(w2.own.lonE7 - before.lonE7);
  assert.ok(dLonE7 < 3 * 50 * 10, `resumed ${dLonE7} E7 away`);
  await sleep(800);
  assert.ok(c.stats.predictionChecks > checks + 10, 'the frame stream is back');
  assert.ok(c.stats.inView >= 0);
  assert.equal(c.stats.reconnects, 1);
  const mismatchesAfter = c.stats.predictionMismatches;
  await sleep(500);
  assert.equal(c.stats.predictionMismatches, mismatchesAfter);
  assert.ok(c.self!.lonE7 > w2.own.lonE7, 'walking again after the reconnect');
  await c.close();
});

test('a terminal kick stops reconnecting', async () => {
  const { c } = client(symmetricLink(10));
  const username = `sdk_k_${process.pid % 10000}_${Date.now() % 100000}`;
  await c.register({ username, email: `${username}@example.test`, password: 'correct horse battery' });
  await c.login({ username, password: 'correct horse battery' });
  await c.connect();
  const got: { kicked?: string; willReconnect?: boolean } = {};
  c.on('kicked', (k) => (got.kicked = k.reasonName));
  c.on('disconnected', (d) => (got.willReconnect = d.willReconnect));
  // Logging in again elsewhere ends this session.
  const other = client(symmetricLink(10)).c;
  await other.login({ username, password: 'correct horse battery' });
  await until(() => got.willReconnect !== undefined, 3000, 'disconnect');
  assert.equal(got.kicked, 'logged_in_elsewhere');
  assert.equal(got.willReconnect, false);
  await c.close();
});
