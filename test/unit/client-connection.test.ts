// GameConnection against a scripted server built from the protocol encoders, over an in-memory socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectError, GameConnection, KickError, LatencyHistogram, CLOSE_PROTOCOL_ERROR } from '../../src/client/index.ts';
import type { CloseEvent, KickEvent, RejectEvent, WebSocketLike } from '../../src/client/index.ts';
import { Writer, ProtocolError } from '../../src/protocol/codec.ts';
import { decodeMessage, encodeCharacter, encodeKick, encodePong, encodeReject, encodeWelcome } from '../../src/protocol/messages.ts';
import { encodeFrame } from '../../src/protocol/frame.ts';
import { CharacterCause, MessageType, PROTOCOL_VERSION, SNAPSHOT_STRIDE } from '../../src/protocol/types.ts';
import type { CharacterMessage, DecodedMessage, FrameState, Welcome } from '../../src/protocol/types.ts';
import { KickReason, RejectReason } from '../../src/world/types.ts';

/** Client end of an in-memory socket; the test plays the server through open/deliver/serverClose. */
class FakeSocket implements WebSocketLike {
  // Like a browser WebSocket: binaryType is an enum and other values are ignored.
  protected type = 'blob';
  get binaryType(): string {
    return this.type;
  }
  set binaryType(v: string) {
    if (v === 'blob' || v === 'arraybuffer') this.type = v;
  }
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: Uint8Array[] = [];
  closeCalls: { code: number | undefined; reason: string | undefined }[] = [];

  constructor(readonly url: string) {}

