// Remote entities are drawn a little in the past, between two authoritative samples, so that
// late or uneven frames do not show as stalls or jumps. Two parts:
// - PlaybackClock: the time line entities are drawn at. It follows the frames' own server
//   timestamps as they arrive (not the ping-synchronised clock: frames are one-way latency old
//   when they arrive), sits `delay` behind the freshest arrival, and steers by speeding up or
//   slowing down a little rather than jumping. The delay grows with measured arrival jitter.
// - RemoteEntity: a small ring of samples per entity (only when the entity changed), and the
//   interpolated pose at a playback time.
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

/** Samples kept per entity (power of two). */
const RING = 8;
const RMASK = RING - 1;
const F = 5; // t, latE6, lonE6, altDm, heading8
const LON_E6_SPAN = 360e6;
const LON_E6_HALF = 180e6;
// Snapshot row layout as plain module constants: read in the hot loops, where an imported
// binding may cost a getter call per access (module interop).
const STRIDE: number = SNAPSHOT_STRIDE;
const COL_KIND: number = SnapshotField.kind;
const COL_LAT: number = SnapshotField.latE6;
const COL_LON: number = SnapshotField.lonE6;
const COL_ALT: number = SnapshotField.altDm;
const COL_HEADING: number = SnapshotField.heading8;
const COL_ACTION: number = SnapshotField.action;
const COL_ACTION_SEQ: number = SnapshotField.actionSeq;
// Slots of RemoteEntity.v.
const V_LAT = 0;
const V_LON = 1;
const V_ALT = 2;
const V_HEADING = 3;
const V_LAT_E6 = 4;
const V_LON_E6 = 5;
const V_ALT_DM = 6;
const V_HEADING8 = 7;
const V_LAST_FRAME_T = 8;
const V_R_LAT = 9;
const V_R_LON = 10;
const V_R_ALT = 11;
const V_R_H = 12;
const V_O_LAT = 13;
const V_O_LON = 14;
const V_O_ALT = 15;
const V_P_LAT = 16;
const V_P_LON = 17;
const V_P_ALT = 18;
const V_LAST_T = 19;
const V_EX_T = 20;
const V_EX_CAP = 21;
const V_EX_V_LAT = 22;
const V_EX_V_LON = 23;
const V_EX_V_ALT = 24;
const V_LAST_EX_T = 25;
const V_LAST_EX_CAP = 26;
const V_LAST_V_LAT = 27;
const V_LAST_V_LON = 28;
const V_LAST_V_ALT = 29;
/** First slot of the sample ring in RemoteEntity.v. */
const R0 = 32;
/** A correction offset above this (E6 degrees + dm, about 10 m) is dropped instead of worked off. */
const MAX_OFFSET = 100;
/** A correction offset fades with this time constant while the entity stands still (ms). */
const OFFSET_FADE_MS = 150;
/** Share of each render's own movement that may go to working off the offset (per axis). */
const WORK_OFF = 0.5;

function wrapLonE6(d: number): number {
  return d >= LON_E6_HALF ? d - LON_E6_SPAN : d < -LON_E6_HALF ? d + LON_E6_SPAN : d;
}

/** Offset `o` after a render that moved the raw pose by `step` on this axis. */
function workOff(o: number, step: number, fade: number): number {
  if (o === 0) return 0;
  const budget = WORK_OFF * Math.abs(step);
  let r: number;
  if (budget > 0) r = o > 0 ? (o > budget ? o - budget : 0) : o < -budget ? o + budget : 0;
  else r = o * fade;
  return Math.abs(r) < 1e-3 ? 0 : r;
}

/** A remote entity as the game sees it: drawn at playback time by PlaybackClock. */
export class RemoteEntity {
  readonly id: number;
  kind: number;
  action = 0;
  actionSeq = 0;
  /**
   * All of the entity's numbers in one typed array (the V_* slots, then the sample ring from
   * R0): a frame touches one small object and one contiguous block per entity, which matters
   * when a process holds thousands of clients with hundreds of entities each (bots).
   */
  private readonly v = new Float64Array(R0 + RING * F);
  private n = 0; // samples stored (<= RING)
  private head = 0; // index of the newest sample
  private haveDrawn = false;
  /** Samples arrived since the last render. */
  private newData = false;
  /** The last render extrapolated (along V_EX_* up to V_EX_CAP). */
  private exOn = false;

  constructor(id: number, kind: number) {
    this.id = id;
    this.kind = kind;
  }

  /** Interpolated position for rendering: degrees, metres, heading degrees clockwise from north. */
  get lat(): number {
    return this.v[V_LAT]!;
  }
  get lon(): number {
    return this.v[V_LON]!;
  }
  get alt(): number {
    return this.v[V_ALT]!;
  }
  get heading(): number {
    return this.v[V_HEADING]!;
  }
  /** Latest authoritative (quantised) values, as received. */
  get latE6(): number {
    return this.v[V_LAT_E6]!;
  }
  get lonE6(): number {
    return this.v[V_LON_E6]!;
  }
  get altDm(): number {
    return this.v[V_ALT_DM]!;
  }
  get heading8(): number {
    return this.v[V_HEADING8]!;
  }

