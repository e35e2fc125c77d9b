// Remote entities are drawn a little in the past, between two authoritative samples, so that
// late or uneven frames do not show as stalls or jumps. Two parts:
// - PlaybackClock: the time line entities are drawn at. It follows the frames' own server
//   timestamps as they arrive (not the ping-synchronised clock: frames are one-way latency old
//   when they arrive), sits `delay` behind the freshest arrival, and steers by speeding up or
//   slowing down a little rather than jumping. The delay grows with measured arrival jitter.
// - RemoteEntity: a small ring of samples per entity (only when the entity changed), and the
//   interpolated pose at a playback time. Its numbers live in an EntityPool, one per client.
// Allocation-free per frame and per render once entities exist.
import { SnapshotField, SNAPSHOT_STRIDE } from '../protocol/types.ts';

/** Frames whose arrival lateness is remembered for the jitter estimate. */
const JITTER_WINDOW = 64;
/** Steering: playback runs at 1 +- this rate while catching up with its target. */
const SLEW = 0.1;
/** Further from the target than this and playback jumps instead of steering. */
const SNAP_MS = 400;

export class PlaybackClock {
  /** Configured minimum delay (ms). */
  readonly baseDelayMs: number;
  /** Current delay behind the freshest frames (ms): baseDelayMs or more with jitter. */
  delayMs: number;
  /** Spread of frame arrival lateness over the last JITTER_WINDOW frames (ms). */
  jitterMs = 0;
  private tickMs: number;
  private readonly lateness = new Float64Array(JITTER_WINDOW);
  private count = 0;
  private next = 0;
  /** Frame server time minus local arrival time, for the least-delayed recent frame. */
  private offset = NaN;
  private minLateness = NaN;
  private playback = NaN;
  private lastNow = NaN;

  constructor(baseDelayMs: number, tickMs: number) {
    this.baseDelayMs = baseDelayMs;
    this.delayMs = baseDelayMs;
    this.tickMs = tickMs;
  }

  setTickMs(tickMs: number): void {
    this.tickMs = tickMs;
  }

  /** Forget the time line (a new connection may come with a different server clock). */
  reset(): void {
    this.count = 0;
    this.next = 0;
    this.offset = NaN;
    this.playback = NaN;
    this.lastNow = NaN;
  }

  /** A frame stamped `serverTimeMs` (unwrapped) arrived at local time `nowMs`. */
  observe(serverTimeMs: number, nowMs: number): void {
    const d = serverTimeMs - nowMs; // larger = arrived sooner
    const full = this.count === JITTER_WINDOW;
    const out = this.lateness[this.next]!; // the value this one replaces (once the window is full)
    this.lateness[this.next] = d;
    this.next = (this.next + 1) & (JITTER_WINDOW - 1);
    if (!full) this.count++;
    let max = this.count === 1 ? d : Math.max(this.offset, d);
    let min = this.count === 1 ? d : Math.min(this.minLateness, d);
    if (full && (out === this.offset || out === this.minLateness) && out !== d) {
      // An extreme left the window: scan it again (only then; otherwise O(1) per frame).
      max = -Infinity;
      min = Infinity;
      for (let i = 0; i < JITTER_WINDOW; i++) {
        const v = this.lateness[i]!;
        if (v > max) max = v;
        if (v < min) min = v;
      }
    }
    this.offset = max;
    this.minLateness = min;
    this.jitterMs = max - min;
    // Frames come every tick; a frame up to jitterMs late must still find its successor there.
    const want = Math.max(this.baseDelayMs, this.tickMs + this.jitterMs + 5);
    // Grow at once (a stall costs more than a bit of extra latency), shrink slowly.
    this.delayMs = want > this.delayMs ? want : this.delayMs + (want - this.delayMs) * 0.02;
  }

  /** Where playback should be now, ignoring steering. */
  target(nowMs: number): number {
    return nowMs + this.offset - this.delayMs;
  }

  /** Playback time for a render at `nowMs` (monotonic unless it must jump). NaN before a frame. */
  time(nowMs: number): number {
    if (Number.isNaN(this.offset)) return NaN;
    const target = this.target(nowMs);
    if (Number.isNaN(this.playback) || !(nowMs >= this.lastNow)) {
      this.playback = target;
      this.lastNow = nowMs;
      return target;
    }
    const dt = nowMs - this.lastNow;
    this.lastNow = nowMs;
    let p = this.playback + dt;
    const err = target - p;
    if (err > SNAP_MS || err < -SNAP_MS) p = target;
    else {
      const step = dt * SLEW;
      p += err > step ? step : err < -step ? -step : err;
    }
    this.playback = p;
    return p;
  }
}

