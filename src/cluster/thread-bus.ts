// A Bus across a worker-thread boundary: the gateway (network thread) on one side, the zones
// (zone thread) on the other. Zone traffic within the zone thread stays on its MemoryBus; only
// what crosses is packed into binary records, one transferred buffer per event-loop turn in and
// one per zone tick out, instead of a structured clone per object.
import { Buffer } from 'node:buffer';
import type { MessagePort, Worker } from 'node:worker_threads';
import { Reader, Writer } from '../protocol/codec.ts';
import { wordsToZone, zoneToWords } from '../protocol/zone-id.ts';
import type { WireInput } from '../protocol/types.ts';
import type { ZoneId } from '../world/types.ts';
import type { PlayerSave } from '../store/store.ts';
import type { CharacterSink } from '../zone/zone.ts';
import type { Bus, Subscription, ZonePlacer } from './bus.ts';
import type { Delivery, GatewayBatch, HandoffAnswer, HandoffOffer, KickOrder, ZoneMessage } from './messages.ts';

const RECORD_INPUTS = 1;
const RECORD_LEAVE = 2;
const I32_MAX = 0x7fffffff;

/** Network thread -> zone thread. */
export type ToZoneThread =
  | { t: 'in'; buf: ArrayBuffer }
  | { t: 'offer'; id: number; zone: ZoneId; offer: HandoffOffer }
  | { t: 'request'; id: number; what: ZoneThreadRequest; arg?: unknown }
  | { t: 'durable'; id: number }
  | { t: 'stop' };

/** Questions the network thread asks the zone host in the zone thread. */
export type ZoneThreadRequest = 'stats' | 'stats-reset' | 'metrics' | 'collect' | 'world' | 'spawn' | 'restore';

/** Zone thread -> network thread. */
export type FromZoneThread =
  | { t: 'batch'; gatewayId: string; zone: ZoneId; buf: ArrayBuffer; kicks: KickOrder[] }
  | { t: 'answer'; id: number; answer: HandoffAnswer }
  | { t: 'reply'; id: number; body: unknown }
  | { t: 'ready' }
  | { t: 'left'; playerId: number; save: PlayerSave | undefined }
  | { t: 'critical'; id: number; save: PlayerSave }
  | { t: 'stopped' };

/** Plain values are clamped into i32: an out-of-range cheat is still out of range after it. */
function i32(v: number): number {
  return v > I32_MAX ? I32_MAX : v < -I32_MAX ? -I32_MAX : v | 0;
}

/** Network-thread side: what the gateway uses as its Bus when the zones run in a worker. */
export class ThreadZoneBus implements Bus {
  private readonly out = new Writer(64 * 1024);
  private flushScheduled = false;
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();
  private readonly gateways = new Map<string, (batch: GatewayBatch) => void>();
  private readonly zoneWords = new Map<ZoneId, [number, number]>();
  private closed = false;
  private readonly stopped: Promise<void>;

  /** Where the zone thread's characters go (saves, departures); set by the composition root. */
  characters: CharacterSink | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromZoneThread) => this.onMessage(m));
    this.stopped = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  claimZone(): Subscription {
    throw new Error('zones are claimed inside the zone thread, not on the network thread');
  }

  onUnclaimedZone(_placer: ZonePlacer): Subscription {
    throw new Error('zones are placed inside the zone thread, not on the network thread');
  }

  sendToZone(zone: ZoneId, msg: ZoneMessage): boolean {
    if (this.closed || msg.kind === 'ghosts') return false;
    const w = this.out;
    let words = this.zoneWords.get(zone);
    if (!words) {
      words = zoneToWords(zone);
      if (this.zoneWords.size > 100_000) this.zoneWords.clear();
      this.zoneWords.set(zone, words);
    }
    w.u8(msg.kind === 'inputs' ? RECORD_INPUTS : RECORD_LEAVE);
    w.u32(msg.entityId);
    w.u32(words[0]);
    w.u32(words[1]);
    if (msg.kind === 'inputs') {
      w.u32(msg.ackFrame);
      w.u8(msg.inputs.length);
      for (const inp of msg.inputs) {
        w.u32(inp.seq);
        w.u16(inp.dtMs);
        w.i32(i32(inp.eastCms));
        w.i32(i32(inp.northCms));
        w.i32(i32(inp.upCms));
        w.u8(inp.actions.length);
        for (const a of inp.actions) w.u8(a);
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closed) return;
    const bytes = this.out.toBytes();
    this.out.reset();
    const buf = bytes.buffer as ArrayBuffer;
    this.worker.postMessage({ t: 'in', buf } satisfies ToZoneThread, [buf]);
  };

  offerEntity(zone: ZoneId, offer: HandoffOffer): Promise<HandoffAnswer> {
    if (this.closed) return Promise.resolve({ accepted: false, reason: 'bus closed' });
    // Inputs sent before the offer must not overtake it... and nothing is sent for a player
    // before its offer is answered, so only ordering against the flush matters: flush first.
    this.flush();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (v) => resolve(v as HandoffAnswer));
      this.worker.postMessage({ t: 'offer', id, zone, offer } satisfies ToZoneThread);
    });
  }

  /** Ask the zone host in the zone thread (timings, metrics as prom-client JSON, saves...). */
  request(what: ZoneThreadRequest, arg?: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('bus closed'));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ t: 'request', id, what, arg } satisfies ToZoneThread);
    });
  }

  serveGateway(gatewayId: string, handler: (batch: GatewayBatch) => void): Subscription {
    this.gateways.set(gatewayId, handler);
    return { unsubscribe: () => void (this.gateways.get(gatewayId) === handler && this.gateways.delete(gatewayId)) };
  }

  sendToGateway(): boolean {
    return false; // gateways live on this thread; only the zone thread sends them batches
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.worker.postMessage({ t: 'stop' } satisfies ToZoneThread);
    const timer = setTimeout(() => void this.worker.terminate(), 3000);
    await this.stopped;
    clearTimeout(timer);
  }

  private onMessage(m: FromZoneThread): void {
    switch (m.t) {
      case 'batch': {
        const handler = this.gateways.get(m.gatewayId);
        if (handler) handler(unpackBatch(m.zone, m.buf, m.kicks));
        return;
      }
      case 'answer': {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.answer);
        return;
      }
      case 'reply': {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.body);
        return;
      }
      case 'left':
        this.characters?.left(m.playerId, m.save);
        return;
      case 'critical':
        void this.characters?.critical(m.save).then(() => {
          if (!this.closed) this.worker.postMessage({ t: 'durable', id: m.id } satisfies ToZoneThread);
        });
        return;
      default:
        return;
    }
  }
}

