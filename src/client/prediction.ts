// Client-side prediction of the local player with the server's own movement rules (stepPoseInto
// on the integer grid), and reconciliation against authoritative frames by replaying the inputs
// the server has not processed yet. Because both sides run the same integer-grid code, a client
// the server agrees with predicts bit-identical poses: a mismatch means the server disagreed
// (a rejected or skipped input, a server-side correction), never accumulated float drift.
// Pure and allocation-free per input and per frame: inputs and poses live in one typed-array ring.
import { E7, EARTH_RADIUS_M } from '../world/geo.ts';
import { stepPoseInto } from '../world/movement.ts';
import type { MovementRules, MoveIntent, Pose } from '../world/types.ts';

/** Inputs remembered for replay (power of two). 256 inputs = 12.8 s at 20 Hz. */
export const PREDICTION_RING = 256;
const MASK = PREDICTION_RING - 1;
const FLAG_NO_MOVE = 1;
// One ring of int32s, R_STRIDE per input (by seq): dtMs (u16) with the flags above it, the three
// velocities (cm/s) and the pose predicted after the input. A predict() and the reconcile() of its
// frame then touch one typed array and one line each, where separate rings per field took four
// arrays (each an object and a line of its own): with thousands of clients in a process (bots)
// every client's ring is out of cache by its next tick.
const R_STRIDE = 8;
const R_DT_FLAGS = 0;
const R_VEL = 1;
const R_POSE = 4;
const FLAGS_SHIFT = 16;
const DEG_TO_M = (EARTH_RADIUS_M * Math.PI) / 180;

export function posesEqual(a: Pose, b: Pose): boolean {
  return a.latE7 === b.latE7 && a.lonE7 === b.lonE7 && a.altCm === b.altCm && a.heading16 === b.heading16;
}

/** Approximate distance between two nearby poses in metres (local flat frame, altitude included). */
export function poseGapM(a: Pose, b: Pose): number {
  const n = ((a.latE7 - b.latE7) / E7) * DEG_TO_M;
  let dLon = a.lonE7 - b.lonE7;
  if (dLon >= 1_800_000_000) dLon -= 3_600_000_000;
  else if (dLon < -1_800_000_000) dLon += 3_600_000_000;
  const e = (dLon / E7) * DEG_TO_M * Math.cos((a.latE7 / E7) * (Math.PI / 180));
  const u = (a.altCm - b.altCm) / 100;
  return Math.sqrt(n * n + e * e + u * u);
}

export interface ReconcileResult {
  /** True when the server's pose equals the prediction stored for lastInputSeq (exactly). */
  matched: boolean;
  /** Distance between the server's pose and that prediction, metres (0 when matched). */
  errorM: number;
  /** True when the current predicted pose changed (a replay happened). */
  corrected: boolean;
}

export class Predictor {
  rules: MovementRules;
  /** Predicted pose after every input sent so far. Read-only for callers. */
  readonly pose: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
  /** Predicted pose before the latest input (for drawing between inputs). */
  readonly previous: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
  /**
   * `pose` as it was before the latest reconcile() or rejectMovement() that changed it, so a
   * caller can see how far a correction moved it without copying `pose` before every frame.
   */
  readonly beforeCorrection: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
  /** Seq of the newest predicted input (nextInputSeq - 1 right after reset). */
  lastSeq = 0;
  /** Newest lastInputSeq seen from the server. */
  ackSeq = 0;
  /** Frames compared / frames whose pose equalled the prediction / differed. */
  checks = 0;
  matches = 0;
  mismatches = 0;
  /** Inputs replayed on top of authoritative state, in total. */
  replayed = 0;

  private readonly ring = new Int32Array(PREDICTION_RING * R_STRIDE);
  private readonly intent: MoveIntent = { dtMs: 0, east: 0, north: 0, up: 0 };
  private readonly scratch: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
  private readonly result: ReconcileResult = { matched: true, errorM: 0, corrected: false };

  constructor(rules: MovementRules) {
    this.rules = rules;
  }

  /** Starts over from an authoritative pose (WELCOME): the next input will be nextInputSeq. */
  reset(pose: Pose, nextInputSeq: number, rules: MovementRules = this.rules): void {
    this.rules = rules;
    copyPose(this.pose, pose);
    copyPose(this.previous, pose);
    this.lastSeq = nextInputSeq - 1;
    this.ackSeq = this.lastSeq;
    const ring = this.ring;
    for (let k = R_DT_FLAGS; k < ring.length; k += R_STRIDE) ring[k] = ring[k]! & 0xffff;
    this.store(this.lastSeq, pose);
  }

  /**
   * Applies input `seq` (which must be lastSeq + 1) exactly as the server will: velocities in
   * integer cm/s, as sent on the wire.
   */
  predict(seq: number, dtMs: number, eastCms: number, northCms: number, upCms: number): void {
    if (seq !== this.lastSeq + 1) throw new RangeError(`predict seq ${seq} after ${this.lastSeq}`);
    const i = seq & MASK;
    const ring = this.ring;
    const k = i * R_STRIDE;
    // dtMs as a Uint16Array would keep it (flags 0).
    ring[k + R_DT_FLAGS] = dtMs & 0xffff;
    ring[k + R_VEL] = eastCms;
    ring[k + R_VEL + 1] = northCms;
    ring[k + R_VEL + 2] = upCms;
    copyPose(this.previous, this.pose);
    this.apply(i, this.pose);
    this.lastSeq = seq;
    this.store(seq, this.pose);
  }