  send(data: Uint8Array): void {
    assert.equal(this.readyState, 1, 'send on a socket that is not open');
    this.sent.push(data.slice());
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState >= 2) return;
    this.readyState = 2;
    // Like a real socket, the close event arrives later.
    queueMicrotask(() => this.serverClose(code ?? 1005, reason ?? ''));
  }

  // --- server side ---
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  deliver(bytes: Uint8Array): void {
    // A real socket hands over a fresh ArrayBuffer per message.
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  serverClose(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  fail(message: string): void {
    this.onerror?.({ message });
    this.serverClose(1006);
  }

  decodeSent(i: number): DecodedMessage {
    const bytes = this.sent[i];
    assert.ok(bytes, `no message #${i} sent`);
    return decodeMessage(bytes);
  }
}

const WELCOME: Welcome = {
  version: PROTOCOL_VERSION,
  entityId: 7,
  tickRate: 30,
  aoiRadius: 150,
  maxSpeed: 6,
  maxVerticalSpeed: 3,
  speedTolerance: 0.1,
  maxInputDtMs: 250,
  maxInputsPerSecond: 40,
  minAltCm: 0,
  maxAltCm: 1_000_000,
  nextInputSeq: 1000,
  own: { latE7: 473_000_000, lonE7: 85_000_000, altCm: 40_000, heading16: 0, action: 0, actionSeq: 0 },
  sessionId: 'sess-1',
};

interface Harness {
  conn: GameConnection;
  socket: FakeSocket;
  clock: { t: number };
  events: { type: string; value: unknown }[];
}

/**
 * Like the `ws` package in Node: binaryType 'nodebuffer' is accepted, and each message arrives
 * as a view into a larger receive buffer (not at offset 0), which the client must not copy.
 */
class NodeLikeSocket extends FakeSocket {
  override get binaryType(): string {
    return this.type;
  }
  override set binaryType(v: string) {
    if (v === 'nodebuffer' || v === 'arraybuffer' || v === 'fragments') this.type = v;
  }
  readonly delivered: Uint8Array[] = [];

  override deliver(bytes: Uint8Array): void {
    assert.equal(this.type, 'nodebuffer');
    const chunk = new Uint8Array(bytes.byteLength + 13);
    chunk.set(bytes, 7);
    const view = chunk.subarray(7, 7 + bytes.byteLength);
    this.delivered.push(view);
    this.onmessage?.({ data: view });
  }
}

function makeConnection(
  extra: { handshakeTimeoutMs?: number; nodeLike?: boolean; listen?: boolean } = {},
): Harness & { sockets: FakeSocket[] } {
  const { nodeLike = false, listen = true, ...options } = extra;
  const clock = { t: 0 };
  const sockets: FakeSocket[] = [];
  const conn = new GameConnection({
    url: 'ws://test/ws',
    name: 'alice',
    createSocket: (url) => {
      const s = nodeLike ? new NodeLikeSocket(url) : new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    now: () => clock.t,
    ...options,
  });
  const events: { type: string; value: unknown }[] = [];
  for (const type of ['welcome', 'frame', 'character', 'reject', 'kick', 'pong', 'close', 'error'] as const) {
    if (listen || type !== 'frame') conn.on(type, (value: unknown) => events.push({ type, value }));
  }
  return {
    conn,
    clock,
    events,
    sockets,
    get socket(): FakeSocket {
      const s = sockets[0];
      assert.ok(s, 'no socket created');
      return s;
    },
  };
}

async function connected(extra: { nodeLike?: boolean; listen?: boolean } = {}): Promise<Harness> {
  const h = makeConnection(extra);
  const p = h.conn.connect();
  h.socket.open();
  h.socket.deliver(encodeWelcome(WELCOME));
  await p;
  return h;
}

function state(own: Partial<FrameState['own']>, entities: number[][]): FrameState {
  const data = new Int32Array(entities.length * SNAPSHOT_STRIDE);
  entities.forEach((e, i) => data.set(e, i * SNAPSHOT_STRIDE));
  return { own: { ...WELCOME.own, ...own }, entities: { count: entities.length, data }, lastInputSeq: 0 };
}

// [id, kind, latE6, lonE6, altDm, heading8, action, actionSeq]
function ent(id: number, latE6 = 47_300_000, lonE6 = 8_500_000): number[] {
  return [id, 0, latE6, lonE6, 4000, 0, 0, 0];
}

const ZONE = '8828308281fffff';
const ZONE2 = '8828308283fffff';
/** The lastInputSeq each frame seq was last sent with: a baseline's, which the next delta is on. */
const sentInputSeq = new Map<number, number>();

/**
 * A FRAME as the server writes it: by default the zone only in full snapshots (a delta is on a
 * frame the client acked, which named the zone or came after one that did).
 */
function frameBytes(
  seq: number,
  baselineSeq: number,
  baseline: FrameState | null,
  current: FrameState,
  lastInputSeq: number,
  zone = baselineSeq === 0 ? ZONE : '0',
): Uint8Array {
  const base = baseline === null ? null : { ...baseline, lastInputSeq: sentInputSeq.get(baselineSeq) ?? 0 };
  sentInputSeq.set(seq, lastInputSeq);
  return encodeFrame(new Writer(), { seq, serverTime: seq * 33, zone, baselineSeq, baseline: base, current: { ...current, lastInputSeq } });
}

function ids(st: FrameState): number[] {
  const out: number[] = [];
  for (let i = 0; i < st.entities.count; i++) out.push(st.entities.data[i * SNAPSHOT_STRIDE]!);
  return out;
}

test('handshake sends HELLO as a guest and resolves with WELCOME', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  assert.equal(h.conn.state, 'connecting');
  assert.equal(h.socket.url, 'ws://test/ws');
  assert.equal(h.socket.binaryType, 'arraybuffer');
  assert.equal(h.socket.sent.length, 0, 'nothing sent before open');
  h.socket.open();
  const hello = h.socket.decodeSent(0);
  assert.equal(hello.type, MessageType.Hello);
  if (hello.type !== MessageType.Hello) return;
  assert.deepEqual(hello.body, { minVersion: 2, maxVersion: PROTOCOL_VERSION, name: 'alice', token: '' });
  // HELLO keeps the 24-byte layout, with the client's highest version in byte 0.
  assert.deepEqual([...h.socket.sent[0]!.subarray(0, 2)], [PROTOCOL_VERSION, MessageType.Hello]);
  h.socket.deliver(encodeWelcome(WELCOME));
  const w = await p;
  assert.equal(w.entityId, 7);
  assert.equal(w.nextInputSeq, 1000);
  assert.equal(h.conn.state, 'open');
  assert.ok(h.conn.isOpen);
  assert.equal(h.conn.welcome?.sessionId, 'sess-1');
  assert.deepEqual(
    h.events.map((e) => e.type),
    ['welcome'],
  );
  assert.ok(h.conn.bytesOut > 0 && h.conn.bytesIn > 0);
  assert.equal(h.conn.messagesIn, 1);
});

test('inputs use contiguous seqs from nextInputSeq, dtMs from tickRate, and carry the frame ack', async () => {
  const h = await connected();
  const seqs = [
    h.conn.sendInput({ eastCms: 100.4, northCms: -250.6, upCms: 0 }),
    h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 10, actions: [2] }),
  ];
  assert.deepEqual(seqs, [1000, 1001]);
  // A bad intent throws and does not burn a seq.
  assert.throws(() => h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0, actions: [1, 2, 3, 1, 2] }));
  h.socket.deliver(frameBytes(5, 0, null, state({}, [ent(7)]), 999));
  seqs.push(h.conn.sendInput({ eastCms: 1, northCms: 2, upCms: 3 }));
  assert.deepEqual(seqs, [1000, 1001, 1002]);
  assert.equal(h.conn.inputsSent, 3);

  const msgs = h.socket.sent.slice(1).map((b) => decodeMessage(b));
  assert.equal(msgs.length, 3);
  const expectAck = [0, 0, 5];
  msgs.forEach((m, i) => {
    assert.equal(m.type, MessageType.Input);
    if (m.type !== MessageType.Input) return;
    assert.equal(m.header.seq, 1000 + i);
    assert.equal(m.body.ackFrame, expectAck[i]);
    assert.equal(m.body.inputs.length, 1);
    assert.equal(m.body.inputs[0]!.seq, 1000 + i);
    assert.equal(m.body.inputs[0]!.dtMs, 33); // round(1000 / 30)
  });
  const [a, b] = msgs;
  if (a?.type === MessageType.Input && b?.type === MessageType.Input) {
    assert.deepEqual(
      { e: a.body.inputs[0]!.eastCms, n: a.body.inputs[0]!.northCms, act: a.body.inputs[0]!.actions },
      { e: 100, n: -251, act: [] },
    );
    assert.deepEqual(b.body.inputs[0]!.actions, [2]);
  }
});

