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

/** A slot's state is handed out by get(); its data array is replaced only when it must grow. */
function newState(): FrameState {
  const own: OwnState = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 };
  return { own, entities: { count: 0, data: new Int32Array(0) }, lastInputSeq: 0 };
}

export class FrameHistory {
  readonly capacity: number;
  private readonly states: FrameState[];
  /**
   * Seq held by each ring position (0 = empty), apart from the states: lookups then read one
   * small typed array instead of chasing a pointer per probe, which matters when many histories
   * (a bots process holds one per client) are each touched once per tick, out of cache.
   */
  private readonly seqs: Float64Array;
  /** Ring index of the oldest stored frame; frames occupy head, head+1, ... (mod capacity). */
  private head = 0;
  private stored = 0;
  private latest = 0;
  /** Build space for writable()/commit(), created on first use. */
  private spare: FrameState | undefined;

  /**
   * Retains the last `capacity` frames put (not the last `capacity` seq numbers), so gaps in
   * seq do not shorten how far back a baseline can be found.
   */
  constructor(capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.states = [];
    for (let i = 0; i < capacity; i++) this.states.push(newState());
    this.seqs = new Float64Array(capacity);
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
    return this.stored === 0 ? 0 : this.seqs[this.head]!;
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
    const idx = this.claim();
    const slot = this.states[idx]!;
    const dst = slot.entities;
    if (dst.data.length < n) {
      // Grow with headroom so a slowly growing crowd does not reallocate every frame.
      dst.data = new Int32Array(Math.max(n, dst.data.length * 2, SNAPSHOT_STRIDE * 16));
    }
    const out = dst.data;
    const data = src.data;
    out.set(data.length === n ? data : data.subarray(0, n));
    dst.count = src.count;
    copyOwn(slot.own, state.own);
    slot.lastInputSeq = state.lastInputSeq;
    this.seqs[idx] = seq;
    this.latest = seq;
  }

  /** Ring position for the next frame: the next free one, or the oldest frame's (evicted). */
  private claim(): number {
    const cap = this.capacity;
    let idx = this.head + this.stored;
    if (idx >= cap) idx -= cap;
    if (this.stored < cap) {
      this.stored++;
    } else {
      idx = this.head;
      this.head = idx + 1 === cap ? 0 : idx + 1;
    }
    return idx;
  }

