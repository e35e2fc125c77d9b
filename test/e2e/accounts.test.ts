// Accounts and a persistent world over real sockets and the real SQLite file: log in, play,
// restart, and find everything where it was; a hard kill loses at most the write-behind window;
// one socket per account; expired, revoked and forged tokens are refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { after, describe, test } from 'node:test';
import { createPgSchema, dropPgSchema, withSearchPath } from '../../src/store/postgres.ts';
import { POSTGRES_URL, REDIS_URL, serviceSkip } from '../helpers/services.ts';
import { api, login, register } from '../helpers/accounts.ts';
import { RawClient, sleep, waitFor, wire } from '../helpers/raw.ts';
import { startTestServer, tempDataDir } from '../helpers/server.ts';
import { KickReason } from '../../src/world/types.ts';
import { CharacterCause } from '../../src/protocol/types.ts';

const BASE = ['--guests', 'false', '--npcs', '5', '--spawn-radius', '50'];
const dirs: string[] = [];
const schemas: string[] = [];
const redisPrefixes: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const s of schemas) await dropPgSchema(POSTGRES_URL, s);
  if (redisPrefixes.length > 0) {
    const redis = new Redis(REDIS_URL);
    for (const prefix of redisPrefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  }
});

/**
 * The same behaviour on both deployments: the embedded default (SQLite file, in-process
 * sessions and cache) and the scaled-out one (PostgreSQL, Redis sessions and L2 cache).
 */
const pgSkip = await serviceSkip('postgres');
const redisSkip = await serviceSkip('redis');
const BACKENDS: Array<{ name: string; skip: string | undefined; flags: () => Promise<string[]> }> = [
  { name: 'SQLite + in-process sessions', skip: undefined, flags: async () => [] },
  {
    name: 'PostgreSQL + Redis',
    skip: pgSkip ?? redisSkip,
    flags: async () => {
      const id = randomBytes(4).toString('hex');
      const schema = `bm_e2e_${id}`;
      await createPgSchema(POSTGRES_URL, schema);
      schemas.push(schema);
      redisPrefixes.push(`bm:e2e:${id}:`);
      return ['--db', withSearchPath(POSTGRES_URL, schema), '--redis', REDIS_URL, '--redis-prefix', `bm:e2e:${id}:`];
    },
  },
];

for (const backend of BACKENDS) {
  describe(backend.name, { skip: backend.skip }, () => {
    let flags: string[] = [];
    const ACCOUNTS: string[] = [];
    test('setup', async () => {
      flags = await backend.flags();
      ACCOUNTS.push(...BASE, ...flags);
    });
    defineTests(ACCOUNTS, () => flags);
  });
}

