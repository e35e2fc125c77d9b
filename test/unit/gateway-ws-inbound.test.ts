// The gateway reads plain binary client frames itself and hands everything else to `ws`'s
// Receiver (src/gateway/ws-inbound.ts). The contract: for any byte stream, split anywhere, the
// gateway sees exactly what `ws` alone would have produced: the same messages, pings, closes and
// errors, in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { ClientFrameParser, FAST_PATH_MAX_PAYLOAD, readClientFramesFirst } from '../../src/gateway/ws-inbound.ts';

// ws exports its frame parser at run time; @types/ws does not declare it.
interface WsReceiver {
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'ping' | 'pong', fn: (data: Buffer) => void): void;
  on(event: 'conclude', fn: (code: number, reason: Buffer) => void): void;
  on(event: 'error', fn: (e: Error & { code?: string }) => void): void;
  write(chunk: Buffer): boolean;
}
const { Receiver } = wsModule as unknown as {
  Receiver: new (opts: { isServer: boolean; maxPayload: number; binaryType: string }) => WsReceiver;
};

const MAX_PAYLOAD = 6000;

type Event = string;

/** A ws server-side Receiver whose events are recorded as strings. */
function recordingReceiver(events: Event[]): WsReceiver {
  const r = new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD, binaryType: 'nodebuffer' });
  r.on('message', (data, isBinary) => events.push(`message ${isBinary ? 'binary' : 'text'} ${Buffer.from(data).toString('hex')}`));
  r.on('ping', (data) => events.push(`ping ${data.toString('hex')}`));
  r.on('pong', (data) => events.push(`pong ${data.toString('hex')}`));
  r.on('conclude', (code, reason) => events.push(`close ${code} ${reason.toString('hex')}`));
  r.on('error', (e) => events.push(`error ${e.code ?? e.message}`));
  return r;
}

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** Use a longer length encoding than needed (RFC 6455 allows it; ws accepts it). */
  longLength: boolean;
}

/** One client frame as a browser would write it (masked with a random key) unless told otherwise. */
function encodeClientFrame(f: FrameSpec): Buffer {
  const n = f.payload.length;
  const lenClass = n > 0xffff ? 127 : n > 125 || f.longLength ? (f.longLength && n <= 0xffff && n > 125 ? 127 : 126) : n;
  const h = lenClass === 127 ? 10 : lenClass === 126 ? 4 : 2;
  const out = Buffer.alloc(h + (f.masked ? 4 : 0) + n);
  out[0] = (f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode;
  out[1] = (f.masked ? 0x80 : 0) | lenClass;
  if (lenClass === 126) out.writeUInt16BE(n, 2);
  if (lenClass === 127) {
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  let p = h;
  const mask = f.masked ? randomBytes(4) : Buffer.alloc(4);
  if (f.masked) {
    mask.copy(out, p);
    p += 4;
  }
  for (let i = 0; i < n; i++) out[p + i] = f.payload[i]! ^ mask[i & 3]!;
  return out;
}

const plainFrame = fc
  .record({ payload: fc.uint8Array({ maxLength: 300 }), longLength: fc.boolean() })
  .map(({ payload, longLength }): FrameSpec => ({ fin: true, rsv: 0, opcode: 2, masked: true, payload, longLength }));

/** Anything a client might send, well formed or not. */
const anyFrame = fc.oneof(
  plainFrame,
  fc.record({
    fin: fc.boolean(),
    rsv: fc.integer({ min: 0, max: 7 }),
    opcode: fc.constantFrom(0, 1, 2, 3, 8, 9, 10, 11),
    masked: fc.boolean(),
    payload: fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.constantFrom(new Uint8Array(FAST_PATH_MAX_PAYLOAD + 1), new Uint8Array(MAX_PAYLOAD + 1))),
    longLength: fc.boolean(),
  }),
  // Valid text and close frames, so ws's answers for them are covered, not only its errors.
  fc.string({ maxLength: 40 }).map((s): FrameSpec => ({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from(s), longLength: false })),
  fc.constantFrom<FrameSpec>({ fin: true, rsv: 0, opcode: 8, masked: true, payload: Buffer.from([0x03, 0xe8, 0x68, 0x69]), longLength: false }),
);

/** Splits `stream` at the given points into separate Buffers (copies: the parser unmasks in place). */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) chunks.push(Buffer.from(stream.subarray(at, p)));
    at = p;
  }
  if (at < stream.length) chunks.push(Buffer.from(stream.subarray(at)));
  return chunks;
}

