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
    this.lateness[this.next] = d;
    this.next = (this.next + 1) % JITTER_WINDOW;
    if (this.count < JITTER_WINDOW) this.count++;
    let max = -Infinity;
    let min = Infinity;
    for (let i = 0; i < this.count; i++) {
      const v = this.lateness[i]!;
      if (v > max) max = v;
      if (v < min) min = v;
    }
    this.offset = max;
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

/** A remote entity as the game sees it: drawn at playback time by PlaybackClock. */
export class RemoteEntity {
  readonly id: number;
  kind: number;
  /** Interpolated position for rendering: degrees, metres, heading degrees clockwise from north. */
  lat = 0;
  lon = 0;
  alt = 0;
  heading = 0;
  /** Latest authoritative (quantised) values, as received. */
  latE6 = 0;
  lonE6 = 0;
  altDm = 0;
  heading8 = 0;
  action = 0;
  actionSeq = 0;
  /** @internal frame generation that last contained this entity. */
  seenGen = 0;
  private readonly samples = new Float64Array(RING * F);
  private n = 0; // samples stored (<= RING)
  private head = 0; // index of the newest sample
  private lastFrameT = 0; // server time of the last frame that contained the entity

  constructor(id: number, kind: number) {
    this.id = id;
    this.kind = kind;
  }

  /**
   * Row `k` of a frame's snapshot at server time `t`. Returns true when something changed.
   * `holdGapMs`: when the previous sample is older than this, a copy of it is first added at
   * the previous frame's time, so an entity that stood still and now moves does not seem to
   * have crept all along the pause (far entities refreshed every 2nd or 4th frame stay smooth).
   */
  push(data: Int32Array, k: number, t: number, holdGapMs: number): boolean {
    const o = k * SNAPSHOT_STRIDE;
    const latE6 = data[o + SnapshotField.latE6]!;
    const lonE6 = data[o + SnapshotField.lonE6]!;
    const altDm = data[o + SnapshotField.altDm]!;
    const heading8 = data[o + SnapshotField.heading8]!;
    const kind = data[o + SnapshotField.kind]!;
    const action = data[o + SnapshotField.action]!;
    const actionSeq = data[o + SnapshotField.actionSeq]!;
    const prevFrameT = this.lastFrameT;
    this.lastFrameT = t;
    const first = this.n === 0;
    const moved = first || latE6 !== this.latE6 || lonE6 !== this.lonE6 || altDm !== this.altDm || heading8 !== this.heading8;
    const changed = moved || kind !== this.kind || action !== this.action || actionSeq !== this.actionSeq;
    this.kind = kind;
    this.action = action;
    this.actionSeq = actionSeq;
    if (!changed) return false;
    if (!moved) return true;
    if (!first) {
      const lastT = this.samples[this.head * F]!;
      if (t - lastT > holdGapMs && prevFrameT > lastT && prevFrameT < t) {
        this.add(prevFrameT, this.latE6, this.lonE6, this.altDm, this.heading8);
      }
    }
    this.latE6 = latE6;
    this.lonE6 = lonE6;
    this.altDm = altDm;
    this.heading8 = heading8;
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
   */
  sampleAt(t: number, extrapolateMs = 0, maxSpanMs = extrapolateMs): void {
    const s = this.samples;
    if (this.n === 0) return;
    let b = this.head;
    // Newest sample at or before t (walk back from the newest).
    let found = -1;
    for (let j = 0; j < this.n; j++) {
      const idx = (this.head - j + RING) & RMASK;
      if (s[idx * F]! <= t) {
        found = idx;
        break;
      }
      b = idx;
    }
    if (found < 0) {
      this.write(b, b, 0); // before the oldest sample: hold it
      return;
    }
    if (found === this.head) {
      const th = s[found * F]!;
      if (extrapolateMs > 0 && this.n >= 2) {
        const prev = (found - 1 + RING) & RMASK;
        const tp = s[prev * F]!;
        const limit = th - tp + extrapolateMs;
        if (th > tp && th - tp <= maxSpanMs && this.lastFrameT < th + limit) {
          const te = t - th > limit ? th + limit : t;
          this.write(prev, found, (te - tp) / (th - tp));
          return;
        }
      }
      this.write(found, found, 0); // past the newest: hold
      return;
    }
    const ta = s[found * F]!;
    const tb = s[b * F]!;
    this.write(found, b, tb > ta ? (t - ta) / (tb - ta) : 1);
  }

  private write(a: number, b: number, f: number): void {
    const s = this.samples;
    const ia = a * F;
    const ib = b * F;
    const lat = s[ia + 1]! + (s[ib + 1]! - s[ia + 1]!) * f;
    let dLon = s[ib + 2]! - s[ia + 2]!;
    if (dLon >= LON_E6_HALF) dLon -= LON_E6_SPAN;
    else if (dLon < -LON_E6_HALF) dLon += LON_E6_SPAN;
    let lon = s[ia + 2]! + dLon * f;
    if (lon >= LON_E6_HALF) lon -= LON_E6_SPAN;
    else if (lon < -LON_E6_HALF) lon += LON_E6_SPAN;
    const alt = s[ia + 3]! + (s[ib + 3]! - s[ia + 3]!) * f;
    let dH = s[ib + 4]! - s[ia + 4]!;
    if (dH > 128) dH -= 256;
    else if (dH < -128) dH += 256;
    let h = s[ia + 4]! + dH * f;
    if (h < 0) h += 256;
    else if (h >= 256) h -= 256;
    this.lat = lat / 1e6;
    this.lon = lon / 1e6;
    this.alt = alt / 10;
    this.heading = (h * 360) / 256;
  }

  private add(t: number, latE6: number, lonE6: number, altDm: number, heading8: number): void {
    const i = this.n === 0 ? 0 : (this.head + 1) & RMASK;
    this.head = i;
    if (this.n < RING) this.n++;
    const s = this.samples;
    const k = i * F;
    s[k] = t;
    s[k + 1] = latE6;
    s[k + 2] = lonE6;
    s[k + 3] = altDm;
    s[k + 4] = heading8;
  }
}
