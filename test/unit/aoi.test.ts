import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AUX_STRIDE,
  AoiGrid,
  AoiScratch,
  VisibleSet,
  cellKey,
  isDue,
  selectVisible,
  updateInterval,
  MAX_CELL_COORD,
} from '../../src/zone/aoi.ts';
import { Rng } from '../../src/world/rng.ts';

const CELL = 200;
// Radii whose (0.6r, 0.8r) offsets are exact integers, so "distance exactly = radius" is exact.
// 5000 makes the query rectangle larger than the occupied cells (the table-scan path).
const RADII = [200, 50, 125, 350, 5000, 0];
const CENTRES: Array<[number, number]> = [
  [0, 0],
  [200, -400],
  [-600, 600],
  [137, -59],
  [-1000, -1000],
  [999.5, 0.25],
];
const EXACT_OFFSETS: Array<[number, number]> = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
  [0.6, 0.8],
  [-0.6, 0.8],
  [0.8, -0.6],
  [-0.8, -0.6],
];

type Pt = [number, number];

const arbPoint: fc.Arbitrary<Pt> = fc.oneof(
  fc.tuple(fc.double({ min: -1000, max: 1000, noNaN: true }), fc.double({ min: -1000, max: 1000, noNaN: true })),
  // On cell borders (both axes, or one).
  fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })).map(([a, b]): Pt => [a * CELL, b * CELL]),
  fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -1000, max: 1000 })).map(([a, b]): Pt => [a * CELL, b]),
  // Exactly `radius` away from one of the query centres.
  fc
    .tuple(fc.constantFrom(...CENTRES), fc.constantFrom(...RADII), fc.constantFrom(...EXACT_OFFSETS))
    .map(([[cx, cy], r, [ox, oy]]): Pt => [cx + ox * r, cy + oy * r]),
);

const arbCentre: fc.Arbitrary<Pt> = fc.oneof(fc.constantFrom(...CENTRES), arbPoint);

type Op =
  | { kind: 'insert'; id: number; p: Pt }
  | { kind: 'move'; id: number; p: Pt }
  | { kind: 'remove'; id: number }
  | { kind: 'query'; p: Pt; r: number };

const arbId = fc.integer({ min: 0, max: 300 });
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), id: arbId, p: arbPoint }),
  fc.record({ kind: fc.constant('move' as const), id: arbId, p: arbPoint }),
  fc.record({ kind: fc.constant('remove' as const), id: arbId }),
  fc.record({ kind: fc.constant('query' as const), p: arbCentre, r: fc.constantFrom(...RADII) }),
);

function bruteQuery(model: Map<number, Pt>, x: number, y: number, r: number): number[] {
  const res: number[] = [];
  for (const [id, [ex, ey]] of model) {
    const dx = ex - x;
    const dy = ey - y;
    if (dx * dx + dy * dy <= r * r) res.push(id);
  }
  return res.sort((a, b) => a - b);
}

function gridQuery(grid: AoiGrid, x: number, y: number, r: number, out: number[]): number[] {
  const n = grid.query(x, y, r, out);
  return out.slice(0, n).sort((a, b) => a - b);
}

