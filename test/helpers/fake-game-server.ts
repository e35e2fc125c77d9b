// A real `ws` server speaking just enough of the game protocol for clients under test (bots in
// worker threads, GameConnection over the bots' socket): WELCOME after HELLO, an empty FRAME
// every tick acknowledging the last input, PONG for PING. It records the names that said HELLO.
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Writer } from '../../src/protocol/codec.ts';
import { encodeFrame } from '../../src/protocol/frame.ts';
import { decodeMessage, encodePong, encodeWelcome } from '../../src/protocol/messages.ts';
import { MessageType, PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import type { FrameState } from '../../src/protocol/types.ts';

export interface FakeGameServer {
  url: string;
  names: string[];
  stop: () => Promise<void>;
}

export async function startFakeGameServer(opts: { tickRate?: number; maxSpeed?: number } = {}): Promise<FakeGameServer> {
  const tickRate = opts.tickRate ?? 20;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const names: string[] = [];
  const writer = new Writer();
  const empty: FrameState = {
    own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 },
    entities: { count: 0, data: new Int32Array(0) },
    lastInputSeq: 0,
  };
  wss.on('connection', (sock) => {
    let frameSeq = 0;
    let lastInput = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    sock.on('close', () => clearInterval(timer));
    sock.on('message', (data: Buffer) => {
      const m = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (m.type === MessageType.Hello) {
        names.push(m.body.name);
        sock.send(
          encodeWelcome({
            version: PROTOCOL_VERSION,
            entityId: names.length,
            tickRate,
            aoiRadius: 100,
            maxSpeed: opts.maxSpeed ?? 6,
            maxVerticalSpeed: 3,
            speedTolerance: 0.1,
            maxInputDtMs: 250,
            maxInputsPerSecond: 30,
            minAltCm: 0,
            maxAltCm: 1_000_000,
            nextInputSeq: 1,
            own: empty.own,
            sessionId: m.body.name,
          }),
        );
        timer = setInterval(() => {
          frameSeq++;
          sock.send(
            encodeFrame(writer, {
              seq: frameSeq,
              serverTime: 0,
              zone: '8828308281fffff',
              baselineSeq: 0,
              baseline: null,
              current: { ...empty, lastInputSeq: lastInput },
            }),
          );
        }, 1000 / tickRate);
      } else if (m.type === MessageType.Input) {
        lastInput = m.body.inputs[m.body.inputs.length - 1]!.seq;
      } else if (m.type === MessageType.Ping) {
        sock.send(encodePong({ seq: m.body.seq, clientTime: m.body.clientTime, serverTime: Date.now() }));
      }
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    names,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
