// The bots' hand-written WebSocket client (src/bots/wire-socket.ts) against a real `ws` server,
// against raw TCP servers that speak the handshake and then write crafted bytes, and, through
// GameConnection and `bluemarble bots`, against a server speaking just enough game protocol.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import fc from 'fast-check';
import { WebSocketServer } from 'ws';
import type { WebSocket as WsSocket } from 'ws';
import { WireSocket, createWireSocket } from '../../src/bots/wire-socket.ts';
import { botsCommand } from '../../src/bots/cli.ts';
import { GameConnection } from '../../src/client/connection.ts';
import { startFakeGameServer } from '../helpers/fake-game-server.ts';
import type { FakeGameServer } from '../helpers/fake-game-server.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

interface CloseInfo {
  code: number;
  reason: string;
}

/** Everything a WireSocket reported. Messages are copied: the event's data is valid only during the call. */
interface Recorded {
  messages: (Buffer | string | ArrayBuffer)[];
  errors: unknown[];
  closes: number;
  opened: Promise<void>;
  closed: Promise<CloseInfo>;
  nextMessage(): Promise<Buffer | string | ArrayBuffer>;
}

function record(s: WireSocket): Recorded {
  let waiting: ((m: Buffer | string | ArrayBuffer) => void) | undefined;
  const rec: Recorded = {
    messages: [],
    errors: [],
    closes: 0,
    opened: new Promise<void>((resolve) => {
      s.onopen = () => resolve();
    }),
    closed: new Promise<CloseInfo>((resolve) => {
      s.onclose = (ev) => {
        rec.closes++;
        resolve({ code: ev.code, reason: String(ev.reason) });
      };
    }),
    nextMessage: () => new Promise((resolve) => (waiting = resolve)),
  };
  s.onmessage = (ev) => {
    const d = ev.data;
    const m = Buffer.isBuffer(d) ? Buffer.from(d) : (d as string | ArrayBuffer);
    rec.messages.push(m);
    const w = waiting;
    waiting = undefined;
    w?.(m);
  };
  s.onerror = (err) => rec.errors.push(err);
  return rec;
}

/** Resolves after the close event and one more turn, so a second close event would be seen. */
async function closedOnce(rec: Recorded): Promise<CloseInfo> {
  const info = await rec.closed;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(rec.closes, 1, 'onclose fires exactly once');
  return info;
}

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Against `ws`