  /**
   * Storage to build the next frame in place (e.g. decodeFrameInto), then store with commit()
   * instead of copying it in with put(). It is never a stored frame, so it cannot alias a
   * baseline obtained from get(). The same object is returned until commit() takes it.
   */
  writable(): FrameState {
    if (this.spare === undefined) this.spare = newState();
    return this.spare;
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
    const src = spare.entities;
    if (!Number.isInteger(src.count) || src.count < 0 || src.data.length < src.count * SNAPSHOT_STRIDE) {
      throw new RangeError(`entity snapshot count ${src.count} does not fit data of length ${src.data.length}`);
    }
    const cap = this.capacity;
    const idx = this.claim();
    let free = this.states[idx]!;
    this.states[idx] = spare;
    this.seqs[idx] = seq;
    if (this.stored < cap) {
      // Empty positions are interchangeable: take the most recently dropped slot (just behind
      // head, still in cache) as the next build slot rather than the one the ring reached,
      // which was last used `capacity` frames ago. A client that drops as it goes then cycles
      // through a few warm slots instead of all of them.
      const back = (this.head + cap - 1) % cap;
      const warm = this.states[back]!;
      this.states[back] = free;
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
    return i < 0 ? undefined : this.states[i]!;
  }

  has(seq: number): boolean {
    return this.find(seq) >= 0;
  }

  /** Forgets every frame with seq < `seq` (e.g. older than the client's latest ack). */
  dropBefore(seq: number): void {
    while (this.stored > 0 && this.seqs[this.head]! < seq) {
      this.seqs[this.head] = 0;
      this.head = (this.head + 1) % this.capacity;
      this.stored--;
    }
  }

  /** Forgets everything, including latestSeq, so seq numbering may restart (e.g. a new zone). */
  clear(): void {
    this.seqs.fill(0);
    this.head = 0;
    this.stored = 0;
    this.latest = 0;
  }

  toJSON(): FrameHistoryJSON {
    const frames: FrameJSON[] = [];
    for (let k = 0; k < this.stored; k++) {
      const idx = (this.head + k) % this.capacity;
      const { own, entities, lastInputSeq } = this.states[idx]!;
      const data = Array.from(entities.data.subarray(0, entities.count * SNAPSHOT_STRIDE));
      frames.push({
        seq: this.seqs[idx]!,
        own: [own.latE7, own.lonE7, own.altCm, own.heading16, own.action, own.actionSeq],
        lastInputSeq,
        count: entities.count,
        data,
      });
    }
    return { capacity: this.capacity, latestSeq: this.latest, frames };
  }

  /** Rebuilds a history from toJSON() output (possibly parsed from untrusted JSON); throws on malformed input. */
  static fromJSON(json: unknown): FrameHistory {
    const scratch: FrameState = {
      own: { latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 },
      entities: { count: 0, data: new Int32Array(0) },
      lastInputSeq: 0,
    };
    let h: FrameHistory | undefined;
    const latestSeq = readHistoryJSON(
      json,
      (capacity) => (h = new FrameHistory(capacity)),
      (seq, own, lastInputSeq, count, data) => {
        const [latE7, lonE7, altCm, heading16, action, actionSeq] = own;
        scratch.own = { latE7, lonE7, altCm, heading16, action, actionSeq };
        scratch.entities = { count, data: Int32Array.from(data) };
        scratch.lastInputSeq = lastInputSeq;
        h!.put(seq, scratch);
      },
    );
    h!.latest = latestSeq;
    return h!;
  }

  /**
   * Ring index holding `seq`, or -1. Seqs increase along the ring. A sender stores consecutive
   * seqs, so the position is first computed from the newest frame's seq (one probe); only when
   * that misses (gaps in seq) is the ring binary searched.
   */
  private find(seq: number): number {
    if (!Number.isSafeInteger(seq)) return -1; // NaN would otherwise compare as "equal" below
    const stored = this.stored;
    if (stored === 0) return -1;
    const cap = this.capacity;
    const seqs = this.seqs;
    const head = this.head;
    let newest = head + stored - 1;
    if (newest >= cap) newest -= cap;
    const back = seqs[newest]! - seq;
    if (back >= 0 && back < stored) {
      let idx = newest - back;
      if (idx < 0) idx += cap;
      if (seqs[idx] === seq) return idx;
    }
    let lo = 0;
    let hi = stored - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let idx = head + mid;
      if (idx >= cap) idx -= cap;
      const s = seqs[idx]!;
      if (s < seq) lo = mid + 1;
      else if (s > seq) hi = mid - 1;
      else return idx;
    }
    return -1;
  }
}

/**
 * Ints at the start of each FrameRing slot: seq (low, high 32 bits), entity count, own state (6),
 * lastInputSeq (u32 stored as int32).
 */
const RING_HDR = 10;
const RING_SEQ_HI = 1;
const RING_COUNT = 2;
const RING_OWN = 3;
const RING_INPUT = 9;
const TWO_32 = 2 ** 32;

/**
 * The sender's ring of frames, flat: one Int32Array holds the ring order and every slot (a
 * header of seq, entity count and own state, then the entity rows), so a server finding a
 * client's baseline and previous frame and writing its next one touches one array instead of a
 * few objects per frame. It is touched for every client every tick and is rarely still in cache,
 * so fewer objects is fewer waits on memory. Same retention as FrameHistory (the last `capacity`
 * frames committed) and the same JSON form, so either can be rebuilt from the other's toJSON().
 * Slots are addressed by number; offsets into `data` come from ownAt() and rowsAt().
 */
export class FrameRing {
  readonly capacity: number;
  /** [0, capacity): physical slot of each ring position; then capacity + 1 slots of `stride` ints. */
  private arena: Int32Array;
  /** Entity rows each slot can hold; grows (for every slot) when a frame needs more. */
  private rowCap: number;
  private stride: number;
  /** Ring position of the oldest frame; frames occupy head, head + 1, ... (mod capacity). */
  private head = 0;
  private stored = 0;
  private latest = 0;
  /** The slot that is not in the ring: the next frame is built there. */
  private spare: number;

