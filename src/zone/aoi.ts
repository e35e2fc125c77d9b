// Area-of-interest queries over a zone's local tangent plane (metres, x east, y north).
// Hot path: thousands of viewers per tick, so everything below works on typed arrays owned by
// the grid or by caller-held scratch objects; queries allocate nothing.

/** Cell coordinates must satisfy |c| < 2^20 so that cellKey stays an exact integer (< 2^42). */
export const MAX_CELL_COORD = (1 << 20) - 1;
const CELL_OFFSET = 1 << 20;
const CELL_SPAN = 1 << 21;

/** Non-negative integer that identifies cell (cx, cy); exact for |cx|, |cy| <= MAX_CELL_COORD. */
export function cellKey(cx: number, cy: number): number {
  return (cx + CELL_OFFSET) * CELL_SPAN + (cy + CELL_OFFSET);
}

/** Entity ids are stored in Int32Arrays (snapshots carry them as int32), so they must fit. */
const MAX_ID = 0x7fffffff;

/** Ints per entity in AoiGrid.aux. */
export const AUX_STRIDE = 2;

/**
 * Up to this many entities, collectSorted() tests every entity in id order (its hits come out
 * sorted) instead of looking up the cells around the query. Measured over many zones (so that
 * branch patterns are not learnt), the walk wins below ~400 entities at both the spread
 * density (a spread-world zone holds ~150 with its ghosts) and the dense one (~100 hits).
 */
const LINEAR_SCAN_MIN = 384;

