// Cheating inputs are refused with their reason code on the wire and counted in metrics; the
// cheater's authoritative position does not move for a refused input.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RejectReason } from '../../src/world/types.ts';
import { RawClient, sleep, waitFor, wire } from '../helpers/raw.ts';
import { metric, startTestServer } from '../helpers/server.ts';

let server: Awaited<ReturnType<typeof startTestServer>>;
before(async () => {
  server = await startTestServer(['--npcs', '0']);
});
after(async () => {
  await server.close();
});

async function player(): Promise<{ c: RawClient; seq: number }> {
  const c = new RawClient(server.wsUrl);
  const w = await c.join('cheater');
  await waitFor(() => c.frames.length > 0, 2000, 'first frame');
  return { c, seq: w.nextInputSeq };
}

async function rejected(c: RawClient, seq: number): Promise<number> {
  await waitFor(() => c.rejects.some((r) => r.seq === seq), 2000, `reject of input ${seq}`);
  return c.rejects.find((r) => r.seq === seq)!.reason;
}

test('speed hack: velocity beyond the limit plus 10% is rejected and does not move the player', async () => {
  const { c, seq } = await player();
  const before = c.lastFrame!.state.own;
  // maxSpeed 6 m/s: 6.6 m/s is the edge, 6.7 m/s is over it.
  c.sendInputs([wire(seq, 670, 0)]);
  assert.equal(await rejected(c, seq), RejectReason.Speed);
  await waitFor(() => c.lastFrame!.lastInputSeq >= seq, 2000, 'input consumed');
  assert.equal(c.lastFrame!.state.own.lonE7, before.lonE7);
  c.sendInputs([wire(seq + 1, 660, 0)]);
  await waitFor(() => c.lastFrame!.lastInputSeq >= seq + 1, 2000, 'edge input applied');
  assert.ok(!c.rejects.some((r) => r.seq === seq + 1), 'exactly max + 10% is allowed');
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="speed"}')) >= 1);
  c.close();
});

test('teleport: an input claiming more time than allowed is rejected', async () => {
  const { c, seq } = await player();
  c.sendInputs([wire(seq, 500, 0, { dtMs: 5000 })]);
  assert.equal(await rejected(c, seq), RejectReason.Teleport);
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="teleport"}')) >= 1);
  c.close();
});

test('time warp: legal inputs sent faster than real time run out of banked time', async () => {
  const { c, seq } = await player();
  // 40 inputs of 250 ms each = 10 s of movement claimed at once; the bank holds 1 s.
  for (let i = 0; i < 5; i++) {
    c.sendInputs(Array.from({ length: 8 }, (_, k) => wire(seq + i * 8 + k, 100, 0, { dtMs: 250 })));
  }
  await waitFor(() => c.rejects.length > 0, 2000, 'rejects');
  assert.ok(c.rejects.some((r) => r.reason === RejectReason.Teleport));
  c.close();
});

test('replay and out-of-order sequence numbers are rejected as stale', async () => {
  const { c, seq } = await player();
  c.sendInputs([wire(seq, 100, 0), wire(seq + 1, 100, 0)]);
  await waitFor(() => c.lastFrame!.lastInputSeq >= seq + 1, 2000, 'applied');
  c.sendInputs([wire(seq, 100, 0)]); // replay
  assert.equal(await rejected(c, seq), RejectReason.StaleSequence);
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="stale_sequence"}')) >= 1);
  c.close();
});

test('more inputs per second than allowed are rejected for rate', async () => {
  const { c, seq } = await player();
  // 48 inputs in one burst; the limit is 2 x tick rate = 40 per second. dtMs 1 keeps the time
  // budget out of the way.
  for (let i = 0; i < 6; i++) c.sendInputs(Array.from({ length: 8 }, (_, k) => wire(seq + i * 8 + k, 0, 0, { dtMs: 1 })));
  await waitFor(() => c.rejects.some((r) => r.reason === RejectReason.Rate), 2000, 'rate reject');
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="rate"}')) >= 1);
  assert.equal(c.closeCode, undefined, 'a modest excess is rejected, not disconnected');
  c.close();
});

test('actions on cooldown and unknown actions are rejected; movement in the same input stands', async () => {
  const { c, seq } = await player();
  c.sendInputs([wire(seq, 0, 0, { actions: [1] })]); // wave: 1.5 s cooldown
  c.sendInputs([wire(seq + 1, 0, 0, { actions: [1] })]);
  assert.equal(await rejected(c, seq + 1), RejectReason.Cooldown);
  assert.ok(!c.rejects.some((r) => r.seq === seq), 'first wave accepted');
  await waitFor(() => c.lastFrame!.state.own.action === 1, 2000, 'own action visible');
  c.sendInputs([wire(seq + 2, 200, 0, { actions: [99] })]);
  assert.equal(await rejected(c, seq + 2), RejectReason.UnknownAction);
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="cooldown"}')) >= 1);
  assert.ok((await metric(server, 'bluemarble_inputs_rejected_total{reason="unknown_action"}')) >= 1);
  c.close();
});

test('an input flood closes the connection with reason flood', async () => {
  const { c, seq } = await player();
  let s = seq;
  for (let i = 0; i < 400 && c.closeCode === undefined; i++) {
    c.sendInputs([wire(s++, 0, 0, { dtMs: 1 })]);
    if (i % 50 === 0) await sleep(1);
  }
  const code = await c.closed;
  assert.equal(code, 4000 + 4, `closed with flood (got ${code})`);
  assert.equal(c.kick?.reason, 4);
  assert.ok((await metric(server, 'bluemarble_connections_closed_total{reason="flood"}')) >= 1);
});