test('sendInput before WELCOME throws', () => {
  const h = makeConnection();
  assert.throws(() => h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0 }), /state/);
});

test('frames decode against kept baselines; added/removed and visible count are tracked', async () => {
  const h = await connected();
  const s1 = state({}, [ent(10), ent(20), ent(30)]);
  h.socket.deliver(frameBytes(1, 0, null, s1, 999));
  let f = h.conn.lastFrame;
  assert.ok(f);
  assert.equal(f.seq, 1);
  assert.equal(f.baselineSeq, 0);
  assert.deepEqual(f.added, [10, 20, 30]);
  assert.deepEqual(f.removed, []);
  assert.equal(h.conn.visibleEntities, 3);
  assert.equal(h.conn.ackFrame, 1);

  // Delta on frame 1: 20 leaves, 40 enters, 10 moves, own state moves.
  const s2 = state({ latE7: 473_000_100 }, [ent(10, 47_300_010), ent(30), ent(40)]);
  h.socket.deliver(frameBytes(2, 1, s1, s2, 999));
  f = h.conn.lastFrame;
  assert.ok(f);
  assert.equal(f.baselineSeq, 1);
  assert.deepEqual(f.added, [40]);
  assert.deepEqual(f.removed, [20]);
  assert.deepEqual(ids(f.state), [10, 30, 40]);
  assert.equal(f.state.entities.data[0 * SNAPSHOT_STRIDE + 2], 47_300_010);
  assert.equal(f.state.own.latE7, 473_000_100);
  assert.equal(h.conn.visibleEntities, 3);

  // Delta on frame 2 (the server may skip acked frames): 10 leaves.
  const s3 = state({ latE7: 473_000_200 }, [ent(30), ent(40)]);
  h.socket.deliver(frameBytes(3, 2, s2, s3, 999));
  f = h.conn.lastFrame;
  assert.ok(f);
  assert.deepEqual(f.removed, [10]);
  assert.deepEqual(f.added, []);
  assert.equal(h.conn.visibleEntities, 2);
  assert.equal(h.conn.framesIn, 3);
  assert.equal(h.conn.ackFrame, 3);
  assert.equal(h.conn.protocolErrors, 0);
  assert.equal(h.events.filter((e) => e.type === 'frame').length, 3);

  // Frame 1 was dropped once frame 3 used baseline 2: a delta on it is a protocol error.
  h.socket.deliver(frameBytes(4, 1, s1, s3, 999));
  assert.equal(h.conn.protocolErrors, 1);
  const err = h.events.find((e) => e.type === 'error')?.value;
  assert.ok(err instanceof ProtocolError);
  assert.equal(err.code, 'no_baseline');
});

test('a full snapshot that restarts frame numbering resets the baselines', async () => {
  const h = await connected();
  h.socket.deliver(frameBytes(50, 0, null, state({}, [ent(1)]), 999));
  h.socket.deliver(frameBytes(1, 0, null, state({}, [ent(2)]), 999));
  assert.equal(h.conn.protocolErrors, 0);
  assert.equal(h.conn.ackFrame, 1);
  assert.deepEqual(h.conn.lastFrame?.added, [2]);
});