function cellHash(cx: number, cy: number): number {
  // Multiplicative mix; the table masks the result, so only the spread of the low bits matters.
  let h = Math.imul(cx, 0x9e3779b1) ^ Math.imul(cy, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

function growInt32(a: Int32Array, min: number): Int32Array<ArrayBuffer> {
  let cap = a.length * 2;
  while (cap < min) cap *= 2;
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

function growFloat64(a: Float64Array, min: number): Float64Array<ArrayBuffer> {
  let cap = a.length * 2;
  while (cap < min) cap *= 2;
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/**
 * Uniform hash grid of points keyed by entity id.
 *
 * Storage is dense: entity i (0 <= i < size) lives at index i of parallel typed arrays, and each
 * non-empty cell owns a bucket (an Int32Array of dense indices, swap-remove). Cells are found
 * through an open-addressing table keyed by cellKey. Emptied buckets go to a free list and are
 * reused, so entities crossing cell borders back and forth allocate nothing in steady state.
 *
 * Distances everywhere use `dx*dx + dy*dy <= r*r` (so an entity at exactly `radius` is included).
 *
 * With a `rowStride`, each entity also owns a row of that many int32s in `rows`, stored at its
 * dense index (it moves with the entity on removal). Queries report the index of each hit, so a
 * caller keeps per-entity data here, in one array, rather than look it up by id for every hit.
 */
export class AoiGrid {
  readonly cellSize: number;
  readonly rowStride: number;
  /** Entity entries whose positions were tested by the most recent query()/collect()/collectSorted(). */
  lastVisited = 0;

  private readonly slotOf = new Map<number, number>();
  private count = 0;
  private entId = new Int32Array(64);
  private entX = new Float64Array(64);
  private entY = new Float64Array(64);
  private entCx = new Int32Array(64);
  private entCy = new Int32Array(64);
  private entBucket = new Int32Array(64);
  private entPos = new Int32Array(64);
  private entRow: Int32Array<ArrayBuffer>;
  /** Dense indices ordered by entity id (byId[0..count)): collectSorted's linear walk. */
  private byId = new Int32Array(64);
  /**
   * Rank of each dense index in byId, and the positions in rank order, interleaved (rankXY[2r] is
   * entX[byId[r]], rankXY[2r + 1] its y: one array for the walk to check and bound, not two),
   * so collectSorted's walk reads the positions in order instead of gathering through byId.
   * Rebuilt on demand after byId changed (entities come and go); kept in step by moves.
   */
  private entRank = new Int32Array(64);
  private rankXY = new Float64Array(128);
  private ranksValid = true;
  /** collectByCells' scratch, by rank: a bit per entity and the squared distance of each hit. */
  private hitBits = new Int32Array(2);
  private hitD2 = new Float64Array(64);
  /** AUX_STRIDE ints per entity kept for the caller (see aux). */
  private entAux = new Int32Array(64 * AUX_STRIDE);

  // Buckets, indexed by bucket number.
  private bucketSlots: Int32Array[] = [];
  private bucketCount = new Int32Array(16);
  private bucketKey = new Float64Array(16);
  private bucketCx = new Int32Array(16);
  private bucketCy = new Int32Array(16);
  private freeBuckets: number[] = [];
  private liveBuckets = 0;

  // Open-addressing (linear probing) cell table: key -1 = empty slot.
  private tableKey = new Float64Array(64).fill(-1);
  private tableBucket = new Int32Array(64);
  private tableMask = 63;

  constructor(cellSize: number, rowStride = 0) {
    if (!(cellSize > 0) || !Number.isFinite(cellSize)) throw new RangeError(`cellSize must be > 0, got ${cellSize}`);
    if (!Number.isInteger(rowStride) || rowStride < 0) throw new RangeError(`rowStride must be an integer >= 0, got ${rowStride}`);
    this.cellSize = cellSize;
    this.rowStride = rowStride;
    this.entRow = new Int32Array(64 * rowStride);
  }

  /**
   * Per-entity rows: entity at dense index i owns rows[i * rowStride, (i + 1) * rowStride).
   * Replaced when the grid grows, so read it again after an insert.
   */
  get rows(): Int32Array {
    return this.entRow;
  }

  get size(): number {
    return this.count;
  }

  /**
   * AUX_STRIDE ints per entity for the caller's own bookkeeping, at aux[i * AUX_STRIDE ...] for
   * dense index i: zero when the entity is inserted, and they move with it (like its row), so
   * what a caller keeps per entity needs no map of its own. Replaced when the grid grows.
   */
  get aux(): Int32Array {
    return this.entAux;
  }

  /** Dense index of entity `id`, or -1 when it is not in the grid. */
  indexOf(id: number): number {
    const s = this.slotOf.get(id);
    return s === undefined ? -1 : s;
  }

  /** move() by dense index (from indexOf or insert), without the id lookup. */
  moveAt(index: number, x: number, y: number): void {
    if (!(index >= 0 && index < this.count)) noIndex(index);
    this.moveSlot(index, x, y);
  }

  has(id: number): boolean {
    return this.slotOf.has(id);
  }

  x(id: number): number {
    return this.entX[this.slot(id)]!;
  }

  y(id: number): number {
    return this.entY[this.slot(id)]!;
  }

  /** Dense iteration without closures: for (let i = 0; i < g.size; i++) g.idAt(i) ... Removing during such a loop moves the last entity into the removed index. */
  idAt(index: number): number {
    return this.entId[index]!;
  }

  xAt(index: number): number {
    return this.entX[index]!;
  }

  yAt(index: number): number {
    return this.entY[index]!;
  }

  /** Calls fn for every entity. fn must not insert or remove (use the index accessors for that). */
  forEach(fn: (id: number, x: number, y: number) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.entId[i]!, this.entX[i]!, this.entY[i]!);
  }

  /** Adds an entity; returns its dense index. Its row (if any) holds stale data until written. */
  insert(id: number, x: number, y: number): number {
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`entity id must be an int32 >= 0, got ${id}`);
    if (this.slotOf.has(id)) throw new Error(`entity ${id} already in grid`);
    const cx = this.cellOf(x);
    const cy = this.cellOf(y);
    const s = this.count;
    if (s === this.entId.length) this.growEntities();
    this.entId[s] = id;
    this.entX[s] = x;
    this.entY[s] = y;
    this.entCx[s] = cx;
    this.entCy[s] = cy;
    this.count = s + 1;
    this.slotOf.set(id, s);
    this.addToBucket(s, this.bucketFor(cx, cy, true));
    const aux = this.entAux;
    for (let i = s * AUX_STRIDE, end = i + AUX_STRIDE; i < end; i++) aux[i] = 0;
    // Entities come and go far less often than they are queried: keep byId sorted here.
    const at = this.rankOf(id, s);
    const byId = this.byId;
    byId.copyWithin(at + 1, at, s);
    byId[at] = s;
    this.ranksValid = false;
    return s;
  }

  /** Position in byId[0..n) where `id` is or would go (binary search on the ids). */
  private rankOf(id: number, n: number): number {
    const byId = this.byId;
    const entId = this.entId;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entId[byId[mid]!]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Updates a position; O(1) and touches no bucket when the entity stays in its cell. */
  move(id: number, x: number, y: number): void {
    this.moveSlot(this.slot(id), x, y);
  }

  /** move() if the entity is in the grid, else insert(), with one id lookup; returns its dense index. */
  upsert(id: number, x: number, y: number): number {
    const s = this.slotOf.get(id);
    if (s === undefined) return this.insert(id, x, y);
    this.moveSlot(s, x, y);
    return s;
  }

  private moveSlot(s: number, x: number, y: number): void {
    const cx = this.cellOf(x);
    const cy = this.cellOf(y);
    this.entX[s] = x;
    this.entY[s] = y;
    if (this.ranksValid) {
      const r = this.entRank[s]!;
      this.rankXY[2 * r] = x;
      this.rankXY[2 * r + 1] = y;
    }
    if (cx === this.entCx[s] && cy === this.entCy[s]) return;
    this.removeFromBucket(s);
    this.entCx[s] = cx;
    this.entCy[s] = cy;
    this.addToBucket(s, this.bucketFor(cx, cy, true));
  }

  remove(id: number): boolean {
    const s = this.slotOf.get(id);
    if (s === undefined) return false;
    this.removeAt(s);
    return true;
  }

  /**
   * remove() by dense index. The last entity moves into `index`, so a loop over indices that
   * removes as it goes looks at `index` again.
   */
  removeAt(index: number): void {
    if (!(index >= 0 && index < this.count)) noIndex(index);
    const s = index;
    const id = this.entId[s]!;
    this.removeFromBucket(s);
    this.slotOf.delete(id);
    const last = this.count - 1;
    const byId = this.byId;
    const at = this.rankOf(id, this.count);
    byId.copyWithin(at, at + 1, this.count);
    this.ranksValid = false;
    if (s !== last) {
      // Keep storage dense: move the last entity into the hole and repoint its bucket entry.
      const movedId = this.entId[last]!;
      this.entId[s] = movedId;
      this.entX[s] = this.entX[last]!;
      this.entY[s] = this.entY[last]!;
      this.entCx[s] = this.entCx[last]!;
      this.entCy[s] = this.entCy[last]!;
      const b = this.entBucket[last]!;
      const p = this.entPos[last]!;
      this.entBucket[s] = b;
      this.entPos[s] = p;
      this.bucketSlots[b]![p] = s;
      this.slotOf.set(movedId, s);
      // entId[last] still holds movedId, so the search finds the entry that pointed at `last`.
      byId[this.rankOf(movedId, last)] = s;
      const k = this.rowStride;
      if (k > 0) this.entRow.copyWithin(s * k, last * k, last * k + k);
      this.entAux.copyWithin(s * AUX_STRIDE, last * AUX_STRIDE, last * AUX_STRIDE + AUX_STRIDE);
    }
    this.count = last;
  }

  clear(): void {
    this.slotOf.clear();
    this.count = 0;
    for (let i = 0; i <= this.tableMask; i++) {
      if (this.tableKey[i] === -1) continue;
      const b = this.tableBucket[i]!;
      this.bucketCount[b] = 0;
      this.freeBuckets.push(b);
      this.tableKey[i] = -1;
    }
    this.liveBuckets = 0;
  }

  /**
   * Writes the ids of entities within `radius` of (x, y) into out[0..count) and returns count.
   * Entries of `out` beyond count are left as they were (stale): the array is never shrunk, so
   * reusing one array per caller allocates only when it has to grow. Order is unspecified.
   */
  query(x: number, y: number, radius: number, out: number[]): number {
    if (!(radius >= 0)) {
      this.lastVisited = 0;
      return 0;
    }
    const r2 = radius * radius;
    const entX = this.entX;
    const entY = this.entY;
    const entId = this.entId;
    let n = 0;
    let visited = 0;
    const first = this.firstCell(x, y, radius, 0);
    for (let b = first; b !== -1; b = this.nextCell()) {
      const slots = this.bucketSlots[b]!;
      const c = this.bucketCount[b]!;
      visited += c;
      for (let i = 0; i < c; i++) {
        const s = slots[i]!;
        const dx = entX[s]! - x;
        const dy = entY[s]! - y;
        if (dx * dx + dy * dy <= r2) out[n++] = entId[s]!;
      }
    }
    this.lastVisited = visited;
    return n;
  }

  /**
   * Like query() with radius `radius * (1 + hysteresis)`, but writes ids, squared distances and
   * dense indices into scratch.ids / scratch.dist2 / scratch.slots (growing them as needed).
   * Used by selectVisible. The radius is scaled here rather than by the caller because a freshly
   * computed double passed as an argument to a non-inlined call costs a heap allocation in V8.
   */
  collect(x: number, y: number, radius: number, scratch: AoiScratch, hysteresis = 0): number {
    const outer = radius * (1 + hysteresis);
    if (!(outer >= 0)) {
      this.lastVisited = 0;
      return 0;
    }
    const r2 = outer * outer;
    const entX = this.entX;
    const entY = this.entY;
    const entId = this.entId;
    let ids = scratch.ids;
    let dist2 = scratch.dist2;
    let hits = scratch.slots;
    let n = 0;
    let visited = 0;
    const first = this.firstCell(x, y, radius, hysteresis);
    for (let b = first; b !== -1; b = this.nextCell()) {
      const slots = this.bucketSlots[b]!;
      const c = this.bucketCount[b]!;
      visited += c;
      if (n + c > ids.length) {
        ids = scratch.ids = growInt32(ids, n + c);
        dist2 = scratch.dist2 = growFloat64(dist2, n + c);
      }
      if (n + c > hits.length) hits = scratch.slots = growInt32(hits, n + c);
      for (let i = 0; i < c; i++) {
        const s = slots[i]!;
        const dx = entX[s]! - x;
        const dy = entY[s]! - y;
        const d2 = dx * dx + dy * dy;
        if (d2 <= r2) {
          ids[n] = entId[s]!;
          dist2[n] = d2;
          hits[n] = s;
          n++;
        }
      }
    }
    this.lastVisited = visited;
    return n;
  }

  /**
   * collect() with the hits in ascending id order (ids are unique), as selectVisible needs
   * them, without sorting: a small grid is walked whole in id order (the same distance test on
   * every entity finds exactly what the cells would), a larger one through its cells with the
   * hits placed by rank (collectByCells).
   */
  collectSorted(x: number, y: number, radius: number, scratch: AoiScratch, hysteresis = 0): number {
    const count = this.count;
    if (!this.ranksValid) this.rebuildRanks();
    if (count > LINEAR_SCAN_MIN) return this.collectByCells(x, y, radius, scratch, hysteresis);
    const outer = radius * (1 + hysteresis);
    if (!(outer >= 0)) {
      this.lastVisited = 0;
      return 0;
    }
    const r2 = outer * outer;
    scratch.ensureHits(count);
    const ids = scratch.ids;
    const dist2 = scratch.dist2;
    const hits = scratch.slots;
    const byId = this.byId;
    const rankXY = this.rankXY;
    const entId = this.entId;
    // Unboxed once, here: read in the loop, the parameters were checked (Smi or HeapNumber) and
    // converted on every iteration (V8 keeps those checks at their use). x + 0 differs from x
    // only for -0, where dx and dy differ only in sign, which squaring drops.
    const px = x + 0;
    const py = y + 0;
    let n = 0;
    for (let k = 0; k < count; k++) {
      const dx = rankXY[2 * k]! - px;
      const dy = rankXY[2 * k + 1]! - py;
      const d2 = dx * dx + dy * dy;
      if (d2 <= r2) {
        const s = byId[k]!;
        ids[n] = entId[s]!;
        dist2[n] = d2;
        hits[n] = s;
        n++;
      }
    }
    this.lastVisited = count;
    return n;
  }

  private rebuildRanks(): void {
    const byId = this.byId;
    const rank = this.entRank;
    const rankXY = this.rankXY;
    const entX = this.entX;
    const entY = this.entY;
    for (let k = 0; k < this.count; k++) {
      const s = byId[k]!;
      rank[s] = k;
      rankXY[2 * k] = entX[s]!;
      rankXY[2 * k + 1] = entY[s]!;
    }
    this.ranksValid = true;
  }

  /**
   * collectSorted through the cells (ranks valid): each hit sets the bit of its rank (its place
   * in id order), and the bits are read back in order: the hits come out in id order, no sort.
   */
  private collectByCells(x: number, y: number, radius: number, scratch: AoiScratch, hysteresis: number): number {
    const outer = radius * (1 + hysteresis);
    if (!(outer >= 0)) {
      this.lastVisited = 0;
      return 0;
    }
    const count = this.count;
    if (this.hitD2.length < count) this.hitD2 = growFloat64(this.hitD2, count);
    if (this.hitBits.length * 32 < count) this.hitBits = growInt32(this.hitBits, (count + 31) >>> 5);
    const r2 = outer * outer;
    const entX = this.entX;
    const entY = this.entY;
    const rank = this.entRank;
    const bits = this.hitBits;
    const hitD2 = this.hitD2;
    let lo = count;
    let hi = -1;
    let n = 0;
    let visited = 0;
    for (let b = this.firstCell(x, y, radius, hysteresis); b !== -1; b = this.nextCell()) {
      const slots = this.bucketSlots[b]!;
      const c = this.bucketCount[b]!;
      visited += c;
      for (let i = 0; i < c; i++) {
        const s = slots[i]!;
        const dx = entX[s]! - x;
        const dy = entY[s]! - y;
        const d2 = dx * dx + dy * dy;
        if (d2 <= r2) {
          const r = rank[s]!;
          bits[r >>> 5]! |= 1 << (r & 31);
          hitD2[r] = d2;
          if (r < lo) lo = r;
          if (r > hi) hi = r;
          n++;
        }
      }
    }
    this.lastVisited = visited;
    if (n === 0) return 0;
    scratch.ensureHits(n);
    const ids = scratch.ids;
    const dist2 = scratch.dist2;
    const hits = scratch.slots;
    const byId = this.byId;
    const entId = this.entId;
    let k = 0;
    for (let w = lo >>> 5, wEnd = hi >>> 5; w <= wEnd; w++) {
      let word = bits[w]!;
      bits[w] = 0; // left clear for the next query
      while (word !== 0) {
        const low = word & -word;
        const r = (w << 5) | (31 - Math.clz32(low));
        word ^= low;
        const s = byId[r]!;
        ids[k] = entId[s]!;
        dist2[k] = hitD2[r]!;
        hits[k] = s;
        k++;
      }
    }
    return n;
  }

  // --- cell iteration state (one query at a time; JS is single-threaded) ---
  private itCx0 = 0;
  private itCy0 = 0;
  private itCx1 = -1;
  private itCy1 = -1;
  private itCx = 0;
  private itCy = 0;
  private itScan = false; // true: walking the whole table instead of the cell rectangle
  private itTable = 0;

  /**
   * Starts iterating the buckets of cells overlapping the square around a circle of radius
   * `baseRadius * (1 + hysteresis)`; returns the first bucket or -1. (Scaled here, not by callers,
   * to avoid boxing a computed double argument.)
   */
  private firstCell(x: number, y: number, baseRadius: number, hysteresis: number): number {
    const radius = baseRadius * (1 + hysteresis);
    // Pad the rectangle by far more than float rounding, so a point whose rounded distance test
    // passes can never sit in a cell just outside the rectangle.
    const pad = 1e-9 * (1 + Math.abs(x) + Math.abs(y) + radius);
    const cs = this.cellSize;
    let cx0 = Math.floor((x - radius - pad) / cs);
    let cx1 = Math.floor((x + radius + pad) / cs);
    let cy0 = Math.floor((y - radius - pad) / cs);
    let cy1 = Math.floor((y + radius + pad) / cs);
    if (cx0 < -MAX_CELL_COORD) cx0 = -MAX_CELL_COORD;
    if (cy0 < -MAX_CELL_COORD) cy0 = -MAX_CELL_COORD;
    if (cx1 > MAX_CELL_COORD) cx1 = MAX_CELL_COORD;
    if (cy1 > MAX_CELL_COORD) cy1 = MAX_CELL_COORD;
    if (!(cx0 <= cx1 && cy0 <= cy1)) return -1; // also catches NaN inputs
    this.itCx0 = cx0;
    this.itCx1 = cx1;
    this.itCy1 = cy1;
    this.itCx = cx0 - 1;
    this.itCy = cy0;
    // A huge radius would probe many empty cells; walking the occupied ones is cheaper then.
    this.itScan = (cx1 - cx0 + 1) * (cy1 - cy0 + 1) > 2 * this.liveBuckets + 8;
    this.itTable = -1;
    this.itCy0 = cy0;
    return this.nextCell();
  }

  private nextCell(): number {
    if (this.itScan) {
      const keys = this.tableKey;
      const mask = this.tableMask;
      for (let i = this.itTable + 1; i <= mask; i++) {
        if (keys[i] === -1) continue;
        const b = this.tableBucket[i]!;
        const bx = this.bucketCx[b]!;
        const by = this.bucketCy[b]!;
        if (bx < this.itCx0 || bx > this.itCx1 || by < this.itCy0 || by > this.itCy1) continue;
        this.itTable = i;
        return b;
      }
      this.itTable = mask;
      return -1;
    }
    for (;;) {
      if (++this.itCx > this.itCx1) {
        this.itCx = this.itCx0;
        if (++this.itCy > this.itCy1) return -1;
      }
      const b = this.bucketFor(this.itCx, this.itCy, false);
      if (b !== -1) return b;
    }
  }

  private slot(id: number): number {
    const s = this.slotOf.get(id);
    if (s === undefined) throw new RangeError(`entity ${id} not in grid`);
    return s;
  }

  private cellOf(v: number): number {
    const c = Math.floor(v / this.cellSize);
    // Written so NaN fails too.
    if (!(c >= -MAX_CELL_COORD && c <= MAX_CELL_COORD)) outsideGrid(v);
    return c;
  }

  private addToBucket(s: number, b: number): void {
    let slots = this.bucketSlots[b]!;
    const c = this.bucketCount[b]!;
    if (c === slots.length) slots = this.bucketSlots[b] = growInt32(slots, c + 1);
    slots[c] = s;
    this.bucketCount[b] = c + 1;
    this.entBucket[s] = b;
    this.entPos[s] = c;
  }

  private removeFromBucket(s: number): void {
    const b = this.entBucket[s]!;
    const p = this.entPos[s]!;
    const slots = this.bucketSlots[b]!;
    const last = this.bucketCount[b]! - 1;
    if (p !== last) {
      const moved = slots[last]!;
      slots[p] = moved;
      this.entPos[moved] = p;
    }
    this.bucketCount[b] = last;
    if (last === 0) this.releaseBucket(b);
  }

  /** Bucket of cell (cx, cy), or -1 when absent and !create. */
  private bucketFor(cx: number, cy: number, create: boolean): number {
    const key = cellKey(cx, cy);
    const keys = this.tableKey;
    const mask = this.tableMask;
    let i = cellHash(cx, cy) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.tableBucket[i]!;
      if (k === -1) break;
      i = (i + 1) & mask;
    }
    if (!create) return -1;
    const b = this.allocBucket(cx, cy, key);
    keys[i] = key;
    this.tableBucket[i] = b;
    this.liveBuckets++;
    // Keep load <= 1/2 so probe chains stay short.
    if (this.liveBuckets * 2 > mask + 1) this.rehash((mask + 1) * 2);
    return b;
  }

  private allocBucket(cx: number, cy: number, key: number): number {
    let b = this.freeBuckets.pop();
    if (b === undefined) {
      b = this.bucketSlots.length;
      this.bucketSlots.push(new Int32Array(8));
      if (b >= this.bucketCount.length) {
        this.bucketCount = growInt32(this.bucketCount, b + 1);
        this.bucketKey = growFloat64(this.bucketKey, b + 1);
        this.bucketCx = growInt32(this.bucketCx, b + 1);
        this.bucketCy = growInt32(this.bucketCy, b + 1);
      }
    }
    this.bucketCount[b] = 0;
    this.bucketKey[b] = key;
    this.bucketCx[b] = cx;
    this.bucketCy[b] = cy;
    return b;
  }

  private releaseBucket(b: number): void {
    const keys = this.tableKey;
    const mask = this.tableMask;
    const key = this.bucketKey[b]!;
    let i = cellHash(this.bucketCx[b]!, this.bucketCy[b]!) & mask;
    while (keys[i] !== key) i = (i + 1) & mask;
    // Backward-shift deletion: pull later members of the probe chain into the gap so lookups
    // never need tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const kj = keys[j]!;
      if (kj === -1) break;
      const bj = this.tableBucket[j]!;
      const home = cellHash(this.bucketCx[bj]!, this.bucketCy[bj]!) & mask;
      // Move j into i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (inRange) continue;
      keys[i] = kj;
      this.tableBucket[i] = bj;
      i = j;
    }
    keys[i] = -1;
    this.liveBuckets--;
    this.freeBuckets.push(b);
  }

  private rehash(capacity: number): void {
    const oldKeys = this.tableKey;
    const oldBuckets = this.tableBucket;
    const keys = new Float64Array(capacity).fill(-1);
    const buckets = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let k = 0; k < oldKeys.length; k++) {
      if (oldKeys[k] === -1) continue;
      const b = oldBuckets[k]!;
      let i = cellHash(this.bucketCx[b]!, this.bucketCy[b]!) & mask;
      while (keys[i] !== -1) i = (i + 1) & mask;
      keys[i] = oldKeys[k]!;
      buckets[i] = b;
    }
    this.tableKey = keys;
    this.tableBucket = buckets;
    this.tableMask = mask;
  }

  private growEntities(): void {
    const min = this.count + 1;
    this.entId = growInt32(this.entId, min);
    this.entX = growFloat64(this.entX, min);
    this.entY = growFloat64(this.entY, min);
    this.entCx = growInt32(this.entCx, min);
    this.entCy = growInt32(this.entCy, min);
    this.entBucket = growInt32(this.entBucket, min);
    this.entPos = growInt32(this.entPos, min);
    this.byId = growInt32(this.byId, min);
    this.entRank = growInt32(this.entRank, min);
    this.rankXY = growFloat64(this.rankXY, 2 * this.entId.length);
    this.entAux = growInt32(this.entAux, this.entId.length * AUX_STRIDE);
    if (this.rowStride > 0) {
      const rows = new Int32Array(this.entId.length * this.rowStride);
      rows.set(this.entRow);
      this.entRow = rows;
    }
  }
}

