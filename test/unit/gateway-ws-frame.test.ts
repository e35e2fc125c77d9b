// The gateway's hand-framed binary messages must read back as the same messages through `ws`'s
// own client-side parser, at every length class of RFC 6455's header (7-bit, 16-bit, 64-bit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as wsModule from 'ws';
import { binaryFrameHeaderLength, encodeBinaryFrame } from '../../src/gateway/ws-frame.ts';

// ws exports its frame parser at run time; @types/ws does not declare it.
interface WsReceiver {
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = wsModule as unknown as {
  Receiver: new (opts: { isServer: boolean; maxPayload: number; binaryType: string }) => WsReceiver;
};

/** Parses a byte stream as a client does (unmasked frames) and returns the messages in order. */
function parseAsClient(chunks: Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  const errors: Error[] = [];
  const r = new Receiver({ isServer: false, maxPayload: 0, binaryType: 'nodebuffer' });
  r.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, true);
    out.push(Buffer.from(data));
  });
  r.on('error', (e: Error) => errors.push(e));
  for (const c of chunks) r.write(Buffer.from(c));
  assert.deepEqual(errors, []);
  return out;
}

test('header length classes follow RFC 6455 (2 bytes to 125, 4 to 65,535, then 10)', () => {
  for (const [n, h] of [
    [0, 2],
    [125, 2],
    [126, 4],
    [65535, 4],
    [65536, 10],
  ] as const) {
    assert.equal(binaryFrameHeaderLength(n), h, `length ${n}`);
    const payload = new Uint8Array(n).map((_, i) => i * 7);
    const frame = encodeBinaryFrame(payload);
    assert.equal(frame.length, n + h);
    assert.equal(frame[0], 0x82, 'FIN + binary, no RSV bits');
    assert.equal(frame[1]! & 0x80, 0, 'server frames are not masked');
    assert.deepEqual(parseAsClient([frame]), [Buffer.from(payload)]);
  }
});

test('any sequence of frames, split at any points, parses back to the same payloads', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((p) => encodeBinaryFrame(p)));
        const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(stream.subarray(at, p));
          at = p;
        }
        chunks.push(stream.subarray(at));
        assert.deepEqual(
          parseAsClient(chunks),
          payloads.map((p) => Buffer.from(p)),
        );
      },
    ),
  );
});

test('the frame owns its bytes: later changes to the payload do not reach it', () => {
  const payload = new Uint8Array([1, 2, 3]);
  const frame = encodeBinaryFrame(payload);
  payload[0] = 9;
  assert.deepEqual([...frame], [0x82, 3, 1, 2, 3]);
});