// The pool's layout (and the constants its per-entity code reads) as one const enum: esbuild
// (tsx, the web bundle) writes a member into the code as a literal, where a module-level const
// is a load from the module context, an untag and a Smi check at every use (TurboFan's code for
// pushRow), and these functions index typed arrays with them dozens of times per entity.
/* eslint-disable @typescript-eslint/no-duplicate-enum-values -- offsets and constants, not distinct choices */
const enum Layout {
  /** Samples kept per entity (power of two). */
  RING = 8,
  RMASK = RING - 1,
  F = 5, // t, latE6, lonE6, altDm, heading8
  LON_E6_SPAN = 360e6,
  LON_E6_HALF = 180e6,
  // Snapshot row layout (SnapshotField and SNAPSHOT_STRIDE: checked below).
  STRIDE = 8,
  COL_ID = 0,
  COL_KIND = 1,
  COL_LAT = 2,
  COL_LON = 3,
  COL_ALT = 4,
  COL_HEADING = 5,
  COL_ACTION = 6,
  COL_ACTION_SEQ = 7,
  // One entity's numbers, in an EntityPool slot, in two parts:
  // - hot (HOT_BYTES, seen as int32s from slot * I_HOT and doubles from slot * H_HOT): what every
  //   frame reads: the latest row as received (the snapshot layout, so a frame row compares with
  //   it column by column), the sample ring's bookkeeping and two times. A client's hot parts are
  //   contiguous, so a frame's walk over its entities reads a few adjacent cache lines;
  // - cold (COLD doubles from slot * COLD): the drawn pose, the render state (V_*) and the sample
  //   ring from R0, which a frame only writes to (a store does not wait for its line to arrive).
  HOT_BYTES = 64,
  I_HOT = HOT_BYTES / 4,
  H_HOT = HOT_BYTES / 8,
  /** Int32 slots after the row: samples stored (<= RING), index of the newest, FLAG_* bits. */
  I_N = STRIDE,
  I_HEAD = STRIDE + 1,
  I_FLAGS = STRIDE + 2,
  /** The client's list of its entities in ascending id order: the next one's slot, or -1. */
  I_NEXT = STRIDE + 3,
  /** Double slots of the hot part (over int32s 12-15): the newest sample's time, the last frame's. */
  H_NEWEST_T = 6,
  H_LAST_FRAME_T = 7,
  /** Has been drawn once. */
  FLAG_DRAWN = 1,
  /** Samples arrived since the last render. */
  FLAG_NEW = 2,
  /** The last render extrapolated (along V_EX_* up to V_EX_CAP). */
  FLAG_EX = 4,
  /** Client bookkeeping: the entity was not in the latest frame. */
  FLAG_MISSING = 8,
  // Slots of the cold part.
  V_LAT = 0,
  V_LON = 1,
  V_ALT = 2,
  V_HEADING = 3,
  V_O_LAT = 4,
  V_O_LON = 5,
  V_O_ALT = 6,
  V_P_LAT = 7,
  V_P_LON = 8,
  V_P_ALT = 9,
  V_LAST_T = 10,
  V_EX_T = 11,
  V_EX_CAP = 12,
  V_EX_V_LAT = 13,
  V_EX_V_LON = 14,
  V_EX_V_ALT = 15,
  V_LAST_EX_T = 16,
  V_LAST_EX_CAP = 17,
  V_LAST_V_LAT = 18,
  V_LAST_V_LON = 19,
  V_LAST_V_ALT = 20,
  /** First slot of the sample ring. */
  R0 = 21,
  COLD = R0 + RING * F,
  /** A correction offset above this (E6 degrees + dm, about 10 m) is dropped instead of worked off. */
  MAX_OFFSET = 100,
  /** A correction offset fades with this time constant while the entity stands still (ms). */
  OFFSET_FADE_MS = 150,
  /** Share of each render's own movement that may go to working off the offset (per axis). */
  WORK_OFF = 0.5,
  /** Slots of rawPose. */
  RAW_LAT = 0,
  RAW_LON = 1,
  RAW_ALT = 2,
  RAW_H = 3,
}
/* eslint-enable @typescript-eslint/no-duplicate-enum-values */
// The row layout above is the protocol's: tsc fails here if SnapshotField or SNAPSHOT_STRIDE change.
const _rowLayout: { readonly [K in keyof typeof SnapshotField]: (typeof SnapshotField)[K] } & { stride: typeof SNAPSHOT_STRIDE } = {
  id: Layout.COL_ID,
  kind: Layout.COL_KIND,
  latE6: Layout.COL_LAT,
  lonE6: Layout.COL_LON,
  altDm: Layout.COL_ALT,
  heading8: Layout.COL_HEADING,
  action: Layout.COL_ACTION,
  actionSeq: Layout.COL_ACTION_SEQ,
  stride: Layout.STRIDE,
};

