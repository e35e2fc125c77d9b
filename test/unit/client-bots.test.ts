// runBots and the `bots` command against an in-memory fake server built from the protocol codecs;
// bot accounts (botTokens) and lookups against a real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runBots, BotsConnectError, makeRng } from '../../src/bots/bots.ts';
import type { BotProgress } from '../../src/bots/bots.ts';
import { botsCommand } from '../../src/bots/cli.ts';
import { BotAccountsError, botTokens, httpBaseUrl } from '../../src/bots/accounts.ts';
import type { BotTokensOptions } from '../../src/bots/accounts.ts';
import { Lookups } from '../../src/bots/lookups.ts';
import type { RunningServer } from '../../src/cli/server.ts';
import type { WebSocketLike } from '../../src/client/index.ts';
import { Writer } from '../../src/protocol/codec.ts';
import { decodeMessage, encodeKick, encodePong, encodeReject, encodeWelcome } from '../../src/protocol/messages.ts';
import { encodeFrame } from '../../src/protocol/frame.ts';
import { MessageType, PROTOCOL_VERSION, SNAPSHOT_STRIDE } from '../../src/protocol/types.ts';
import type { FrameState } from '../../src/protocol/types.ts';
import { ACTIONS, KickReason, RejectReason } from '../../src/world/types.ts';
import { api } from '../helpers/accounts.ts';
import { metric, startTestServer } from '../helpers/server.ts';
import { startFakeGameServer } from '../helpers/fake-game-server.ts';

const TICK_RATE = 20;
const MAX_SPEED = 6;

interface ServerOptions {
  /** Kick the client with this name this many ms after its WELCOME. */
  kick?: { name: string; afterMs: number };
  /** Reject every n-th input. */
  rejectEvery?: number;
}

/** Server-side record of one client; the socket is the client's end. */
class FakeServerSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  name = '';
  welcomed = false;
  nextSeq = 1;
  lastInputSeq = 0;
  ackFrame = 0;
  frameSeq = 0;
  readonly sentStates = new Map<number, FrameState>();

  constructor(private readonly server: FakeServer) {
    setTimeout(() => {
      if (this.readyState !== 0) return;
      this.readyState = 1;
      this.onopen?.({});
    }, 1);
  }

  send(data: Uint8Array): void {
    const msg = decodeMessage(data);
    queueMicrotask(() => this.server.handle(this, msg));
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => this.closed(code ?? 1005, reason ?? ''));
  }

  deliver(bytes: Uint8Array): void {
    if (this.readyState !== 1) return;
    queueMicrotask(() => {
      if (this.readyState === 1) this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    });
  }

  closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

class FakeServer {
  readonly sockets: FakeServerSocket[] = [];
  readonly violations: string[] = [];
  inputs = 0;
  actions = 0;
  private timer: ReturnType<typeof setInterval>;
  private readonly writer = new Writer();

  constructor(private readonly opts: ServerOptions = {}) {
    this.timer = setInterval(() => this.tick(), 1000 / TICK_RATE);
  }

  createSocket = (url: string): WebSocketLike => {
    assert.equal(url, 'ws://fake/ws');
    const s = new FakeServerSocket(this);
    this.sockets.push(s);
    return s;
  };

  stop(): void {
    clearInterval(this.timer);
  }