describe('WireSocket against a ws server', () => {
  let wss: WebSocketServer;
  let url: string;
  const requests: string[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (_ws, req) => requests.push(req.url ?? ''));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/game/ws?x=1&y=2`;
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  /** A fresh client and the server's end of it. */
  async function pair(): Promise<{ s: WireSocket; rec: Recorded; server: WsSocket }> {
    const serverSide = new Promise<WsSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
    const s = new WireSocket(url);
    const rec = record(s);
    assert.equal(s.readyState, WireSocket.CONNECTING);
    const server = await serverSide;
    await rec.opened;
    assert.equal(s.readyState, WireSocket.OPEN);
    return { s, rec, server };
  }

  async function closePair(p: { s: WireSocket; rec: Recorded }): Promise<void> {
    p.s.close();
    await closedOnce(p.rec);
  }

  test('binary and text round trip; path and query reach the server; binaryType', async () => {
    const p = await pair();
    assert.equal(requests.at(-1), '/game/ws?x=1&y=2');
    const received: { data: Buffer; isBinary: boolean }[] = [];
    p.server.on('message', (data: Buffer, isBinary) => received.push({ data: Buffer.from(data), isBinary }));
    p.server.on('message', (data: Buffer) => p.server.send(data));
    const early = new WireSocket(url);
    const earlyRec = record(early);
    assert.throws(() => early.send(new Uint8Array(1)), /CONNECTING/);
    early.close();
    await earlyRec.closed;
    p.s.send(new Uint8Array([1, 2, 3]));
    const echoed = await p.rec.nextMessage();
    assert.ok(Buffer.isBuffer(echoed));
    assert.deepEqual([...echoed], [1, 2, 3]);
    assert.deepEqual(received, [{ data: Buffer.from([1, 2, 3]), isBinary: true }]);

    p.server.send('héllo €😀');
    assert.equal(await p.rec.nextMessage(), 'héllo €😀');

    assert.equal(p.s.binaryType, 'nodebuffer');
    p.s.binaryType = 'blob'; // unknown values are ignored, as in a browser
    assert.equal(p.s.binaryType, 'nodebuffer');
    p.s.binaryType = 'arraybuffer';
    p.server.send(Buffer.from([9, 8, 7]));
    const ab = await p.rec.nextMessage();
    assert.ok(ab instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(ab)], [9, 8, 7]);
    await closePair(p);
  });

  test('messages of 0, 125, 126, 65535, 65536 and 200,000 bytes, both ways', async () => {
    const p = await pair();
    const sizes = [0, 125, 126, 65535, 65536, 200_000];
    const atServer: Buffer[] = [];
    p.server.on('message', (data: Buffer) => atServer.push(Buffer.from(data)));
    for (const [i, n] of sizes.entries()) {
      const b = bytes(n, i + 1);
      p.server.send(b);
      const got = await p.rec.nextMessage();
      assert.ok(Buffer.isBuffer(got));
      assert.equal(got.byteLength, n);
      assert.ok(got.equals(b), `server -> client ${n} bytes`);
      p.s.send(b);
    }
    // An echo after the big ones proves every client frame was read.
    const done = new Promise<void>((resolve) => p.server.on('message', () => atServer.length === sizes.length && resolve()));
    await done;
    for (const [i, n] of sizes.entries()) assert.ok(atServer[i]!.equals(bytes(n, i + 1)), `client -> server ${n} bytes`);
    await closePair(p);
  });

  test('fragmented messages, with a ping between the fragments, are reassembled', async () => {
    const p = await pair();
    const pongs: Buffer[] = [];
    p.server.on('pong', (data) => pongs.push(Buffer.from(data)));
    p.server.send(Buffer.from([1, 2]), { fin: false });
    p.server.ping(Buffer.from('mid'));
    p.server.send(Buffer.from([3]), { fin: false });
    p.server.send(Buffer.from([4, 5]), { fin: true });
    const bin = await p.rec.nextMessage();
    assert.deepEqual([...(bin as Buffer)], [1, 2, 3, 4, 5]);
    assert.equal(p.rec.messages.length, 1, 'one message, delivered after its last fragment');
    await closePair(p);
    assert.deepEqual(pongs, [Buffer.from('mid')]);
  });

  test('a text message split inside a UTF-8 character is decoded whole', async () => {
    const p = await pair();
    const text = Buffer.from('a€b😀', 'utf8');
    p.server.send(text.subarray(0, 2), { fin: false, binary: false });
    p.server.send(text.subarray(2, 5), { fin: false, binary: false });
    p.server.send(text.subarray(5), { fin: true, binary: false });
    assert.equal(await p.rec.nextMessage(), 'a€b😀');
    await closePair(p);
  });

  test('a server ping is answered with a pong carrying the same payload', async () => {
    const p = await pair();
    const pong = new Promise<Buffer>((resolve) => p.server.once('pong', (data) => resolve(Buffer.from(data))));
    p.server.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');
    const empty = new Promise<Buffer>((resolve) => p.server.once('pong', (data) => resolve(Buffer.from(data))));
    p.server.ping();
    assert.equal((await empty).byteLength, 0);
    await closePair(p);
  });

  test('close initiated by the client: code and reason reach the server and come back', async () => {
    const p = await pair();
    const serverClose = new Promise<CloseInfo>((resolve) => p.server.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    p.s.close(4002, 'protocol error');
    assert.equal(p.s.readyState, WireSocket.CLOSING);
    p.s.send(new Uint8Array(4)); // ignored once closing, as in a browser
    p.s.close(1000); // and a second close is a no-op
    assert.deepEqual(await serverClose, { code: 4002, reason: 'protocol error' });
    assert.deepEqual(await closedOnce(p.rec), { code: 4002, reason: 'protocol error' }, 'as echoed by ws');
    assert.equal(p.s.readyState, WireSocket.CLOSED);
    assert.deepEqual(p.rec.errors, []);
    assert.throws(() => p.s.close(1001), RangeError);
  });

  test('close initiated by the server: its code and reason, or 1005 without a code', async () => {
    const p = await pair();
    const serverClose = new Promise<number>((resolve) => p.server.once('close', (code) => resolve(code)));
    p.server.close(4001, 'kicked: flood');
    assert.deepEqual(await closedOnce(p.rec), { code: 4001, reason: 'kicked: flood' });
    assert.equal(await serverClose, 4001, 'the client echoes the code');
    assert.deepEqual(p.rec.errors, []);

    const q = await pair();
    q.server.close();
    assert.deepEqual(await closedOnce(q.rec), { code: 1005, reason: '' });
  });

  test('a server that drops the connection without a close frame: 1006', async () => {
    const p = await pair();
    p.server.terminate();
    assert.equal((await closedOnce(p.rec)).code, 1006);
  });

  test('a message over the default 1 MiB limit closes with 1009', async () => {
    const p = await pair();
    const serverClose = new Promise<number>((resolve) => p.server.once('close', (code) => resolve(code)));
    p.server.send(Buffer.alloc(1024 * 1024 + 1));
    assert.equal((await closedOnce(p.rec)).code, 1009);
    assert.equal(await serverClose, 1009);
    assert.equal(p.rec.errors.length, 1);
    assert.deepEqual(p.rec.messages, []);
  });

  test('close() while connecting abandons the connection with 1006', async () => {
    const s = new WireSocket(url);
    const rec = record(s);
    s.close();
    assert.equal(s.readyState, WireSocket.CLOSING);
    assert.equal((await closedOnce(rec)).code, 1006);
  });
});

// ---------------------------------------------------------------------------------------------
// Against raw TCP servers

function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

function upgradeResponse(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
}

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true, rsv = 0): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? Buffer.from([0, n]) : n < 65536 ? Buffer.from([0, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    head[1] = 127;
    head.writeUInt32BE(n, 6);
  }
  head[0] = (fin ? 0x80 : 0) | rsv | opcode;
  return Buffer.concat([head, payload]);
}

/** Reads the client's (masked) frames: opcode and unmasked payload. */
function clientFrames(buf: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  while (off + 2 <= buf.byteLength) {
    assert.ok(buf[off + 1]! & 0x80, 'client frames are masked');
    let len = buf[off + 1]! & 0x7f;
    let p = off + 2;
    if (len === 126) {
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = buf.readUInt32BE(p + 4);
      p += 8;
    }
    const mask = buf.subarray(p, p + 4);
    p += 4;
    if (p + len > buf.byteLength) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    for (let i = 0; i < len; i++) payload[i]! ^= mask[i & 3]!;
    out.push({ opcode: buf[off]! & 0x0f, payload });
    off = p + len;
  }
  return out;
}

interface RawConnection {
  sock: Socket;
  /** Everything the client sent after its request head. */
  received(): Buffer;
  ended: Promise<void>;
}

/**
 * A TCP server that reads the request head, answers with respond(key), then hands the connection
 * to onConnection (each connection ends when the client ends).
 */
async function rawServer(respond: (key: string, head: string) => string, onConnection: (c: RawConnection) => void = () => {}): Promise<{ url: string; server: Server; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let head = Buffer.alloc(0);
    let upgraded = false;
    const after: Buffer[] = [];
    let endResolve!: () => void;
    const conn: RawConnection = {
      sock,
      received: () => Buffer.concat(after),
      ended: new Promise<void>((r) => (endResolve = r)),
    };
    sock.on('end', () => endResolve());
    sock.on('data', (chunk: Buffer) => {
      if (upgraded) {
        after.push(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      const text = head.toString('latin1', 0, end);
      if (end + 4 < head.byteLength) after.push(head.subarray(end + 4));
      const key = /sec-websocket-key: *(\S+)/i.exec(text)?.[1] ?? '';
      sock.write(respond(key, text));
      onConnection(conn);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('WireSocket against raw servers', () => {
  test('the upgrade request carries the handshake headers', async () => {
    let head = '';
    const srv = await rawServer((key, h) => {
      head = h;
      return upgradeResponse(key);
    });
    try {
      const s = new WireSocket(srv.url);
      const rec = record(s);
      await rec.opened;
      assert.match(head, /^GET \/ws HTTP\/1\.1\r\n/);
      assert.match(head, /\r\nHost: 127\.0\.0\.1:\d+/);
      assert.match(head, /\r\nUpgrade: websocket/);
      assert.match(head, /\r\nConnection: Upgrade/);
      assert.match(head, /\r\nSec-WebSocket-Version: 13/);
      const key = /Sec-WebSocket-Key: (\S+)/.exec(head)?.[1] ?? '';
      assert.equal(Buffer.from(key, 'base64').byteLength, 16);
      s.close();
      await closedOnce(rec);
    } finally {
      await srv.stop();
    }
  });

  const badHandshakes: [string, (key: string) => string, RegExp][] = [
    ['a 404', () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', /unexpected server response: 404/],
    ['a wrong accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n', /Sec-WebSocket-Accept/],
    ['no Upgrade header', (key) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`, /Upgrade/],
    ['an extension not offered', (key) => upgradeResponse(key).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'), /extension/],
    ['a head over 8 KB', () => `HTTP/1.1 101 Switching Protocols\r\nX-Junk: ${'x'.repeat(9000)}\r\n\r\n`, /over 8192 bytes/],
    ['not HTTP', () => 'SSH-2.0-OpenSSH\r\n\r\n', /not an HTTP\/1\.1 response/],
  ];
  for (const [name, respond, re] of badHandshakes) {
    test(`a server answering the upgrade with ${name}: onerror, then onclose 1006`, async () => {
      const srv = await rawServer(respond);
      try {
        const s = new WireSocket(srv.url);
        const rec = record(s);
        let opened = false;
        void rec.opened.then(() => (opened = true));
        assert.equal((await closedOnce(rec)).code, 1006);
        assert.equal(opened, false);
        assert.equal(rec.errors.length, 1);
        assert.match((rec.errors[0] as Error).message, re);
        assert.equal(s.readyState, WireSocket.CLOSED);
      } finally {
        await srv.stop();
      }
    });
  }

  test('a refused connection: onerror with the socket error, then onclose 1006', async () => {
    const srv = await rawServer(upgradeResponse);
    const { url } = srv;
    await srv.stop();
    const rec = record(new WireSocket(url));
    assert.equal((await closedOnce(rec)).code, 1006);
    assert.match((rec.errors[0] as Error).message, /ECONNREFUSED/);
  });

  test('wss:// and other schemes are refused with a clear error', () => {
    assert.throws(() => new WireSocket('wss://example.com/ws'), /plain ws:\/\/ only.*never use TLS/);
    assert.throws(() => new WireSocket('http://example.com/ws'), /plain ws:\/\/ only/);
    assert.throws(() => createWireSocket('not a url'), TypeError);
  });

  const violations: [string, Buffer, number, WireSocketOpts?][] = [
    ['a masked frame', Buffer.from([0x82, 0x83, 1, 2, 3, 4, 5, 6, 7]), 1002],
    ['RSV1 set', serverFrame(2, Buffer.from([1]), true, 0x40), 1002],
    ['an unknown opcode', serverFrame(3, Buffer.from([1])), 1002],
    ['a fragmented ping', serverFrame(9, Buffer.from([1]), false), 1002],
    ['a 126-byte ping', serverFrame(9, Buffer.alloc(126)), 1002],
    ['a continuation with no message', serverFrame(0, Buffer.from([1])), 1002],
    ['a new message inside a fragmented one', Buffer.concat([serverFrame(2, Buffer.from([1]), false), serverFrame(2, Buffer.from([2]))]), 1002],
    ['invalid UTF-8 in a text message', serverFrame(1, Buffer.from([0x61, 0xff])), 1007],
    ['a close frame with a 1-byte body', serverFrame(8, Buffer.from([3])), 1002],
    ['a close frame with code 1006', serverFrame(8, Buffer.from([0x03, 0xee])), 1002],
    // Refused from the header alone: the 2,000 bytes are never sent.
    ['a 2,000-byte message over a 1,000-byte limit', Buffer.from([0x82, 126, 0x07, 0xd0]), 1009, { maxMessageBytes: 1000 }],
    ['fragments adding up past the limit', Buffer.concat([serverFrame(2, Buffer.alloc(600), false), serverFrame(0, Buffer.alloc(600))]), 1009, { maxMessageBytes: 1000 }],
    ['a 64-bit length of 2^32', Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), 1009],
  ];
  type WireSocketOpts = { maxMessageBytes?: number };
  for (const [name, wire, code, opts] of violations) {
    test(`${name} fails the connection with ${code}, sent to the server too`, async () => {
      let conn: RawConnection | undefined;
      const srv = await rawServer(upgradeResponse, (c) => {
        conn = c;
        // A good message first: delivered; everything after the violation is not.
        c.sock.write(Buffer.concat([serverFrame(2, Buffer.from([42])), wire, serverFrame(2, Buffer.from([43]))]));
      });
      try {
        const s = new WireSocket(srv.url, opts);
        const rec = record(s);
        const info = await closedOnce(rec);
        assert.equal(info.code, code);
        assert.equal(rec.errors.length, 1);
        assert.deepEqual(rec.messages, [Buffer.from([42])]);
        await conn!.ended;
        const frames = clientFrames(conn!.received());
        assert.equal(frames.length, 1);
        assert.equal(frames[0]!.opcode, 8);
        assert.equal(frames[0]!.payload.readUInt16BE(0), code);
      } finally {
        await srv.stop();
      }
    });
  }

  test('frames written in small TCP chunks, some straddling, arrive whole and in order', async () => {
    const sizes = [5, 0, 300, 70_000, 1, 126, 65_536, 40];
    const frames = Buffer.concat(sizes.map((n, i) => serverFrame(2, bytes(n, i + 7))));
    const srv = await rawServer(upgradeResponse, (c) => {
      c.sock.setNoDelay(true);
      void (async () => {
        for (let off = 0, k = 0; off < frames.byteLength; k++) {
          const n = [1, 2, 3, 7, 100, 1500, 9000][k % 7]!;
          c.sock.write(frames.subarray(off, off + n));
          off += n;
          await new Promise((r) => setImmediate(r));
        }
        c.sock.write(serverFrame(8, Buffer.from([0x03, 0xe8, 0x6f, 0x6b])));
      })();
    });
    try {
      const rec = record(new WireSocket(srv.url));
      assert.deepEqual(await closedOnce(rec), { code: 1000, reason: 'ok' });
      assert.equal(rec.messages.length, sizes.length);
      sizes.forEach((n, i) => assert.ok((rec.messages[i] as Buffer).equals(bytes(n, i + 7)), `message ${i} (${n} bytes)`));
    } finally {
      await srv.stop();
    }
  });

  test('property: any sequence of server frames, cut into any chunks, is delivered as the same messages in order', async () => {
    const srv = await rawServer(upgradeResponse);
    const alphabet = ['a', 'Z', 'é', '€', '😀', ' '];
    const messageArb = fc.record({
      text: fc.boolean(),
      size: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 126, max: 70_000 }) }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
      controlBetween: fc.constantFrom('none', 'ping', 'pong'),
    });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(messageArb, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 12 }), async (messages, chunkSizes) => {
          const expected: (string | Buffer)[] = [];
          const wire: Buffer[] = [];
          for (const m of messages) {
            let payload: Buffer;
            if (m.text) {
              const chars: string[] = [];
              let x = m.seed;
              for (let n = 0; n < m.size; ) {
                x = (Math.imul(x, 1103515245) + 12345) >>> 0;
                const ch = alphabet[(x >>> 16) % alphabet.length]!;
                chars.push(ch);
                n += Buffer.byteLength(ch);
              }
              const s = chars.join('');
              payload = Buffer.from(s);
              expected.push(s);
            } else {
              payload = bytes(m.size, m.seed);
              expected.push(payload);
            }
            // Fragments at the cut points (which may fall inside a UTF-8 character), controls between.
            const cuts = [...new Set(m.cuts.map((c) => Math.floor(c * payload.byteLength)))].sort((a, b) => a - b);
            const bounds = [0, ...cuts, payload.byteLength];
            for (let i = 0; i + 1 < bounds.length; i++) {
              const last = i + 2 === bounds.length;
              wire.push(serverFrame(i === 0 ? (m.text ? 1 : 2) : 0, payload.subarray(bounds[i], bounds[i + 1]), last));
              if (!last && m.controlBetween !== 'none') wire.push(serverFrame(m.controlBetween === 'ping' ? 9 : 10, Buffer.from('c')));
            }
          }
          wire.push(serverFrame(8, Buffer.from([0x03, 0xe8])));
          const stream = Buffer.concat(wire);

          const s = new WireSocket(srv.url);
          const rec = record(s);
          await rec.opened;
          // Feed the client's parser exactly these chunks (as reads would deliver them): TCP
          // would regroup real writes.
          const parser = s as unknown as { onData(chunk: Buffer): void };
          for (let off = 0, k = 0; off < stream.byteLength; k++) {
            const n = chunkSizes[k % chunkSizes.length]!;
            parser.onData(Buffer.from(stream.subarray(off, off + n)));
            off += n;
          }
          const info = await rec.closed;
          assert.equal(info.code, 1000);
          assert.deepEqual(rec.errors, []);
          assert.equal(rec.messages.length, expected.length);
          expected.forEach((e, i) => {
            const got = rec.messages[i]!;
            if (typeof e === 'string') assert.equal(got, e);
            else assert.ok(Buffer.isBuffer(got) && got.equals(e), `message ${i}`);
          });
        }),
        { numRuns: 60 },
      );
    } finally {
      await srv.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Read memory: sockets read into regions carved from shared slabs, and delivered views are kept

/**
 * Every message a WireSocket delivered, as handed out (not copied): the views must stay valid.
 * count(n) resolves at n messages and fails if the connection fails or closes first.
 */
function keep(s: WireSocket): { views: (Buffer | string | ArrayBuffer)[]; count(n: number): Promise<void> } {
  const views: (Buffer | string | ArrayBuffer)[] = [];
  let want = Infinity;
  let reached: () => void = () => {};
  let failed: ((err: Error) => void) | undefined;
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    failed?.(failure);
  };
  s.onmessage = (ev) => {
    views.push(ev.data as Buffer | string | ArrayBuffer);
    if (views.length === want) reached();
  };
  s.onerror = (err) => fail(err instanceof Error ? err : new Error(String(err)));
  s.onclose = (ev) => fail(new Error(`closed with ${ev.code} after ${views.length} messages`));
  return {
    views,
    count: (n) =>
      new Promise<void>((resolve, reject) => {
        want = n;
        reached = resolve;
        failed = reject;
        if (views.length >= n) resolve();
        else if (failure !== undefined) reject(failure);
      }),
  };
}