test('input-to-update latency is recorded once per input when lastInputSeq covers it', async () => {
  const h = await connected();
  h.clock.t = 100;
  h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0 }); // 1000 at 100
  h.clock.t = 110;
  h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0 }); // 1001 at 110
  h.clock.t = 120;
  h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0 }); // 1002 at 120
  const s = state({}, []);
  h.clock.t = 150;
  h.socket.deliver(frameBytes(1, 0, null, s, 1001));
  const hist = h.conn.updateLatencyHistogram;
  assert.equal(hist.count, 2);
  assert.equal(hist.min, 40);
  assert.equal(hist.max, 50);
  assert.equal(h.conn.lastProcessedInputSeq, 1001);
  h.clock.t = 160;
  h.socket.deliver(frameBytes(2, 1, s, s, 1001)); // nothing new
  assert.equal(hist.count, 2);
  h.clock.t = 170;
  h.socket.deliver(frameBytes(3, 2, s, s, 1002));
  assert.equal(hist.count, 3);
  assert.equal(hist.max, 50);
  assert.equal(hist.sum, 50 + 40 + 50);
});

test('PONG updates rtt and the server clock offset', async () => {
  const h = await connected();
  h.clock.t = 1000;
  h.conn.ping();
  h.clock.t = 1010;
  h.conn.ping();
  const pings = h.socket.sent.slice(1).map((b) => decodeMessage(b));
  assert.deepEqual(
    pings.map((m) => (m.type === MessageType.Ping ? [m.header.seq, m.body.clientTime] : null)),
    [
      [0, 1000],
      [1, 1010],
    ],
  );
  assert.ok(Number.isNaN(h.conn.rttMs));
  // Server clock is 5000 ms ahead; the first pong comes back after 40 ms, the second after 100 ms.
  h.clock.t = 1040;
  h.socket.deliver(encodePong({ seq: 0, clientTime: 1000, serverTime: 6020 }));
  assert.equal(h.conn.rttMs, 40);
  assert.equal(h.conn.clockOffsetMs, 6020 - (1000 + 20));
  h.clock.t = 1110;
  h.socket.deliver(encodePong({ seq: 1, clientTime: 1010, serverTime: 6080 }));
  assert.equal(h.conn.rttMs, 100);
  // The lower-RTT sample keeps defining the offset.
  assert.equal(h.conn.clockOffsetMs, 5000);
  assert.equal(h.conn.serverNow(), 1110 + 5000);
  assert.equal(h.conn.rttHistogram.count, 2);
  const pongs = h.events.filter((e) => e.type === 'pong');
  assert.equal(pongs.length, 2);
});

test('REJECT updates counters by reason name and emits an event', async () => {
  const h = await connected();
  h.conn.sendInput({ eastCms: 99999, northCms: 0, upCms: 0 });
  h.socket.deliver(encodeReject({ inputSeq: 1000, reason: RejectReason.Speed }));
  h.socket.deliver(encodeReject({ inputSeq: 1001, reason: RejectReason.Speed }));
  h.socket.deliver(encodeReject({ inputSeq: 1002, reason: RejectReason.Cooldown }));
  h.socket.deliver(encodeReject({ inputSeq: 1003, reason: 200 }));
  assert.equal(h.conn.rejectsTotal, 4);
  assert.deepEqual({ ...h.conn.rejects }, { speed: 2, cooldown: 1, reject_200: 1 });
  const ev = h.events.filter((e) => e.type === 'reject').map((e) => e.value as RejectEvent);
  assert.deepEqual(ev[0], { inputSeq: 1000, reason: RejectReason.Speed, reasonName: 'speed' });
  assert.equal(ev.length, 4);
  assert.ok(h.conn.isOpen, 'a reject does not close the connection');
});

const SHEET: CharacterMessage = {
  cause: CharacterCause.Login,
  health: 100,
  stamina: 80,
  level: 2,
  experience: 135,
  inventory: [
    { slot: 0, itemId: 1, quantity: 12, durability: 1, quality: 1 },
    { slot: 3, itemId: 4, quantity: 2, durability: 0.6, quality: 0.2 },
  ],
  skills: [{ skillId: 1, level: 2, experience: 135 }],
  found: null,
};