function defineTests(ACCOUNTS: string[], backendFlags: () => string[]): void {

/** Walks north `steps` inputs at 4 m/s, foraging every 6th; waits until all are applied. */
async function walk(c: RawClient, firstSeq: number, steps: number, forage = false): Promise<number> {
  let seq = firstSeq;
  for (let i = 0; i < steps; i++) {
    c.sendInputs([wire(seq++, 0, 400, forage && i % 6 === 0 ? { actions: [3] } : {})]);
    await sleep(50);
  }
  await waitFor(() => c.lastFrame?.lastInputSeq === seq - 1, 3000, 'inputs applied');
  return seq;
}

test('a character keeps its position and inventory across a graceful restart; NPCs come back', async () => {
  const dataDir = tempDataDir();
  dirs.push(dataDir);
  let server = await startTestServer(ACCOUNTS, { dataDir });
  const acct = await register(server.url);
  const c = new RawClient(server.wsUrl);
  const w = await c.join('ignored', await login(server.url, acct));
  assert.equal(w.entityId, 1_000_000 + acct.playerId, 'entity id derives from the account');
  await waitFor(() => c.characters.some((m) => m.cause === CharacterCause.Login), 2000, 'CHARACTER at login');
  assert.deepEqual(c.characters[0]!.inventory, [], 'a new character has nothing');
  await walk(c, w.nextInputSeq, 40, true);
  await waitFor(() => c.characters.length >= 2, 2000, 'CHARACTER after foraging');
  await sleep(300); // a rare find waits for its durable save before it is told
  const before = c.lastFrame!.state.own;
  const last = c.characters[c.characters.length - 1]!;
  assert.ok(last.inventory.length > 0 && last.experience > 0, 'foraging found something and taught something');
  const npcsBefore = (await server.persistence.store.loadWorldEntities()).map((e) => e.id).sort();
  c.close();
  await c.closed;
  await server.close();

  server = await startTestServer(ACCOUNTS, { dataDir });
  try {
    const npcsAfter = (await server.persistence.store.loadWorldEntities()).map((e) => e.id).sort();
    assert.deepEqual(npcsAfter, npcsBefore, 'the same NPCs exist after the restart');
    const c2 = new RawClient(server.wsUrl);
    const w2 = await c2.join('ignored', await login(server.url, acct));
    assert.deepEqual(
      { lat: w2.own.latE7, lon: w2.own.lonE7, alt: w2.own.altCm, heading: w2.own.heading16 },
      { lat: before.latE7, lon: before.lonE7, alt: before.altCm, heading: before.heading16 },
      'back exactly where it was',
    );
    await waitFor(() => c2.characters.length > 0, 2000, 'CHARACTER at login');
    const back = c2.characters[0]!;
    assert.deepEqual(back.inventory, last.inventory);
    assert.deepEqual(back.skills, last.skills);
    assert.equal(back.experience, last.experience);
    c2.close();
  } finally {
    await server.close();
  }
});

test('a dropped client resumes with the same token and finds its character where it was', async () => {
  const server = await startTestServer(ACCOUNTS);
  try {
    const acct = await register(server.url);
    const token = await login(server.url, acct);
    const c = new RawClient(server.wsUrl);
    const w = await c.join('x', token);
    await walk(c, w.nextInputSeq, 20);
    const at = c.lastFrame!.state.own;
    c.ws.terminate(); // no close handshake: a dropped connection
    const c2 = new RawClient(server.wsUrl);
    const w2 = await c2.join('x', token);
    assert.equal(w2.own.latE7, at.latE7);
    assert.equal(w2.own.lonE7, at.lonE7);
    c2.close();
  } finally {
    await server.close();
  }
});

test('logging in again kicks the older socket, whose token is then dead', async () => {
  const server = await startTestServer(ACCOUNTS);
  try {
    const acct = await register(server.url);
    const first = await login(server.url, acct);
    const c1 = new RawClient(server.wsUrl);
    const w1 = await c1.join('x', first);
    const second = await login(server.url, acct);
    assert.equal(await c1.closed, 4000 + KickReason.LoggedInElsewhere);
    assert.equal(c1.kick?.reason, KickReason.LoggedInElsewhere);
    const c2 = new RawClient(server.wsUrl);
    const w2 = await c2.join('x', second);
    assert.equal(w2.entityId, w1.entityId, 'the same character, once');
    const c3 = new RawClient(server.wsUrl);
    await assert.rejects(c3.join('x', first), /close 4011/);
    assert.equal(c3.kick?.reason, KickReason.Unauthorized);
    assert.equal(server.gateway.playerCount, 1);
    c2.close();
  } finally {
    await server.close();
  }
});

test('logout kicks the socket and revokes the token; forged and missing tokens are refused', async () => {
  const server = await startTestServer(ACCOUNTS);
  try {
    const acct = await register(server.url);
    const token = await login(server.url, acct);
    const c = new RawClient(server.wsUrl);
    await c.join('x', token);
    const out = await api(server.url, '/api/logout', undefined, { authorization: `Bearer ${token}` });
    assert.equal(out.status, 204);
    assert.equal(await c.closed, 4000 + KickReason.LoggedOut);
    for (const bad of [token, 'A'.repeat(43), 'not a token', "' OR 1=1 --"]) {
      const r = new RawClient(server.wsUrl);
      await assert.rejects(r.join('x', bad), /close 4011/, `token ${bad} refused`);
    }
    const guest = new RawClient(server.wsUrl);
    await assert.rejects(guest.join('guest'), /close 4011/, 'no token: no guests on this server');
    assert.match(guest.kick!.message, /session token is required/);
  } finally {
    await server.close();
  }
});

test('a session idle past its expiry is refused', async () => {
  const server = await startTestServer([...ACCOUNTS, '--session-idle-minutes', '0.05']);
  try {
    const acct = await register(server.url);
    const token = await login(server.url, acct);
    await sleep(3500);
    const c = new RawClient(server.wsUrl);
    await assert.rejects(c.join('x', token), /close 4011/);
  } finally {
    await server.close();
  }
});

test('hostile account requests get clear 4xx errors and change nothing', async () => {
  const server = await startTestServer(ACCOUNTS);
  try {
    const injection = await api(server.url, '/api/register', {
      username: "x'); DROP TABLE players; --",
      email: 'a@b.test',
      password: 'password123',
    });
    assert.equal(injection.status, 400);
    assert.equal(injection.json.error, 'invalid_input');
    const huge = await api(server.url, '/api/register', { username: 'a'.repeat(5000), email: 'a@b.test', password: 'x'.repeat(10) });
    assert.ok(huge.status === 400 || huge.status === 413, `oversize field: ${huge.status}`);
    const malformed = await api(server.url, '/api/login', '{"username": "bob", ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error, 'malformed_json');
    const wrong = await api(server.url, '/api/login', { username: "admin' --", password: 'whatever1' });
    assert.ok(wrong.status === 400 || wrong.status === 401, `injection login: ${wrong.status}`);
    // The store is intact and holds nothing of the above.
    assert.equal(await server.persistence.store.findAccountByUsername("x'); DROP TABLE players; --"), undefined);
    const ok = await register(server.url);
    assert.ok(ok.playerId > 0, 'registration still works');
  } finally {
    await server.close();
  }
});

test('logins, saves and cache tiers are counted in /metrics', async () => {
  const server = await startTestServer([...ACCOUNTS, '--save-interval', '0.2']);
  try {
    const acct = await register(server.url);
    const c = new RawClient(server.wsUrl);
    const w = await c.join('x', await login(server.url, acct));
    await walk(c, w.nextInputSeq, 10);
    await sleep(500); // a write-behind batch or two
    for (let i = 0; i < 3; i++) assert.equal((await api(server.url, `/api/players/${acct.playerId}`)).status, 200);
    assert.equal((await api(server.url, '/api/items/5')).json.name, 'sky gem');
    const text = await server.metricsText();
    for (const name of [
      'bluemarble_auth_requests_total{op="login",result="ok"}',
      'bluemarble_character_saves_total{kind="batch"}',
      'bluemarble_cache_requests_total{space="player",tier="l1",result="hit"}',
      'bluemarble_cache_requests_total{space="item",tier="l1",result="miss"}',
    ]) {
      assert.ok(text.includes(name), `${name} in /metrics`);
    }
    c.close();
  } finally {
    await server.close();
  }
});

// ---- a hard kill -------------------------------------------------------------------------------

const BIN = join(import.meta.dirname, '../../bin/bluemarble.js');

function startProcess(dataDir: string, extra: string[]) {
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', '0', '--data', dataDir, '--npcs', '5', '--save-interval', '1', '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = (async () => {
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const m = /WebSocket:\s+(ws:\/\/\S+)/.exec(out);
      if (m) return m[1]!;
      await sleep(50);
    }
    throw new Error(`server did not start: ${out}`);
  })();
  return { child, exited, url };
}

test('SIGKILL during play loses at most the write-behind window (1 s here), never a half batch', async () => {
  const dataDir = tempDataDir();
  dirs.push(dataDir);
  const p1 = startProcess(dataDir, backendFlags());
  const wsUrl = await p1.url;
  const http = wsUrl.replace('ws://', 'http://').replace(/\/ws$/, '');
  const acct = await register(http);
  const c = new RawClient(wsUrl);
  const w = await c.join('x', await login(http, acct));
  // Walk north for 4 s, remembering when the player stood where.
  const trail: Array<{ atMs: number; latE7: number }> = [];
  let seq = w.nextInputSeq;
  for (let i = 0; i < 80; i++) {
    c.sendInputs([wire(seq++, 0, 400)]);
    await sleep(50);
    const f = c.lastFrame;
    if (f) trail.push({ atMs: Date.now(), latE7: f.state.own.latE7 });
  }
  const killedAt = Date.now();
  const lastSeen = c.lastFrame!.state.own.latE7;
  p1.child.kill('SIGKILL');
  await p1.exited;

  const p2 = startProcess(dataDir, backendFlags());
  try {
    const ws2 = await p2.url;
    const http2 = ws2.replace('ws://', 'http://').replace(/\/ws$/, '');
    const c2 = new RawClient(ws2);
    const w2 = await c2.join('x', await login(http2, acct));
    const restored = w2.own.latE7;
    // Saved state is a place the player really was, no later than the last frame seen...
    assert.ok(restored <= lastSeen + 1, `restored ${restored} is not beyond the last seen ${lastSeen}`);
    assert.ok(restored > w.own.latE7, 'something of the walk was saved');
    // ...and no older than the window (1 s interval + one batch write + frame latency slack).
    const windowStart = trail.find((t) => t.atMs >= killedAt - 1800);
    assert.ok(windowStart, 'trail covers the window');
    assert.ok(
      restored >= windowStart.latE7,
      `lost more than the window: restored ${restored}, position 1.8 s before the kill ${windowStart.latE7}`,
    );
    c2.close();
  } finally {
    p2.child.kill('SIGTERM');
    await p2.exited;
  }
});
}