/** Pack one zone's gateway batch: per delivery u32 entityId, u8 droppable, u32 length, bytes. */
export function packBatch(w: Writer, batch: GatewayBatch): ArrayBuffer {
  w.reset();
  for (const d of batch.deliveries) {
    w.u32(d.entityId);
    w.u8(d.droppable ? 1 : 0);
    w.u32(d.bytes.length);
    w.bytes(d.bytes);
  }
  return w.toBytes().buffer as ArrayBuffer;
}

export function unpackBatch(zone: ZoneId, buf: ArrayBuffer, kicks: KickOrder[]): GatewayBatch {
  const r = new Reader(new Uint8Array(buf));
  const deliveries: Delivery[] = [];
  while (r.remaining > 0) {
    const entityId = r.u32();
    const droppable = r.u8() === 1;
    const len = r.u32();
    const at = r.offset;
    r.bytes(len);
    // A view, not a copy: ws sends Buffers as they are.
    deliveries.push({ entityId, droppable, bytes: Buffer.from(buf, at, len) });
  }
  return { zone, deliveries, kicks };
}

/**
 * Zone-thread side: relays the network thread's messages onto the zone thread's bus, and this
 * bus's gateway batches back, packed.
 */
export function bridgeZoneThread(opts: {
  port: MessagePort;
  bus: Bus;
  gatewayId: string;
  onRequest: (what: ZoneThreadRequest, arg: unknown) => Promise<unknown> | unknown;
  onStop: () => Promise<void>;
}): { characters: CharacterSink } {
  const { port, bus, gatewayId } = opts;
  const packer = new Writer(64 * 1024);
  const zones = new Map<number, Map<number, ZoneId>>();
  const zoneOf = (lo: number, hi: number): ZoneId => {
    let byLo = zones.get(hi);
    if (!byLo) zones.set(hi, (byLo = new Map()));
    let z = byLo.get(lo);
    if (z === undefined) byLo.set(lo, (z = wordsToZone(lo, hi)));
    return z;
  };
  // Characters cross to the network thread, where persistence lives; a critical save's promise
  // settles when the network thread reports it durable.
  const criticals = new Map<number, () => void>();
  let nextCritical = 1;
  const characters: CharacterSink = {
    left: (playerId, save) => port.postMessage({ t: 'left', playerId, save } satisfies FromZoneThread),
    critical: (save) =>
      new Promise<void>((resolve) => {
        const id = nextCritical++;
        criticals.set(id, resolve);
        port.postMessage({ t: 'critical', id, save } satisfies FromZoneThread);
      }),
  };
  bus.serveGateway(gatewayId, (batch) => {
    const buf = packBatch(packer, batch);
    port.postMessage({ t: 'batch', gatewayId, zone: batch.zone, buf, kicks: batch.kicks } satisfies FromZoneThread, [buf]);
  });
  port.on('message', (m: ToZoneThread) => {
    switch (m.t) {
      case 'in': {
        const r = new Reader(new Uint8Array(m.buf));
        while (r.remaining > 0) {
          const kind = r.u8();
          const entityId = r.u32();
          const zone = zoneOf(r.u32(), r.u32());
          if (kind === RECORD_LEAVE) {
            bus.sendToZone(zone, { kind: 'leave', entityId });
            continue;
          }
          const ackFrame = r.u32();
          const count = r.u8();
          const inputs: WireInput[] = [];
          for (let i = 0; i < count; i++) {
            const seq = r.u32();
            const dtMs = r.u16();
            const eastCms = r.i32();
            const northCms = r.i32();
            const upCms = r.i32();
            const n = r.u8();
            const actions: number[] = [];
            for (let k = 0; k < n; k++) actions.push(r.u8());
            inputs.push({ seq, dtMs, eastCms, northCms, upCms, actions });
          }
          bus.sendToZone(zone, { kind: 'inputs', entityId, ackFrame, inputs });
        }
        return;
      }
      case 'offer':
        void bus.offerEntity(m.zone, m.offer).then((answer) => {
          port.postMessage({ t: 'answer', id: m.id, answer } satisfies FromZoneThread);
        });
        return;
      case 'request':
        void Promise.resolve(opts.onRequest(m.what, m.arg)).then((body) => {
          port.postMessage({ t: 'reply', id: m.id, body } satisfies FromZoneThread);
        });
        return;
      case 'durable': {
        const done = criticals.get(m.id);
        criticals.delete(m.id);
        done?.();
        return;
      }
      case 'stop':
        void opts.onStop().then(() => {
          port.postMessage({ t: 'stopped' } satisfies FromZoneThread);
          port.close();
        });
        return;
    }
  });
  return { characters };
}
