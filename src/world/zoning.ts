// Zones are H3 cells. This is the only world file that imports h3-js (server side; the client
// bundle must stay small, so index.ts does not re-export it).

import {
  cellToBoundary,
  cellToLatLng,
  cellToParent,
  getHexagonEdgeLengthAvg,
  getResolution,
  gridDisk,
  isValidCell,
  latLngToCell,
} from 'h3-js';
import { degToRad, EARTH_RADIUS_M, poseLatDeg, poseLonDeg, radToDeg, TangentPlane, unitVector } from './geo.ts';
import type { Pose, ZoneId } from './types.ts';

export function zoneOf(latDeg: number, lonDeg: number, res: number): ZoneId {
  return latLngToCell(latDeg, lonDeg, res);
}

export function zoneOfPose(p: Pose, res: number): ZoneId {
  return latLngToCell(poseLatDeg(p), poseLonDeg(p), res);
}

/** Ancestor of a zone at a coarser resolution (regionRes <= the zone's resolution). */
export function regionOf(zone: ZoneId, regionRes: number): ZoneId {
  return cellToParent(zone, regionRes);
}

/** Ring-1 neighbours, excluding the zone itself: 6 for hexagons, 5 for pentagons. */
export function zoneNeighbours(zone: ZoneId): ZoneId[] {
  return gridDisk(zone, 1).filter((c) => c !== zone);
}

const CANONICAL_CELL = /^[0-9a-f]{15}$/;

/** True for a valid H3 cell written canonically (15 lower-case hex digits, as h3-js emits). */
export function isValidZone(s: string): boolean {
  return typeof s === 'string' && CANONICAL_CELL.test(s) && isValidCell(s);
}

/**
 * Geometry of one zone in the tangent plane at its centre, for cheap "am I still inside / how
 * close to which border" tests (the server calls h3 only near borders).
 *
 * H3 edges are great-circle arcs (straight in each icosahedron face's gnomonic projection;
 * cellToBoundary adds a vertex where an edge crosses a face, so Class III resolutions can have up
 * to 10 vertices and consecutive edges may share a neighbour). Each edge is therefore stored as
 * the inward unit normal m of its great circle, and the signed distance of a point u on the
 * sphere is R * (u . m) -- the sine of the angular distance, within 1e-8 relative of the true
 * distance at zone scales. Plane coordinates are lifted back to the sphere
 * (u = c*w + e*x/R + n*y/R, w = sqrt(1 - (x^2+y^2)/R^2)), so the test is exact at every
 * resolution, costs one sqrt, and has no seam at poles or the antimeridian.
 *
 * Most cells are convex, but a Class III cell whose edge crosses an icosahedron face bends at the
 * crossing vertex, sometimes inwards (measured up to ~18 degrees at res 5): such cells are not
 * convex, and insideMargin accounts for it (see there). boundary is counter-clockwise, starting
 * at a convex vertex (so not necessarily in cellToBoundary's order).
 */
export class ZoneGeometry {
  readonly zone: ZoneId;
  readonly resolution: number;
  readonly plane: TangentPlane;
  readonly centerLat: number;
  readonly centerLon: number;
  readonly edgeCount: number;
  /** Zone on the other side of each edge (same index as edgeDistances). */
  readonly neighbourAcrossEdge: ZoneId[];
  /** Vertices projected to plane metres, counter-clockwise; edge i runs from boundary[i] to boundary[i+1]. */
  readonly boundary: { x: number; y: number }[];
  /** Per edge (A, B, C): signed distance = A*w + B*x + C*y with w as above. */
  private readonly eq: Float64Array;
  /** False for the cells that bend inwards at a face-crossing vertex (see insideMargin). */
  readonly convex: boolean;
  /** Edge index where each concave chain starts (+ edgeCount at the end); null when the cell is convex. */
  private readonly chains: Int32Array | null;

