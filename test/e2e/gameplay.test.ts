// Over real sockets: players join, move by inputs, and see each other; the server reports them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, metric } from '../helpers/server.ts';
import { RawClient, sleep, waitFor, wire } from '../helpers/raw.ts';

let server: Awaited<ReturnType<typeof startTestServer>>;
before(async () => {
  server = await startTestServer(['--npcs', '10', '--spawn-radius', '30']);
});
after(async () => {
  await server.close();
});

function sees(c: RawClient, id: number): boolean {
  const f = c.lastFrame;
  if (!f) return false;
  for (let i = 0; i < f.state.entities.count; i++) if (f.state.entities.data[i * 8] === id) return true;
  return false;
}

test('two players join, walk, and see each other move', async () => {
  const a = new RawClient(server.wsUrl);
  const b = new RawClient(server.wsUrl);
  const wa = await a.join('alice');
  const wb = await b.join('bob');
  assert.notEqual(wa.entityId, wb.entityId);
  assert.equal(wa.tickRate, 20);
  await waitFor(() => sees(a, wb.entityId) && sees(b, wa.entityId), 3000, 'mutual visibility');
  const startLat = a.lastFrame!.state.own.latE7;
  const bRow = () => {
    const f = a.lastFrame!;
    for (let i = 0; i < f.state.entities.count; i++) if (f.state.entities.data[i * 8] === wb.entityId) return f.state.entities.data[i * 8 + 2]!;
    return Number.NaN;
  };
  const bLatSeenByA = bRow();
  let seq = wa.nextInputSeq;
  let seqB = wb.nextInputSeq;
  for (let t = 0; t < 20; t++) {
    a.sendInputs([wire(seq++, 0, 400)]); // north at 4 m/s
    b.sendInputs([wire(seqB++, 0, -400)]); // south
    await sleep(50);
  }
  await waitFor(() => a.lastFrame!.lastInputSeq === seq - 1, 2000, 'all inputs applied');
  const moved = (a.lastFrame!.state.own.latE7 - startLat) / 1e7 * 111_195;
  assert.ok(moved > 3.5 && moved < 4.5, `alice moved ${moved.toFixed(2)} m north (expected 4)`);
  await waitFor(() => bRow() < bLatSeenByA - 20, 2000, 'bob seen moving south'); // E6 units: >2 m
  assert.deepEqual(a.rejects, []);
  // NPCs wander near the spawn point, so they are in view too.
  assert.ok(a.lastFrame!.state.entities.count >= 5, `sees NPCs (${a.lastFrame!.state.entities.count})`);
  assert.equal(await metric(server, 'bluemarble_players_connected'), 2);
  a.close();
  b.close();
  await waitFor(() => server.gateway.playerCount === 0, 2000, 'players gone');
});

test('frame stream: seqs increase, deltas reference acked frames, full snapshot only at start', async () => {
  const c = new RawClient(server.wsUrl);
  const w = await c.join('stream');
  let seq = w.nextInputSeq;
  for (let t = 0; t < 30; t++) {
    c.sendInputs([wire(seq++, 100, 0)]);
    await sleep(50);
  }
  const frames = c.frames;
  assert.ok(frames.length >= 20, `received ${frames.length} frames in 1.5 s`);
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.seq > frames[i - 1]!.seq);
  const full = frames.filter((f) => f.baselineSeq === 0).length;
  assert.ok(full <= 3, `full snapshots: ${full}`);
  c.close();
});

test('health and metrics endpoints answer', async () => {
  const h = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
  assert.equal(h.status, 'ok');
  assert.equal(typeof h.zones, 'number');
  const text = await (await fetch(`${server.url}/metrics`)).text();
  for (const name of [
    'bluemarble_players_connected',
    'bluemarble_zone_tick_seconds_bucket',
    'bluemarble_bytes_sent_total',
    'bluemarble_bytes_received_total',
    'bluemarble_inputs_rejected_total',
    'bluemarble_visible_entities_bucket',
  ]) {
    assert.ok(text.includes(name), `metrics include ${name}`);
  }
  const stats = (await (await fetch(`${server.url}/stats`)).json()) as Record<string, number>;
  assert.ok(stats.samples! > 0 && stats.stepP99Ms! >= 0);
});