  handle(s: FakeServerSocket, msg: ReturnType<typeof decodeMessage>): void {
    switch (msg.type) {
      case MessageType.Hello: {
        s.name = msg.body.name;
        s.welcomed = true;
        s.deliver(
          encodeWelcome({
            version: PROTOCOL_VERSION,
            entityId: this.sockets.indexOf(s) + 1,
            tickRate: TICK_RATE,
            aoiRadius: 100,
            maxSpeed: MAX_SPEED,
            maxVerticalSpeed: 3,
            speedTolerance: 0.1,
            maxInputDtMs: 250,
            maxInputsPerSecond: 30,
            minAltCm: 0,
            maxAltCm: 1_000_000,
            nextInputSeq: 1,
            own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 },
            sessionId: s.name,
          }),
        );
        const kick = this.opts.kick;
        if (kick && kick.name === s.name) {
          setTimeout(() => {
            s.deliver(encodeKick({ reason: KickReason.Flood, message: 'test kick' }));
            setTimeout(() => s.closed(4000 + KickReason.Flood, 'flood'), 1);
          }, kick.afterMs);
        }
        return;
      }
      case MessageType.Input: {
        for (const inp of msg.body.inputs) {
          this.inputs++;
          if (inp.seq !== s.nextSeq) this.violations.push(`${s.name}: seq ${inp.seq}, expected ${s.nextSeq}`);
          s.nextSeq = inp.seq + 1;
          if (inp.dtMs !== 1000 / TICK_RATE) this.violations.push(`${s.name}: dtMs ${inp.dtMs}`);
          if (Math.hypot(inp.eastCms, inp.northCms) > MAX_SPEED * 100 * 0.9 + 1) this.violations.push(`${s.name}: too fast`);
          for (const a of inp.actions) {
            this.actions++;
            if (!ACTIONS.some((d) => d.id === a)) this.violations.push(`${s.name}: unknown action ${a}`);
          }
          s.lastInputSeq = inp.seq;
          if (this.opts.rejectEvery && this.inputs % this.opts.rejectEvery === 0) {
            s.deliver(encodeReject({ inputSeq: inp.seq, reason: RejectReason.Rate }));
          }
        }
        if (msg.body.ackFrame > s.frameSeq) this.violations.push(`${s.name}: ack of an unsent frame`);
        s.ackFrame = msg.body.ackFrame;
        return;
      }
      case MessageType.Ping:
        s.deliver(encodePong({ seq: msg.body.seq, clientTime: msg.body.clientTime, serverTime: Date.now() }));
        return;
      default:
        this.violations.push(`unexpected message type ${msg.type}`);
    }
  }

  private tick(): void {
    const open = this.sockets.filter((s) => s.welcomed && s.readyState === 1);
    // Every client sees every other client: entity ids are socket index + 1.
    const data = new Int32Array(open.length * SNAPSHOT_STRIDE);
    open.forEach((s, i) => data.set([this.sockets.indexOf(s) + 1, 0, 0, 0, 0, 0, 0, 0], i * SNAPSHOT_STRIDE));
    const own = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 };
    for (const s of open) {
      s.frameSeq++;
      const current: FrameState = { own, entities: { count: open.length, data }, lastInputSeq: s.lastInputSeq };
      const baseline = s.sentStates.get(s.ackFrame) ?? null;
      const baselineSeq = baseline ? s.ackFrame : 0;
      s.deliver(
        encodeFrame(this.writer, {
          seq: s.frameSeq,
          serverTime: 0,
          // As the server does: the zone in full snapshots; deltas mean the acked frame's zone.
          zone: baseline ? '0' : '8828308281fffff',
          baselineSeq,
          baseline,
          current,
        }),
      );
      s.sentStates.set(s.frameSeq, current);
      for (const k of s.sentStates.keys()) if (k < s.ackFrame) s.sentStates.delete(k);
    }
  }
}