  constructor(zone: ZoneId) {
    if (!isValidZone(zone)) throw new Error(`invalid zone id: ${zone}`);
    this.zone = zone;
    this.resolution = getResolution(zone);
    const [lat, lon] = cellToLatLng(zone);
    this.centerLat = lat;
    this.centerLon = lon;
    this.plane = new TangentPlane(lat, lon);
    const c = unitVector(lat, lon);
    const east = [-Math.sin(degToRad(lon)), Math.cos(degToRad(lon)), 0] as const;
    const north = cross(c, east);

    let raw = cellToBoundary(zone).map(([vLat, vLon]) => unitVector(vLat, vLon));
    // Orientation from the triple product of the first edge with the centre; normalise to CCW.
    if (raw.length >= 2 && dot(cross(raw[0]!, raw[1]!), c) < 0) raw = raw.reverse();
    let verts: V3[] = raw.filter((v, i) => {
      const m = cross(v, raw[(i + 1) % raw.length]!);
      return dot(m, m) > 1e-30; // drop duplicate vertices (zero-length edges)
    });
    // A vertex is reflex when the boundary turns right there (only at face-crossing vertices).
    const isReflex = (vs: V3[], i: number): boolean =>
      dot(cross(vs[(i + vs.length - 1) % vs.length]!, vs[i]!), vs[(i + 1) % vs.length]!) < 0;
    // Start at a convex vertex so that every concave chain is a contiguous run of edge indices.
    const first = verts.findIndex((_, i) => !isReflex(verts, i));
    verts = [...verts.slice(first), ...verts.slice(0, first)];

    const eq: number[] = [];
    const normals: V3[] = [];
    const chainStarts: number[] = [];
    for (let i = 0; i < verts.length; i++) {
      const m = cross(verts[i]!, verts[(i + 1) % verts.length]!);
      const len = Math.sqrt(dot(m, m));
      const mn: V3 = [m[0] / len, m[1] / len, m[2] / len];
      normals.push(mn);
      eq.push(EARTH_RADIUS_M * dot(c, mn), dot(east, mn), dot(north, mn));
      if (!isReflex(verts, i)) chainStarts.push(i);
    }
    chainStarts.push(verts.length);
    this.eq = Float64Array.from(eq);
    this.edgeCount = verts.length;
    this.convex = chainStarts.length - 1 === verts.length;
    this.chains = this.convex ? null : Int32Array.from(chainStarts);
    this.boundary = verts.map((v) => ({ x: EARTH_RADIUS_M * dot(v, east), y: EARTH_RADIUS_M * dot(v, north) }));

    const ring = new Set(zoneNeighbours(zone));
    this.neighbourAcrossEdge = [];
    for (let i = 0; i < this.edgeCount; i++) {
      const a = verts[i]!;
      const b = verts[(i + 1) % verts.length]!;
      const m = normals[i]!;
      // Great-circle midpoint pushed outward by 1 m (less for tiny res-14/15 cells, so we cannot
      // jump past the neighbour).
      const push = Math.min(1, 0.02 * this.eq[3 * i]!) / EARTH_RADIUS_M;
      const mx = a[0] + b[0];
      const my = a[1] + b[1];
      const mz = a[2] + b[2];
      const ml = Math.sqrt(mx * mx + my * my + mz * mz);
      const qx = mx / ml - m[0] * push;
      const qy = my / ml - m[1] * push;
      const qz = mz / ml - m[2] * push;
      const n = latLngToCell(radToDeg(Math.atan2(qz, Math.sqrt(qx * qx + qy * qy))), radToDeg(Math.atan2(qy, qx)), this.resolution);
      if (!ring.has(n)) throw new Error(`zone ${zone}: cell across edge ${i} (${n}) is not a ring-1 neighbour`);
      this.neighbourAcrossEdge.push(n);
    }
  }

  /**
   * Signed distance (m) from plane point (x, y) to each edge's great circle (the whole line, not
   * the segment), positive on the inner side. out.length >= edgeCount.
   */
  edgeDistances(x: number, y: number, out: Float64Array): void {
    const w = liftW(x, y);
    const eq = this.eq;
    for (let i = 0, j = 0; i < this.edgeCount; i++, j += 3) {
      out[i] = eq[j]! * w + eq[j + 1]! * x + eq[j + 2]! * y;
    }
  }