test('query() matches brute force after random insert/move/remove sequences', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(arbId, arbPoint), { selector: ([id]) => id, maxLength: 250 }),
      fc.array(arbOp, { maxLength: 200 }),
      fc.constantFrom(CELL, 50, 333.3),
      (initial, ops, cellSize) => {
        const grid = new AoiGrid(cellSize);
        const model = new Map<number, Pt>();
        const out: number[] = [];
        for (const [id, p] of initial) {
          grid.insert(id, p[0], p[1]);
          model.set(id, p);
        }
        for (const op of ops) {
          switch (op.kind) {
            case 'insert':
              if (model.has(op.id)) {
                assert.throws(() => grid.insert(op.id, op.p[0], op.p[1]));
              } else {
                grid.insert(op.id, op.p[0], op.p[1]);
                model.set(op.id, op.p);
              }
              break;
            case 'move':
              if (model.has(op.id)) {
                grid.move(op.id, op.p[0], op.p[1]);
                model.set(op.id, op.p);
              } else {
                assert.throws(() => grid.move(op.id, op.p[0], op.p[1]));
              }
              break;
            case 'remove':
              assert.equal(grid.remove(op.id), model.delete(op.id));
              break;
            case 'query':
              assert.deepEqual(gridQuery(grid, op.p[0], op.p[1], op.r, out), bruteQuery(model, op.p[0], op.p[1], op.r));
              break;
          }
          assert.equal(grid.size, model.size);
        }
        // Final full check: every entity, and a query at every centre and radius.
        for (const [id, [x, y]] of model) {
          assert.ok(grid.has(id));
          assert.equal(grid.x(id), x);
          assert.equal(grid.y(id), y);
        }
        for (const [cx, cy] of CENTRES) {
          for (const r of RADII) assert.deepEqual(gridQuery(grid, cx, cy, r, out), bruteQuery(model, cx, cy, r));
        }
        // Dense iteration covers exactly the model.
        const seen: number[] = [];
        grid.forEach((id, x, y) => {
          assert.deepEqual([x, y], model.get(id));
          seen.push(id);
        });
        assert.deepEqual(seen.sort((a, b) => a - b), [...model.keys()].sort((a, b) => a - b));
      },
    ),
    { numRuns: 300 },
  );
});

test('query() leaves stale entries beyond the returned count', () => {
  const grid = new AoiGrid(CELL);
  grid.insert(1, 0, 0);
  const out = [7, 8, 9];
  assert.equal(grid.query(0, 0, 10, out), 1);
  assert.deepEqual(out, [1, 8, 9]);
});

test('insert/move validate ids and coordinates', () => {
  const grid = new AoiGrid(CELL);
  assert.throws(() => grid.insert(-1, 0, 0), RangeError);
  assert.throws(() => grid.insert(1.5, 0, 0), RangeError);
  assert.throws(() => grid.insert(2 ** 31, 0, 0), RangeError);
  assert.throws(() => grid.insert(1, Number.NaN, 0), RangeError);
  assert.throws(() => grid.insert(1, (MAX_CELL_COORD + 1) * CELL, 0), RangeError);
  assert.equal(grid.size, 0);
  grid.insert(1, -5, -5);
  assert.throws(() => grid.move(1, 0, Number.POSITIVE_INFINITY), RangeError);
  assert.throws(() => grid.x(2), RangeError);
  assert.equal(grid.remove(2), false);
  assert.equal(grid.query(0, 0, Number.NaN, []), 0);
});

test('cellKey is injective over the supported range', () => {
  const lim = MAX_CELL_COORD;
  const keys = new Set<number>();
  const cs = [-lim, -lim + 1, -1, 0, 1, lim - 1, lim];
  for (const a of cs) for (const b of cs) keys.add(cellKey(a, b));
  assert.equal(keys.size, cs.length * cs.length);
  for (const k of keys) assert.ok(Number.isSafeInteger(k) && k >= 0);
});

test('query cost depends on nearby density, not world size', () => {
  const grid = new AoiGrid(CELL);
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  // 100k entities packed in a 3 km square; 5 entities in a sparse corner far away.
  for (let i = 0; i < 100_000; i++) grid.insert(i, rnd() * 3000, rnd() * 3000);
  for (let i = 0; i < 5; i++) grid.insert(200_000 + i, -20_000 + i * 30, -20_000 - i * 25);
  const out: number[] = [];
  const n = grid.query(-20_000, -20_000, 200, out);
  assert.equal(n, 5);
  assert.ok(grid.lastVisited <= 5, `visited ${grid.lastVisited}`);
  // Sanity: the dense region really is dense, and visits stay local there too.
  grid.query(1500, 1500, 200, out);
  assert.ok(grid.lastVisited > 1000 && grid.lastVisited < 20_000, `visited ${grid.lastVisited}`);
});