// Errors of the per-entity paths are built out of line: a template literal with a number in a hot
// function costs a NumberToString on every call in V8, thrown or not (measured).
function noIndex(index: number): never {
  throw new RangeError(`no entity at index ${index}`);
}

function outsideGrid(v: number): never {
  throw new RangeError(`coordinate ${v} outside the grid`);
}

const NO_SLOTS = new Int32Array(0);

/** Reusable buffers for selectVisible; one per zone worker is enough (queries run one at a time). */
export class AoiScratch {
  ids = new Int32Array(256);
  dist2 = new Float64Array(256);
  /** Dense grid index of each hit (see AoiGrid.rows). */
  slots = new Int32Array(256);
  prev = new Int32Array(256);

  /** Room for `n` hits in ids, dist2 and slots (grown, never shrunk). */
  ensureHits(n: number): void {
    if (this.ids.length < n) {
      this.ids = growInt32(this.ids, n);
      this.dist2 = growFloat64(this.dist2, n);
    }
    if (this.slots.length < n) this.slots = growInt32(this.slots, n);
  }
}

/**
 * A viewer's visible entities: ids[0..count) strictly ascending, distances[i] (metres) belongs to
 * ids[i]. Keep one per player across ticks and pass it as both `previous` and `out`.
 */
export class VisibleSet {
  ids: Int32Array;
  distances: Float64Array;
  /**
   * As selectVisible's `out`: the grid's dense index of ids[i] (see AoiGrid.rows), valid until
   * the grid next changes. Sized on first use, so sets kept only as `previous` do not carry it.
   */
  slots: Int32Array = NO_SLOTS;
  count = 0;