test('any client stream, split anywhere: the same events as ws alone, in the same order', () => {
  fc.assert(
    fc.property(
      fc.array(plainFrame, { maxLength: 6 }),
      fc.array(anyFrame, { maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (plain, rest, cuts) => {
        const stream = Buffer.concat([...plain, ...rest].map(encodeClientFrame));
        const expected: Event[] = [];
        const alone = recordingReceiver(expected);
        for (const c of split(stream, cuts)) alone.write(c);

        const got: Event[] = [];
        const behind = recordingReceiver(got);
        const parser = new ClientFrameParser(MAX_PAYLOAD, {
          message: (bytes) => got.push(`message binary ${bytes.toString('hex')}`),
          passThrough: (bytes) => behind.write(bytes),
        });
        for (const c of split(stream, cuts)) parser.push(c);
        assert.deepEqual(got, expected);
        // Every plain frame before the first one of another kind took the fast path (plain
        // frames here are at most 300 bytes); with nothing else, nothing reached ws.
        assert.ok(parser.fastMessages >= plain.length);
        if (rest.length === 0) {
          assert.equal(parser.fastMessages, plain.length);
          assert.equal(parser.passingThrough, false);
        }
      },
    ),
    { numRuns: 400 },
  );
});

test('plain binary frames take the fast path, unmasked, with no pass-through', () => {
  const payloads = [new Uint8Array(0), new Uint8Array([1]), randomBytes(125), randomBytes(126), randomBytes(4096)];
  const stream = Buffer.concat(payloads.map((payload) => encodeClientFrame({ fin: true, rsv: 0, opcode: 2, masked: true, payload, longLength: false })));
  const got: Buffer[] = [];
  const parser = new ClientFrameParser(MAX_PAYLOAD, {
    message: (bytes) => got.push(Buffer.from(bytes)),
    passThrough: () => assert.fail('nothing should reach ws'),
  });
  // One byte at a time: every partial-header and partial-payload state.
  for (const b of stream) parser.push(Buffer.from([b]));
  assert.deepEqual(got, payloads.map((p) => Buffer.from(p)));
  assert.equal(parser.fastMessages, payloads.length);
  assert.equal(parser.passingThrough, false);
});

test('a frame over the fast-path size goes to ws with everything after it', () => {
  const big = randomBytes(FAST_PATH_MAX_PAYLOAD + 1);
  const small = randomBytes(10);
  const frames = [small, big, small].map((payload) => encodeClientFrame({ fin: true, rsv: 0, opcode: 2, masked: true, payload, longLength: false }));
  const forwarded: Buffer[] = [];
  const got: Buffer[] = [];
  const parser = new ClientFrameParser(MAX_PAYLOAD, {
    message: (bytes) => got.push(Buffer.from(bytes)),
    passThrough: (bytes) => {
      forwarded.push(Buffer.from(bytes));
      return true;
    },
  });
  parser.push(Buffer.concat(frames));
  assert.deepEqual(got, [small]);
  assert.deepEqual(Buffer.concat(forwarded), Buffer.concat(frames.slice(1)));
  assert.equal(parser.passingThrough, true);
});

test('over a real ws server: plain messages take the fast path; pings and fragments still work through ws', async () => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  const received: string[] = [];
  let parser: ClientFrameParser | undefined;
  const done = new Promise<void>((resolve) => {
    http.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data: Buffer, isBinary) => received.push(`ws ${isBinary ? 'binary' : 'text'} ${data.toString()}`));
        parser = readClientFramesFirst(ws, MAX_PAYLOAD, (bytes) => received.push(`fast ${bytes.toString()}`));
        ws.on('close', () => resolve());
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  client.send(Buffer.from('one'));
  client.send(Buffer.from('two'));
  const pong = new Promise<Buffer>((resolve) => client.once('pong', resolve));
  client.ping(Buffer.from('hi'));
  assert.equal((await pong).toString(), 'hi', 'ws still answers pings');
  client.send(Buffer.from('fra'), { fin: false });
  client.send(Buffer.from('gment'), { fin: true });
  client.send(Buffer.from('after'));
  client.close(1000);
  await done;
  http.close();
  assert.ok(parser, 'ws 8 exposes its Receiver where the fast path expects it');
  assert.deepEqual(received, ['fast one', 'fast two', 'ws binary fragment', 'ws binary after']);
  assert.equal(parser.fastMessages, 2);
});
