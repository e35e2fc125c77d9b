// The same world with its zones in a worker thread (--zone-threads 1): the gateway's traffic
// crosses the thread boundary and nothing about the game changes for a client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { destination, initialBearingDeg } from '../../src/world/geo.ts';
import { RejectReason } from '../../src/world/types.ts';
import { ZoneGeometry, zoneOf } from '../../src/world/zoning.ts';
import { RawClient, sleep, waitFor, wire } from '../helpers/raw.ts';
import { metric, startTestServer } from '../helpers/server.ts';

let server: Awaited<ReturnType<typeof startTestServer>>;
before(async () => {
  server = await startTestServer(['--zone-threads', '1', '--npcs', '20', '--spawn-radius', '30']);
});
after(async () => {
  await server.close();
});

function row(c: RawClient, id: number): Int32Array | undefined {
  const f = c.lastFrame;
  if (!f) return undefined;
  for (let i = 0; i < f.state.entities.count; i++) {
    if (f.state.entities.data[i * 8] === id) return f.state.entities.data.subarray(i * 8, i * 8 + 8);
  }
  return undefined;
}

test('players join, move and see each other through the zone thread', async () => {
  const a = new RawClient(server.wsUrl);
  const b = new RawClient(server.wsUrl);
  const wa = await a.join('alice');
  const wb = await b.join('bob');
  await waitFor(() => row(a, wb.entityId) !== undefined && row(b, wa.entityId) !== undefined, 3000, 'mutual view');
  const before = row(b, wa.entityId)![2]!;
  let seq = wa.nextInputSeq;
  for (let t = 0; t < 20; t++) {
    a.sendInputs([wire(seq++, 0, 500)]);
    await sleep(50);
  }
  await waitFor(() => (row(b, wa.entityId)?.[2] ?? 0) > before + 30, 3000, 'bob sees alice walk north');
  assert.ok(a.lastFrame!.state.entities.count >= 10, 'NPCs from the zone thread are in view');
  a.close();
  b.close();
});

test('rejections happen in the zone thread and show in the merged metrics', async () => {
  const c = new RawClient(server.wsUrl);
  const w = await c.join('cheat');
  c.sendInputs([wire(w.nextInputSeq, 5000, 0)]);
  await waitFor(() => c.rejects.length > 0, 2000, 'reject');
  assert.equal(c.rejects[0]!.reason, RejectReason.Speed);
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="speed"}')) >= 1);
  assert.ok((await metric(server, 'bluemarble_zones_active')) >= 1, 'zone gauges come from the zone thread');
  c.close();
});

test('a player walking across a zone border keeps one unbroken frame stream', async () => {
  // Spawn exactly 15 m inside a border of the zone holding Paris, then walk straight out.
  const geo = new ZoneGeometry(zoneOf(48.8566, 2.3522, 8));
  const b = geo.boundary;
  const mid = geo.plane.unproject((b[0]!.x + b[1]!.x) / 2, (b[0]!.y + b[1]!.y) / 2);
  const outward = initialBearingDeg(geo.centerLat, geo.centerLon, mid.lat, mid.lon);
  const at = destination(mid.lat, mid.lon, outward + 180, 15);
  const own = await startTestServer([
    '--zone-threads', '1', '--npcs', '0', '--spawn-radius', '0',
    '--spawn-lat', String(at.lat), '--spawn-lon', String(at.lon),
  ]);
  try {
    const c = new RawClient(own.wsUrl);
    const w = await c.join('walker');
    let seq = w.nextInputSeq;
    const rad = (outward * Math.PI) / 180;
    const zones = new Set<string>();
    for (let t = 0; t < 80; t++) {
      c.sendInputs([wire(seq++, Math.round(500 * Math.sin(rad)), Math.round(500 * Math.cos(rad)))]);
      await sleep(50);
      if (c.lastFrame) zones.add(c.lastFrame.zone);
    }
    await waitFor(() => c.lastFrame!.lastInputSeq === seq - 1, 3000, 'all inputs applied');
    assert.ok(zones.size >= 2, `changed zone (${[...zones].join(', ')})`);
    assert.deepEqual(c.rejects, []);
    for (let i = 1; i < c.frames.length; i++) assert.ok(c.frames[i]!.seq > c.frames[i - 1]!.seq);
    c.close();
  } finally {
    await own.close();
  }
});

test('stats report the zone thread timings', async () => {
  const stats = (await (await fetch(`${server.url}/stats`)).json()) as Record<string, number>;
  assert.ok(stats.samples! > 0);
  assert.equal(typeof stats.simStepP99Ms, 'number');
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
  assert.equal(health.zoneThreads, 1);
});
