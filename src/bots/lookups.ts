// What a game client fetches over HTTP while playing: a player's public profile for a nameplate
// (GET /api/players/:id) and an item's definition for a tooltip (GET /api/items/:id). Bots make
// the same requests so a load test exercises the server's L1/L2 caches as players would.
//
// Lookups never hold up the bots' input loop: they are queued and sent with at most maxInFlight
// requests open per thread; beyond maxQueue waiting, new ones are dropped (and counted).

export interface LookupsOptions {
  /** The server's HTTP base URL, e.g. http://127.0.0.1:8080. */
  httpUrl: string;
  /** Requests open at once (default 32). */
  maxInFlight?: number;
  /** Requests waiting for a slot before new ones are dropped (default 1000). */
  maxQueue?: number;
  /** Per request (default 10 s); a timeout counts as a failure. */
  timeoutMs?: number;
}

export interface LookupCounts {
  /** Lookups answered 2xx. */
  lookups: number;
  /** Lookups answered otherwise, or not at all (network error, timeout). */
  lookupFailures: number;
  /** Lookups never sent: the queue was full. */
  lookupsDropped: number;
}

export class Lookups {
  lookups = 0;
  lookupFailures = 0;
  lookupsDropped = 0;
  private readonly base: string;
  private readonly maxInFlight: number;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private readonly queue: string[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(opts: LookupsOptions) {
    this.base = opts.httpUrl.replace(/\/+$/, '');
    this.maxInFlight = opts.maxInFlight ?? 32;
    this.maxQueue = opts.maxQueue ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** A nameplate: the public profile of player `playerId`. */
  player(playerId: number): void {
    this.enqueue(`/api/players/${playerId}`);
  }

  /** A tooltip: the definition of item `itemId`. */
  item(itemId: number): void {
    this.enqueue(`/api/items/${itemId}`);
  }

  get counts(): LookupCounts {
    return { lookups: this.lookups, lookupFailures: this.lookupFailures, lookupsDropped: this.lookupsDropped };
  }

  /** Requests queued or open. */
  get pending(): number {
    return this.queue.length - this.queueHead + this.inFlight;
  }

  /** Resolves when nothing is queued or open (or after timeoutMs). */
  async idle(timeoutMs = 5000): Promise<void> {
    if (this.pending === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /** Drops what is queued and aborts what is open; neither is counted. Later lookups are ignored. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queueHead = 0;
    this.abort.abort();
    this.notifyIdle();
  }

  private enqueue(path: string): void {
    if (this.closed) return;
    if (this.inFlight < this.maxInFlight) {
      this.send(path);
      return;
    }
    if (this.queue.length - this.queueHead >= this.maxQueue) {
      this.lookupsDropped++;
      return;
    }
    this.queue.push(path);
  }

  private send(path: string): void {
    this.inFlight++;
    void this.request(path).finally(() => {
      this.inFlight--;
      if (this.closed) return;
      if (this.queueHead < this.queue.length) {
        const nextPath = this.queue[this.queueHead++]!;
        if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
          this.queue.splice(0, this.queueHead);
          this.queueHead = 0;
        }
        this.send(nextPath);
      } else if (this.inFlight === 0) {
        this.notifyIdle();
      }
    });
  }

  private async request(path: string): Promise<void> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      await res.arrayBuffer(); // read to the end so the connection is reused
      if (this.closed) return;
      if (res.ok) this.lookups++;
      else this.lookupFailures++;
    } catch {
      if (!this.closed) this.lookupFailures++;
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
