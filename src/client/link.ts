// A simulated network link for tests and experiments: wraps any CreateSocket (e.g. one on `ws`
// talking to a real server) and delays each message by a latency plus random jitter, optionally
// lets messages overtake each other (reordering), loses some, or cuts the connection outright.
// Pure (timers only), so it runs in browsers too.
import type { CreateSocket, WebSocketLike } from './connection.ts';

export interface LinkDirection {
  /** One-way delay, ms. */
  latencyMs?: number;
  /** Extra delay, uniformly random in [0, jitterMs). */
  jitterMs?: number;
  /**
   * When true each message gets its own delay, so a later one may arrive first (never before the
   * connection's first message in that direction: HELLO and WELCOME stay first). When false
   * (default) messages keep their order, as on a TCP connection: a late one holds up the rest.
   */
  reorder?: boolean;
  /** Probability (0..1) that a message is silently lost. */
  lossRate?: number;
}

export interface LinkOptions {
  /** Client to server. */
  up?: LinkDirection;
  /** Server to client. */
  down?: LinkDirection;
  /** Random source in [0, 1) (default Math.random). */
  random?: () => number;
}

/** Round trip `rttMs` split evenly, with the same jitter and reordering both ways. */
export function symmetricLink(rttMs: number, jitterMs = 0, reorder = false, lossRate = 0): LinkOptions {
  const d: LinkDirection = { latencyMs: rttMs / 2, jitterMs, reorder, lossRate };
  return { up: { ...d }, down: { ...d } };
}

interface Dir {
  latencyMs: number;
  jitterMs: number;
  reorder: boolean;
  lossRate: number;
}

function dir(d: LinkDirection | undefined): Dir {
  return { latencyMs: d?.latencyMs ?? 0, jitterMs: d?.jitterMs ?? 0, reorder: d?.reorder ?? false, lossRate: d?.lossRate ?? 0 };
}

export class SimulatedLink {
  readonly up: Dir;
  readonly down: Dir;
  readonly sockets: LinkSocket[] = [];
  private readonly random: () => number;
  private readonly inner: CreateSocket;
  /** Messages passed in each direction, and lost. */
  sentUp = 0;
  sentDown = 0;
  lost = 0;

  constructor(inner: CreateSocket, opts: LinkOptions = {}) {
    this.inner = inner;
    this.up = dir(opts.up);
    this.down = dir(opts.down);
    this.random = opts.random ?? Math.random;
  }

  /** CreateSocket to hand to the client. */
  readonly createSocket: CreateSocket = (url: string): WebSocketLike => {
    const s = new LinkSocket(this, this.inner(url));
    this.sockets.push(s);
    return s;
  };

  /** Severs every open connection now: the client sees code 1006, the server a close. */
  cut(): void {
    for (const s of this.sockets) s.cut();
  }

  /** Holds the next `count` server-to-client messages back by an extra `extraMs` each. */
  delayNextDown(extraMs: number, count = 1): void {
    for (const s of this.sockets) s.delayNext(extraMs, count);
  }

  /** @internal */
  delay(d: Dir): number {
    return d.latencyMs + (d.jitterMs > 0 ? this.random() * d.jitterMs : 0);
  }

  /** @internal */
  loses(d: Dir): boolean {
    if (d.lossRate > 0 && this.random() < d.lossRate) {
      this.lost++;
      return true;
    }
    return false;
  }
}

const OPEN = 1;
const CLOSED = 3;

interface InFlight {
  deliver: () => void;
  done: boolean;
}

/**
 * One direction's messages in flight, in sending order. Timers alone cannot keep an order:
 * Node bases a timer on the event loop's cached clock, so of two timers set for nearly the same
 * moment from different loop turns the later may fire first. So when a message's timer fires,
 * whatever must not be overtaken by it is delivered first: every earlier message (ordered), or
 * the direction's first message (reordering).
 */
class Lane {
  private readonly queue: InFlight[] = [];
  private first: InFlight | undefined;
  constructor(private readonly ordered: () => boolean) {}

  add(deliver: () => void): InFlight {
    const m: InFlight = { deliver, done: false };
    this.first ??= m;
    this.queue.push(m);
    return m;
  }