  constructor(capacity = 64) {
    this.ids = new Int32Array(Math.max(1, capacity));
    this.distances = new Float64Array(Math.max(1, capacity));
  }

  has(id: number): boolean {
    return this.indexOf(id) >= 0;
  }

  /** Index of id in ids[0..count), or -1 (binary search). */
  indexOf(id: number): number {
    const ids = this.ids;
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v < id) lo = mid + 1;
      else if (v > id) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  clear(): void {
    this.count = 0;
  }

  ensureCapacity(n: number): void {
    if (n <= this.ids.length) return;
    this.ids = growInt32(this.ids, n);
    this.distances = growFloat64(this.distances, n);
  }
}

/**
 * Chooses what `viewerId` at (vx, vy) sees this tick, with hysteresis so entities near the edge
 * do not flicker in and out:
 *  - an entity enters when its distance <= radius;
 *  - an entity in `previous` stays while its distance <= radius * (1 + hysteresis);
 *  - the viewer itself is never included.
 * Writes the result to `out` (ids ascending, with distances) and returns out.count.
 * `out` may be the same object as `previous`: the previous ids are then copied to scratch first.
 * Cost: one collectSorted() of radius*(1+hysteresis) (no sort) and a merge with `previous`.
 */
export function selectVisible(
  grid: AoiGrid,
  viewerId: number,
  vx: number,
  vy: number,
  radius: number,
  hysteresis: number,
  previous: VisibleSet,
  scratch: AoiScratch,
  out: VisibleSet,
): number {
  const pc = previous.count;
  let prev = previous.ids;
  if (out === previous) {
    // Writing `out` would overwrite the ids still to be merged: keep a copy.
    if (pc > scratch.prev.length) scratch.prev = growInt32(scratch.prev, pc);
    prev = scratch.prev;
    const prevIds = previous.ids;
    for (let i = 0; i < pc; i++) prev[i] = prevIds[i]!;
  }
  return selectVisibleAfter(grid, viewerId, vx, vy, radius, hysteresis, prev, 0, 1, pc, scratch, out);
}

