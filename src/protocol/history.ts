// Ring of recent per-client frame states, keyed by frame seq. The server keeps the frames it
// sent (a delta is built against whichever one the client acks); the client keeps the frames it
// received until they can no longer be a baseline. Storage is pooled per slot so steady state
// allocates nothing.
import type { FrameState, OwnState } from './types.ts';
import { SNAPSHOT_STRIDE } from './types.ts';

/** Plain serialisable form, oldest frame first. `own` is [latE7, lonE7, altCm, heading16, action, actionSeq]. */
export interface FrameHistoryJSON {
  capacity: number;
  latestSeq: number;
  frames: FrameJSON[];
}

export interface FrameJSON {
  seq: number;
  own: [number, number, number, number, number, number];
  /** The frame's lastInputSeq (u32). */
  lastInputSeq: number;
  /** Entity count; data holds count * SNAPSHOT_STRIDE int32s. */
  count: number;
  data: number[];
}

interface Slot {
  seq: number; // 0 = empty
  state: FrameState; // handed out by get(); its data array is replaced only when it must grow
}

function newSlot(): Slot {
  const own: OwnState = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 };
  return { seq: 0, state: { own, entities: { count: 0, data: new Int32Array(0) }, lastInputSeq: 0 } };
}

export class FrameHistory {
  readonly capacity: number;
  private readonly slots: Slot[];
  /** Ring index of the oldest stored frame; frames occupy head, head+1, ... (mod capacity). */
  private head = 0;
  private stored = 0;
  private latest = 0;
  /** Build space for writable()/commit(), created on first use. */
  private spare: Slot | undefined;

  /**
   * Retains the last `capacity` frames put (not the last `capacity` seq numbers), so gaps in
   * seq do not shorten how far back a baseline can be found.
   */
  constructor(capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.slots = [];
    for (let i = 0; i < capacity; i++) this.slots.push(newSlot());
  }

  /** Number of frames currently held. */
  get size(): number {
    return this.stored;
  }

  /** Highest seq put since construction or clear() (0 if none); eviction and dropBefore do not lower it. */
  get latestSeq(): number {
    return this.latest;
  }

  /** Seq of the oldest frame still held, or 0 when empty. */
  get oldestSeq(): number {
    return this.stored === 0 ? 0 : this.slots[this.head]!.seq;
  }

  /**
   * Copies `state` into the ring under `seq`, evicting the oldest frame when full. Seq 0 is
   * reserved by the protocol for "no baseline", so seq must be a safe integer > latestSeq >= 0.
   * The caller keeps ownership of `state`; nothing of it is retained.
   */
  put(seq: number, state: FrameState): void {
    if (!Number.isSafeInteger(seq) || seq <= this.latest) {
      throw new RangeError(`frame seq must increase: got ${seq} after ${this.latest}`);
    }
    const src = state.entities;
    const n = src.count * SNAPSHOT_STRIDE;
    if (!Number.isInteger(src.count) || src.count < 0 || src.data.length < n) {
      throw new RangeError(`entity snapshot count ${src.count} does not fit data of length ${src.data.length}`);
    }
    let idx: number;
    if (this.stored < this.capacity) {
      idx = (this.head + this.stored) % this.capacity;
      this.stored++;
    } else {
      idx = this.head;
      this.head = (this.head + 1) % this.capacity;
    }
    const slot = this.slots[idx]!;
    const dst = slot.state.entities;
    if (dst.data.length < n) {
      // Grow with headroom so a slowly growing crowd does not reallocate every frame.
      dst.data = new Int32Array(Math.max(n, dst.data.length * 2, SNAPSHOT_STRIDE * 16));
    }
    const out = dst.data;
    const data = src.data;
    out.set(data.length === n ? data : data.subarray(0, n));
    dst.count = src.count;
    copyOwn(slot.state.own, state.own);
    slot.state.lastInputSeq = state.lastInputSeq;
    slot.seq = seq;
    this.latest = seq;
  }

  /**
   * Storage to build the next frame in place (e.g. decodeFrameInto), then store with commit()
   * instead of copying it in with put(). It is never a stored frame, so it cannot alias a
   * baseline obtained from get(). The same object is returned until commit() takes it.
   */
  writable(): FrameState {
    if (this.spare === undefined) this.spare = newSlot();
    return this.spare.state;
  }

