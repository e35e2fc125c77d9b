import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cellToParent, getPentagons, getResolution, gridDisk, isPentagon, latLngToCell } from 'h3-js';
import { distanceM } from '../../src/world/geo.ts';
import { poseFromDegrees } from '../../src/world/geo.ts';
import { Rng } from '../../src/world/rng.ts';
import {
  isValidZone,
  minCellInradiusM,
  regionOf,
  zoneNeighbours,
  ZoneGeometry,
  zoneOf,
  zoneOfPose,
} from '../../src/world/zoning.ts';

test('zoneOf / zoneOfPose / regionOf / zoneNeighbours / isValidZone', () => {
  const z = zoneOf(37.7749, -122.4194, 9);
  assert.equal(z, latLngToCell(37.7749, -122.4194, 9));
  assert.equal(zoneOfPose(poseFromDegrees(37.7749, -122.4194), 9), z);
  assert.equal(regionOf(z, 5), cellToParent(z, 5));
  assert.equal(getResolution(regionOf(z, 5)), 5);
  assert.equal(regionOf(z, 9), z);
  const n = zoneNeighbours(z);
  assert.equal(n.length, 6);
  assert.ok(!n.includes(z));
  const pent = getPentagons(7)[3]!;
  assert.equal(zoneNeighbours(pent).length, 5);
  assert.equal(isValidZone(z), true);
  assert.equal(isValidZone(z.toUpperCase()), false);
  assert.equal(isValidZone('0x' + z), false);
  assert.equal(isValidZone('8928308280fffff'.replace('8', '0')), false);
  assert.equal(isValidZone('ffffffffffffffff'), false);
  assert.equal(isValidZone(''), false);
  assert.equal(isValidZone('not a zone'), false);
});

/** Zones that stress the geometry: random ones, the antimeridian, both poles, pentagons and their neighbours. */
function testZones(): string[] {
  const rng = new Rng(2024);
  const zones = new Set<string>();
  for (const res of [5, 7, 8, 9, 11]) {
    for (let i = 0; i < 12; i++) {
      const lat = (Math.asin(rng.range(-1, 1)) * 180) / Math.PI;
      zones.add(latLngToCell(lat, rng.range(-180, 180), res));
    }
    for (const lat of [0, 10, -45, 65]) {
      zones.add(latLngToCell(lat, 179.99999, res));
      zones.add(latLngToCell(lat, -180, res));
    }
    zones.add(latLngToCell(90, 0, res));
    zones.add(latLngToCell(-90, 0, res));
    const pents = getPentagons(res);
    zones.add(pents[0]!);
    zones.add(pents[7]!);
    for (const c of gridDisk(pents[11]!, 1)) zones.add(c);
  }
  // Class III cells that bend inwards where an edge crosses an icosahedron face (non-convex).
  for (const c of ['85629d8bfffffff', '85016803fffffff', '870168003ffffff', '8701680c8ffffff', '89016800003ffff', '8b0168000003fff']) {
    for (const n of gridDisk(c, 1)) zones.add(n);
  }
  return [...zones];
}