function wrapLonE6(d: number): number {
  return d >= Layout.LON_E6_HALF ? d - Layout.LON_E6_SPAN : d < -Layout.LON_E6_HALF ? d + Layout.LON_E6_SPAN : d;
}

// The raw pose raw() computes for finish() within one sample() (E6 degrees, dm, 1/256 turn):
// module scratch rather than slots of the entity, whose cold part a render then reads less of.
// A typed array: a double stored in a module-level variable is boxed (a heap number per store).
const rawPose = new Float64Array(4);

/** Offset `o` after a render that moved the raw pose by `step` on this axis. */
function workOff(o: number, step: number, fade: number): number {
  if (o === 0) return 0;
  const budget = Layout.WORK_OFF * Math.abs(step);
  let r: number;
  if (budget > 0) r = o > 0 ? (o > budget ? o - budget : 0) : o < -budget ? o + budget : 0;
  else r = o * fade;
  return Math.abs(r) < 1e-3 ? 0 : r;
}

/**
 * @internal Storage for the entities of one client, in one buffer: a frame (and a render) walks
 * one contiguous block instead of an object, a typed array and its separately allocated
 * backing store per entity, which matters when a process holds thousands of clients with many
 * entities each (bots). Slots are reused (a freed one first: still in cache) and the buffer
 * doubles when full. The methods take a slot and do what RemoteEntity's do.
 */
export class EntityPool {
  /** Hot parts as int32s and as doubles (one buffer), cold parts. Replaced when the pool grows. */
  i: Int32Array;
  h: Float64Array;
  f: Float64Array;
  private free: Int32Array;
  private freeCount = 0;
  /** Slots ever handed out (the rest of the buffers is untouched). */
  private top = 0;
  private capacity: number;
  // The time arguments of pushRow() (set once per frame by beginFrame) and of sampleSlot(), kept
  // in fields: a double passed to a call that is not inlined is boxed (a heap number per call),
  // and the client makes these calls for every entity of every frame and render.
  private pushT = NaN;
  private pushHoldMs = 0;
  private pushPrevT = NaN;
  private sampleT = NaN;
  private sampleExMs = 0;
  private sampleSpanMs = 0;
  private sampleSeenAt = NaN;

  constructor(capacity = 16) {
    this.capacity = Math.max(1, capacity);
    const hot = new ArrayBuffer(this.capacity * Layout.HOT_BYTES);
    this.i = new Int32Array(hot);
    this.h = new Float64Array(hot);
    this.f = new Float64Array(this.capacity * Layout.COLD);
    this.free = new Int32Array(this.capacity);
  }

  /** A zeroed slot. */
  alloc(): number {
    let s: number;
    if (this.freeCount > 0) {
      s = this.free[--this.freeCount]!;
      this.h.fill(0, s * Layout.H_HOT, (s + 1) * Layout.H_HOT);
      this.f.fill(0, s * Layout.COLD, (s + 1) * Layout.COLD);
    } else {
      if (this.top === this.capacity) this.grow();
      s = this.top++;
    }
    return s;
  }

  release(slot: number): void {
    this.free[this.freeCount++] = slot;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const h = new Float64Array(cap * Layout.H_HOT);
    h.set(this.h);
    this.h = h;
    this.i = new Int32Array(h.buffer);
    const f = new Float64Array(cap * Layout.COLD);
    f.set(this.f);
    this.f = f;
    const free = new Int32Array(cap);
    free.set(this.free);
    this.free = free;
    this.capacity = cap;
  }

