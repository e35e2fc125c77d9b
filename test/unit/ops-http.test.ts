import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { HttpError, createHttpServer, listen, readJsonBody, sendJson } from '../../src/ops/http.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { METRIC_NAMES } from '../helpers/metric-names.ts';


/** A raw request, so odd targets and methods reach the server unchanged (fetch normalises them). */
function raw(
  port: number,
  method: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('createHttpServer', () => {
  let server: Server;
  let base: string;
  let port: number;
  let healthCalls = 0;
  let failHealth = false;
  const errors: string[] = [];

  before(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        errors.push(chunk.toString());
        done();
      },
    });
    const metrics = new Metrics();
    server = createHttpServer({
      metrics,
      logger: createLogger({ level: 'error', destination }),
      health: () => {
        healthCalls++;
        if (failHealth) throw new Error('health exploded');
        return { zones: 3, players: 0 };
      },
      routes: [
        { method: 'GET', path: '/extra', handle: (_req, res) => res.end('extra route') },
        {
          method: 'GET',
          path: '/broken',
          handle: () => {
            throw new Error('route exploded');
          },
        },
        {
          method: 'GET',
          path: '/async',
          handle: async (_req, res) => {
            await new Promise((r) => setTimeout(r, 1));
            res.end('async route');
          },
        },
      ],
    });
    const bound = await listen(server, '127.0.0.1', 0);
    assert.equal(bound.host, '127.0.0.1');
    assert.ok(bound.port > 0, 'port 0 resolves to the real port');
    assert.equal(bound.url, `http://127.0.0.1:${bound.port}`);
    port = bound.port;
    base = bound.url;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  it('serves /healthz with status ok and the health fields', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok', zones: 3, players: 0 });
    assert.ok(healthCalls >= 1);
  });

  it('serves /metrics with every metric name, uncached', async () => {
    const res = await fetch(`${base}/metrics?x=1`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const text = await res.text();
    for (const name of METRIC_NAMES) assert.ok(text.includes(name), `${name} missing`);
  });

  it('serves a landing page naming BlueMarble and the /ws endpoint', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /BlueMarble/);
    assert.ok(html.includes(`ws://127.0.0.1:${port}/ws`), html);
  });

  it('serves extra routes, sync and async', async () => {
    assert.equal(await (await fetch(`${base}/extra`)).text(), 'extra route');
    assert.equal(await (await fetch(`${base}/async`)).text(), 'async route');
  });

  it('answers 404 JSON for unknown paths', async () => {
    for (const path of ['/nope', '/healthz/', '//healthz', '/metrics/../x']) {
      const res = await raw(port, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.deepEqual(JSON.parse(res.body), { error: 'not_found' });
    }
  });

  it('answers 405 with an Allow header for non-GET methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await raw(port, method, '/healthz');
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
    const res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await raw(port, 'HEAD', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
  });

  it('survives bad request targets and failing handlers', async () => {
    assert.equal((await raw(port, 'GET', '*')).status, 400);
    assert.equal((await raw(port, 'GET', 'http://x/healthz')).status, 200);
    assert.equal((await raw(port, 'GET', '/%%%zz')).status, 404);

    const broken = await raw(port, 'GET', '/broken');
    assert.equal(broken.status, 500);
    assert.deepEqual(JSON.parse(broken.body), { error: 'internal' });

    failHealth = true;
    try {
      assert.equal((await raw(port, 'GET', '/healthz')).status, 500);
    } finally {
      failHealth = false;
    }
    assert.ok(errors.some((l) => l.includes('route exploded')));
    // Still serving afterwards.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('does not echo a hostile Host header into the page', async () => {
    const html = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/', headers: { host: '<script>alert(1)</script>' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.ok(!html.includes('<script>'));
  });
});

describe('listen', () => {
  it('rejects when the port is taken', async () => {
    const metrics = new Metrics();
    const logger = createLogger({ level: 'silent' });
    const a = createHttpServer({ metrics, logger, health: () => ({}) });
    const b = createHttpServer({ metrics, logger, health: () => ({}) });
    const { port } = await listen(a, '127.0.0.1', 0);
    try {
      await assert.rejects(listen(b, '127.0.0.1', port), /EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => a.close(() => resolve()));
    }
  });
});

