// Shared movement rules: the server applies them authoritatively, the client runs the same code
// to predict. Pure and deterministic: only IEEE arithmetic, Math.sqrt/sin/cos/atan2 and
// Math.round, in a fixed order. Node (V8, fdlibm) is bit-identical on every platform; a browser
// whose libm differs by an ulp can disagree only when a value lands within ~1e-16 of a grid .5
// boundary, which the normal server correction absorbs.

import { clampLatE7, destinationRad, E7, EARTH_RADIUS_M, heading16FromRad, wrapLonE7 } from './geo.ts';
import type { StepEnd } from './geo.ts';
import { RejectReason } from './types.ts';
import type { MovementRules, MoveIntent, Pose } from './types.ts';

const DEG_TO_RAD = Math.PI / 180;
const RAD_TO_DEG = 180 / Math.PI;

/** Below this horizontal speed (m/s) the heading is left alone, so standing still keeps facing. */
export const HEADING_MIN_SPEED = 0.05;

/**
 * Relative slack on speed limits so that a velocity exactly at the limit, decoded from integer
 * cm/s, is not rejected by one ulp of sqrt/multiplication rounding.
 */
const LIMIT_EPSILON = 1e-9;

const dest: StepEnd = { lat: 0, lon: 0, tx: 0, ty: 0, tz: 0 };

/**
 * Applies one intent. Moves along the great circle starting at bearing atan2(east, north) by
 * sqrt(east^2 + north^2) * dtMs / 1000 metres, then rounds onto the grid (Math.round, lat clamped
 * to +-90 deg, lon wrapped into [-180, 180)). Vertical: altCm += up * dtMs / 10, rounded, clamped
 * to [minAltCm, maxAltCm].
 *
 * heading16 becomes the direction of travel at the *arrival* point, in the arrival point's own
 * east/north frame (for short steps this equals atan2(east, north); over a pole it turns by 180
 * degrees, so a client that keeps pressing "forward along heading16" keeps going straight). It is
 * unchanged when horizontal speed <= 0.05 m/s.
 *
 * Over a pole the great-circle bearing semantics apply: walking north through it continues down
 * the other side (lon jumps by 180 deg). Exactly at a pole the local frame comes from the pose's lon.
 *
 * Non-finite intents or dtMs <= 0 leave the pose unchanged (the server rejects them first with
 * checkIntent; this is only a guard against NaN reaching state). Speed is not clamped here.
 */
export function stepPoseInto(p: Pose, intent: MoveIntent, rules: MovementRules, out: Pose): Pose {
  const latE7 = p.latE7;
  const lonE7 = p.lonE7;
  const altCm = p.altCm;
  const heading16 = p.heading16;
  const { dtMs, east, north, up } = intent;
  if (!(dtMs > 0) || !Number.isFinite(dtMs) || !Number.isFinite(east) || !Number.isFinite(north) || !Number.isFinite(up)) {
    out.latE7 = latE7;
    out.lonE7 = lonE7;
    out.altCm = altCm;
    out.heading16 = heading16;
    return out;
  }
  const speed = Math.sqrt(east * east + north * north);
  const distM = (speed * dtMs) / 1000;
  let newLat = latE7;
  let newLon = lonE7;
  let newHeading = heading16;
  // distM can overflow to Infinity for absurd (finite) velocities; such input is left unapplied.
  if (distM > 0 && distM < Infinity) {
    const bearing = Math.atan2(east, north);
    destinationRad((latE7 / E7) * DEG_TO_RAD, (lonE7 / E7) * DEG_TO_RAD, bearing, distM / EARTH_RADIUS_M, dest);
    newLat = clampLatE7(Math.round(dest.lat * RAD_TO_DEG * E7)) + 0;
    newLon = wrapLonE7(Math.round(dest.lon * RAD_TO_DEG * E7)) + 0;
    if (speed > HEADING_MIN_SPEED) {
      newHeading = heading16FromRad(arrivalBearing(dest, newLat, newLon));
    }
  }
  let newAlt = Math.round(altCm + (up * dtMs) / 10);
  if (newAlt > rules.maxAltCm) newAlt = rules.maxAltCm;
  if (newAlt < rules.minAltCm) newAlt = rules.minAltCm;
  out.latE7 = newLat;
  out.lonE7 = newLon;
  out.altCm = newAlt + 0;
  out.heading16 = newHeading;
  return out;
}

/** Pure form of stepPoseInto: returns a new Pose. */
export function stepPose(p: Pose, intent: MoveIntent, rules: MovementRules): Pose {
  return stepPoseInto(p, intent, rules, { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 });
}

/**
 * Direction of travel at the end of the great-circle step, expressed in the east/north frame of
 * the rounded arrival pose (the frame the next step will use).
 */