  /** Copies slot `s` of `from` into slot `to` of this pool. */
  copyFrom(from: EntityPool, s: number, to: number): void {
    this.h.set(from.h.subarray(s * Layout.H_HOT, (s + 1) * Layout.H_HOT), to * Layout.H_HOT);
    this.f.set(from.f.subarray(s * Layout.COLD, (s + 1) * Layout.COLD), to * Layout.COLD);
  }

  /** Entity id of slot `s` (as set by setId). */
  id(s: number): number {
    return this.i[s * Layout.I_HOT + Layout.COL_ID]!;
  }

  setId(s: number, id: number): void {
    this.i[s * Layout.I_HOT + Layout.COL_ID] = id;
  }

  /** The client's entity list (ascending ids) runs through the slots: the one after `s`, or -1. */
  next(s: number): number {
    return this.i[s * Layout.I_HOT + Layout.I_NEXT]!;
  }

  setNext(s: number, next: number): void {
    this.i[s * Layout.I_HOT + Layout.I_NEXT] = next;
  }

  missing(s: number): boolean {
    return (this.i[s * Layout.I_HOT + Layout.I_FLAGS]! & Layout.FLAG_MISSING) !== 0;
  }

  setMissing(s: number, missing: boolean): void {
    const k = s * Layout.I_HOT + Layout.I_FLAGS;
    this.i[k] = missing ? this.i[k]! | Layout.FLAG_MISSING : this.i[k]! & ~Layout.FLAG_MISSING;
  }

  lastFrameTime(s: number): number {
    return this.h[s * Layout.H_HOT + Layout.H_LAST_FRAME_T]!;
  }

  setLastFrameTime(s: number, t: number): void {
    this.h[s * Layout.H_HOT + Layout.H_LAST_FRAME_T] = t;
  }

  /** True when row `k` of `data` has the values slot `s` last received (id aside). */
  sameRow(s: number, data: Int32Array, k: number): boolean {
    const a = this.i;
    const r = s * Layout.I_HOT;
    const o = k * Layout.STRIDE;
    for (let c = 1; c < Layout.STRIDE; c++) if (data[o + c] !== a[r + c]) return false;
    return true;
  }

  /** RemoteEntity.push for slot `s` (the frame set by beginFrame, if any, is kept). */
  push(s: number, data: Int32Array, k: number, t: number, holdGapMs: number, prevFrameT: number): boolean {
    const frameT = this.pushT;
    const frameHoldMs = this.pushHoldMs;
    const framePrevT = this.pushPrevT;
    this.beginFrame(t, holdGapMs, prevFrameT);
    const changed = this.pushRow(s, data, k, false);
    this.beginFrame(frameT, frameHoldMs, framePrevT);
    return changed;
  }

  /** The frame pushRow() takes rows of: its time, the hold gap, the previous frame's time. */
  beginFrame(t: number, holdGapMs: number, prevFrameT: number): void {
    this.pushT = t;
    this.pushHoldMs = holdGapMs;
    this.pushPrevT = prevFrameT;
  }

  /**
   * push() of row `k` for slot `s` in the frame set by beginFrame(); `ownPrev`: the previous
   * frame that contained the entity is the slot's own lastFrameTime (it was missing from the
   * frames since), not the frame's previous one.
   */
  pushRow(s: number, data: Int32Array, k: number, ownPrev: boolean): boolean {
    const t = this.pushT;
    const holdGapMs = this.pushHoldMs;
    const prevFrameT = ownPrev ? this.h[s * Layout.H_HOT + Layout.H_LAST_FRAME_T]! : this.pushPrevT;
    const a = this.i;
    const r = s * Layout.I_HOT;
    const o = k * Layout.STRIDE;
    const latE6 = data[o + Layout.COL_LAT]!;
    const lonE6 = data[o + Layout.COL_LON]!;
    const altDm = data[o + Layout.COL_ALT]!;
    const heading8 = data[o + Layout.COL_HEADING]!;
    const kind = data[o + Layout.COL_KIND]!;
    const action = data[o + Layout.COL_ACTION]!;
    const actionSeq = data[o + Layout.COL_ACTION_SEQ]!;
    this.h[s * Layout.H_HOT + Layout.H_LAST_FRAME_T] = t;
    const first = a[r + Layout.I_N] === 0;
    const moved = first || latE6 !== a[r + Layout.COL_LAT] || lonE6 !== a[r + Layout.COL_LON] || altDm !== a[r + Layout.COL_ALT] || heading8 !== a[r + Layout.COL_HEADING];
    const changed = moved || kind !== a[r + Layout.COL_KIND] || action !== a[r + Layout.COL_ACTION] || actionSeq !== a[r + Layout.COL_ACTION_SEQ];
    a[r + Layout.COL_KIND] = kind;
    a[r + Layout.COL_ACTION] = action;
    a[r + Layout.COL_ACTION_SEQ] = actionSeq;
    if (!changed) return false;
    if (!moved) return true;
    if (!first) {
      const lastT = this.h[s * Layout.H_HOT + Layout.H_NEWEST_T]!;
      if (t - lastT > holdGapMs && prevFrameT > lastT && prevFrameT < t) {
        this.add(s, prevFrameT, a[r + Layout.COL_LAT]!, a[r + Layout.COL_LON]!, a[r + Layout.COL_ALT]!, a[r + Layout.COL_HEADING]!);
      }
    }
    a[r + Layout.COL_LAT] = latE6;
    a[r + Layout.COL_LON] = lonE6;
    a[r + Layout.COL_ALT] = altDm;
    a[r + Layout.COL_HEADING] = heading8;
    this.add(s, t, latE6, lonE6, altDm, heading8);
    if (first) this.sample(s, t, 0, 0, NaN);
    return true;
  }