/** Asserts that no two views share a byte: read memory is handed out once. */
function assertDisjoint(views: readonly Buffer[]): void {
  const spans = new Map<ArrayBufferLike, [number, number][]>();
  for (const v of views) {
    if (v.byteLength === 0) continue;
    let list = spans.get(v.buffer);
    if (list === undefined) spans.set(v.buffer, (list = []));
    list.push([v.byteOffset, v.byteOffset + v.byteLength]);
  }
  for (const list of spans.values()) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) assert.ok(list[i]![0] >= list[i - 1]![1], 'two delivered messages share memory');
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WireSocket read memory', () => {
  let wss: WebSocketServer;
  let port: number;
  /** Per connection (by its ?script= query): the messages the server sends, one write per turn. */
  const scripts = new Map<string, (i: number) => Buffer | undefined>();

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws, req) => {
      const script = scripts.get(new URL(req.url ?? '/', 'http://x').searchParams.get('script') ?? '')!;
      void (async () => {
        // One message per event-loop turn, so that (on loopback) almost every read holds one.
        for (let i = 0; ; i++) {
          const m = script(i);
          if (m === undefined || ws.readyState !== ws.OPEN) return;
          ws.send(m);
          await nextTurn();
        }
      })();
    });
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  test('a message received first keeps its content after thousands of later reads', async () => {
    const first = bytes(40, 99);
    scripts.set('first', (i) => (i === 0 ? first : i <= 3000 ? bytes(30 + (i % 20), i) : undefined));
    const s = new WireSocket(`ws://127.0.0.1:${port}/?script=first`);
    const kept = keep(s);
    await kept.count(3001);
    // ~125 KB were read after it: many regions and slabs later.
    assert.ok((kept.views[0] as Buffer).equals(first));
    kept.views.forEach((v, i) => assert.ok((v as Buffer).equals(i === 0 ? first : bytes(30 + (i % 20), i)), `message ${i}`));
    assertDisjoint(kept.views as Buffer[]);
    const closed = new Promise<void>((resolve) => (s.onclose = () => resolve()));
    s.close();
    await closed;
  });

  test('many sockets sharing slabs, small messages and ones bigger than a region or a read: every kept message intact', async () => {
    // 40 sockets need more regions than one slab holds from the start; 5,000 bytes is more than a
    // region, 70,000 more than the largest read offered; 200 messages each move every socket
    // through several regions.
    const sockets = 40;
    const perSocket = 200;
    const size = (j: number): number => (j % 50 === 17 ? 70_000 : j % 10 === 3 ? 5000 : j % 10 === 8 ? 1500 : 20 + (j % 40));
    const message = (k: number, j: number): Buffer => bytes(size(j), k * 1000 + j + 1);
    for (let k = 0; k < sockets; k++) scripts.set(`many${k}`, (j) => (j < perSocket ? message(k, j) : undefined));
    const clients = Array.from({ length: sockets }, (_, k) => {
      const s = new WireSocket(`ws://127.0.0.1:${port}/?script=many${k}`);
      return { s, kept: keep(s) };
    });
    await Promise.all(clients.map((c) => c.kept.count(perSocket)));
    const all: Buffer[] = [];
    clients.forEach(({ kept }, k) => {
      assert.equal(kept.views.length, perSocket);
      kept.views.forEach((v, j) => {
        assert.ok(Buffer.isBuffer(v) && v.equals(message(k, j)), `socket ${k} message ${j} (${size(j)} bytes)`);
        all.push(v);
      });
    });
    assertDisjoint(all);
    await Promise.all(
      clients.map(({ s }) => {
        const closed = new Promise<void>((resolve) => (s.onclose = () => resolve()));
        s.close();
        return closed;
      }),
    );
  });
});