test('CHARACTER is decoded, kept as `character` and emitted; each one replaces the last', async () => {
  const h = await connected();
  const before = h.conn.character;
  assert.equal(before, undefined);
  h.socket.deliver(encodeCharacter(SHEET, { zone: '8828308281fffff' }));
  assert.deepEqual(h.conn.character, SHEET);
  assert.equal(h.conn.charactersIn, 1);
  // A rare find: the server confirms it once it is durable, naming the item found.
  const confirmed: CharacterMessage = {
    ...SHEET,
    cause: CharacterCause.Confirmed,
    stamina: 79.6, // rounded on the wire
    experience: 140,
    inventory: [...SHEET.inventory, { slot: 4, itemId: 5, quantity: 1, durability: 1, quality: 1 }],
    found: { itemId: 5, quantity: 1 },
  };
  h.socket.deliver(encodeCharacter(confirmed));
  const latest = h.conn.character;
  assert.ok(latest);
  assert.equal(latest.cause, CharacterCause.Confirmed);
  assert.equal(latest.stamina, 80);
  assert.deepEqual(latest.found, { itemId: 5, quantity: 1 });
  assert.deepEqual(latest.inventory.map((i) => i.itemId), [1, 4, 5]);
  assert.equal(latest.inventory[1]!.durability, 153 / 255); // 0.6 on the 1/255 grid
  const events = h.events.filter((e) => e.type === 'character').map((e) => e.value as CharacterMessage);
  assert.equal(events.length, 2);
  assert.deepEqual(events[0], SHEET);
  assert.equal(events[1], latest);
  assert.equal(h.conn.charactersIn, 2);
  assert.equal(h.conn.protocolErrors, 0);
  assert.ok(h.conn.isOpen);
  // Kept after the connection ends.
  h.socket.serverClose(4000 + KickReason.LoggedOut);
  assert.equal(h.conn.character, latest);
  const close = h.events.find((e) => e.type === 'close')?.value as CloseEvent;
  assert.equal(close.kickReason, KickReason.LoggedOut);
});

test('CHARACTER before WELCOME is a protocol error', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  h.socket.open();
  h.socket.deliver(encodeCharacter(SHEET));
  await assert.rejects(p, /CHARACTER before WELCOME/);
  assert.equal(h.conn.protocolErrors, 1);
  assert.equal(h.conn.character, undefined);
  assert.equal(h.socket.closeCalls[0]?.code, CLOSE_PROTOCOL_ERROR);
});

test('KICK unauthorized during the handshake rejects connect() with its name', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  h.socket.open();
  h.socket.deliver(encodeKick({ reason: KickReason.Unauthorized, message: 'session expired' }));
  await assert.rejects(p, (err: unknown) => err instanceof KickError && err.reasonName === 'unauthorized' && /session expired/.test(err.message));
});

test('KICK during handshake rejects connect() with the reason name', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  h.socket.open();
  h.socket.deliver(encodeKick({ reason: KickReason.ServerFull, message: 'try later' }));
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KickError);
    assert.equal(err.reason, KickReason.ServerFull);
    assert.equal(err.reasonName, 'server_full');
    assert.match(err.message, /server_full.*try later/);
    return true;
  });
  const kick = h.events.find((e) => e.type === 'kick')?.value as KickEvent;
  assert.deepEqual(kick, { reason: KickReason.ServerFull, reasonName: 'server_full', message: 'try later' });
  h.socket.serverClose(4000 + KickReason.ServerFull, 'server_full');
  await Promise.resolve();
  const close = h.events.find((e) => e.type === 'close')?.value as CloseEvent;
  assert.equal(close.requested, false);
  assert.equal(close.kickReason, KickReason.ServerFull);
  assert.equal(h.conn.state, 'closed');
});

test('KICK after WELCOME emits kick then close', async () => {
  const h = await connected();
  h.socket.deliver(encodeKick({ reason: KickReason.Flood, message: '' }));
  h.socket.serverClose(4000 + KickReason.Flood);
  const types = h.events.map((e) => e.type);
  assert.deepEqual(types, ['welcome', 'kick', 'close']);
  assert.equal(h.conn.kickReason, KickReason.Flood);
  assert.equal((h.events[1]!.value as KickEvent).reasonName, 'flood');
});

test('a 4000+reason close without KICK is reported as a kick', async () => {
  const h = await connected();
  h.socket.serverClose(4000 + KickReason.SlowConsumer, '');
  const close = h.events.find((e) => e.type === 'close')?.value as CloseEvent;
  assert.equal(close.kickReason, KickReason.SlowConsumer);
  assert.equal(close.code, 4005);
  assert.ok(!h.conn.isOpen);
});

test('garbage from the server emits error, closes the socket and does not throw', async () => {
  const h = await connected();
  assert.doesNotThrow(() => h.socket.deliver(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25])));
  assert.equal(h.conn.protocolErrors, 1);
  const err = h.events.find((e) => e.type === 'error')?.value;
  assert.ok(err instanceof ProtocolError);
  assert.equal(h.socket.closeCalls[0]?.code, CLOSE_PROTOCOL_ERROR);
  await Promise.resolve();
  const close = h.events.find((e) => e.type === 'close')?.value as CloseEvent;
  assert.equal(close.requested, false);
  assert.equal(h.conn.state, 'closed');
  // Anything after that is ignored rather than counted again.
  h.socket.deliver(new Uint8Array([9, 9, 9]));
  assert.equal(h.conn.protocolErrors, 1);
});