  /** RemoteEntity.sampleAt for slot `s` (seenAt NaN: not known). */
  sample(s: number, t: number, extrapolateMs: number, maxSpanMs: number, seenAt: number): void {
    this.sampleT = t;
    this.sampleExMs = extrapolateMs;
    this.sampleSpanMs = maxSpanMs;
    this.sampleSeenAt = seenAt;
    this.sampleSlot(s);
  }

  /**
   * sample() for every slot of the list from `first` (see next()), with seenAt `frameT` for
   * those in the latest frame and NaN for those marked missing.
   */
  sampleList(first: number, t: number, extrapolateMs: number, maxSpanMs: number, frameT: number): void {
    this.sampleT = t;
    this.sampleExMs = extrapolateMs;
    this.sampleSpanMs = maxSpanMs;
    for (let s = first; s >= 0; s = this.i[s * Layout.I_HOT + Layout.I_NEXT]!) {
      this.sampleSeenAt = (this.i[s * Layout.I_HOT + Layout.I_FLAGS]! & Layout.FLAG_MISSING) !== 0 ? NaN : frameT;
      this.sampleSlot(s);
    }
  }

  /** sample() for slot `s` at sampleT, sampleExMs, sampleSpanMs, sampleSeenAt. */
  private sampleSlot(s: number): void {
    const t = this.sampleT;
    const extrapolateMs = this.sampleExMs;
    const maxSpanMs = this.sampleSpanMs;
    const seenAt = this.sampleSeenAt;
    const a = this.i;
    const r = s * Layout.I_HOT;
    const n = a[r + Layout.I_N]!;
    if (n === 0) return;
    const v = this.f;
    const b = s * Layout.COLD;
    const flags = a[r + Layout.I_FLAGS]!;
    const wasExtrapolating = (flags & Layout.FLAG_EX) !== 0;
    a[r + Layout.I_FLAGS] = flags & ~Layout.FLAG_EX;
    const own = this.h[s * Layout.H_HOT + Layout.H_LAST_FRAME_T]!;
    const lastFrameT = seenAt > own ? seenAt : own;
    const head = a[r + Layout.I_HEAD]!;
    const ring = b + Layout.R0;
    let hi = head;
    // Newest sample at or before t (walk back from the newest).
    let found = -1;
    for (let j = 0; j < n; j++) {
      const idx = (head - j + Layout.RING) & Layout.RMASK;
      if (v[ring + idx * Layout.F]! <= t) {
        found = idx;
        break;
      }
      hi = idx;
    }
    if (found < 0) {
      this.raw(b, hi, hi, 0); // before the oldest sample: hold it
    } else if (found === head) {
      const fo = ring + found * Layout.F;
      const th = v[fo]!;
      let held = true;
      if (extrapolateMs > 0 && n >= 2) {
        const prev = (found - 1 + Layout.RING) & Layout.RMASK;
        const po = ring + prev * Layout.F;
        const tp = v[po]!;
        const limit = th - tp + extrapolateMs;
        if (th > tp && th - tp <= maxSpanMs && lastFrameT < th + limit) {
          const cap = th + limit;
          const te = t > cap ? cap : t;
          this.raw(b, prev, found, (te - tp) / (th - tp));
          held = false;
          // Remember the line being followed, to compare with what the next samples say.
          const k = 1 / (th - tp);
          v[b + Layout.V_EX_V_LAT] = (v[fo + 1]! - v[po + 1]!) * k;
          v[b + Layout.V_EX_V_LON] = wrapLonE6(v[fo + 2]! - v[po + 2]!) * k;
          v[b + Layout.V_EX_V_ALT] = (v[fo + 3]! - v[po + 3]!) * k;
          v[b + Layout.V_EX_T] = t;
          v[b + Layout.V_EX_CAP] = cap;
          a[r + Layout.I_FLAGS]! |= Layout.FLAG_EX;
        }
      }
      if (held) this.raw(b, found, found, 0); // past the newest: hold
    } else {
      const ta = v[ring + found * Layout.F]!;
      const tb = v[ring + hi * Layout.F]!;
      this.raw(b, found, hi, tb > ta ? (t - ta) / (tb - ta) : 1);
    }
    this.finish(r, b, wasExtrapolating);
  }