  constructor(capacity = 32, rowCapacity = 16) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.rowCap = Math.max(1, rowCapacity);
    this.stride = RING_HDR + this.rowCap * SNAPSHOT_STRIDE;
    this.arena = new Int32Array(capacity + (capacity + 1) * this.stride);
    for (let i = 0; i < capacity; i++) this.arena[i] = i;
    this.spare = capacity;
  }

  /** The storage ownAt() and rowsAt() index; replaced when build() grows it. */
  get data(): Int32Array {
    return this.arena;
  }

  /** Number of frames held. */
  get size(): number {
    return this.stored;
  }

  /** Highest seq committed (or restored by fromJSON); 0 if none. */
  get latestSeq(): number {
    return this.latest;
  }

  /** Offset in `data` of a slot's own state: latE7, lonE7, altCm, heading16, action, actionSeq. */
  ownAt(slot: number): number {
    return this.capacity + slot * this.stride + RING_OWN;
  }

  /** Offset in `data` of a slot's entity rows (SNAPSHOT_STRIDE int32s each, ids ascending). */
  rowsAt(slot: number): number {
    return this.capacity + slot * this.stride + RING_HDR;
  }

  countOf(slot: number): number {
    return this.arena[this.capacity + slot * this.stride + RING_COUNT]!;
  }

  /** The lastInputSeq a slot's frame carried (set by commit). */
  lastInputOf(slot: number): number {
    return this.arena[this.capacity + slot * this.stride + RING_INPUT]! >>> 0;
  }

  /** The slot of the newest frame, or -1 when empty. */
  newest(): number {
    if (this.stored === 0) return -1;
    let pos = this.head + this.stored - 1;
    if (pos >= this.capacity) pos -= this.capacity;
    return this.arena[pos]!;
  }

  /** The slot holding frame `seq`, or -1 (never stored, or evicted). */
  find(seq: number): number {
    const stored = this.stored;
    if (stored === 0 || !Number.isSafeInteger(seq)) return -1;
    const cap = this.capacity;
    const a = this.arena;
    const head = this.head;
    // Frames are committed with consecutive seqs, so the position is computed from the newest
    // frame's seq first; a binary search only when seqs had gaps.
    let pos = head + stored - 1;
    if (pos >= cap) pos -= cap;
    const back = this.seqOf(a[pos]!) - seq;
    if (back >= 0 && back < stored) {
      let p = pos - back;
      if (p < 0) p += cap;
      const slot = a[p]!;
      if (this.seqOf(slot) === seq) return slot;
    }
    let lo = 0;
    let hi = stored - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let p = head + mid;
      if (p >= cap) p -= cap;
      const slot = a[p]!;
      const s = this.seqOf(slot);
      if (s < seq) lo = mid + 1;
      else if (s > seq) hi = mid - 1;
      else return slot;
    }
    return -1;
  }

  /**
   * The slot to build the next frame in, able to hold `rows` entities. It is never a stored
   * frame, so it cannot alias a baseline. Growing moves every offset: take offsets after this.
   */
  build(rows: number): number {
    if (rows > this.rowCap) this.grow(Math.max(rows, this.rowCap * 2));
    return this.spare;
  }

  /**
   * Stores the built slot (own state and `count` rows written) as frame `seq`, evicting the
   * oldest frame when full. seq must be a safe integer > latestSeq.
   */
  commit(seq: number, count: number, lastInputSeq: number): void {
    // The errors are built out of line (see seqError).
    if (!Number.isSafeInteger(seq) || seq <= this.latest) seqError(seq, this.latest);
    if (!Number.isInteger(count) || count < 0 || count > this.rowCap) countError(count, this.rowCap);
    if (lastInputSeq >>> 0 !== lastInputSeq) inputSeqError(lastInputSeq);
    const a = this.arena;
    const cap = this.capacity;
    let pos = this.head + this.stored;
    if (pos >= cap) pos -= cap;
    if (this.stored < cap) {
      this.stored++;
    } else {
      pos = this.head;
      this.head = pos + 1 === cap ? 0 : pos + 1;
    }
    const slot = this.spare;
    this.spare = a[pos]!;
    a[pos] = slot;
    const h = cap + slot * this.stride;
    a[h] = seq % TWO_32;
    a[h + RING_SEQ_HI] = Math.floor(seq / TWO_32);
    a[h + RING_COUNT] = count;
    a[h + RING_INPUT] = lastInputSeq | 0;
    this.latest = seq;
  }

  /** Same form as FrameHistory.toJSON(), oldest frame first. */
  toJSON(): FrameHistoryJSON {
    const a = this.arena;
    const frames: FrameJSON[] = [];
    for (let k = 0; k < this.stored; k++) {
      const slot = a[(this.head + k) % this.capacity]!;
      const o = this.ownAt(slot);
      const r = this.rowsAt(slot);
      const count = this.countOf(slot);
      frames.push({
        seq: this.seqOf(slot),
        own: [a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!],
        lastInputSeq: this.lastInputOf(slot),
        count,
        data: Array.from(a.subarray(r, r + count * SNAPSHOT_STRIDE)),
      });
    }
    return { capacity: this.capacity, latestSeq: this.latest, frames };
  }

  /**
   * Rebuilds a ring from FrameHistory/FrameRing toJSON() output (possibly untrusted); throws on
   * malformed input, including own state outside int32 (a pose never is).
   */
  static fromJSON(json: unknown): FrameRing {
    let capacity = 0;
    const frames: Array<{ seq: number; own: OwnTuple; lastInputSeq: number; count: number; data: number[] }> = [];
    const latestSeq = readHistoryJSON(
      json,
      (c) => (capacity = c),
      (seq, own, lastInputSeq, count, data) => {
        if (own.some(isNotInt32)) throw new TypeError('FrameHistory JSON: bad own state');
        frames.push({ seq, own, lastInputSeq, count, data });
      },
    );
    // Sized for what it holds (slots are preallocated, so not 16 rows each for a huge capacity).
    let rows = capacity <= 64 ? 16 : 1;
    for (const f of frames) if (f.count > rows) rows = f.count;
    const ring = new FrameRing(capacity, rows);
    const a = ring.arena;
    for (const f of frames) {
      const slot = ring.build(f.count);
      const o = ring.ownAt(slot);
      for (let i = 0; i < 6; i++) a[o + i] = f.own[i]!;
      a.set(f.data, ring.rowsAt(slot));
      ring.commit(f.seq, f.count, f.lastInputSeq);
    }
    ring.latest = latestSeq;
    return ring;
  }

  private seqOf(slot: number): number {
    const h = this.capacity + slot * this.stride;
    return this.arena[h + RING_SEQ_HI]! * TWO_32 + (this.arena[h]! >>> 0);
  }

  private grow(rows: number): void {
    const cap = this.capacity;
    const stride = RING_HDR + rows * SNAPSHOT_STRIDE;
    const next = new Int32Array(cap + (cap + 1) * stride);
    const a = this.arena;
    next.set(a.subarray(0, cap));
    for (let slot = 0; slot <= cap; slot++) {
      const from = cap + slot * this.stride;
      const used = RING_HDR + this.countOf(slot) * SNAPSHOT_STRIDE;
      next.set(a.subarray(from, from + used), cap + slot * stride);
    }
    this.arena = next;
    this.rowCap = rows;
    this.stride = stride;
  }
}