test('a text message or a bad frame during the handshake rejects connect()', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  h.socket.open();
  h.socket.onmessage?.({ data: 'hello' });
  await assert.rejects(p, ProtocolError);
  assert.equal(h.conn.protocolErrors, 1);

  const h2 = makeConnection();
  const p2 = h2.conn.connect();
  h2.socket.open();
  h2.socket.deliver(frameBytes(1, 0, null, state({}, []), 0));
  await assert.rejects(p2, /FRAME before WELCOME/);
});

test('an unreachable server rejects connect() with ConnectError', async () => {
  const h = makeConnection();
  const p = h.conn.connect();
  h.socket.fail('connect ECONNREFUSED 127.0.0.1:1');
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConnectError);
    assert.match(err.message, /ws:\/\/test\/ws.*ECONNREFUSED/);
    return true;
  });
  assert.equal(h.conn.socketErrors, 1);
});

test('a silent server makes connect() time out', async () => {
  const h = makeConnection({ handshakeTimeoutMs: 20 });
  const p = h.conn.connect();
  h.socket.open();
  await assert.rejects(p, /timed out/);
  assert.equal(h.socket.closeCalls.length, 1);
});

test('close() is reported as requested and stops sending', async () => {
  const h = await connected();
  h.conn.close();
  assert.throws(() => h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0 }));
  h.conn.ping(); // ignored
  await Promise.resolve();
  const close = h.events.find((e) => e.type === 'close')?.value as CloseEvent;
  assert.deepEqual(close, { code: 1000, reason: 'client closed', requested: true, kickReason: undefined });
  assert.equal(h.socket.sent.length, 1);
});

test('connect() twice is refused; bad names fail before a socket is made', async () => {
  const h = await connected();
  await assert.rejects(h.conn.connect(), /state open/);
  const bad = new GameConnection({ url: 'ws://x', name: '', createSocket: () => assert.fail('no socket expected') });
  await assert.rejects(bad.connect());
});

test('listeners can be removed', async () => {
  const h = makeConnection();
  let n = 0;
  const off = h.conn.on('welcome', () => n++);
  off();
  const p = h.conn.connect();
  h.socket.open();
  h.socket.deliver(encodeWelcome(WELCOME));
  await p;
  assert.equal(n, 0);
});

test('LatencyHistogram percentiles are within 2 % and bounded by min/max', () => {
  const hist = new LatencyHistogram();
  assert.ok(Number.isNaN(hist.percentile(50)));
  for (let v = 1; v <= 1000; v++) hist.record(v);
  hist.record(NaN);
  hist.record(-1);
  assert.equal(hist.count, 1000);
  const p50 = hist.percentile(50);
  const p99 = hist.percentile(99);
  assert.ok(p50 >= 500 && p50 <= 510, `p50 ${p50}`);
  assert.ok(p99 >= 990 && p99 <= 1010, `p99 ${p99}`);
  assert.equal(hist.percentile(100), 1000);
  assert.equal(hist.percentile(0), 1);
  assert.equal(hist.mean, 500.5);
  const other = new LatencyHistogram();
  other.record(5000);
  hist.merge(other);
  assert.equal(hist.max, 5000);
  assert.equal(hist.count, 1001);
  hist.reset();
  assert.equal(hist.count, 0);
  hist.record(1e9); // beyond the last bucket: clamped, not lost
  assert.equal(hist.percentile(50), 1e9);
});

/** A walking crowd: entity i of frame t (ids come and go, positions drift, fields change). */
function crowdState(t: number): FrameState {
  const ents: number[][] = [];
  for (let id = 1; id <= 40; id++) {
    if ((id * 7 + t) % 11 < 3) continue; // out of view for a while
    const e = ent(id, 47_300_000 + ((id * t * 13) % 900) - 450, 8_500_000 + ((id + t) % 5) * 3);
    e[5] = (id * 3 + (t >> 2)) & 0xff; // heading now and then
    if (t % 17 === id % 17) e[6] = 2; // an action
    ents.push(e);
  }
  return state({ latE7: 473_000_000 + t * 50, heading16: (t * 97) & 0xffff }, ents);
}

function sameState(actual: FrameState | undefined, expected: FrameState, what: string): void {
  assert.ok(actual, what);
  assert.deepEqual(actual.own, expected.own, what);
  assert.equal(actual.entities.count, expected.entities.count, what);
  const n = expected.entities.count * SNAPSHOT_STRIDE;
  assert.deepEqual(Array.from(actual.entities.data.subarray(0, n)), Array.from(expected.entities.data.subarray(0, n)), what);
}