test('entities crossing cell borders back and forth keep the grid consistent', () => {
  const grid = new AoiGrid(CELL);
  const model = new Map<number, Pt>();
  const out: number[] = [];
  for (let i = 0; i < 50; i++) {
    grid.insert(i, i, 0);
    model.set(i, [i, 0]);
  }
  for (let k = 0; k < 200; k++) {
    for (const i of model.keys()) {
      const p: Pt = [k % 2 === 0 ? -0.001 - i : CELL + i, (k % 3) * CELL];
      grid.move(i, p[0], p[1]);
      model.set(i, p);
    }
    if (k % 17 === 0) assert.equal(grid.remove(k % 50), model.delete(k % 50));
    for (const [x, y] of [[0, 0], [CELL, CELL], [CELL, 2 * CELL], [-25, 0]] as Pt[]) {
      assert.deepEqual(gridQuery(grid, x, y, 60, out), bruteQuery(model, x, y, 60));
    }
  }
});

test('cell table survives heavy churn (many cells created and emptied)', () => {
  // 1 m cells: nearly every entity has its own cell, so the open-addressing table sees long
  // probe chains, deletions inside them and several rehashes.
  const grid = new AoiGrid(1);
  const model = new Map<number, Pt>();
  const out: number[] = [];
  let seed = 99;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pt = (): Pt => [Math.floor(rnd() * 80) - 40, Math.floor(rnd() * 80) - 40];
  for (let round = 0; round < 20_000; round++) {
    const id = Math.floor(rnd() * 3000);
    const r = rnd();
    if (r < 0.4) {
      if (!model.has(id)) {
        const p = pt();
        grid.insert(id, p[0], p[1]);
        model.set(id, p);
      }
    } else if (r < 0.7) {
      assert.equal(grid.remove(id), model.delete(id));
    } else if (model.has(id)) {
      const p = pt();
      grid.move(id, p[0], p[1]);
      model.set(id, p);
    }
    if (round % 500 === 0) {
      for (let k = 0; k < 20; k++) {
        const [x, y] = pt();
        assert.deepEqual(gridQuery(grid, x, y, 3, out), bruteQuery(model, x, y, 3));
      }
    }
  }
  for (const [id, [x, y]] of model) {
    // Each entity must be found by a zero-radius query at its own position.
    assert.ok(gridQuery(grid, x, y, 0, out).includes(id));
  }
});

test('cell table deletions stay correct near full load (probe chains wrapping the table end)', () => {
  // ~30 occupied cells keeps the 64-slot table just under its load limit; every move empties one
  // cell and fills another, so deletions inside chains that wrap around the table are frequent.
  const grid = new AoiGrid(1);
  const model = new Map<number, Pt>();
  const out: number[] = [];
  let seed = 4242;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pt = (): Pt => [Math.floor(rnd() * 2000) - 1000, Math.floor(rnd() * 2000) - 1000];
  for (let id = 0; id < 30; id++) {
    const p = pt();
    grid.insert(id, p[0], p[1]);
    model.set(id, p);
  }
  for (let round = 0; round < 20_000; round++) {
    const id = Math.floor(rnd() * 30);
    const p = pt();
    grid.move(id, p[0], p[1]);
    model.set(id, p);
    for (const [other, [x, y]] of model) {
      if ((other + round) % 10 !== 0) continue;
      assert.ok(gridQuery(grid, x, y, 0, out).includes(other), `round ${round}: lost ${other}`);
    }
  }
});

// ---------- selectVisible ----------

const R = 200;
const H = 0.1;

function polar(cx: number, cy: number, d: number, a: number): Pt {
  return [cx + d * Math.cos(a), cy + d * Math.sin(a)];
}

interface WalkStep {
  moves: Array<{ who: number; dist: number; angle: number; exact: number }>;
  viewerMove: Pt | null;
}