describe('createHttpServer: POST routes, params and JSON bodies', () => {
  let server: Server;
  let base: string;
  let port: number;

  before(async () => {
    server = createHttpServer({
      metrics: new Metrics({ processMetrics: false }),
      logger: createLogger({ level: 'silent' }),
      health: () => ({}),
      routes: [
        {
          method: 'POST',
          path: '/api/echo',
          handle: async (req, res) => sendJson(res, 200, { got: await readJsonBody(req) }),
        },
        {
          method: 'POST',
          path: '/api/small',
          handle: async (req, res) => sendJson(res, 200, { got: await readJsonBody(req, 10) }),
        },
        { method: 'GET', path: '/api/items/:id', handle: (_req, res, params) => sendJson(res, 200, params) },
        { method: 'POST', path: '/api/items/:id', handle: (_req, res, params) => sendJson(res, 201, params) },
        {
          method: 'POST',
          path: '/api/teapot',
          handle: () => {
            throw new HttpError(418, 'teapot', 'short and stout', { spout: true }, { 'X-Kettle': 'no' });
          },
        },
        { method: 'POST', path: '/healthz', handle: (_req, res) => sendJson(res, 200, { posted: true }) },
      ],
    });
    ({ url: base, port } = await listen(server, '127.0.0.1', 0));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const postJson = (path: string, body: string, type = 'application/json') =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

  it('reads a JSON body', async () => {
    const res = await postJson('/api/echo', '{"a":[1,2,{"b":"ü"}]}');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { got: { a: [1, 2, { b: 'ü' }] } });
  });

  it('refuses malformed JSON, bad UTF-8 and empty bodies with 400 malformed_json', async () => {
    for (const body of ['{', '', 'nope', '{"a":1}}']) {
      const res = await postJson('/api/echo', body);
      assert.equal(res.status, 400, body);
      const json = (await res.json()) as { error: string; message: string };
      assert.equal(json.error, 'malformed_json');
      assert.equal(typeof json.message, 'string');
    }
    const res = await fetch(`${base}/api/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x22, 0xff, 0xfe, 0x22]),
    });
    assert.equal(res.status, 400);
  });

  it('refuses a non-JSON content type with 415', async () => {
    for (const type of ['text/plain', 'multipart/form-data', 'application/json-patch+json']) {
      const res = await postJson('/api/echo', '{}', type);
      assert.equal(res.status, 415, type);
      assert.equal(((await res.json()) as { error: string }).error, 'unsupported_media_type');
    }
    const missing = await fetch(`${base}/api/echo`, { method: 'POST', body: new Uint8Array([123, 125]) });
    assert.equal(missing.status, 415);
  });

  it('refuses bodies over the limit with 413 too_large (default 16 KiB)', async () => {
    const res = await postJson('/api/echo', JSON.stringify('x'.repeat(16 * 1024)));
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), {
      error: 'too_large',
      message: 'the request body exceeds 16384 bytes',
      maxBytes: 16384,
    });
    assert.equal((await postJson('/api/echo', JSON.stringify('x'.repeat(16 * 1024 - 2)))).status, 200, 'exactly the limit');
    assert.equal((await postJson('/api/small', '"12345678"')).status, 200);
    assert.equal((await postJson('/api/small', '"123456789"')).status, 413);
    // Still serving on a fresh connection.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('passes one :param segment, decoded; no match for missing or extra segments', async () => {
    assert.deepEqual(await (await fetch(`${base}/api/items/42`)).json(), { id: '42' });
    assert.deepEqual(await (await fetch(`${base}/api/items/a%20b?x=1`)).json(), { id: 'a b' });
    const posted = await fetch(`${base}/api/items/7`, { method: 'POST' });
    assert.equal(posted.status, 201);
    assert.deepEqual(await posted.json(), { id: '7' });
    for (const path of ['/api/items', '/api/items/', '/api/items/1/2', '/api/items/%zz']) {
      assert.equal((await raw(port, 'GET', path)).status, 404, path);
    }
  });

  it('answers 405 with the methods the path does accept', async () => {
    const get = await raw(port, 'GET', '/api/echo');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const body = JSON.parse(get.body) as { error: string; message: string };
    assert.equal(body.error, 'method_not_allowed');
    assert.equal(typeof body.message, 'string');
    assert.equal((await raw(port, 'PUT', '/api/items/1')).headers.allow, 'GET, HEAD, POST');
    // A route may add POST to a built-in path; GET still reaches the built-in.
    assert.equal((await raw(port, 'DELETE', '/healthz')).headers.allow, 'GET, HEAD, POST');
    assert.equal((await raw(port, 'POST', '/healthz')).status, 200);
    assert.equal((await raw(port, 'GET', '/healthz')).status, 200);
    assert.equal((await raw(port, 'POST', '/nope')).status, 404, 'unknown paths are 404 whatever the method');
  });

  it('turns a thrown HttpError into its JSON error with extra fields and headers', async () => {
    const res = await postJson('/api/teapot', '{}');
    assert.equal(res.status, 418);
    assert.equal(res.headers.get('x-kettle'), 'no');
    assert.deepEqual(await res.json(), { error: 'teapot', message: 'short and stout', spout: true });
  });

  it('rejects a route with two params', () => {
    assert.throws(
      () =>
        createHttpServer({
          metrics: new Metrics({ processMetrics: false }),
          logger: createLogger({ level: 'silent' }),
          health: () => ({}),
          routes: [{ method: 'GET', path: '/a/:x/:y', handle: () => undefined }],
        }),
      /at most one :param/,
    );
  });
});