  /**
   * Signed distance to the zone border in metres: > 0 inside, < 0 outside, and never larger in
   * magnitude than the true distance to the border (a safe prefilter in both directions).
   * For convex cells this is the minimum of edgeDistances; at a reflex face-crossing vertex the
   * two edges count as one term, max(d1, d2), because the cell there is the union of their
   * half-planes.
   */
  insideMargin(x: number, y: number): number {
    const w = liftW(x, y);
    const eq = this.eq;
    let m = Infinity;
    const chains = this.chains;
    if (chains === null) {
      for (let j = 0; j < eq.length; j += 3) {
        const d = eq[j]! * w + eq[j + 1]! * x + eq[j + 2]! * y;
        if (d < m) m = d;
      }
      return m;
    }
    for (let k = 0; k + 1 < chains.length; k++) {
      let best = -Infinity;
      for (let j = 3 * chains[k]!, end = 3 * chains[k + 1]!; j < end; j += 3) {
        const d = eq[j]! * w + eq[j + 1]! * x + eq[j + 2]! * y;
        if (d > best) best = d;
      }
      if (best < m) m = best;
    }
    return m;
  }

  /**
   * insideMargin from the point's edgeDistances (the same terms, so the same value): for a
   * caller that has just computed them and would otherwise compute them again.
   */
  marginFromEdges(edges: Float64Array): number {
    let m = Infinity;
    const chains = this.chains;
    if (chains === null) {
      for (let i = 0; i < this.edgeCount; i++) {
        const d = edges[i]!;
        if (d < m) m = d;
      }
      return m;
    }
    for (let k = 0; k + 1 < chains.length; k++) {
      let best = -Infinity;
      for (let i = chains[k]!, end = chains[k + 1]!; i < end; i++) {
        const d = edges[i]!;
        if (d > best) best = d;
      }
      if (best < m) m = best;
    }
    return m;
  }

  /** Index of the edge whose distance is insideMargin (the border nearest to, or crossed by, the point). */
  nearestEdge(x: number, y: number): number {
    const w = liftW(x, y);
    const eq = this.eq;
    const chains = this.chains;
    const nChains = chains === null ? this.edgeCount : chains.length - 1;
    let m = Infinity;
    let k = 0;
    for (let c = 0; c < nChains; c++) {
      const start = chains === null ? c : chains[c]!;
      const end = chains === null ? c + 1 : chains[c + 1]!;
      let best = -Infinity;
      let bestEdge = start;
      for (let e = start; e < end; e++) {
        const d = eq[3 * e]! * w + eq[3 * e + 1]! * x + eq[3 * e + 2]! * y;
        if (d > best) {
          best = d;
          bestEdge = e;
        }
      }
      if (best < m) {
        m = best;
        k = bestEdge;
      }
    }
    return k;
  }
}

/** Height of the plane point lifted onto the unit sphere (0 beyond the horizon). */
function liftW(x: number, y: number): number {
  const s = 1 - (x * x + y * y) / (EARTH_RADIUS_M * EARTH_RADIUS_M);
  return s > 0 ? Math.sqrt(s) : 0;
}

type V3 = readonly [number, number, number];

function dot(a: V3, b: V3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function cross(a: V3, b: V3): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/**
 * Conservative lower bound, in metres, on the inradius of any cell at `res` (distance from
 * cellToLatLng's centre to the nearest edge): 0.47 x h3's average hexagon edge length.
 *
 * Measured with this module (inradius / getHexagonEdgeLengthAvg) over 5000 random cells per
 * resolution plus every cell within 4 rings of all 12 pentagons (where distortion is worst):
 * the minimum ratio is 0.549 at odd resolutions 5-13, 0.602 at even ones, 0.525 at res 15 and
 * 0.557-0.655 at res 0-3; a regular hexagon would be 0.866. 0.47 keeps >= 10 % margin everywhere.
 *
 * Use: if an entity anywhere in zone Z sees radius r (area of interest) and handoff hysteresis
 * lets it stray h outside Z, then r + h <= minCellInradiusM(res) guarantees its view stays
 * within Z's ring-1 neighbours. Measured: the distance from any point of Z to the outside of its
 * ring-1 disk is >= 1.0 x Z's own inradius and >= 0.70 x the average edge (res >= 3), so the
 * bound holds with margin.
 */
export function minCellInradiusM(res: number): number {
  return 0.47 * getHexagonEdgeLengthAvg(res, 'm');
}