test('ZoneGeometry: insideMargin agrees with h3 beyond +-0.5 m; points just across edge i are in neighbourAcrossEdge[i]', () => {
  const zones = testZones();
  let pentagons = 0;
  let antimeridian = 0;
  let concave = 0;
  for (const zone of zones) {
    const g = new ZoneGeometry(zone);
    assert.equal(g.zone, zone);
    assert.equal(g.edgeCount, g.boundary.length);
    assert.equal(g.neighbourAcrossEdge.length, g.edgeCount);
    const ring = new Set(zoneNeighbours(zone));
    for (const n of g.neighbourAcrossEdge) assert.ok(ring.has(n));
    // Every neighbour is across some edge (one edge at least each; face-crossing splits give more).
    assert.equal(new Set(g.neighbourAcrossEdge).size, ring.size);
    if (isPentagon(zone)) pentagons++;
    if (!g.convex) concave++;
    if (g.boundary.some((v) => Math.abs(g.plane.unproject(v.x, v.y).lon) > 179)) antimeridian++;

    let reach = 0;
    for (const v of g.boundary) reach = Math.max(reach, Math.sqrt(v.x * v.x + v.y * v.y));
    const xy = { x: 0, y: 0 };
    const dists = new Float64Array(g.edgeCount);
    fc.assert(
      fc.property(fc.double({ min: -1.4, max: 1.4, noNaN: true }), fc.double({ min: -1.4, max: 1.4, noNaN: true }), (u, v) => {
        const p = g.plane.unproject(u * reach, v * reach);
        g.plane.project(p.lat, p.lon, xy);
        const m = g.insideMargin(xy.x, xy.y);
        g.edgeDistances(xy.x, xy.y, dists);
        const minLine = Math.min(...dists.subarray(0, g.edgeCount));
        if (g.convex) assert.equal(m, minLine);
        else assert.ok(m >= minLine);
        const inH3 = zoneOf(p.lat, p.lon, g.resolution) === zone;
        if (m > 0.5) assert.ok(inH3, `${zone}: margin ${m} but h3 says outside`);
        if (m < -0.5) assert.ok(!inH3, `${zone}: margin ${m} but h3 says inside`);
      }),
      { numRuns: 300 },
    );

    // Points within a few metres of the border, where a wrong convexity assumption would show.
    fc.assert(
      fc.property(fc.nat(g.edgeCount - 1), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (i, t, ox, oy) => {
        const a = g.boundary[i]!;
        const b = g.boundary[(i + 1) % g.edgeCount]!;
        const p = g.plane.unproject(a.x + (b.x - a.x) * t + ox, a.y + (b.y - a.y) * t + oy);
        g.plane.project(p.lat, p.lon, xy);
        const m = g.insideMargin(xy.x, xy.y);
        const inH3 = zoneOf(p.lat, p.lon, g.resolution) === zone;
        if (m > 0.001) assert.ok(inH3, `${zone}: margin ${m} but h3 says outside`);
        if (m < -0.001) assert.ok(!inH3, `${zone}: margin ${m} but h3 says inside`);
      }),
      { numRuns: 200 },
    );

    // Just across each edge, away from its ends.
    for (let i = 0; i < g.edgeCount; i++) {
      const a = g.boundary[i]!;
      const b = g.boundary[(i + 1) % g.edgeCount]!;
      const len = Math.sqrt((b.x - a.x) ** 2 + (b.y - a.y) ** 2);
      if (len < 20) continue; // tiny face-crossing stub: its ends are too close to a corner
      for (const t of [0.02, 0.3, 0.5, 0.77, 0.98]) {
        const s = Math.min(Math.max(t, 5 / len), 1 - 5 / len);
        const px = a.x + (b.x - a.x) * s;
        const py = a.y + (b.y - a.y) * s;
        const ox = (b.y - a.y) / len; // outward normal of a counter-clockwise polygon
        const oy = -(b.x - a.x) / len;
        for (const [push, want] of [
          [0.6, g.neighbourAcrossEdge[i]!],
          [-0.6, zone],
        ] as const) {
          const p = g.plane.unproject(px + ox * push, py + oy * push);
          assert.equal(zoneOf(p.lat, p.lon, g.resolution), want, `${zone} edge ${i} t=${s} push ${push}`);
          g.plane.project(p.lat, p.lon, xy);
          g.edgeDistances(xy.x, xy.y, dists);
          assert.ok(Math.abs(dists[i]! + push) < 0.01, `distance to edge ${i}: ${dists[i]}`);
          assert.equal(dists[g.nearestEdge(xy.x, xy.y)], g.insideMargin(xy.x, xy.y));
        }
      }
    }
  }
  assert.ok(pentagons >= 10 && antimeridian >= 10 && concave >= 6, `${pentagons} pentagons, ${antimeridian} antimeridian, ${concave} concave`);
});

