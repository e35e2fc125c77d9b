// In-process Bus: the embedded default. Zone-bound deliveries are queued and run in one
// microtask batch after the sender's synchronous work, so a zone never re-enters another zone
// mid-tick, and global FIFO order gives the per-sender ordering the contract promises.
// Gateway batches are delivered at once: a gateway only writes to sockets and enqueues, it never
// calls back into a zone, and sending a zone's frames the moment it finishes its tick is what
// keeps input-to-update latency within a tick.
import type { ZoneId } from '../world/types.ts';
import type { Bus, Subscription, ZoneEndpoint, ZonePlacer } from './bus.ts';
import type { GatewayBatch, HandoffAnswer, HandoffOffer, ZoneMessage } from './messages.ts';

type Task = () => void;

const RESOLVED = Promise.resolve();

export class MemoryBus implements Bus {
  private readonly zones = new Map<ZoneId, ZoneEndpoint>();
  private readonly gateways = new Map<string, (batch: GatewayBatch) => void>();
  private placer: ZonePlacer | undefined;
  /**
   * Queued deliveries in order, as parallel arrays so that a zone message (thousands per tick)
   * costs no closure or wrapper object: queueMsg[i] is the message for zone queueZone[i], or a
   * task to run. The arrays keep their size between flushes (entries are cleared, not the
   * length: emptying an array frees its storage, and the next push would allocate it again).
   */
  private readonly queueZone: ZoneId[] = [];
  private readonly queueMsg: Array<ZoneMessage | Task | undefined> = [];
  private queued = 0;
  private scheduled = false;
  private closed = false;
  /** Errors thrown by handlers; surfaced here so a bad handler cannot kill the queue. */
  onHandlerError: (err: unknown) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };

  claimZone(zone: ZoneId, endpoint: ZoneEndpoint): Subscription {
    if (this.zones.has(zone)) throw new Error(`zone ${zone} is already claimed`);
    this.zones.set(zone, endpoint);
    return { unsubscribe: () => void (this.zones.get(zone) === endpoint && this.zones.delete(zone)) };
  }

  onUnclaimedZone(placer: ZonePlacer): Subscription {
    this.placer = placer;
    return { unsubscribe: () => void (this.placer === placer && (this.placer = undefined)) };
  }

  private owner(zone: ZoneId): ZoneEndpoint | undefined {
    let ep = this.zones.get(zone);
    if (!ep && this.placer && !this.closed && this.placer(zone)) ep = this.zones.get(zone);
    return ep;
  }

  sendToZone(zone: ZoneId, msg: ZoneMessage): boolean {
    if (this.closed || !this.zones.has(zone)) return false;
    // The owner is looked up again at delivery: ownership may have moved since the send.
    this.push(zone, msg);
    return true;
  }

  offerEntity(zone: ZoneId, offer: HandoffOffer): Promise<HandoffAnswer> {
    if (this.closed) return Promise.resolve({ accepted: false, reason: 'bus closed' });
    if (!this.owner(zone)) return Promise.resolve({ accepted: false, reason: `no owner for zone ${zone}` });
    return new Promise((resolve) => {
      this.enqueue(() => {
        const ep = this.zones.get(zone);
        if (!ep) return resolve({ accepted: false, reason: `no owner for zone ${zone}` });
        Promise.resolve(ep.adopt(offer)).then(resolve, (err: unknown) =>
          resolve({ accepted: false, reason: err instanceof Error ? err.message : String(err) }),
        );
      });
    });
  }

  serveGateway(gatewayId: string, handler: (batch: GatewayBatch) => void): Subscription {
    if (this.gateways.has(gatewayId)) throw new Error(`gateway ${gatewayId} is already served`);
    this.gateways.set(gatewayId, handler);
    return {
      unsubscribe: () => void (this.gateways.get(gatewayId) === handler && this.gateways.delete(gatewayId)),
    };
  }

  sendToGateway(gatewayId: string, batch: GatewayBatch): boolean {
    const handler = this.closed ? undefined : this.gateways.get(gatewayId);
    if (!handler) return false;
    try {
      handler(batch);
    } catch (err) {
      this.onHandlerError(err);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.zones.clear();
    this.gateways.clear();
    this.queueMsg.fill(undefined, 0, this.queued);
    this.queued = 0;
  }

  private enqueue(task: Task): void {
    this.push('0', task);
  }

  private push(zone: ZoneId, m: ZoneMessage | Task): void {
    const i = this.queued++;
    this.queueZone[i] = zone;
    this.queueMsg[i] = m;
    if (!this.scheduled) {
      this.scheduled = true;
      // A promise reaction is the same microtask queue as queueMicrotask, without the async
      // resource queueMicrotask creates per call (this runs once per socket read). flush()
      // catches everything, so the promise never rejects.
      void RESOLVED.then(this.flush);
    }
  }

  private readonly flush = (): void => {
    const zones = this.queueZone;
    const msgs = this.queueMsg;
    // Tasks enqueued while flushing run in this same flush, after those already queued.
    for (let i = 0; i < this.queued; i++) {
      const m = msgs[i]!;
      msgs[i] = undefined;
      try {
        if (typeof m === 'function') m();
        else this.zones.get(zones[i]!)?.deliver(m);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
    this.queued = 0;
    this.scheduled = false;
  };
}