// A template literal with a number in a function called for every frame costs a NumberToString
// on every call in V8, thrown or not (measured: one per frame in the zone's sendFrame): build
// the messages of FrameRing.commit's errors here instead.
function seqError(seq: number, latest: number): never {
  throw new RangeError(`frame seq must increase: got ${seq} after ${latest}`);
}

function countError(count: number, rowCap: number): never {
  throw new RangeError(`entity count ${count} does not fit ${rowCap} rows`);
}

function inputSeqError(lastInputSeq: number): never {
  throw new RangeError(`lastInputSeq out of u32: ${lastInputSeq}`);
}

type OwnTuple = [latE7: number, lonE7: number, altCm: number, heading16: number, action: number, actionSeq: number];

/**
 * Validates FrameHistoryJSON (possibly parsed from untrusted JSON): `create` gets the capacity,
 * then `frame` each frame, oldest first, with seqs checked to increase. Returns latestSeq, which
 * must not be below a stored frame. Throws TypeError on malformed input.
 */
function readHistoryJSON(
  json: unknown,
  create: (capacity: number) => void,
  frame: (seq: number, own: OwnTuple, lastInputSeq: number, count: number, data: number[]) => void,
): number {
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
  create(capacity);
  let last = 0;
  for (const f of frames as unknown[]) {
    if (typeof f !== 'object' || f === null) throw new TypeError('FrameHistory JSON: bad frame');
    const fr = f as Record<string, unknown>;
    const seq = fr['seq'];
    const own = fr['own'];
    const count = fr['count'];
    const data = fr['data'];
    const lastInputSeq = fr['lastInputSeq'];
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= last) {
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
    frame(seq, own as OwnTuple, lastInputSeq, count, data);
    last = seq;
  }
  if (latestSeq < last) throw new TypeError('FrameHistory JSON: latestSeq below a stored frame');
  return latestSeq;
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
