// The web side without a browser: bundle size and contents, how pages and bundles are served,
// and the JSON APIs the pages read (/api/zones/near, /api/ops).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { latLngToCell } from 'h3-js';
import { buildBundles, PLAY_BUNDLE_GZIP_LIMIT } from '../../src/web/bundle.ts';
import { startTestServer } from '../helpers/server.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (r: RawResponse): Record<string, unknown> => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

describe('browser bundles', () => {
  it(`the player bundle is at most ${PLAY_BUNDLE_GZIP_LIMIT / 1024} KB gzipped and carries no h3-js or Node code`, async () => {
    const b = await buildBundles();
    const play = b.assets.get('play.js');
    const ops = b.assets.get('ops.js');
    assert.ok(play && ops, 'both bundles are built');
    console.log(`# play.js: ${play.body.length} bytes, ${play.gzip.length} gzipped; ops.js: ${ops.body.length} bytes, ${ops.gzip.length} gzipped`);
    assert.ok(play.gzip.length <= PLAY_BUNDLE_GZIP_LIMIT, `play.js is ${play.gzip.length} bytes gzipped`);
    for (const [name, inputs] of b.inputs) {
      for (const input of inputs) {
        assert.doesNotMatch(input, /h3-js|node_modules|src\/world\/zoning\.ts|^node:/, `${name} includes ${input}`);
        assert.doesNotMatch(input, /src\/(store|zone|gateway|auth|cluster|ops)\//, `${name} includes server code ${input}`);
      }
    }
  });
});

describe('web routes', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer(['--npcs', '20', '--spawn-radius', '50']);
  });
  after(async () => {
    await server.close();
  });

  it('serves the game at / and the dashboard at /ops, with a strict CSP', async () => {
    const play = await get(`${server.url}/`);
    assert.equal(play.status, 200);
    assert.match(String(play.headers['content-type']), /^text\/html/);
    assert.match(play.body.toString(), /<script type="module" src="\/assets\/play\.js"><\/script>/);
    assert.match(String(play.headers['content-security-policy']), /script-src 'self'/);
    const ops = await get(`${server.url}/ops`);
    assert.equal(ops.status, 200);
    assert.match(ops.body.toString(), /src="\/assets\/ops\.js"/);
  });

  it('serves bundles gzipped with an ETag, answers 304 to a matching If-None-Match, 404 to unknown names', async () => {
    const plain = await get(`${server.url}/assets/play.js`);
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /^text\/javascript/);
    assert.equal(plain.headers['content-encoding'], undefined);
    const etag = String(plain.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    const zipped = await get(`${server.url}/assets/play.js`, { 'accept-encoding': 'gzip, br' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.etag, etag);
    assert.deepEqual(gunzipSync(zipped.body), plain.body);
    assert.ok(zipped.body.length < plain.body.length / 2);
    const again = await get(`${server.url}/assets/play.js`, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal((await get(`${server.url}/assets/nope.js`)).status, 404);
    assert.equal((await get(`${server.url}/assets/ops.js`)).status, 200);
  });

  it('GET /api/zones/near gives the zone and its neighbours as hexagons', async () => {
    const lat = 48.8566;
    const lon = 2.3522;
    const r = await get(`${server.url}/api/zones/near?lat=${lat}&lon=${lon}`);
    assert.equal(r.status, 200);
    const body = json(r) as { resolution: number; zone: string; cells: Array<{ zone: string; center: number[]; boundary: number[][] }> };
    assert.equal(body.resolution, 8);
    assert.equal(body.zone, latLngToCell(lat, lon, 8));
    assert.equal(body.cells.length, 7);
    assert.equal(body.cells[0]?.zone, body.zone);
    for (const c of body.cells) {
      assert.equal(c.boundary.length, 6);
      for (const [vLat, vLon] of c.boundary) {
        assert.ok(Math.abs(vLat! - lat) < 0.05 && Math.abs(vLon! - lon) < 0.05);
      }
    }
    const none = json(await get(`${server.url}/api/zones/near?lat=${lat}&lon=${lon}&rings=0`)) as { cells: unknown[] };
    assert.equal(none.cells.length, 1);
  });

  it('GET /api/zones/near refuses bad queries with 400 invalid_input naming the parameter', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['lon=2', 'lat', /lat is required/],
      ['lat=91&lon=2', 'lat', /at most 90/],
      ['lat=abc&lon=2', 'lat', /decimal number/],
      ['lat=&lon=2', 'lat', /decimal number/],
      ['lat=Infinity&lon=2', 'lat', /decimal number/],
      ['lat=1&lon=-180.5', 'lon', /at least -180/],
      ['lat=1&lon=2&rings=3', 'rings', /at most 2/],
      ['lat=1&lon=2&rings=1.5', 'rings', /whole number/],
      ['lat=1&lon=2&zoom=3', 'zoom', /unknown query parameter zoom/],
      ['lat=1&lat=2&lon=2', 'lat', /more than once/],
    ];
    for (const [query, field, message] of cases) {
      const r = await get(`${server.url}/api/zones/near?${query}`);
      assert.equal(r.status, 400, query);
      const body = json(r);
      assert.equal(body.error, 'invalid_input', query);
      assert.equal(body.field, field, query);
      assert.match(String(body.message), message, query);
    }
  });

  it('GET /api/ops gives per-second samples of the world, zones by load, and validates since', async () => {
    await new Promise((r) => setTimeout(r, 2300));
    const r = await get(`${server.url}/api/ops`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    const body = json(r) as {
      intervalMs: number;
      windowSeconds: number;
      latest: Record<string, unknown>;
      samples: Array<{ t: number }>;
      zones: Array<{ zone: string; entities: number }>;
    };
    assert.equal(body.intervalMs, 1000);
    assert.equal(body.windowSeconds, 300);
    assert.ok(body.samples.length >= 2, `${body.samples.length} samples`);
    for (const key of ['players', 'zones', 'entities', 'tickP50Ms', 'tickP99Ms', 'bytesInPerSecond', 'bytesOutPerSecond', 'rejects']) {
      assert.ok(key in body.latest, key);
    }
    assert.equal(body.latest.players, 0);
    assert.equal(body.latest.entities, 20);
    assert.equal(body.zones.reduce((n, z) => n + z.entities, 0), 20);
    const since = body.samples.at(-1)!.t;
    const newer = json(await get(`${server.url}/api/ops?since=${since}`)) as { samples: unknown[] };
    assert.ok(newer.samples.length <= 1);
    const bad = await get(`${server.url}/api/ops?since=yesterday`);
    assert.equal(bad.status, 400);
    assert.equal(json(bad).field, 'since');
  });
});