  /**
   * Stores the writable() state under `seq` without copying (same seq rules and eviction as
   * put()); the slot it replaces becomes the next writable() state.
   */
  commit(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= this.latest) {
      throw new RangeError(`frame seq must increase: got ${seq} after ${this.latest}`);
    }
    const spare = this.spare;
    if (spare === undefined) throw new Error('commit() without writable()');
    const src = spare.state.entities;
    if (!Number.isInteger(src.count) || src.count < 0 || src.data.length < src.count * SNAPSHOT_STRIDE) {
      throw new RangeError(`entity snapshot count ${src.count} does not fit data of length ${src.data.length}`);
    }
    const cap = this.capacity;
    let idx: number;
    if (this.stored < cap) {
      idx = (this.head + this.stored) % cap;
      this.stored++;
    } else {
      idx = this.head;
      this.head = (this.head + 1) % cap;
    }
    let free = this.slots[idx]!;
    free.seq = 0;
    spare.seq = seq;
    this.slots[idx] = spare;
    if (this.stored < cap) {
      // Empty positions are interchangeable: take the most recently dropped slot (just behind
      // head, still in cache) as the next build slot rather than the one the ring reached,
      // which was last used `capacity` frames ago. A client that drops as it goes then cycles
      // through a few warm slots instead of all of them.
      const back = (this.head + cap - 1) % cap;
      const warm = this.slots[back]!;
      this.slots[back] = free;
      free = warm;
    }
    this.spare = free;
    this.latest = seq;
  }

  /**
   * The frame stored under `seq`, or undefined if never stored or already evicted/dropped.
   * The returned object belongs to the ring: treat it as read-only; it stays valid until its
   * slot is reused. When the ring is full the next put() reuses the OLDEST frame's slot, so
   * finish with a baseline obtained from get() before calling put() (or dropBefore the ack first).
   */
  get(seq: number): FrameState | undefined {
    const i = this.find(seq);
    return i < 0 ? undefined : this.slots[i]!.state;
  }

  has(seq: number): boolean {
    return this.find(seq) >= 0;
  }

  /** Forgets every frame with seq < `seq` (e.g. older than the client's latest ack). */
  dropBefore(seq: number): void {
    while (this.stored > 0 && this.slots[this.head]!.seq < seq) {
      this.slots[this.head]!.seq = 0;
      this.head = (this.head + 1) % this.capacity;
      this.stored--;
    }
  }

  /** Forgets everything, including latestSeq, so seq numbering may restart (e.g. a new zone). */
  clear(): void {
    for (const s of this.slots) s.seq = 0;
    this.head = 0;
    this.stored = 0;
    this.latest = 0;
  }

  toJSON(): FrameHistoryJSON {
    const frames: FrameJSON[] = [];
    for (let k = 0; k < this.stored; k++) {
      const slot = this.slots[(this.head + k) % this.capacity]!;
      const { own, entities } = slot.state;
      const data = Array.from(entities.data.subarray(0, entities.count * SNAPSHOT_STRIDE));
      frames.push({
        seq: slot.seq,
        own: [own.latE7, own.lonE7, own.altCm, own.heading16, own.action, own.actionSeq],
        lastInputSeq: slot.state.lastInputSeq,
        count: entities.count,
        data,
      });
    }
    return { capacity: this.capacity, latestSeq: this.latest, frames };
  }

  /** Rebuilds a history from toJSON() output (possibly parsed from untrusted JSON); throws on malformed input. */
  static fromJSON(json: unknown): FrameHistory {
    if (typeof json !== 'object' || json === null) throw new TypeError('FrameHistory JSON must be an object');
    const o = json as Record<string, unknown>;
    const capacity = o['capacity'];
    const latestSeq = o['latestSeq'];
    const frames = o['frames'];
    if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) {
      throw new TypeError('FrameHistory JSON: bad capacity');
    }
    if (typeof latestSeq !== 'number' || !Number.isSafeInteger(latestSeq) || latestSeq < 0) {
      throw new TypeError('FrameHistory JSON: bad latestSeq');
    }
    if (!Array.isArray(frames) || frames.length > capacity) throw new TypeError('FrameHistory JSON: bad frames');
    const h = new FrameHistory(capacity);
    const scratch: FrameState = {
      own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 },
      entities: { count: 0, data: new Int32Array(0) },
      lastInputSeq: 0,
    };
    for (const f of frames as unknown[]) {
      if (typeof f !== 'object' || f === null) throw new TypeError('FrameHistory JSON: bad frame');
      const fr = f as Record<string, unknown>;
      const seq = fr['seq'];
      const own = fr['own'];
      const count = fr['count'];
      const data = fr['data'];
      const lastInputSeq = fr['lastInputSeq'];
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= h.latest) {
        throw new TypeError('FrameHistory JSON: frame seqs must be increasing integers >= 1');
      }
      if (!isIntArray(own) || own.length !== 6) throw new TypeError('FrameHistory JSON: bad own state');
      if (typeof lastInputSeq !== 'number' || lastInputSeq >>> 0 !== lastInputSeq) {
        throw new TypeError('FrameHistory JSON: bad lastInputSeq');
      }
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new TypeError('FrameHistory JSON: bad count');
      if (!isIntArray(data) || data.length !== count * SNAPSHOT_STRIDE || data.some(isNotInt32)) {
        throw new TypeError('FrameHistory JSON: bad entity data');
      }
      const [latE7, lonE7, altCm, heading16, action, actionSeq] = own as [number, number, number, number, number, number];
      scratch.own = { latE7, lonE7, altCm, heading16, action, actionSeq };
      scratch.entities = { count, data: Int32Array.from(data) };
      scratch.lastInputSeq = lastInputSeq;
      h.put(seq, scratch);
    }
    if (latestSeq < h.latest) throw new TypeError('FrameHistory JSON: latestSeq below a stored frame');
    h.latest = latestSeq;
    return h;
  }

  /** Ring index holding `seq`, or -1. Seqs increase along the ring, so binary search. */
  private find(seq: number): number {
    if (!Number.isSafeInteger(seq)) return -1; // NaN would otherwise compare as "equal" below
    let lo = 0;
    let hi = this.stored - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const idx = (this.head + mid) % this.capacity;
      const s = this.slots[idx]!.seq;
      if (s < seq) lo = mid + 1;
      else if (s > seq) hi = mid - 1;
      else return idx;
    }
    return -1;
  }
}

function copyOwn(dst: OwnState, src: OwnState): void {
  dst.latE7 = src.latE7;
  dst.lonE7 = src.lonE7;
  dst.altCm = src.altCm;
  dst.heading16 = src.heading16;
  dst.action = src.action;
  dst.actionSeq = src.actionSeq;
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x));
}

function isNotInt32(v: number): boolean {
  return (v | 0) !== v;
}