  /**
   * @internal Server time of the last frame that contained the entity, as far as the entity
   * knows (the client skips rows that did not change and tracks presence itself).
   */
  get lastFrameTime(): number {
    return this.v[V_LAST_FRAME_T]!;
  }
  set lastFrameTime(t: number) {
    this.v[V_LAST_FRAME_T] = t;
  }

  /**
   * Row `k` of a frame's snapshot at server time `t`. Returns true when something changed.
   * `holdGapMs`: when the previous sample is older than this, a copy of it is first added at
   * the previous frame's time, so an entity that stood still and now moves does not seem to
   * have crept all along the pause (far entities refreshed every 2nd or 4th frame stay smooth).
   * `prevFrameT`: time of the previous frame that contained it, when the caller knows better
   * (it skipped unchanged rows); default the last one pushed.
   */
  push(data: Int32Array, k: number, t: number, holdGapMs: number, prevFrameT: number = this.v[V_LAST_FRAME_T]!): boolean {
    const o = k * STRIDE;
    const latE6 = data[o + COL_LAT]!;
    const lonE6 = data[o + COL_LON]!;
    const altDm = data[o + COL_ALT]!;
    const heading8 = data[o + COL_HEADING]!;
    const kind = data[o + COL_KIND]!;
    const action = data[o + COL_ACTION]!;
    const actionSeq = data[o + COL_ACTION_SEQ]!;
    this.v[V_LAST_FRAME_T] = t;
    const first = this.n === 0;
    const moved = first || latE6 !== this.v[V_LAT_E6]! || lonE6 !== this.v[V_LON_E6]! || altDm !== this.v[V_ALT_DM]! || heading8 !== this.v[V_HEADING8]!;
    const changed = moved || kind !== this.kind || action !== this.action || actionSeq !== this.actionSeq;
    this.kind = kind;
    this.action = action;
    this.actionSeq = actionSeq;
    if (!changed) return false;
    if (!moved) return true;
    if (!first) {
      const lastT = this.v[this.head * F + R0]!;
      if (t - lastT > holdGapMs && prevFrameT > lastT && prevFrameT < t) {
        this.add(prevFrameT, this.v[V_LAT_E6]!, this.v[V_LON_E6]!, this.v[V_ALT_DM]!, this.v[V_HEADING8]!);
      }
    }
    this.v[V_LAT_E6] = latE6;
    this.v[V_LON_E6] = lonE6;
    this.v[V_ALT_DM] = altDm;
    this.v[V_HEADING8] = heading8;
    this.add(t, latE6, lonE6, altDm, heading8);
    if (first) this.sampleAt(t);
    return true;
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
    const s = this.v;
    if (this.n === 0) return;
    const wasExtrapolating = this.exOn;
    this.exOn = false;
    const own = s[V_LAST_FRAME_T]!;
    const lastFrameT = seenAt !== undefined && seenAt > own ? seenAt : own;
    let b = this.head;
    // Newest sample at or before t (walk back from the newest).
    let found = -1;
    for (let j = 0; j < this.n; j++) {
      const idx = (this.head - j + RING) & RMASK;
      if (s[idx * F + R0]! <= t) {
        found = idx;
        break;
      }
      b = idx;
    }
    if (found < 0) {
      this.raw(b, b, 0); // before the oldest sample: hold it
    } else if (found === this.head) {
      const th = s[found * F + R0]!;
      let held = true;
      if (extrapolateMs > 0 && this.n >= 2) {
        const prev = (found - 1 + RING) & RMASK;
        const tp = s[prev * F + R0]!;
        const limit = th - tp + extrapolateMs;
        if (th > tp && th - tp <= maxSpanMs && lastFrameT < th + limit) {
          const cap = th + limit;
          const te = t > cap ? cap : t;
          this.raw(prev, found, (te - tp) / (th - tp));
          held = false;
          // Remember the line being followed, to compare with what the next samples say.
          const k = 1 / (th - tp);
          s[V_EX_V_LAT] = (s[found * F + R0 + 1]! - s[prev * F + R0 + 1]!) * k;
          s[V_EX_V_LON] = wrapLonE6(s[found * F + R0 + 2]! - s[prev * F + R0 + 2]!) * k;
          s[V_EX_V_ALT] = (s[found * F + R0 + 3]! - s[prev * F + R0 + 3]!) * k;
          s[V_EX_T] = t;
          s[V_EX_CAP] = cap;
          this.exOn = true;
        }
      }
      if (held) this.raw(found, found, 0); // past the newest: hold
    } else {
      const ta = s[found * F + R0]!;
      const tb = s[b * F + R0]!;
      this.raw(found, b, tb > ta ? (t - ta) / (tb - ta) : 1);
    }
    this.finish(t, wasExtrapolating);
  }