describe('WireSocket handshake reads', () => {
  /** A raw server whose whole reply (response head, then frames) is written as `pieces`, 5 ms apart: separate reads. */
  async function replyInPieces(pieces: (key: string) => Buffer[]): Promise<{ url: string; stop(): Promise<void> }> {
    let key = '';
    const srv = await rawServer(
      (k) => {
        key = k;
        return ''; // the reply is written below, as bytes
      },
      (c) => {
        void (async () => {
          for (const p of pieces(key)) {
            c.sock.write(p);
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
      },
    );
    return srv;
  }

  const frames = [bytes(40, 1), bytes(3, 2), bytes(300, 3)];
  const wire = Buffer.concat([...frames.map((f) => serverFrame(2, f)), serverFrame(1, Buffer.from('text after')), serverFrame(8, Buffer.from([0x03, 0xe8]))]);
  const cases: [string, (head: Buffer) => Buffer[]][] = [
    ['the response head and the first frames in one read', (head) => [Buffer.concat([head, wire])]],
    [
      'a response head split over reads, even inside its final CRLFCRLF, with frames after it in the last read',
      (head) => [head.subarray(0, 9), head.subarray(9, head.byteLength - 3), Buffer.concat([head.subarray(head.byteLength - 3), wire.subarray(0, 50)]), wire.subarray(50)],
    ],
  ];
  for (const [name, split] of cases) {
    test(`${name}: the handshake completes, the frames and the close are delivered`, async () => {
      const srv = await replyInPieces((key) => split(Buffer.from(upgradeResponse(key), 'latin1')));
      try {
        const rec = record(new WireSocket(srv.url));
        await rec.opened;
        assert.deepEqual(await closedOnce(rec), { code: 1000, reason: '' });
        assert.equal(rec.messages.length, 4);
        frames.forEach((f, i) => assert.ok((rec.messages[i] as Buffer).equals(f), `message ${i}`));
        assert.equal(rec.messages[3], 'text after');
        assert.deepEqual(rec.errors, []);
      } finally {
        await srv.stop();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Through GameConnection and `bluemarble bots`

function capture(): { out: string[]; err: string[]; io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean; isTTY: boolean } } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0, isTTY: false } } };
}

describe('WireSocket under the game client', () => {
  let server: FakeGameServer;
  before(async () => {
    server = await startFakeGameServer();
  });
  after(async () => {
    await server.stop();
  });

  test('GameConnection over WireSocket: WELCOME, frames, inputs, pings, close', async () => {
    const conn = new GameConnection({ url: server.url, name: 'wire', createSocket: createWireSocket });
    const welcome = await conn.connect();
    assert.equal(welcome.sessionId, 'wire');
    let frames = 0;
    const three = new Promise<void>((resolve) =>
      conn.on('update', () => {
        if (++frames === 3) resolve();
      }),
    );
    conn.sendInput({ eastCms: 100, northCms: 0, upCms: 0 });
    conn.ping();
    await three;
    const closed = new Promise<{ code: number; requested: boolean }>((resolve) => conn.on('close', resolve));
    conn.close();
    const ev = await closed;
    assert.equal(ev.requested, true);
    assert.equal(ev.code, 1000);
    assert.equal(conn.protocolErrors, 0);
  });

  test('bots command: wire is the default, also in worker threads; --socket is validated', async () => {
    const c = capture();
    const code = await botsCommand(['--url', server.url, '--guest', '--count', '4', '--workers', '2', '--duration', '0.5', '--ramp', '0.05', '--json'], {
      ...c.io,
      signal: new AbortController().signal,
    });
    assert.equal(code, 0, c.err.join(''));
    const lines = c.out.join('').trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    assert.equal(summary['connected'], 4);
    assert.equal(summary['protocolErrors'], 0);
    assert.ok((summary['framesPerClientPerSecond'] as number) > 10);

    for (const [argv, re] of [
      [['--socket', 'tcp'], /--socket must be wire or ws, got 'tcp'/],
      [['--socket', 'wire', '--url', 'wss://example.com/ws'], /--socket wire speaks plain ws:\/\/ only.*--socket ws/],
    ] as [string[], RegExp][]) {
      const b = capture();
      assert.equal(await botsCommand([...argv, '--guest'], b.io), 2, argv.join(' '));
      assert.match(b.err.join(''), re);
    }
  });
});