for (const nodeLike of [false, true]) {
  for (const listen of [false, true]) {
    test(`long delta chains decode exactly (${nodeLike ? 'Node Buffers' : 'ArrayBuffers'}, ${listen ? 'with' : 'without'} a frame listener)`, async () => {
      const h = await connected({ nodeLike, listen });
      assert.equal(h.socket.binaryType, nodeLike ? 'nodebuffer' : 'arraybuffer');
      const sent = new Map<number, FrameState>();
      let kept: { seq: number; frame: NonNullable<GameConnection['lastFrame']> } | undefined;
      for (let seq = 1; seq <= 150; seq++) {
        const cur = crowdState(seq);
        // Baselines lag like a client's ack: 1..6 frames, and at times exactly the oldest of a
        // full 32-frame history (the slot the next frame would evict).
        const lag = seq < 3 ? 0 : seq >= 60 && seq < 70 ? 32 : 1 + (seq % 6);
        const baselineSeq = lag === 0 || seq - lag < 1 ? 0 : seq - lag;
        const baseline = baselineSeq === 0 ? null : sent.get(baselineSeq)!;
        // Frames 28..59 are full snapshots, so nothing is dropped and frames 60..69 (lag 32)
        // delta against the oldest frame of a full history.
        const full = seq >= 28 && seq < 60;
        // A handoff at frame 100: that delta names the new zone, later ones omit it again.
        const zone = full || baselineSeq === 0 ? (seq >= 100 ? ZONE2 : ZONE) : seq === 100 ? ZONE2 : '0';
        h.socket.deliver(frameBytes(seq, full ? 0 : baselineSeq, full ? null : baseline, cur, 1000 + seq, zone));
        sent.set(seq, cur);
        assert.equal(h.conn.protocolErrors, 0, `frame ${seq}`);
        sameState(h.conn.frameState, cur, `frameState of ${seq}`);
        assert.equal(h.conn.visibleEntities, cur.entities.count);
        if (seq % 10 === 0 || listen) {
          const f = h.conn.lastFrame;
          assert.ok(f);
          assert.equal(f.seq, seq);
          assert.equal(f.serverTime, seq * 33);
          assert.equal(f.zone, seq >= 100 ? ZONE2 : ZONE);
          assert.equal(f.lastInputSeq, 1000 + seq);
          assert.equal(f.state.lastInputSeq, 1000 + seq);
          assert.equal(h.conn.lastFrame, f, 'same object until the next frame');
          sameState(f.state, cur, `lastFrame of ${seq}`);
          if (seq === 50) kept = { seq, frame: f };
        }
      }
      assert.equal(h.conn.framesIn, 150);
      assert.equal(h.events.filter((e) => e.type === 'frame').length, listen ? 150 : 0);
      // A lastFrame kept from long ago is a copy: later frames did not change it.
      assert.ok(kept);
      sameState(kept.frame.state, crowdState(kept.seq), 'kept lastFrame');
      if (nodeLike) {
        // The client decoded the delivered views in place.
        const d = (h.socket as NodeLikeSocket).delivered;
        assert.equal(d.length, 151);
      }
    });
  }
}

test('a corrupt or inconsistent frame is a protocol error and leaves the last good frame intact', async () => {
  for (const corrupt of ['crc', 'inconsistent'] as const) {
    const h = await connected({ nodeLike: true, listen: false });
    const s1 = crowdState(1);
    const s2 = crowdState(2);
    h.socket.deliver(frameBytes(1, 0, null, s1, 999));
    h.socket.deliver(frameBytes(2, 1, s1, s2, 999));
    sameState(h.conn.frameState, s2, 'before');
    let bad: Uint8Array;
    if (corrupt === 'crc') {
      bad = frameBytes(3, 2, s2, crowdState(3), 999);
      bad[bad.length - 1]! ^= 0x40;
    } else {
      // A valid message whose delta was made against a different baseline than it names.
      bad = frameBytes(3, 2, crowdState(40), crowdState(3), 999);
    }
    h.socket.deliver(bad);
    assert.equal(h.conn.protocolErrors, 1, corrupt);
    const err = h.events.find((e) => e.type === 'error')?.value;
    assert.ok(err instanceof ProtocolError, corrupt);
    if (corrupt === 'crc') assert.equal(err.code, 'bad_checksum');
    assert.equal(h.conn.framesIn, 2);
    sameState(h.conn.frameState, s2, `after ${corrupt}`);
    sameState(h.conn.lastFrame?.state, s2, `lastFrame after ${corrupt}`);
    assert.equal(h.socket.closeCalls[0]?.code, CLOSE_PROTOCOL_ERROR);
  }
});