/** A factory whose sockets fail to connect, like ECONNREFUSED. */
function unreachable(url: string): WebSocketLike {
  const s: WebSocketLike = {
    binaryType: 'blob',
    readyState: 0,
    send: () => assert.fail('send on a failed socket'),
    close: () => {},
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  setTimeout(() => {
    s.onerror?.({ message: `connect ECONNREFUSED ${url}` });
    s.onclose?.({ code: 1006, reason: '' });
  }, 1);
  return s;
}

test('runBots walks bots, sends one input per tick, and summarises traffic and latency', async () => {
  const server = new FakeServer({ kick: { name: 'tb5', afterMs: 700 }, rejectEvery: 40 });
  const progress: BotProgress[] = [];
  try {
    const summary = await runBots({
      url: 'ws://fake/ws',
      count: 6,
      durationS: 1.2,
      rampS: 0.2,
      namePrefix: 'tb',
      seed: 42,
      createSocket: server.createSocket,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(server.violations, []);
    assert.deepEqual(server.sockets.map((s) => s.name).sort(), ['tb0', 'tb1', 'tb2', 'tb3', 'tb4', 'tb5']);
    assert.equal(summary.clients, 6);
    assert.equal(summary.connected, 6);
    assert.ok(Math.abs(summary.seconds - 1.2) < 0.1, `seconds ${summary.seconds}`);
    assert.ok(Math.abs(summary.rampSeconds - 0.2) < 0.1, `ramp ${summary.rampSeconds}`);
    // ~20 inputs and frames per bot per second (timers are coarse: wide bounds).
    assert.ok(summary.framesPerClientPerSecond > 12 && summary.framesPerClientPerSecond < 28, `frames/s ${summary.framesPerClientPerSecond}`);
    assert.ok(summary.inputsSent > 6 * 1.2 * 12 && summary.inputsSent < 6 * 1.5 * 24, `inputs ${summary.inputsSent}`);
    assert.equal(summary.inputsSent, server.inputs);
    assert.ok(summary.bytesInPerClientPerSecond > 0 && summary.bytesOutPerClientPerSecond > 0);
    assert.ok(Number.isFinite(summary.rttP50Ms) && summary.rttP99Ms >= summary.rttP50Ms);
    assert.ok(Number.isFinite(summary.updateLatencyP50Ms) && summary.updateLatencyP99Ms >= summary.updateLatencyP50Ms);
    assert.equal(summary.inputsRejected, Math.floor(server.inputs / 40));
    assert.deepEqual(summary.rejectsByReason, summary.inputsRejected > 0 ? { rate: summary.inputsRejected } : {});
    assert.equal(summary.disconnects, 1);
    assert.deepEqual(summary.kicksByReason, { flood: 1 });
    assert.equal(summary.protocolErrors, 0);
    assert.equal(summary.connectFailures, 0);
    assert.ok(summary.visibleEntitiesAvg > 4 && summary.visibleEntitiesAvg <= 6, `visible ${summary.visibleEntitiesAvg}`);
    assert.ok(progress.length >= 1);
    assert.ok(progress.every((p) => p.target === 6));
    // Bots asked to close: every socket ends closed.
    assert.ok(server.sockets.every((s) => s.readyState === 3));
    assert.doesNotThrow(() => JSON.stringify(summary));
  } finally {
    server.stop();
  }
});

test('runBots fails fast with BotsConnectError when the server is unreachable', async () => {
  const t0 = Date.now();
  await assert.rejects(
    runBots({ url: 'ws://127.0.0.1:1/ws', count: 10, durationS: 30, createSocket: unreachable }),
    (err: unknown) => {
      assert.ok(err instanceof BotsConnectError);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 2000);
});

test('runBots validates its options', async () => {
  const base = { url: 'ws://fake/ws', createSocket: unreachable };
  await assert.rejects(runBots({ ...base, count: 0, durationS: 1 }), RangeError);
  await assert.rejects(runBots({ ...base, count: 1, durationS: 0 }), RangeError);
  await assert.rejects(runBots({ ...base, count: 1, durationS: 1, namePrefix: 'x'.repeat(40) }), RangeError);
});

test('runBots stops early on abort and still returns a summary', async () => {
  const server = new FakeServer();
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    const summary = await runBots({ url: 'ws://fake/ws', count: 2, durationS: 30, rampS: 0, createSocket: server.createSocket, signal: ac.signal });
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(summary.connected, 2);
    assert.ok(summary.inputsSent > 0);
    assert.equal(summary.disconnects, 0);
  } finally {
    server.stop();
  }
});

test('makeRng is deterministic per seed and in [0, 1)', () => {
  const a = makeRng(7);
  const b = makeRng(7);
  const c = makeRng(8);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.notEqual(xs[0], c());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05);
});

function capture(): { out: string[]; err: string[]; io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean; isTTY: boolean } } } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => out.push(s) > 0 },
      stderr: { write: (s: string) => err.push(s) > 0, isTTY: false },
    },
  };
}

