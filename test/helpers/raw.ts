// A bare protocol client for tests that need to misbehave: it speaks the wire format directly
// and records everything the server says, including the close code.
import WebSocket from 'ws';
import { decodeFrame } from '../../src/protocol/frame.ts';
import { FrameHistory } from '../../src/protocol/history.ts';
import { decodeMessage, encodeHello, encodeInput } from '../../src/protocol/messages.ts';
import { MessageType, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import type { CharacterMessage, FrameDecoded, Kick, Welcome, WireInput } from '../../src/protocol/types.ts';

export class RawClient {
  readonly ws: WebSocket;
  welcome: Welcome | undefined;
  readonly frames: FrameDecoded[] = [];
  readonly rejects: Array<{ seq: number; reason: number }> = [];
  kick: Kick | undefined;
  /** Every message as received, undecoded. */
  readonly received: Uint8Array[] = [];
  readonly characters: CharacterMessage[] = [];
  closeCode: number | undefined;
  pongs = 0;
  private readonly history = new FrameHistory(64);
  private readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => this.onMessage(new Uint8Array(data)));
  }

  async open(): Promise<void> {
    await this.opened;
  }

  /** Open, say HELLO (as a guest without a token) and wait for WELCOME. */
  async join(name = 'raw', token = ''): Promise<Welcome> {
    await this.open();
    this.send(encodeHello({ minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, name, token }));
    await waitFor(() => this.welcome !== undefined || this.closeCode !== undefined, 5000, 'WELCOME');
    if (!this.welcome) throw new Error(`not welcomed: close ${this.closeCode} ${this.kick?.message ?? ''}`);
    return this.welcome;
  }

  get lastFrame(): FrameDecoded | undefined {
    return this.frames[this.frames.length - 1];
  }

  sendInputs(inputs: WireInput[], ackFrame = this.lastFrame?.seq ?? 0): void {
    this.send(encodeInput({ ackFrame, inputs }, { seq: inputs[0]!.seq }));
  }

  send(bytes: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  close(): void {
    this.ws.close();
  }

  private onMessage(bytes: Uint8Array): void {
    this.received.push(bytes);
    // Version 1 too: a client that offered only version 1 is answered in that layout.
    const msg = decodeMessage(bytes, { minVersion: 1, maxVersion: PROTOCOL_VERSION });
    switch (msg.type) {
      case MessageType.Welcome:
        this.welcome = msg.body;
        break;
      case MessageType.Frame: {
        const f = decodeFrame(msg.header, msg.payload, (s) => this.history.get(s), this.lastFrame?.zone ?? '0');
        this.history.put(f.seq, f.state);
        this.frames.push(f);
        break;
      }
      case MessageType.Reject:
        this.rejects.push({ seq: msg.body.inputSeq, reason: msg.body.reason });
        break;
      case MessageType.Kick:
        this.kick = msg.body;
        break;
      case MessageType.Pong:
        this.pongs++;
        break;
      case MessageType.Character:
        this.characters.push(msg.body);
        break;
    }
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function wire(seq: number, eastCms: number, northCms: number, extra: Partial<WireInput> = {}): WireInput {
  return { seq, dtMs: 50, eastCms, northCms, upCms: 0, actions: [], ...extra };
}