  fire(m: InFlight): void {
    if (m.done) return;
    if (this.ordered()) {
      while (this.queue.length > 0) {
        const x = this.queue.shift()!;
        this.run(x);
        if (x === m) break;
      }
      return;
    }
    if (this.first !== undefined) this.run(this.first);
    this.run(m);
    while (this.queue.length > 0 && this.queue[0]!.done) this.queue.shift();
  }

  /** Delivers everything still in flight, in sending order. */
  flush(): void {
    while (this.queue.length > 0) this.run(this.queue.shift()!);
  }

  private run(m: InFlight): void {
    if (m.done) return;
    m.done = true;
    m.deliver();
  }
}

export class LinkSocket implements WebSocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private state = 0;
  private dead = false;
  private lastUp = 0;
  private lastDown = 0;
  private firstUp = -1;
  private firstDown = -1;
  private extraDownMs = 0;
  private extraDownCount = 0;
  private readonly upLane = new Lane(() => !this.link.up.reorder);
  private readonly downLane = new Lane(() => !this.link.down.reorder);
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly link: SimulatedLink,
    private readonly inner: WebSocketLike,
  ) {
    inner.binaryType = 'arraybuffer';
    inner.onopen = () => {
      this.later(this.link.delay(this.link.down), () => {
        this.state = OPEN;
        this.onopen?.({ type: 'open' });
      });
    };
    inner.onmessage = (ev) => this.fromServer(ev.data);
    inner.onclose = (ev) => {
      if (this.dead) return;
      // After the messages already on their way.
      const at = Math.max(this.lastDown, Date.now() + this.link.down.latencyMs);
      this.later(at - Date.now(), () => {
        this.downLane.flush();
        this.finish(ev.code, typeof ev.reason === 'string' ? ev.reason : '');
      });
    };
    inner.onerror = (ev) => {
      if (!this.dead) this.onerror?.(ev);
    };
  }

  binaryType = 'arraybuffer';

  get readyState(): number {
    return this.state;
  }

  send(data: Uint8Array): void {
    if (this.state !== OPEN || this.dead) return;
    const link = this.link;
    link.sentUp++;
    if (link.loses(link.up)) return;
    const copy = data.slice();
    let at = Date.now() + link.delay(link.up);
    if (!link.up.reorder) at = Math.max(at, this.lastUp);
    if (this.firstUp < 0) this.firstUp = at;
    at = Math.max(at, this.firstUp);
    this.lastUp = Math.max(at, this.lastUp);
    const m = this.upLane.add(() => {
      if (!this.dead && this.inner.readyState === OPEN) this.inner.send(copy);
    });
    this.later(at - Date.now(), () => this.upLane.fire(m));
  }

  close(code?: number, reason?: string): void {
    if (this.state >= 2) return;
    this.state = 2;
    try {
      this.inner.close(code, reason);
    } catch {
      this.finish(code ?? 1005, reason ?? '');
    }
  }

  /** @internal */
  cut(): void {
    if (this.dead || this.state === CLOSED) return;
    this.dead = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    try {
      this.inner.close(1000, 'link cut');
    } catch {
      // already closing
    }
    this.finish(1006, '');
  }

  /** @internal */
  delayNext(extraMs: number, count: number): void {
    this.extraDownMs = extraMs;
    this.extraDownCount = count;
  }

  private fromServer(data: unknown): void {
    if (this.dead) return;
    const link = this.link;
    link.sentDown++;
    if (link.loses(link.down)) return;
    // The inner socket may reuse its buffer: keep a copy.
    let copy: ArrayBuffer;
    if (data instanceof ArrayBuffer) copy = data.slice(0);
    else if (ArrayBuffer.isView(data)) copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
    else return;
    let at = Date.now() + link.delay(link.down);
    if (this.extraDownCount > 0) {
      at += this.extraDownMs;
      this.extraDownCount--;
    }
    if (!link.down.reorder) at = Math.max(at, this.lastDown);
    if (this.firstDown < 0) this.firstDown = at;
    at = Math.max(at, this.firstDown);
    this.lastDown = Math.max(at, this.lastDown);
    const m = this.downLane.add(() => {
      if (!this.dead && this.state !== CLOSED) this.onmessage?.({ data: copy });
    });
    this.later(at - Date.now(), () => this.downLane.fire(m));
  }

  private finish(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.onclose?.({ code, reason });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    this.timers.add(t);
  }
}