test('ZoneGeometry rejects invalid ids', () => {
  assert.throws(() => new ZoneGeometry('nope'));
});

test('minCellInradiusM is a lower bound on sampled inradii and on ring-1 coverage', () => {
  const rng = new Rng(77);
  for (const res of [4, 6, 7, 8, 9, 10, 12]) {
    const bound = minCellInradiusM(res);
    const cells = new Set<string>(getPentagons(res).flatMap((p) => gridDisk(p, 2)));
    for (let i = 0; i < 300; i++) cells.add(latLngToCell((Math.asin(rng.range(-1, 1)) * 180) / Math.PI, rng.range(-180, 180), res));
    const out = new Float64Array(10);
    for (const c of cells) {
      const g = new ZoneGeometry(c);
      g.edgeDistances(0, 0, out);
      assert.ok(Math.min(...out.subarray(0, g.edgeCount)) > bound, `${c} inradius below bound`);
    }
  }
  // A disk of that radius around any point of a zone (here: its vertices, the worst case) stays in ring 1.
  for (const zone of [latLngToCell(48.85, 2.35, 8), getPentagons(8)[4]!, gridDisk(getPentagons(9)[9]!, 1)[2]!, '870168003ffffff']) {
    const g = new ZoneGeometry(zone);
    const ring = new Set(gridDisk(zone, 1));
    const r = minCellInradiusM(g.resolution);
    for (const v of g.boundary) {
      for (let k = 0; k < 72; k++) {
        const th = (k * Math.PI) / 36;
        const p = g.plane.unproject(v.x + r * Math.cos(th), v.y + r * Math.sin(th));
        assert.ok(ring.has(zoneOf(p.lat, p.lon, g.resolution)), `${zone}: ${r} m from a vertex leaves ring 1`);
        const c = g.plane.unproject(v.x, v.y);
        assert.ok(Math.abs(distanceM(c.lat, c.lon, p.lat, p.lon) - r) < 1e-3 * r);
      }
    }
  }
});

// The zone tick reuses the edge distances it computed for placement to test the border margin.
test('ZoneGeometry.marginFromEdges equals insideMargin, convex and reflex cells alike', () => {
  const rng = new Rng(11);
  let points = 0;
  for (const res of [3, 5, 7, 8, 9]) {
    for (let c = 0; c < 60; c++) {
      const g = new ZoneGeometry(zoneOf(rng.next() * 170 - 85, rng.next() * 360 - 180, res));
      const edges = new Float64Array(g.edgeCount);
      const span = Math.max(...g.boundary.map((b) => Math.hypot(b.x, b.y))) * 1.5;
      for (let i = 0; i < 50; i++) {
        const x = (rng.next() - 0.5) * 2 * span;
        const y = (rng.next() - 0.5) * 2 * span;
        g.edgeDistances(x, y, edges);
        assert.ok(Object.is(g.marginFromEdges(edges), g.insideMargin(x, y)), `${g.zone} at ${x}, ${y}`);
        points++;
      }
    }
  }
  // Pentagons' neighbourhoods hold the non-convex cells: check all twelve at resolution 5.
  for (const p of getPentagons(5)) {
    for (const z of gridDisk(p, 1)) {
      const g = new ZoneGeometry(z);
      const edges = new Float64Array(g.edgeCount);
      for (let i = 0; i < 50; i++) {
        const x = (rng.next() - 0.5) * 20_000;
        const y = (rng.next() - 0.5) * 20_000;
        g.edgeDistances(x, y, edges);
        assert.ok(Object.is(g.marginFromEdges(edges), g.insideMargin(x, y)), `${z} at ${x}, ${y}`);
        points++;
      }
    }
  }
  assert.ok(points > 15_000);
});