test('sent INPUT and PING messages are independent copies that decode exactly', async () => {
  const h = await connected({ nodeLike: true });
  const raw: Uint8Array[] = [];
  const socket = h.socket;
  const orig = socket.send.bind(socket);
  socket.send = (data: Uint8Array): void => {
    raw.push(data);
    orig(data);
  };
  for (let i = 0; i < 3000; i++) {
    h.conn.sendInput({ eastCms: i - 1500.4, northCms: -i, upCms: i % 7, actions: i % 50 === 0 ? [1, 2] : undefined });
    if (i % 100 === 0) h.conn.ping();
  }
  // Nothing sent earlier was overwritten by later messages.
  assert.equal(raw.length, socket.sent.length - 1);
  for (let i = 0; i < raw.length; i++) assert.deepEqual(raw[i], socket.sent[i + 1], `message ${i}`);
  let input = 0;
  for (let i = 1; i < socket.sent.length; i++) {
    const m = socket.decodeSent(i);
    if (m.type === MessageType.Ping) continue;
    assert.equal(m.type, MessageType.Input);
    if (m.type !== MessageType.Input) return;
    const w = m.body.inputs[0]!;
    assert.equal(m.body.inputs.length, 1);
    assert.equal(w.seq, 1000 + input);
    assert.equal(w.eastCms, Math.round(input - 1500.4) + 0); // + 0: the wire has no -0
    assert.equal(w.northCms, -input + 0);
    assert.deepEqual(w.actions, input % 50 === 0 ? [1, 2] : []);
    input++;
  }
  assert.equal(input, 3000);
  assert.throws(() => h.conn.sendInput({ eastCms: 0, northCms: 0, upCms: 0, actions: [1, 2, 3, 4, 5] }), /too many actions/);
  assert.equal(h.conn.nextInputSeq, 4000, 'a refused input leaves no gap');
});

test('every single-byte corruption and every truncation of a FRAME is a protocol error', async () => {
  const s1 = crowdState(1);
  const variants: Uint8Array[] = [];
  // Without and with a zone in the header, and with a multi-byte seq.
  frameBytes(1, 0, null, s1, 999);
  sentInputSeq.set(300, 999);
  for (const good of [frameBytes(2, 1, s1, crowdState(2), 999), frameBytes(2, 1, s1, crowdState(2), 1003, ZONE2), frameBytes(301, 300, s1, crowdState(2), 999)]) {
    for (let i = 0; i < good.length; i++) {
      const b = good.slice();
      b[i]! ^= 1 << (i % 8);
      variants.push(b, good.slice(0, i));
    }
  }
  for (const bad of variants) {
    const h = await connected({ nodeLike: true, listen: false });
    h.socket.deliver(frameBytes(1, 0, null, s1, 999));
    h.socket.deliver(bad);
    assert.equal(h.conn.protocolErrors, 1);
    assert.equal(h.conn.framesIn, 1);
    sameState(h.conn.frameState, s1, 'last good frame kept');
  }
});

test('a FRAME without a zone is in the previous FRAME\'s zone; the first FRAME must name one', async () => {
  for (const nodeLike of [false, true]) {
    // The first frame of a connection without a zone: bad_field, closed.
    const first = await connected({ nodeLike });
    first.socket.deliver(frameBytes(1, 0, null, state({}, [ent(1)]), 0, '0'));
    assert.equal(first.conn.protocolErrors, 1);
    const err = first.events.find((e) => e.type === 'error')?.value;
    assert.ok(err instanceof ProtocolError && err.code === 'bad_field', String(err));
    assert.equal(first.socket.closeCalls[0]?.code, CLOSE_PROTOCOL_ERROR);
    assert.equal(first.conn.framesIn, 0);

    const h = await connected({ nodeLike });
    const zones: string[] = [];
    h.conn.on('update', (v) => zones.push(v.zone));
    const s = state({}, [ent(1)]);
    h.socket.deliver(frameBytes(1, 0, null, s, 0, ZONE));
    h.socket.deliver(frameBytes(2, 1, s, s, 0, '0'));
    assert.equal(h.conn.lastFrame?.zone, ZONE);
    h.socket.deliver(frameBytes(3, 2, s, s, 0, ZONE2)); // a handoff: the header names the new zone
    h.socket.deliver(frameBytes(4, 3, s, s, 0, '0'));
    h.socket.deliver(frameBytes(5, 0, null, s, 0, '0')); // even a full snapshot may omit it
    assert.equal(h.conn.protocolErrors, 0);
    assert.deepEqual(zones, [ZONE, ZONE, ZONE2, ZONE2, ZONE2]);
    assert.equal(h.conn.lastFrame?.zone, ZONE2);
    // A bad frame does not move the zone: the next one still means ZONE2.
    const bad = frameBytes(6, 5, s, s, 0, ZONE);
    bad[bad.length - 1]! ^= 1;
    h.socket.deliver(bad);
    assert.equal(h.conn.lastFrame?.zone, ZONE2);
  }
});
