// GET /api/zones/near: the zone (H3 cell) around a point and its neighbours, as vertex lists, so
// the browser can draw zone borders without shipping h3-js in its bundle.
import { cellToBoundary, cellToLatLng, gridDisk, latLngToCell } from 'h3-js';
import { z } from 'zod';
import { sendJson } from '../ops/http.ts';
import type { HttpRoute } from '../ops/http.ts';
import { decimalParam, intParam, readQuery } from './query.ts';

export interface ZoneCell {
  zone: string;
  /** Centre [lat, lon] in degrees. */
  center: [number, number];
  /** Vertices [lat, lon] in degrees, in h3's order (counter-clockwise), not closed. */
  boundary: [number, number][];
}

export interface ZonesNear {
  resolution: number;
  /** The zone containing the point. */
  zone: string;
  /** The zone first, then every cell within `rings` of it. */
  cells: ZoneCell[];
}

const NearQuery = z.strictObject({
  lat: decimalParam(-90, 90),
  lon: decimalParam(-180, 180),
  rings: intParam(0, 2).optional(),
});

const round7 = (v: number): number => Math.round(v * 1e7) / 1e7;

/** Cells never change shape: keep the most recently used ones. */
const CACHE_LIMIT = 4096;
const cache = new Map<string, ZoneCell>();

function cell(zone: string): ZoneCell {
  const hit = cache.get(zone);
  if (hit) {
    cache.delete(zone);
    cache.set(zone, hit);
    return hit;
  }
  const [lat, lon] = cellToLatLng(zone);
  const c: ZoneCell = {
    zone,
    center: [round7(lat), round7(lon)],
    boundary: cellToBoundary(zone).map(([a, b]) => [round7(a), round7(b)]),
  };
  cache.set(zone, c);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return c;
}

export function zonesNear(lat: number, lon: number, resolution: number, rings = 1): ZonesNear {
  const zone = latLngToCell(lat, lon, resolution);
  const ids = [zone, ...gridDisk(zone, rings).filter((c) => c !== zone)];
  return { resolution, zone, cells: ids.map(cell) };
}

export function zonesRoute(resolution: number): HttpRoute {
  return {
    method: 'GET',
    path: '/api/zones/near',
    handle: (req, res) => {
      const q = readQuery(req, NearQuery);
      sendJson(res, 200, zonesNear(q.lat, q.lon, resolution, q.rings ?? 1), { 'Cache-Control': 'public, max-age=3600' });
    },
  };
}