// Distances concentrated around the enter radius and the hysteresis radius.
const arbDist = fc.oneof(
  fc.constantFrom(0, R * 0.5, R * 0.99, R, R * 1.05, R * (1 + H), R * 1.1000001, R * 1.5, 2 * R),
  fc.double({ min: 0, max: 3 * R, noNaN: true }),
);

const arbStep: fc.Arbitrary<WalkStep> = fc.record({
  moves: fc.array(
    fc.record({
      who: fc.nat(),
      dist: arbDist,
      angle: fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }),
      // >= 0: use an exact axis/pythagorean offset instead of polar (distance exactly R or R(1+H)).
      exact: fc.integer({ min: -3, max: EXACT_OFFSETS.length - 1 }),
    }),
    { maxLength: 40 },
  ),
  viewerMove: fc.option(fc.tuple(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }))),
});

function checkSorted(v: VisibleSet): void {
  for (let i = 1; i < v.count; i++) assert.ok(v.ids[i - 1]! < v.ids[i]!, 'ids strictly ascending');
}

test('selectVisible follows the hysteresis model over random walks', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 200 }),
      fc.array(arbStep, { minLength: 1, maxLength: 30 }),
      fc.boolean(),
      (ids, steps, inPlace) => {
        const grid = new AoiGrid(R);
        const viewer = ids[0]!;
        let vx = -333;
        let vy = 111;
        const pos = new Map<number, Pt>();
        for (const id of ids) {
          const p: Pt = id === viewer ? [vx, vy] : polar(vx, vy, (id % 7) * 60, id);
          pos.set(id, p);
          grid.insert(id, p[0], p[1]);
        }
        const scratch = new AoiScratch();
        let prev = new VisibleSet(4); // small on purpose: exercises growth
        let next = inPlace ? prev : new VisibleSet(4);
        let modelPrev = new Set<number>();
        const outer = R * (1 + H);
        for (const step of steps) {
          if (step.viewerMove) {
            vx += step.viewerMove[0];
            vy += step.viewerMove[1];
            pos.set(viewer, [vx, vy]);
            grid.move(viewer, vx, vy);
          }
          for (const m of step.moves) {
            const id = ids[m.who % ids.length]!;
            if (id === viewer) continue;
            let p: Pt;
            if (m.exact >= 0) {
              const [ox, oy] = EXACT_OFFSETS[m.exact]!;
              const d = m.dist < R * 1.05 ? R : outer;
              p = [vx + ox * d, vy + oy * d];
            } else {
              p = polar(vx, vy, m.dist, m.angle);
            }
            pos.set(id, p);
            grid.move(id, p[0], p[1]);
          }
          const n = selectVisible(grid, viewer, vx, vy, R, H, prev, scratch, next);
          assert.equal(n, next.count);
          const expected = new Map<number, number>();
          for (const [id, [x, y]] of pos) {
            if (id === viewer) continue;
            const dx = x - vx;
            const dy = y - vy;
            const d2 = dx * dx + dy * dy;
            if (d2 <= R * R || (modelPrev.has(id) && d2 <= outer * outer)) expected.set(id, Math.sqrt(d2));
          }
          checkSorted(next);
          const got = Array.from(next.ids.subarray(0, next.count));
          assert.deepEqual(got, [...expected.keys()].sort((a, b) => a - b));
          for (let i = 0; i < next.count; i++) assert.equal(next.distances[i], expected.get(next.ids[i]!));
          assert.ok(!next.has(viewer));
          modelPrev = new Set(expected.keys());
          if (!inPlace) [prev, next] = [next, prev];
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('an entity oscillating between radius and radius*(1+h) never flickers once seen', () => {
  const grid = new AoiGrid(R);
  const scratch = new AoiScratch();
  const vis = new VisibleSet();
  grid.insert(1, 0, 0); // viewer
  // Entity 2 oscillates and is first seen at exactly R; entity 3 oscillates in the band but never enters.
  grid.insert(2, 0, R * 1.05);
  grid.insert(3, -R * 1.05, 0);
  selectVisible(grid, 1, 0, 0, R, H, vis, scratch, vis);
  assert.equal(vis.count, 0, 'inside the band but never entered: not visible');
  grid.move(2, 0.6 * R, -0.8 * R); // exactly R
  selectVisible(grid, 1, 0, 0, R, H, vis, scratch, vis);
  assert.deepEqual(Array.from(vis.ids.subarray(0, vis.count)), [2]);
  assert.equal(vis.distances[0], R);
  // Polar points are not exact, so stay a hair inside R(1+H) there; (132, 176) is the exact edge.
  const band = [R * 1.0999, R * 1.0001, R, R * 1.09, 132, 176, R * 1.05];
  for (let k = 0; k < 100; k++) {
    const d = band[k % band.length]!;
    if (d === 132 || d === 176) grid.move(2, 132, 176);
    else grid.move(2, d * Math.cos(k), d * Math.sin(k));
    grid.move(3, -R * (1 + H * ((k % 9) / 9)), 0.001);
    selectVisible(grid, 1, 0, 0, R, H, vis, scratch, vis);
    assert.deepEqual(Array.from(vis.ids.subarray(0, vis.count)), [2], `step ${k}`);
  }
  // Past the hysteresis radius it leaves, and must come back within R to re-enter.
  grid.move(2, 0, R * 1.11);
  selectVisible(grid, 1, 0, 0, R, H, vis, scratch, vis);
  assert.equal(vis.count, 0);
  grid.move(2, 0, R * 1.05);
  selectVisible(grid, 1, 0, 0, R, H, vis, scratch, vis);
  assert.equal(vis.count, 0);
});

test('selectVisible sorts large unsorted candidate sets and excludes the viewer', () => {
  const grid = new AoiGrid(50); // many cells, so bucket order differs from id order
  const ids: number[] = [];
  let seed = 7;
  for (let i = 0; i < 3000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const id = seed & 0x7fffffff;
    if (grid.has(id)) continue;
    grid.insert(id, ((seed >>> 3) % 400) - 200, ((seed >>> 13) % 400) - 200);
    ids.push(id);
  }
  const viewer = ids[17]!;
  const vis = new VisibleSet();
  const n = selectVisible(grid, viewer, grid.x(viewer), grid.y(viewer), 150, 0.1, new VisibleSet(), new AoiScratch(), vis);
  checkSorted(vis);
  assert.ok(!vis.has(viewer));
  const expected = bruteQuery(
    new Map(ids.map((id): [number, Pt] => [id, [grid.x(id), grid.y(id)]])),
    grid.x(viewer),
    grid.y(viewer),
    150,
  ).filter((id) => id !== viewer);
  assert.equal(n, expected.length);
  assert.deepEqual(Array.from(vis.ids.subarray(0, n)), expected);
});

// ---------- update intervals ----------

test('updateInterval thresholds', () => {
  assert.equal(updateInterval(0, 200), 1);
  assert.equal(updateInterval(100, 200), 1);
  assert.equal(updateInterval(100.0001, 200), 2);
  assert.equal(updateInterval(160, 200), 2);
  assert.equal(updateInterval(160.0001, 200), 4);
  assert.equal(updateInterval(220, 200), 4);
});

test('isDue: each id is due exactly once per interval window', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(1, 2, 4), (id, start, interval) => {
      let due = 0;
      for (let f = start; f < start + interval; f++) if (isDue(id, f, interval)) due++;
      assert.equal(due, 1);
    }),
  );
});