  /** Pose of samples a..b at fraction f, into rLat/rLon/rAlt/rH (E6 degrees, dm, 1/256 turn). */
  private raw(a: number, b: number, f: number): void {
    const s = this.v;
    const ia = a * F + R0;
    const ib = b * F + R0;
    s[V_R_LAT] = s[ia + 1]! + (s[ib + 1]! - s[ia + 1]!) * f;
    s[V_R_LON] = s[ia + 2]! + wrapLonE6(s[ib + 2]! - s[ia + 2]!) * f;
    s[V_R_ALT] = s[ia + 3]! + (s[ib + 3]! - s[ia + 3]!) * f;
    let dH = s[ib + 4]! - s[ia + 4]!;
    if (dH > 128) dH -= 256;
    else if (dH < -128) dH += 256;
    let h = s[ia + 4]! + dH * f;
    if (h < 0) h += 256;
    else if (h >= 256) h -= 256;
    s[V_R_H] = h;
  }

  /** Applies and works off the correction offset, then sets the drawn pose. */
  private finish(t: number, wasExtrapolating: boolean): void {
    const v = this.v;
    const rLat = v[V_R_LAT]!;
    const rLon = v[V_R_LON]!;
    const rAlt = v[V_R_ALT]!;
    const dt = v[V_LAST_T]! > 0 && t > v[V_LAST_T]! ? t - v[V_LAST_T]! : 0;
    if (this.newData && wasExtrapolating && this.haveDrawn) {
      // Fresh samples after an extrapolation: where the old line would put the entity now,
      // minus where the samples do, becomes part of the offset.
      const te = t < v[V_LAST_EX_CAP]! ? t : v[V_LAST_EX_CAP]!;
      const d = te > v[V_LAST_EX_T]! ? te - v[V_LAST_EX_T]! : 0;
      const jLat = v[V_P_LAT]! + v[V_LAST_V_LAT]! * d - rLat;
      const jLon = wrapLonE6(v[V_P_LON]! + v[V_LAST_V_LON]! * d - rLon);
      const jAlt = v[V_P_ALT]! + v[V_LAST_V_ALT]! * d - rAlt;
      v[V_O_LAT] = v[V_O_LAT]! + jLat;
      v[V_O_LON] = v[V_O_LON]! + jLon;
      v[V_O_ALT] = v[V_O_ALT]! + jAlt;
      // This render's own movement is the one along the old line.
      v[V_P_LAT] = v[V_P_LAT]! - jLat;
      v[V_P_LON] = v[V_P_LON]! - jLon;
      v[V_P_ALT] = v[V_P_ALT]! - jAlt;
      if (Math.abs(v[V_O_LAT]!) + Math.abs(v[V_O_LON]!) + Math.abs(v[V_O_ALT]!) > MAX_OFFSET) v[V_O_LAT] = v[V_O_LON] = v[V_O_ALT] = 0;
    }
    this.newData = false;
    if (this.haveDrawn && (v[V_O_LAT]! !== 0 || v[V_O_LON]! !== 0 || v[V_O_ALT]! !== 0)) {
      const fade = Math.exp(-dt / OFFSET_FADE_MS);
      v[V_O_LAT] = workOff(v[V_O_LAT]!, rLat - v[V_P_LAT]!, fade);
      v[V_O_LON] = workOff(v[V_O_LON]!, wrapLonE6(rLon - v[V_P_LON]!), fade);
      v[V_O_ALT] = workOff(v[V_O_ALT]!, rAlt - v[V_P_ALT]!, fade);
    }
    // The raw pose and the line it follows, for the next render.
    v[V_P_LAT] = rLat;
    v[V_P_LON] = rLon;
    v[V_P_ALT] = rAlt;
    v[V_LAST_T] = t;
    this.haveDrawn = true;
    v[V_LAST_EX_T] = v[V_EX_T]!;
    v[V_LAST_EX_CAP] = v[V_EX_CAP]!;
    v[V_LAST_V_LAT] = v[V_EX_V_LAT]!;
    v[V_LAST_V_LON] = v[V_EX_V_LON]!;
    v[V_LAST_V_ALT] = v[V_EX_V_ALT]!;
    let lon = rLon + v[V_O_LON]!;
    if (lon >= LON_E6_HALF) lon -= LON_E6_SPAN;
    else if (lon < -LON_E6_HALF) lon += LON_E6_SPAN;
    v[V_LAT] = (rLat + v[V_O_LAT]!) / 1e6;
    v[V_LON] = lon / 1e6;
    v[V_ALT] = (rAlt + v[V_O_ALT]!) / 10;
    v[V_HEADING] = (v[V_R_H]! * 360) / 256;
  }

  private add(t: number, latE6: number, lonE6: number, altDm: number, heading8: number): void {
    const i = this.n === 0 ? 0 : (this.head + 1) & RMASK;
    this.head = i;
    if (this.n < RING) this.n++;
    this.newData = true;
    const s = this.v;
    const k = i * F + R0;
    s[k] = t;
    s[k + 1] = latE6;
    s[k + 2] = lonE6;
    s[k + 3] = altDm;
    s[k + 4] = heading8;
  }
}
