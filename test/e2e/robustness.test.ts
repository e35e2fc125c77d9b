// Bad input never crashes the server: malformed, oversize, wrong-version and silent clients
// each get a clear reason, and a slow reader does not stall anyone else.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { decodeMessage, encodeHello, encodePing } from '../../src/protocol/messages.ts';
import { KickReason } from '../../src/world/types.ts';
import { RawClient, sleep, waitFor, wire } from '../helpers/raw.ts';
import { metric, startTestServer } from '../helpers/server.ts';

let server: Awaited<ReturnType<typeof startTestServer>>;
before(async () => {
  server = await startTestServer([
    '--npcs', '30',
    '--spawn-radius', '40',
    '--handshake-timeout-ms', '400',
    '--slow-consumer-seconds', '1',
  ]);
});
after(async () => {
  await server.close();
});

const close = (reason: number) => 4000 + reason;

test('garbage bytes are a protocol error, reported to the client', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  c.send(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]));
  assert.equal(await c.closed, close(KickReason.ProtocolError));
  assert.equal(c.kick?.reason, KickReason.ProtocolError);
  assert.match(c.kick!.message, /bad_length|bad_checksum|truncated/);
});

test('a frame with a corrupted checksum is rejected', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  const hello = encodeHello({ minVersion: 1, maxVersion: 1, name: 'x', token: '' });
  hello[hello.length - 1]! ^= 0xff;
  c.send(hello);
  assert.equal(await c.closed, close(KickReason.ProtocolError));
  assert.match(c.kick!.message, /bad_checksum/);
});

test('an oversize message is refused with reason oversize', async () => {
  const c = new RawClient(server.wsUrl);
  await c.join();
  c.send(new Uint8Array(5000));
  assert.equal(await c.closed, close(KickReason.Oversize));
});

test('a client speaking only a future protocol version is refused with version_mismatch', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  c.send(encodeHello({ minVersion: 7, maxVersion: 9, name: 'future', token: '' }));
  assert.equal(await c.closed, close(KickReason.VersionMismatch));
  assert.match(c.kick!.message, /versions 2\.\.2/);
  // Written in the compact layout of this server's version.
  assert.equal(c.received.length, 1);
  assert.equal(c.received[0]![0], 2);
});

test('a client speaking only version 1 is refused with a version-1 KICK version_mismatch', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  c.send(encodeHello({ minVersion: 1, maxVersion: 1, name: 'old', token: '' }, { version: 1 }));
  assert.equal(await c.closed, close(KickReason.VersionMismatch));
  assert.equal(c.kick?.reason, KickReason.VersionMismatch);
  assert.match(c.kick!.message, /versions 2\.\.2, client 1\.\.1/);
  // Byte for byte what a version-1 client reads: the 24-byte header with version 1.
  assert.equal(c.received.length, 1);
  const kick = c.received[0]!;
  assert.equal(kick[0], 1);
  assert.equal(kick[1], 68);
  assert.equal(kick.length, 24 + (kick[2]! | (kick[3]! << 8)));
  const v1 = decodeMessage(kick, { minVersion: 1, maxVersion: 1 });
  assert.equal(v1.header.headerLength, 24);
  assert.throws(() => decodeMessage(kick), /bad_version/, 'not a version-2 message');
});

test('a client offering versions 1..2 is welcomed with version 2', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  c.send(encodeHello({ minVersion: 1, maxVersion: 2, name: 'both', token: '' }, { version: 2 }));
  await waitFor(() => c.welcome !== undefined || c.closeCode !== undefined, 5000, 'WELCOME');
  assert.equal(c.welcome?.version, 2);
  assert.equal(c.received[0]![0], 2);
  await waitFor(() => c.frames.length > 0, 2000, 'a frame');
  // The first frame names the zone.
  assert.notEqual(c.frames[0]!.zone, '0');
  c.close();
});

test('text frames and messages before HELLO are protocol errors', async () => {
  const a = new RawClient(server.wsUrl);
  await a.open();
  a.send('hello?');
  assert.equal(await a.closed, close(KickReason.ProtocolError));
  const b = new RawClient(server.wsUrl);
  await b.open();
  b.send(encodePing({ seq: 1, clientTime: 0 }));
  assert.equal(await b.closed, close(KickReason.ProtocolError));
});

test('a client that never says HELLO is closed after the handshake timeout', async () => {
  const c = new RawClient(server.wsUrl);
  await c.open();
  assert.equal(await c.closed, close(KickReason.HandshakeTimeout));
});

test('a slow reader is skipped and then disconnected while others keep 20 Hz', async () => {
  const normal = [new RawClient(server.wsUrl), new RawClient(server.wsUrl), new RawClient(server.wsUrl)];
  const seqs: number[] = [];
  for (const c of normal) seqs.push((await c.join('normal')).nextInputSeq);
  const slow = new RawClient(server.wsUrl);
  await slow.join('slow');
  // Stop reading: the kernel buffers fill, acks stop, the server must not wait for it.
  (slow.ws as unknown as { _socket: Socket })._socket.pause();
  const skippedBefore = await metric(server, 'bluemarble_frames_skipped_total');
  const counts = normal.map((c) => c.frames.length);
  const started = Date.now();
  for (let t = 0; t < 60; t++) {
    normal.forEach((c, i) => c.sendInputs([wire(seqs[i]!++, 50, 0)]));
    await sleep(50);
  }
  const seconds = (Date.now() - started) / 1000;
  for (let i = 0; i < normal.length; i++) {
    const rate = (normal[i]!.frames.length - counts[i]!) / seconds;
    assert.ok(rate > 17, `normal client ${i} got ${rate.toFixed(1)} frames/s`);
  }
  assert.ok((await metric(server, 'bluemarble_frames_skipped_total')) > skippedBefore, 'frames skipped');
  await waitFor(() => server.gateway.playerCount === 3, 5000, 'slow reader disconnected');
  assert.ok((await metric(server, 'bluemarble_connections_closed_total{reason="slow_consumer"}')) >= 1);
  for (const c of normal) c.close();
  slow.ws.terminate();
});

test('the server is still healthy after all of that', async () => {
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  const c = new RawClient(server.wsUrl);
  await c.join('after');
  await waitFor(() => c.frames.length > 2, 2000, 'frames');
  c.close();
});