/**
 * selectVisible with the previous set given as `prevCount` ascending ids at
 * prevIds[prevAt + i * prevStride]: e.g. the id column of the snapshot rows last sent, read where
 * they are stored instead of kept twice. prevIds must not share memory with `out`.
 */
export function selectVisibleAfter(
  grid: AoiGrid,
  viewerId: number,
  vx: number,
  vy: number,
  radius: number,
  hysteresis: number,
  prevIds: Int32Array,
  prevAt: number,
  prevStride: number,
  prevCount: number,
  scratch: AoiScratch,
  out: VisibleSet,
): number {
  const h = hysteresis > 0 ? hysteresis : 0;
  const r2 = radius * radius;
  const pc = prevCount;

  const n = grid.collectSorted(vx, vy, radius, scratch, h);
  const ids = scratch.ids;
  const dist2 = scratch.dist2;
  const hits = scratch.slots;

  out.ensureCapacity(n);
  if (out.slots.length < n) out.slots = new Int32Array(out.ids.length);
  const outIds = out.ids;
  const outDist = out.distances;
  const outSlots = out.slots;
  let k = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (id === viewerId) continue;
    const d2 = dist2[i]!;
    // Everything collected is within `outer`; beyond `radius` it only stays if it was visible.
    if (d2 > r2) {
      while (j < pc && prevIds[prevAt + j * prevStride]! < id) j++;
      if (j >= pc || prevIds[prevAt + j * prevStride] !== id) continue;
    }
    outIds[k] = id;
    outDist[k] = Math.sqrt(d2);
    outSlots[k] = hits[i]!;
    k++;
  }
  out.count = k;
  return k;
}

/** How often (in frames) an entity at `distance` should be refreshed for a viewer with AOI `radius`. */
export function updateInterval(distance: number, radius: number): 1 | 2 | 4 {
  if (distance <= 0.5 * radius) return 1;
  if (distance <= 0.8 * radius) return 2;
  return 4;
}

/**
 * Whether entity `id` should be refreshed on frame `frameSeq` given its interval. Each id gets a
 * fixed phase from a hash, so far entities are spread over frames instead of all landing on the
 * same one; every id is due exactly once in any `interval` consecutive frames. Entities that just
 * entered view must be sent regardless (the caller's job). `interval` must be 1, 2 or 4.
 */
export function isDue(id: number, frameSeq: number, interval: number): boolean {
  if (interval <= 1) return true;
  let h = Math.imul(id ^ (id >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  const phase = h >>> 30; // top bits of the mix are the best distributed
  return ((frameSeq + phase) & (interval - 1)) === 0;
}