  /** Predicted pose after input `seq`, if still remembered. */
  poseAt(seq: number, out: Pose): boolean {
    if (seq > this.lastSeq || seq < this.ackSeq || this.lastSeq - seq >= PREDICTION_RING) return false;
    this.load(seq, out);
    return true;
  }

  /**
   * The server refused input `seq`'s movement (speed, teleport, rate, malformed, stale): it had
   * no effect there, so it is dropped from the prediction now, without waiting for the frame.
   * Returns true when the predicted pose changed.
   */
  rejectMovement(seq: number): boolean {
    if (seq <= this.ackSeq || seq > this.lastSeq || this.lastSeq - seq >= PREDICTION_RING - 1) return false;
    const k = (seq & MASK) * R_STRIDE + R_DT_FLAGS;
    const ring = this.ring;
    if ((ring[k]! >> FLAGS_SHIFT) & FLAG_NO_MOVE) return false;
    ring[k]! |= FLAG_NO_MOVE << FLAGS_SHIFT;
    const p = this.scratch;
    this.load(seq - 1, p);
    return this.replayFrom(seq, p);
  }

  /**
   * An authoritative frame: the server's pose after processing inputs up to lastInputSeq.
   * Compares it with the prediction for that seq and, if they differ, replays the newer inputs
   * on top of it. The returned object is reused.
   */
  reconcile(lastInputSeq: number, server: Pose): ReconcileResult {
    const r = this.result;
    r.matched = true;
    r.errorM = 0;
    r.corrected = false;
    if (lastInputSeq < this.ackSeq) return r; // older than what we know: nothing to learn
    // A server cannot have processed an input that was never sent: a frame claiming so (a bug or
    // a tampered frame) is taken as the state after our newest input, and the numbering of the
    // inputs still to be sent stays ours.
    if (lastInputSeq > this.lastSeq) lastInputSeq = this.lastSeq;
    if (this.lastSeq - lastInputSeq >= PREDICTION_RING) {
      // Beyond what we remember: take the server's pose as it is.
      r.matched = false;
      r.errorM = poseGapM(server, this.pose);
      r.corrected = !posesEqual(server, this.pose);
      this.mismatches++;
      this.checks++;
      if (r.corrected) copyPose(this.beforeCorrection, this.pose);
      copyPose(this.pose, server);
      copyPose(this.previous, server);
      this.ackSeq = lastInputSeq;
      this.store(lastInputSeq, server);
      return r;
    }
    this.checks++;
    this.ackSeq = lastInputSeq;
    // The usual case, compared in the ring (no copy out of it).
    if (this.storedEquals(lastInputSeq, server)) {
      this.matches++;
      return r;
    }
    const predicted = this.scratch;
    this.load(lastInputSeq, predicted);
    this.mismatches++;
    r.matched = false;
    r.errorM = poseGapM(server, predicted);
    this.store(lastInputSeq, server);
    copyPose(predicted, server);
    r.corrected = this.replayFrom(lastInputSeq + 1, predicted);
    return r;
  }

  /** Replays inputs from..lastSeq starting at `start` (clobbered); true if pose changed. */
  private replayFrom(from: number, start: Pose): boolean {
    const p = start;
    if (from <= this.lastSeq) copyPose(this.previous, p);
    for (let s = from; s <= this.lastSeq; s++) {
      const i = s & MASK;
      if (s === this.lastSeq) copyPose(this.previous, p);
      if (((this.ring[i * R_STRIDE + R_DT_FLAGS]! >> FLAGS_SHIFT) & FLAG_NO_MOVE) === 0) this.apply(i, p);
      this.store(s, p);
      this.replayed++;
    }
    const changed = !posesEqual(p, this.pose);
    if (changed) copyPose(this.beforeCorrection, this.pose);
    copyPose(this.pose, p);
    return changed;
  }

  private apply(i: number, p: Pose): void {
    const it = this.intent;
    const ring = this.ring;
    const k = i * R_STRIDE;
    it.dtMs = ring[k + R_DT_FLAGS]! & 0xffff;
    it.east = ring[k + R_VEL]! / 100;
    it.north = ring[k + R_VEL + 1]! / 100;
    it.up = ring[k + R_VEL + 2]! / 100;
    stepPoseInto(p, it, this.rules, p);
  }

  private store(seq: number, p: Pose): void {
    const k = (seq & MASK) * R_STRIDE + R_POSE;
    const a = this.ring;
    a[k] = p.latE7;
    a[k + 1] = p.lonE7;
    a[k + 2] = p.altCm;
    a[k + 3] = p.heading16;
  }

  private storedEquals(seq: number, p: Pose): boolean {
    const k = (seq & MASK) * R_STRIDE + R_POSE;
    const a = this.ring;
    return a[k] === p.latE7 && a[k + 1] === p.lonE7 && a[k + 2] === p.altCm && a[k + 3] === p.heading16;
  }

  private load(seq: number, out: Pose): void {
    const k = (seq & MASK) * R_STRIDE + R_POSE;
    const a = this.ring;
    out.latE7 = a[k]!;
    out.lonE7 = a[k + 1]!;
    out.altCm = a[k + 2]!;
    out.heading16 = a[k + 3]!;
  }
}

export function copyPose(dst: Pose, src: Pose): void {
  dst.latE7 = src.latE7;
  dst.lonE7 = src.lonE7;
  dst.altCm = src.altCm;
  dst.heading16 = src.heading16;
}