function arrivalBearing(end: StepEnd, newLatE7: number, newLonE7: number): number {
  const tx = end.tx;
  const ty = end.ty;
  const tz = end.tz;
  const lat2 = (newLatE7 / E7) * DEG_TO_RAD;
  const lon2 = (newLonE7 / E7) * DEG_TO_RAD;
  const sinLat2 = Math.sin(lat2);
  const sinLon2 = Math.sin(lon2);
  const cosLon2 = Math.cos(lon2);
  const te = -sinLon2 * tx + cosLon2 * ty;
  const tn = -sinLat2 * cosLon2 * tx - sinLat2 * sinLon2 * ty + Math.cos(lat2) * tz;
  return Math.atan2(te, tn);
}

/**
 * Validates one intent against the rules before it is applied. Returns 0 when acceptable.
 * - any non-finite field -> Malformed
 * - dtMs <= 0 or dtMs > maxInputDtMs -> Teleport (one input may not claim more time than that)
 * - horizontal speed > maxSpeed * (1 + speedTolerance) -> Speed
 * - |up| > maxVerticalSpeed * (1 + speedTolerance) -> Speed
 * A speed exactly at the limit is accepted (with 1e-9 relative slack for float rounding).
 */
export function checkIntent(intent: MoveIntent, rules: MovementRules): RejectReason | 0 {
  const { dtMs, east, north, up } = intent;
  if (!Number.isFinite(dtMs) || !Number.isFinite(east) || !Number.isFinite(north) || !Number.isFinite(up)) {
    return RejectReason.Malformed;
  }
  if (dtMs <= 0 || dtMs > rules.maxInputDtMs) return RejectReason.Teleport;
  const tol = (1 + rules.speedTolerance) * (1 + LIMIT_EPSILON);
  const hLimit = rules.maxSpeed * tol;
  if (east * east + north * north > hLimit * hLimit) return RejectReason.Speed;
  if (Math.abs(up) > rules.maxVerticalSpeed * tol) return RejectReason.Speed;
  return 0;
}

/** Decodes the wire form (velocities in cm/s) into a MoveIntent (m/s). */
export function intentFromWire(w: { dtMs: number; eastCms: number; northCms: number; upCms: number }): MoveIntent {
  return { dtMs: w.dtMs, east: w.eastCms / 100, north: w.northCms / 100, up: w.upCms / 100 };
}

/**
 * Server-side movement time budget. Each input claims dtMs of movement time; checkIntent bounds
 * a single claim, but a client could still send many inputs back to back (a speed hack by
 * bursts). The clock banks real elapsed time (credit) and each input spends its dtMs from the
 * bank (spend). The bank is capped at slackMs, so over any real interval T a client can claim at
 * most T + slackMs of movement: network jitter up to slackMs is tolerated, nothing more.
 *
 * Protocol: call credit(elapsed real ms) as time passes (e.g. once per tick), then for each
 * input that passed checkIntent call spend(dtMs); if it returns false, reject the input as
 * RejectReason.Teleport and do not apply it (nothing was spent).
 *
 * slackMs must be >= rules.maxInputDtMs, else a legal maximal input could never be afforded.
 * A new clock starts with a full bank so the first inputs after login are not refused.
 */
export class MoveClock {
  readonly slackMs: number;
  private bank: number;

  constructor(slackMs = 250) {
    this.slackMs = slackMs > 0 && Number.isFinite(slackMs) ? slackMs : 0;
    this.bank = this.slackMs;
  }

  /** Banked movement time, ms. */
  get bankMs(): number {
    return this.bank;
  }

  /** Adds real elapsed time; ignores negative or non-finite values (clock steps). */
  credit(elapsedMs: number): void {
    if (!(elapsedMs > 0) || !Number.isFinite(elapsedMs)) return;
    const b = this.bank + elapsedMs;
    this.bank = b > this.slackMs ? this.slackMs : b;
  }

  /** Spends dtMs of banked time; false (and nothing spent) if the bank does not cover it. */
  spend(dtMs: number): boolean {
    if (!(dtMs >= 0) || dtMs > this.bank) return false;
    this.bank -= dtMs;
    return true;
  }

  /** For zone handoff: the bank travels with the player so a handoff cannot refill it. */
  toJSON(): { slackMs: number; bankMs: number } {
    return { slackMs: this.slackMs, bankMs: this.bank };
  }

  static fromJSON(j: { slackMs: number; bankMs: number }): MoveClock {
    const c = new MoveClock(j.slackMs);
    const b = j.bankMs;
    c.bank = Number.isFinite(b) ? Math.min(Math.max(b, 0), c.slackMs) : 0;
    return c;
  }
}