  /** Pose of samples a..b at fraction f, into rawPose. */
  private raw(base: number, a: number, b: number, f: number): void {
    const s = this.f;
    const ia = base + Layout.R0 + a * Layout.F;
    const ib = base + Layout.R0 + b * Layout.F;
    const out = rawPose;
    out[Layout.RAW_LAT] = s[ia + 1]! + (s[ib + 1]! - s[ia + 1]!) * f;
    out[Layout.RAW_LON] = s[ia + 2]! + wrapLonE6(s[ib + 2]! - s[ia + 2]!) * f;
    out[Layout.RAW_ALT] = s[ia + 3]! + (s[ib + 3]! - s[ia + 3]!) * f;
    let dH = s[ib + 4]! - s[ia + 4]!;
    if (dH > 128) dH -= 256;
    else if (dH < -128) dH += 256;
    let h = s[ia + 4]! + dH * f;
    if (h < 0) h += 256;
    else if (h >= 256) h -= 256;
    out[Layout.RAW_H] = h;
  }

  /** Applies and works off the correction offset, then sets the drawn pose (at sampleT). */
  private finish(r: number, b: number, wasExtrapolating: boolean): void {
    const t = this.sampleT;
    const v = this.f;
    const a = this.i;
    const flags = a[r + Layout.I_FLAGS]!;
    const haveDrawn = (flags & Layout.FLAG_DRAWN) !== 0;
    const rLat = rawPose[Layout.RAW_LAT]!;
    const rLon = rawPose[Layout.RAW_LON]!;
    const rAlt = rawPose[Layout.RAW_ALT]!;
    const lastT = v[b + Layout.V_LAST_T]!;
    const dt = lastT > 0 && t > lastT ? t - lastT : 0;
    if ((flags & Layout.FLAG_NEW) !== 0 && wasExtrapolating && haveDrawn) {
      // Fresh samples after an extrapolation: where the old line would put the entity now,
      // minus where the samples do, becomes part of the offset.
      const te = t < v[b + Layout.V_LAST_EX_CAP]! ? t : v[b + Layout.V_LAST_EX_CAP]!;
      const d = te > v[b + Layout.V_LAST_EX_T]! ? te - v[b + Layout.V_LAST_EX_T]! : 0;
      const jLat = v[b + Layout.V_P_LAT]! + v[b + Layout.V_LAST_V_LAT]! * d - rLat;
      const jLon = wrapLonE6(v[b + Layout.V_P_LON]! + v[b + Layout.V_LAST_V_LON]! * d - rLon);
      const jAlt = v[b + Layout.V_P_ALT]! + v[b + Layout.V_LAST_V_ALT]! * d - rAlt;
      v[b + Layout.V_O_LAT] = v[b + Layout.V_O_LAT]! + jLat;
      v[b + Layout.V_O_LON] = v[b + Layout.V_O_LON]! + jLon;
      v[b + Layout.V_O_ALT] = v[b + Layout.V_O_ALT]! + jAlt;
      // This render's own movement is the one along the old line.
      v[b + Layout.V_P_LAT] = v[b + Layout.V_P_LAT]! - jLat;
      v[b + Layout.V_P_LON] = v[b + Layout.V_P_LON]! - jLon;
      v[b + Layout.V_P_ALT] = v[b + Layout.V_P_ALT]! - jAlt;
      if (Math.abs(v[b + Layout.V_O_LAT]!) + Math.abs(v[b + Layout.V_O_LON]!) + Math.abs(v[b + Layout.V_O_ALT]!) > Layout.MAX_OFFSET) {
        v[b + Layout.V_O_LAT] = v[b + Layout.V_O_LON] = v[b + Layout.V_O_ALT] = 0;
      }
    }
    if (haveDrawn && (v[b + Layout.V_O_LAT]! !== 0 || v[b + Layout.V_O_LON]! !== 0 || v[b + Layout.V_O_ALT]! !== 0)) {
      const fade = Math.exp(-dt / Layout.OFFSET_FADE_MS);
      v[b + Layout.V_O_LAT] = workOff(v[b + Layout.V_O_LAT]!, rLat - v[b + Layout.V_P_LAT]!, fade);
      v[b + Layout.V_O_LON] = workOff(v[b + Layout.V_O_LON]!, wrapLonE6(rLon - v[b + Layout.V_P_LON]!), fade);
      v[b + Layout.V_O_ALT] = workOff(v[b + Layout.V_O_ALT]!, rAlt - v[b + Layout.V_P_ALT]!, fade);
    }
    // The raw pose and the line it follows, for the next render.
    v[b + Layout.V_P_LAT] = rLat;
    v[b + Layout.V_P_LON] = rLon;
    v[b + Layout.V_P_ALT] = rAlt;
    v[b + Layout.V_LAST_T] = t;
    a[r + Layout.I_FLAGS] = (a[r + Layout.I_FLAGS]! & ~Layout.FLAG_NEW) | Layout.FLAG_DRAWN;
    if ((flags & Layout.FLAG_EX) !== 0) {
      // V_EX_* change only in a render that extrapolates (which sets FLAG_EX), so otherwise the
      // V_LAST_* copies taken by an earlier render still hold them.
      v[b + Layout.V_LAST_EX_T] = v[b + Layout.V_EX_T]!;
      v[b + Layout.V_LAST_EX_CAP] = v[b + Layout.V_EX_CAP]!;
      v[b + Layout.V_LAST_V_LAT] = v[b + Layout.V_EX_V_LAT]!;
      v[b + Layout.V_LAST_V_LON] = v[b + Layout.V_EX_V_LON]!;
      v[b + Layout.V_LAST_V_ALT] = v[b + Layout.V_EX_V_ALT]!;
    }
    let lon = rLon + v[b + Layout.V_O_LON]!;
    if (lon >= Layout.LON_E6_HALF) lon -= Layout.LON_E6_SPAN;
    else if (lon < -Layout.LON_E6_HALF) lon += Layout.LON_E6_SPAN;
    v[b + Layout.V_LAT] = (rLat + v[b + Layout.V_O_LAT]!) / 1e6;
    v[b + Layout.V_LON] = lon / 1e6;
    v[b + Layout.V_ALT] = (rAlt + v[b + Layout.V_O_ALT]!) / 10;
    v[b + Layout.V_HEADING] = (rawPose[Layout.RAW_H]! * 360) / 256;
  }