test('isDue spreads sequential ids across phases', () => {
  for (const interval of [2, 4]) {
    const perFrame = new Array<number>(interval).fill(0);
    for (let id = 1; id <= 4000; id++) {
      for (let f = 0; f < interval; f++) if (isDue(id, 1000 + f, interval)) perFrame[f]!++;
    }
    const expected = 4000 / interval;
    for (const c of perFrame) assert.ok(Math.abs(c - expected) < expected * 0.1, `interval ${interval}: ${perFrame.join(',')}`);
  }
});

// collectSorted walks a small grid whole in id order and a large one through its cells, placing
// hits by rank; both must give brute force's answer in ascending id order, and an entity's aux
// ints and wire row must move with it through inserts, moves and removes (by id and by index).
test('collectSorted matches sorted brute force on both paths, under churn; aux and rows follow their entities', () => {
  const cases = [
    { cell: 200, ids: 150, span: 2000, radius: 220, path: 'linear' }, // a spread zone
    { cell: 200, ids: 2000, span: 3000, radius: 220, path: 'cells' },
    { cell: 50, ids: 600, span: 5000, radius: 20, path: 'either' },
    { cell: 1, ids: 300, span: 60, radius: 3, path: 'either' },
  ];
  for (const c of cases) {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => {
        const rng = new Rng(seed);
        const grid = new AoiGrid(c.cell, 3);
        const scratch = new AoiScratch();
        const model = new Map<number, { x: number; y: number; a: number; b: number; row: number }>();
        let linear = 0;
        let byCells = 0;
        for (let round = 0; round < 3000; round++) {
          const id = Math.floor(rng.next() * c.ids * 1.5);
          const r = rng.next();
          const x = (rng.next() - 0.5) * c.span;
          const y = (rng.next() - 0.5) * c.span;
          const known = model.get(id);
          if (r < 0.3 && known === undefined) {
            const at = grid.insert(id, x, y);
            for (let i = 0; i < AUX_STRIDE; i++) assert.equal(grid.aux[at * AUX_STRIDE + i], 0, 'aux starts zeroed');
            grid.aux[at * AUX_STRIDE] = id * 3;
            grid.aux[at * AUX_STRIDE + 1] = -id;
            grid.rows[at * 3] = id + 1;
            model.set(id, { x, y, a: id * 3, b: -id | 0, row: id + 1 });
          } else if (r < 0.5 && known !== undefined) {
            if (rng.next() < 0.5) grid.remove(id);
            else grid.removeAt(grid.indexOf(id));
            model.delete(id);
          } else if (known !== undefined) {
            grid.moveAt(grid.indexOf(id), x, y);
            known.x = x;
            known.y = y;
          } else {
            assert.equal(grid.indexOf(id), -1);
          }
          if (round % 25 !== 0) continue;
          const qx = (rng.next() - 0.5) * c.span;
          const qy = (rng.next() - 0.5) * c.span;
          const n = grid.collectSorted(qx, qy, c.radius, scratch, 0.1);
          if (grid.lastVisited === grid.size) linear++;
          else byCells++;
          const outer = c.radius * 1.1;
          const want = [...model]
            .filter(([, p]) => (p.x - qx) ** 2 + (p.y - qy) ** 2 <= outer * outer)
            .map(([i]) => i)
            .sort((a, b) => a - b);
          assert.deepEqual(Array.from(scratch.ids.subarray(0, n)), want);
          for (let k = 0; k < n; k++) {
            const p = model.get(scratch.ids[k]!)!;
            assert.equal(scratch.dist2[k], (p.x - qx) * (p.x - qx) + (p.y - qy) * (p.y - qy));
            assert.equal(grid.idAt(scratch.slots[k]!), scratch.ids[k]);
          }
          for (const [i, p] of model) {
            const at = grid.indexOf(i);
            assert.equal(grid.aux[at * AUX_STRIDE], p.a);
            assert.equal(grid.aux[at * AUX_STRIDE + 1], p.b);
            assert.equal(grid.rows[at * 3], p.row);
          }
          assert.equal(grid.size, model.size);
        }
        // Each case exercises the path it is there for (a small grid is walked whole).
        if (c.path === 'linear') assert.equal(byCells, 0);
        if (c.path === 'cells') assert.ok(byCells > 0, 'the cell path ran');
        assert.equal(linear + byCells, 120);
      }),
      { numRuns: 3 },
    );
  }
});
