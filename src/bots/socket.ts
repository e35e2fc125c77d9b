// The bots' `ws` WebSocket (`--socket ws`): `ws` driven through its EventEmitter API. Its
// browser-style on* properties (what WebSocketLike describes) wrap every message in a MessageEvent
// first, which is measurable at thousands of sockets; this adapter hands GameConnection the same
// data without that.
// The bots' default is the hand-written client in wire-socket.ts (`--socket wire`), which costs
// about half the CPU per message; this one stays for comparison and for wss:// URLs.
import WebSocket from 'ws';
import type { CreateSocket, WebSocketLike } from '../client/connection.ts';
import { createWireSocket } from './wire-socket.ts';

type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments';

function isBinaryType(v: string): v is BinaryType {
  return v === 'nodebuffer' || v === 'arraybuffer' || v === 'fragments';
}

export class BotSocket implements WebSocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private readonly ws: WebSocket;
  /**
   * Reused for every message: GameConnection reads `data` synchronously and keeps nothing, so
   * there is no need for an event object per message.
   */
  private readonly messageEvent: { data: unknown } = { data: undefined };

  constructor(url: string) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => this.onopen?.({ type: 'open' }));
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const handler = this.onmessage;
      if (!handler) return;
      const ev = this.messageEvent;
      // Text arrives as a string, as the browser-style API delivers it.
      ev.data = isBinary ? data : data.toString();
      try {
        handler(ev);
      } finally {
        ev.data = undefined;
      }
    });
    ws.on('close', (code: number, reason: Buffer) => this.onclose?.({ code, reason: reason.toString() }));
    ws.on('error', (err: Error) => this.onerror?.(err));
  }

  get binaryType(): string {
    return this.ws.binaryType;
  }

  /** Values `ws` does not know are ignored, as a browser ignores values it does not know. */
  set binaryType(v: string) {
    if (isBinaryType(v)) this.ws.binaryType = v;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: Uint8Array): void {
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

/** CreateSocket for bots (see GameConnectionOptions.createSocket). */
export function createBotSocket(url: string): WebSocketLike {
  return new BotSocket(url);
}

/** Which WebSocket client the bots use: the hand-written one (wire-socket.ts) or `ws`. */
export type BotSocketKind = 'wire' | 'ws';

export const BOT_SOCKET_KINDS: readonly BotSocketKind[] = ['wire', 'ws'];

/** The default for a URL: `wire`, except `ws` for wss:// (the wire client speaks no TLS). */
export function defaultBotSocketKind(url: string): BotSocketKind {
  return url.startsWith('wss:') ? 'ws' : 'wire';
}

export function botSocketFactory(kind: BotSocketKind): CreateSocket {
  return kind === 'wire' ? createWireSocket : createBotSocket;
}