test('bots command: bad arguments exit 2 with a clear message', async () => {
  const cases: [string[], RegExp][] = [
    [['--count', 'abc'], /--count must be an integer, got 'abc'/],
    [['--count', '0'], /--count must be >= 1/],
    [['--duration=-1'], /--duration must be > 0/],
    [['--duration', '0'], /--duration must be > 0/],
    [['--duration', '-1'], /ambiguous/],
    [['--ramp', 'x'], /--ramp must be a number/],
    [['--url', 'http://x/ws'], /--url must be ws:\/\/ or wss:\/\//],
    [['--url', 'not a url'], /not a valid URL/],
    [['--bogus'], /bogus/],
    [['extra'], /extra/],
    [['--json=1'], /json/],
    // Account mode (the default): names are usernames.
    [['--name-prefix', 'bad-prefix'], /--name-prefix: .*letters, digits or _ only.*--guest/],
    [['--name-prefix', 'prefix_nineteen_chr', '--count', '20'], /'prefix_nineteen_chr19' is over 20 characters/],
    [['--name-prefix', 'b'], /too short/],
    [['--bot-password', 'short'], /--bot-password must be 8-128 characters/],
    [['--guest', '--bot-password', 'whatever123'], /--bot-password has no effect with --guest/],
  ];
  for (const [argv, re] of cases) {
    const c = capture();
    assert.equal(await botsCommand(argv, c.io), 2, argv.join(' '));
    assert.match(c.err.join(''), re);
    assert.equal(c.out.join(''), '');
  }
});

test('bots command: --help prints usage and exits 0', async () => {
  const c = capture();
  assert.equal(await botsCommand(['--help'], c.io), 0);
  assert.match(c.out.join(''), /Usage: bluemarble bots/);
});

test('bots command: an unreachable server exits 1 with a clear error', async () => {
  const c = capture();
  const code = await botsCommand(['--url', 'ws://127.0.0.1:1/ws', '--count', '3', '--guest'], {
    ...c.io,
    createSocket: unreachable,
    signal: new AbortController().signal,
  });
  assert.equal(code, 1);
  assert.match(c.err.join(''), /cannot run against ws:\/\/127\.0\.0\.1:1\/ws: .*ECONNREFUSED/);
});

/** A local port nothing listens on (fetch refuses port 1 outright as a 'bad port'). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('bots command: with accounts, an unreachable server exits 1 naming the HTTP URL', async () => {
  const port = await closedPort();
  const c = capture();
  const code = await botsCommand(['--url', `ws://127.0.0.1:${port}/ws`, '--count', '3'], {
    ...c.io,
    createSocket: unreachable,
    signal: new AbortController().signal,
  });
  assert.equal(code, 1);
  assert.match(c.err.join(''), new RegExp(`cannot run against ws://127\\.0\\.0\\.1:${port}/ws: cannot reach http://127\\.0\\.0\\.1:${port}/api/login: .*ECONNREFUSED`));
});

test('bots command: prints a summary table and, with --json, a JSON last line', async () => {
  const server = new FakeServer();
  try {
    const c = capture();
    const code = await botsCommand(['--url', 'ws://fake/ws', '--guest', '--count', '3', '--duration', '0.5', '--ramp', '0.05', '--seed', '5', '--json'], {
      ...c.io,
      createSocket: server.createSocket,
      signal: new AbortController().signal,
    });
    assert.equal(code, 0, c.err.join(''));
    const out = c.out.join('');
    assert.match(out, /clients\s+3 \(peak connected 3\)/);
    assert.match(out, /rtt p50 \/ p99/);
    const lines = out.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    assert.equal(summary['clients'], 3);
    assert.equal(summary['connected'], 3);
    assert.equal(typeof summary['framesPerClientPerSecond'], 'number');
  } finally {
    server.stop();
  }
});

test('bots command: --workers splits bots over threads with unique names and merges the summary', async () => {
  const server = await startFakeGameServer({ tickRate: TICK_RATE, maxSpeed: MAX_SPEED });
  try {
    const c = capture();
    const code = await botsCommand(['--url', server.url, '--guest', '--count', '5', '--workers', '2', '--duration', '0.8', '--ramp', '0.1', '--json'], {
      ...c.io,
      signal: new AbortController().signal,
    });
    assert.equal(code, 0, c.err.join(''));
    assert.deepEqual([...server.names].sort(), ['bot0', 'bot1', 'bot2', 'bot3', 'bot4']);
    const lines = c.out.join('').trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    assert.equal(summary['clients'], 5);
    assert.equal(summary['connected'], 5);
    assert.equal(summary['protocolErrors'], 0);
    const fps = summary['framesPerClientPerSecond'];
    assert.ok(typeof fps === 'number' && fps > 10 && fps < 30, `frames/s ${String(fps)}`);
  } finally {
    await server.stop();
  }
});

test('bots command: --workers with an unreachable server exits 1', async () => {
  const c = capture();
  const code = await botsCommand(['--url', 'ws://127.0.0.1:1/ws', '--guest', '--count', '4', '--workers', '2'], { ...c.io, signal: new AbortController().signal });
  assert.equal(code, 1);
  assert.match(c.err.join(''), /ECONNREFUSED/);
});

test('bots command: bad --workers values exit 2', async () => {
  for (const argv of [['--workers', '0'], ['--workers', '3', '--count', '2'], ['--workers', '100000']]) {
    const c = capture();
    assert.equal(await botsCommand(argv, c.io), 2, argv.join(' '));
    assert.match(c.err.join(''), /--workers/);
  }
});

describe('bot accounts and lookups against a real server (accounts required)', () => {
  let server: RunningServer & { dataDir: string };
  const password = 'bot-test-password';
  const authCount = (op: string, result: string): Promise<number> =>
    metric(server, `bluemarble_auth_requests_total{op="${op}",result="${result}"}`).then((n) => (Number.isNaN(n) ? 0 : n));

  before(async () => {
    server = await startTestServer(['--guests', 'false', '--npcs', '0']);
  });
  after(async () => {
    await server.close();
  });

  test('httpBaseUrl maps the WebSocket URL to the account API base', () => {
    assert.equal(httpBaseUrl('ws://127.0.0.1:8080/ws'), 'http://127.0.0.1:8080');
    assert.equal(httpBaseUrl('wss://game.example/ws/'), 'https://game.example');
    assert.equal(httpBaseUrl('wss://game.example/eu/ws'), 'https://game.example/eu');
    assert.equal(httpBaseUrl('ws://h:9'), 'http://h:9');
    assert.equal(httpBaseUrl(server.wsUrl), server.url.replace(/\/$/, ''));
  });

  test('botTokens registers missing accounts (without tripping the per-address failure limit), then reuses them', async () => {
    const progress: number[] = [];
    // 30 new accounts from one address: logging in first for each would be 30 failures (> 20/min).
    const first = await botTokens({ httpUrl: server.url, prefix: 'tokbot', first: 0, count: 30, password, onProgress: (d) => progress.push(d) });
    assert.equal(first.length, 30);
    assert.ok(first.every((t) => /^[A-Za-z0-9_-]{43}$/.test(t)));
    assert.equal(new Set(first).size, 30);
    assert.deepEqual(progress, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(await authCount('register', 'ok'), 30);
    const failures = await authCount('login', 'bad_credentials');
    assert.ok(failures <= 8, `at most one failed login per lane, got ${failures}`);
    assert.equal(await authCount('login', 'rate_limited'), 0);

    // Bot i is prefix + (first + i), with the bots' email; a second run logs the same accounts in.
    const profile = await api(server.url, `/api/players/${(await loginAs('tokbot7')).playerId}`);
    assert.equal(profile.json.username, 'tokbot7');
    const again = await botTokens({ httpUrl: server.url, prefix: 'tokbot', first: 5, count: 10, password });
    assert.equal(again.length, 10);
    assert.equal(await authCount('register', 'ok'), 30, 'no new accounts');
    assert.equal(await authCount('login', 'bad_credentials'), failures, 'no failed logins for existing accounts');
    const refreshed = await api(server.url, '/api/refresh', '', { authorization: `Bearer ${again[9]}` });
    assert.equal(refreshed.status, 200, 'the token is live');
    assert.equal(refreshed.json.username, 'tokbot14');

    // Partly existing: tokbot28..29 exist, tokbot30..33 are created.
    const mixed = await botTokens({ httpUrl: server.url, prefix: 'tokbot', first: 28, count: 6, password, concurrency: 2 });
    assert.equal(mixed.length, 6);
    assert.equal(await authCount('register', 'ok'), 34);

    async function loginAs(username: string): Promise<{ playerId: number }> {
      const r = await api(server.url, '/api/login', { username, password });
      assert.equal(r.status, 200);
      return { playerId: r.json.playerId as number };
    }
  });

  test('botTokens refuses an account that exists with another password, naming it and --bot-password', async () => {
    const r = await api(server.url, '/api/register', { username: 'pwbot1', email: 'pwbot1@example.test', password: 'someone-elses-password' });
    assert.equal(r.status, 201);
    await assert.rejects(
      botTokens({ httpUrl: server.url, prefix: 'pwbot', first: 1, count: 1, password }),
      (err: Error) => err instanceof BotAccountsError && /'pwbot1' already exists with another password/.test(err.message) && /--bot-password/.test(err.message),
    );
  });

  test('botTokens checks the prefix and password before any request', async () => {
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    const cases: [Partial<BotTokensOptions>, RegExp][] = [
      [{ prefix: 'bad-prefix' }, /'bad-prefix' must be letters, digits or _ only/],
      [{ prefix: 'bot', count: 1, first: 100_000_000_000_000_000 }, /over 20 characters/],
      [{ prefix: 'a_very_long_prefix_', count: 100 }, /'a_very_long_prefix_99' is over 20 characters/],
      [{ prefix: 'b', count: 5 }, /'b0' is under 3 characters/],
      [{ password: 'short' }, /--bot-password/],
    ];
    for (const [over, re] of cases) {
      await assert.rejects(botTokens({ httpUrl: nowhere, prefix: 'okbot', first: 0, count: 3, password, ...over }), (err: Error) => {
        assert.ok(err instanceof BotAccountsError, String(err));
        assert.match(err.message, re);
        return true;
      });
    }
  });

  test('botTokens gives up with a clear error when the server asks for a long wait (a locked account)', async () => {
    for (let i = 0; i < 5; i++) await api(server.url, '/api/login', { username: 'lockbot0', password: `wrong ${i}` });
    const started = Date.now();
    await assert.rejects(botTokens({ httpUrl: server.url, prefix: 'lockbot', first: 0, count: 1, password }), (err: Error) => {
      assert.ok(err instanceof BotAccountsError);
      assert.match(err.message, /rate-limits logins for bot 'lockbot0' \(retry in 900 s\)/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'did not wait 15 minutes');
  });

  test('Lookups fetches profiles and items with a cap on requests in flight, counting failures and drops', async () => {
    const items = await api(server.url, '/api/items');
    const itemIds = (items.json.items as { itemId: number }[]).map((d) => d.itemId);
    assert.ok(itemIds.length >= 2, 'the world has item definitions');
    const playerId = ((await api(server.url, '/api/login', { username: 'tokbot0', password })).json.playerId as number);
    const lookups = new Lookups({ httpUrl: server.url, maxInFlight: 2, maxQueue: 3 });
    lookups.item(itemIds[0]!);
    lookups.player(playerId); // 2 in flight
    lookups.item(itemIds[1]!);
    lookups.player(999_999); // no such player: a failure
    lookups.item(itemIds[0]!); // 3 queued
    lookups.item(itemIds[1]!); // queue full: dropped
    assert.equal(lookups.pending, 5);
    await lookups.idle();
    assert.deepEqual(lookups.counts, { lookups: 4, lookupFailures: 1, lookupsDropped: 1 });
    lookups.close();
    lookups.player(playerId);
    assert.equal(lookups.pending, 0, 'closed: ignored');
  });
});