  private add(s: number, t: number, latE6: number, lonE6: number, altDm: number, heading8: number): void {
    const a = this.i;
    const r = s * Layout.I_HOT;
    const n = a[r + Layout.I_N]!;
    const i = n === 0 ? 0 : (a[r + Layout.I_HEAD]! + 1) & Layout.RMASK;
    a[r + Layout.I_HEAD] = i;
    if (n < Layout.RING) a[r + Layout.I_N] = n + 1;
    a[r + Layout.I_FLAGS]! |= Layout.FLAG_NEW;
    this.h[s * Layout.H_HOT + Layout.H_NEWEST_T] = t;
    const v = this.f;
    const k = s * Layout.COLD + Layout.R0 + i * Layout.F;
    v[k] = t;
    v[k + 1] = latE6;
    v[k + 2] = lonE6;
    v[k + 3] = altDm;
    v[k + 4] = heading8;
  }

}

/**
 * A remote entity as the game sees it: drawn at playback time by PlaybackClock. A view of one
 * slot of an EntityPool (the client's, or its own when constructed alone).
 */
export class RemoteEntity {
  readonly id: number;
  private pool: EntityPool;
  private slot: number;

  /** `pool` (@internal): the client's storage; by default the entity has its own. */
  constructor(id: number, kind: number, pool?: EntityPool) {
    this.id = id;
    this.pool = pool ?? new EntityPool(1);
    this.slot = this.pool.alloc();
    this.pool.i[this.slot * Layout.I_HOT + Layout.COL_KIND] = kind;
  }

