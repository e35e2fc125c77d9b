// Spherical geometry on the game planet. Pure: no Node APIs, shared by server and client.
//
// Everything that must be stable at the poles and across the antimeridian goes through ECEF
// unit vectors instead of lat/lon differences: vectors have no seam, and atan2 never returns NaN.
// We use Math.sqrt rather than Math.hypot because sqrt is correctly rounded by IEEE 754 while
// hypot's precision is implementation-defined, and movement must be reproducible on clients.

import type { Pose } from './types.ts';

/** Mean Earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8;

const DEG_TO_RAD = Math.PI / 180;
const RAD_TO_DEG = 180 / Math.PI;

/** Grid scale of Pose.latE7 / Pose.lonE7. */
export const E7 = 10_000_000;
export const LAT_E7_MAX = 900_000_000;
export const LON_E7_SPAN = 3_600_000_000;
const LON_E7_HALF = 1_800_000_000;

export function degToRad(deg: number): number {
  return deg * DEG_TO_RAD;
}

export function radToDeg(rad: number): number {
  return rad * RAD_TO_DEG;
}

/** Wraps a longitude into [-180, 180). In-range values are returned untouched (bit for bit). */
export function normalizeLonDeg(lon: number): number {
  if (lon >= -180 && lon < 180) return lon;
  // Double modulo because JS % keeps the sign of the dividend.
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/** Wraps an integer lonE7 into [-1.8e9, 1.8e9). Exact: all values involved are integers < 2^53. */
export function wrapLonE7(lonE7: number): number {
  if (lonE7 >= -LON_E7_HALF && lonE7 < LON_E7_HALF) return lonE7;
  return ((((lonE7 + LON_E7_HALF) % LON_E7_SPAN) + LON_E7_SPAN) % LON_E7_SPAN) - LON_E7_HALF;
}

/** Clamps an integer latE7 into [-9e8, 9e8]. */
export function clampLatE7(latE7: number): number {
  return latE7 > LAT_E7_MAX ? LAT_E7_MAX : latE7 < -LAT_E7_MAX ? -LAT_E7_MAX : latE7;
}

/** Mutable lat/lon pair in radians, used to avoid allocations in hot paths. */
export interface LatLonRad {
  lat: number;
  lon: number;
}

/** A great-circle step's end point plus the unit tangent of travel there (ECEF). */
export interface StepEnd extends LatLonRad {
  tx: number;
  ty: number;
  tz: number;
}

/**
 * Great-circle step in radians: from (lat, lon) along `bearing` (clockwise from north) by the
 * central angle `delta`. Result written into `out` (lon in (-PI, PI]).
 *
 * Computed as q = p cos(delta) + d sin(delta), where d is the unit direction in the local
 * east/north frame. At a pole that frame is taken from the given lon (north points along the
 * meridian lon+180, i.e. across the pole), which matches initialBearingDeg there, so walking
 * "north" through a pole continues down the other side.
 */
export function destinationRad(lat: number, lon: number, bearing: number, delta: number, out: LatLonRad | StepEnd): void {
  const sinLat = Math.sin(lat);
  const cosLat = Math.cos(lat);
  const sinLon = Math.sin(lon);
  const cosLon = Math.cos(lon);
  const sb = Math.sin(bearing);
  const cb = Math.cos(bearing);
  const sd = Math.sin(delta);
  const cd = Math.cos(delta);
  // p = position, e = (-sinLon, cosLon, 0), n = (-sinLat cosLon, -sinLat sinLon, cosLat)
  const dx = -sinLat * cosLon * cb - sinLon * sb;
  const dy = -sinLat * sinLon * cb + cosLon * sb;
  const dz = cosLat * cb;
  const qx = cosLat * cosLon * cd + dx * sd;
  const qy = cosLat * sinLon * cd + dy * sd;
  const qz = sinLat * cd + dz * sd;
  // atan2 instead of asin(qz): no domain error and full precision near the poles.
  out.lat = Math.atan2(qz, Math.sqrt(qx * qx + qy * qy));
  out.lon = Math.atan2(qy, qx);
  // Tangent at the end, d' = d cos(delta) - p sin(delta), from the terms already computed: the
  // movement step needs it for the arrival heading and would otherwise redo all the trigonometry.
  if ('tx' in out) {
    out.tx = dx * cd - cosLat * cosLon * sd;
    out.ty = dy * cd - cosLat * sinLon * sd;
    out.tz = dz * cd - sinLat * sd;
  }
}

const scratch: LatLonRad = { lat: 0, lon: 0 };

/** Point reached from (latDeg, lonDeg) along the great circle with the given initial bearing. */
export function destination(
  latDeg: number,
  lonDeg: number,
  bearingDeg: number,
  distanceM: number,
): { lat: number; lon: number } {
  destinationRad(latDeg * DEG_TO_RAD, lonDeg * DEG_TO_RAD, bearingDeg * DEG_TO_RAD, distanceM / EARTH_RADIUS_M, scratch);
  const lat = scratch.lat * RAD_TO_DEG;
  return { lat: lat > 90 ? 90 : lat < -90 ? -90 : lat, lon: normalizeLonDeg(scratch.lon * RAD_TO_DEG) };
}

/** Haversine great-circle distance in metres. */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const p1 = lat1 * DEG_TO_RAD;
  const p2 = lat2 * DEG_TO_RAD;
  const sdp = Math.sin((p2 - p1) / 2);
  const sdl = Math.sin(((lon2 - lon1) * DEG_TO_RAD) / 2);
  let a = sdp * sdp + Math.cos(p1) * Math.cos(p2) * sdl * sdl;
  // Rounding can push a a hair outside [0, 1]; sqrt(1 - a) would then be NaN.
  if (a > 1) a = 1;
  else if (a < 0) a = 0;
  return 2 * EARTH_RADIUS_M * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
}

/** Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360). */
export function initialBearingDeg(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const p1 = lat1 * DEG_TO_RAD;
  const p2 = lat2 * DEG_TO_RAD;
  const dl = (lon2 - lon1) * DEG_TO_RAD;
  const y = Math.sin(dl) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dl);
  const b = Math.atan2(y, x) * RAD_TO_DEG;
  const r = b < 0 ? b + 360 : b;
  return r >= 360 ? 0 : r;
}

type Vec3Out = Float64Array | number[];

/** Earth-centred, Earth-fixed unit vector of a lat/lon (x towards lon 0, z towards the north pole). */
export function unitVector(latDeg: number, lonDeg: number): [number, number, number];
export function unitVector<T extends Vec3Out>(latDeg: number, lonDeg: number, out: T): T;
export function unitVector(latDeg: number, lonDeg: number, out?: Vec3Out): Vec3Out {
  const lat = latDeg * DEG_TO_RAD;
  const lon = lonDeg * DEG_TO_RAD;
  const c = Math.cos(lat);
  const v = out ?? [0, 0, 0];
  v[0] = c * Math.cos(lon);
  v[1] = c * Math.sin(lon);
  v[2] = Math.sin(lat);
  return v;
}

export function poseLatDeg(p: Pose): number {
  return p.latE7 / E7;
}

export function poseLonDeg(p: Pose): number {
  return p.lonE7 / E7;
}

/** heading16 of a bearing in radians (any range): 65536 steps per turn. */
export function heading16FromRad(bearingRad: number): number {
  // & 0xffff wraps negatives and 65536 correctly (two's complement).
  return Math.round(bearingRad * (32768 / Math.PI)) & 0xffff;
}

/** Builds a Pose on the integer grid (Math.round, so .5 rounds up); lat clamped, lon wrapped. */
export function poseFromDegrees(lat: number, lon: number, altM = 0, headingDeg = 0): Pose {
  return {
    // + 0 turns -0 into 0 so that poses compare equal with deepStrictEqual / Object.is.
    latE7: clampLatE7(Math.round(lat * E7)) + 0,
    lonE7: wrapLonE7(Math.round(lon * E7)) + 0,
    altCm: Math.round(altM * 100) + 0,
    heading16: heading16FromRad(headingDeg * DEG_TO_RAD),
  };
}