  get kind(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_KIND]!;
  }
  set kind(k: number) {
    this.pool.i[this.slot * Layout.I_HOT + Layout.COL_KIND] = k;
  }
  get action(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_ACTION]!;
  }
  set action(a: number) {
    this.pool.i[this.slot * Layout.I_HOT + Layout.COL_ACTION] = a;
  }
  get actionSeq(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_ACTION_SEQ]!;
  }
  set actionSeq(a: number) {
    this.pool.i[this.slot * Layout.I_HOT + Layout.COL_ACTION_SEQ] = a;
  }

  /** Interpolated position for rendering: degrees, metres, heading degrees clockwise from north. */
  get lat(): number {
    return this.pool.f[this.slot * Layout.COLD + Layout.V_LAT]!;
  }
  get lon(): number {
    return this.pool.f[this.slot * Layout.COLD + Layout.V_LON]!;
  }
  get alt(): number {
    return this.pool.f[this.slot * Layout.COLD + Layout.V_ALT]!;
  }
  get heading(): number {
    return this.pool.f[this.slot * Layout.COLD + Layout.V_HEADING]!;
  }
  /** Latest authoritative (quantised) values, as received. */
  get latE6(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_LAT]!;
  }
  get lonE6(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_LON]!;
  }
  get altDm(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_ALT]!;
  }
  get heading8(): number {
    return this.pool.i[this.slot * Layout.I_HOT + Layout.COL_HEADING]!;
  }

  /**
   * @internal Server time of the last frame that contained the entity, as far as the entity
   * knows (the client skips rows that did not change and tracks presence itself).
   */
  get lastFrameTime(): number {
    return this.pool.lastFrameTime(this.slot);
  }
  set lastFrameTime(t: number) {
    this.pool.setLastFrameTime(this.slot, t);
  }

  /** @internal Its slot in the pool it was created in (until detach()). */
  get poolSlot(): number {
    return this.slot;
  }

  /**
   * @internal The entity left: it takes its numbers into storage of its own, so the client can
   * reuse the slot while whoever kept the object still reads its last values.
   */
  detach(): void {
    const own = new EntityPool(1);
    own.copyFrom(this.pool, this.slot, own.alloc());
    this.pool = own;
    this.slot = 0;
  }

  /**
   * Row `k` of a frame's snapshot at server time `t`. Returns true when something changed.
   * `holdGapMs`: when the previous sample is older than this, a copy of it is first added at
   * the previous frame's time, so an entity that stood still and now moves does not seem to
   * have crept all along the pause (far entities refreshed every 2nd or 4th frame stay smooth).
   * `prevFrameT`: time of the previous frame that contained it, when the caller knows better
   * (it skipped unchanged rows); default the last one pushed.
   */
  push(data: Int32Array, k: number, t: number, holdGapMs: number, prevFrameT: number = this.lastFrameTime): boolean {
    return this.pool.push(this.slot, data, k, t, holdGapMs, prevFrameT);
  }

  /**
   * Sets lat/lon/alt/heading to the interpolated pose at playback time `t`. Past the newest
   * sample, an entity that was moving steadily (its last two samples at most `maxSpanMs`
   * apart: every frame, or every 2nd/4th for far entities) keeps going at its last velocity
   * for up to that spacing plus `extrapolateMs`, unless frames have already shown it unchanged
   * for that long (then it stopped: hold). So a late frame, or a tick in which the server had
   * no input for it, does not show as a stall.
   *
   * When the samples that arrive after an extrapolation put the entity elsewhere (it slowed
   * down, turned, or moved unevenly), the drawn pose does not jump back: the difference is kept
   * as an offset that is worked off by at most half of each render's own movement per axis
   * (so the entity never steps backwards and never stops while it moves), or fades out in
   * about 150 ms while it stands still.
   *
   * `seenAt`: server time of the latest frame that contained the entity, when the caller tracks
   * that (default: the last frame pushed).
   */
  sampleAt(t: number, extrapolateMs = 0, maxSpanMs = extrapolateMs, seenAt?: number): void {
    this.pool.sample(this.slot, t, extrapolateMs, maxSpanMs, seenAt ?? NaN);
  }
}