/** Horizontal great-circle distance between two poses at the datum (altitude ignored), metres. */
export function poseDistanceM(a: Pose, b: Pose): number {
  return distanceM(a.latE7 / E7, a.lonE7 / E7, b.latE7 / E7, b.lonE7 / E7);
}

/**
 * Local east/north metres on the plane tangent to the sphere at a centre point (orthographic
 * projection through ECEF unit vectors): no seam at the antimeridian or the poles. At a pole the
 * east axis is the one implied by the given centre lon.
 *
 * Orthographic projection drops the component along the centre, so it is a contraction:
 * projected distance <= chord distance <= great-circle distance. Within a few km the difference
 * is < 1e-6 relative. Points more than 90 degrees away fold back onto the disk; project() returns
 * false for those so callers that could see them can tell.
 */
export class TangentPlane {
  readonly centerLat: number;
  readonly centerLon: number;
  private readonly cx: number;
  private readonly cy: number;
  private readonly cz: number;
  private readonly ex: number;
  private readonly ey: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly nz: number;

  constructor(latDeg: number, lonDeg: number) {
    this.centerLat = latDeg;
    this.centerLon = lonDeg;
    const lat = latDeg * DEG_TO_RAD;
    const lon = lonDeg * DEG_TO_RAD;
    const sinLat = Math.sin(lat);
    const cosLat = Math.cos(lat);
    const sinLon = Math.sin(lon);
    const cosLon = Math.cos(lon);
    this.cx = cosLat * cosLon;
    this.cy = cosLat * sinLon;
    this.cz = sinLat;
    this.ex = -sinLon;
    this.ey = cosLon;
    this.nx = -sinLat * cosLon;
    this.ny = -sinLat * sinLon;
    this.nz = cosLat;
  }

  /** Writes east (x) and north (y) metres into out; returns false if the point is on the far hemisphere. */
  project(latDeg: number, lonDeg: number, out: { x: number; y: number }): boolean {
    const lat = latDeg * DEG_TO_RAD;
    const lon = lonDeg * DEG_TO_RAD;
    const c = Math.cos(lat);
    const vx = c * Math.cos(lon);
    const vy = c * Math.sin(lon);
    const vz = Math.sin(lat);
    out.x = EARTH_RADIUS_M * (vx * this.ex + vy * this.ey);
    out.y = EARTH_RADIUS_M * (vx * this.nx + vy * this.ny + vz * this.nz);
    return vx * this.cx + vy * this.cy + vz * this.cz >= 0;
  }

  projectPose(p: Pose, out: { x: number; y: number }): boolean {
    return this.project(p.latE7 / E7, p.lonE7 / E7, out);
  }

  /** Inverse of project on the near hemisphere; points beyond the horizon circle clamp onto it. */
  unproject(x: number, y: number): { lat: number; lon: number } {
    let u = x / EARTH_RADIUS_M;
    let v = y / EARTH_RADIUS_M;
    let s = 1 - u * u - v * v;
    if (s < 0) {
      const k = 1 / Math.sqrt(u * u + v * v);
      u *= k;
      v *= k;
      s = 0;
    }
    const w = Math.sqrt(s);
    const qx = this.cx * w + this.ex * u + this.nx * v;
    const qy = this.cy * w + this.ey * u + this.ny * v;
    const qz = this.cz * w + this.nz * v;
    const lat = Math.atan2(qz, Math.sqrt(qx * qx + qy * qy)) * RAD_TO_DEG;
    return { lat: lat > 90 ? 90 : lat < -90 ? -90 : lat, lon: normalizeLonDeg(Math.atan2(qy, qx) * RAD_TO_DEG) };
  }
}
