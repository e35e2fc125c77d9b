// FRAME: per-client world state as a delta against a frame the client acknowledged.
// encodeFrame is the server's hottest path: one merge walk over two sorted Int32Arrays, no
// per-entity objects or closures, all output through reused Writers.
import { MAX_UVARINT, MAX_UVARINT_BYTES, ProtocolError, Writer, checkU8, putSvarint, putUvarint } from './codec.ts';
import { LAT_E7_MAX, LON_E7_HALF, beginMessage, finishMessage, takeMessage } from './messages.ts';
import { LON_E6_PERIOD, LON_E7_PERIOD, wrapDelta } from './quantize.ts';
import { MessageType, PROTOCOL_VERSION, ProtocolErrorCode, SNAPSHOT_STRIDE, SnapshotField } from './types.ts';
import type { EntitySnapshot, FrameDecoded, FrameHeader, FrameState, OwnState } from './types.ts';
import type { ZoneId } from '../world/types.ts';

/** OWN block mask bits (bits 0..3 of the FRAME flags byte). */
export const OwnMask = { Position: 1, Altitude: 2, Heading: 4, Action: 8 } as const;
/** FRAME flags byte: bits 0..3 are the OwnMask; these say which optional blocks follow. */
export const FrameFlags = { Removed: 0x10, Added: 0x20 } as const;
/** 2-bit UPDATE codes of kept entities. */
export const UpdateCode = { Unchanged: 0, SmallMove: 1, Move: 2, General: 3 } as const;
/** Field mask of UpdateCode.General. */
export const UpdateMask = { Position: 1, Altitude: 2, Heading: 4, Action: 8, Kind: 16 } as const;

export const LAT_E6_MAX = 90_000_000;
export const LON_E6_HALF = 180_000_000;
/** Largest entity id a snapshot can hold (ids live in an Int32Array). */
export const MAX_ENTITY_ID = 0x7fffffff;
/** Fewest bytes one ADDED entry can take; bounds the count before allocating. */
const MIN_ADDED_BYTES = 8;

const S = SNAPSHOT_STRIDE;
const ID = SnapshotField.id;
const KIND = SnapshotField.kind;
const LAT = SnapshotField.latE6;
const LON = SnapshotField.lonE6;
const ALT = SnapshotField.altDm;
const HEAD = SnapshotField.heading8;
const ACT = SnapshotField.action;
const ASEQ = SnapshotField.actionSeq;
/** Greater than any id, so merge walks need no end-of-list branches. */
const END = 2 ** 32;
const OWN_MASK_ALL = 0x0f;
const FLAGS_ALL = OWN_MASK_ALL | FrameFlags.Removed | FrameFlags.Added;
const UPDATE_MASK_ALL = 0x1f;

const ZERO_OWN: OwnState = Object.freeze({ latE7: 0, lonE7: 0, altCm: 0, heading16: 0, action: 0, actionSeq: 0 });
const MAX_U32_PLUS_1 = 2 ** 32;
const EMPTY: EntitySnapshot = { count: 0, data: new Int32Array(0) };
const EMPTY_BYTES = new Uint8Array(0);

export function createSnapshot(capacity: number): EntitySnapshot {
  return { count: 0, data: new Int32Array(capacity * S) };
}

export interface FrameEncodeInput {
  seq: number;
  serverTime: number;
  /**
   * Zone written into the header, or '0' to omit it: the client then takes the zone of the
   * previous FRAME it received. Write it in the first frame and whenever it changes.
   */
  zone: ZoneId;
  /** Seq of the frame `baseline` was sent in; 0 (or baseline null) sends a full snapshot. */
  baselineSeq: number;
  /**
   * The state sent in frame baselineSeq, lastInputSeq included: the frame carries
   * current.lastInputSeq as a difference from baseline.lastInputSeq.
   */
  baseline: FrameState | null;
  current: FrameState;
  /** Where the finished message goes (see Writer.toBytes); default a new Uint8Array. */
  alloc?: (n: number) => Uint8Array;
  /**
   * Hand the message out as a view of w's own memory (Writer.take, with this as its wrap)
   * instead of copying it out: w must then be used only through reset() and encoders.
   */
  take?: (buffer: ArrayBuffer, byteOffset: number, length: number) => Uint8Array;
}

/**
 * A frame's state laid out flat, as a FrameRing stores it: own state at data[own..own + 6)
 * (latE7, lonE7, altCm, heading16, action, actionSeq) and `count` snapshot rows from data[rows].
 */
export interface FlatFrame {
  data: Int32Array;
  own: number;
  rows: number;
  count: number;
  /** The frame's lastInputSeq (u32). */
  lastInputSeq: number;
}

/** encodeFrameFlat's input: FrameEncodeInput without the states, which come as FlatFrames. */
export type FrameEncodeFlatInput = Omit<FrameEncodeInput, 'baseline' | 'current'>;

// What the per-row encode and decode read, as a const enum: esbuild (tsx, the web bundle) writes
// its members into the code as literals, where a module-level const is a load from the module
// context, an untag and a Smi check at every use, and the rows' loops use these for every entity.
// Each hot file keeps its own (sdk.ts Row, interpolation.ts Layout): under isolatedModules a
// const enum is not inlined across modules, so one shared enum would be a property load again;
// each copy is checked against the protocol's constants at compile time instead.
/* eslint-disable @typescript-eslint/no-duplicate-enum-values -- offsets and constants, not distinct choices */
const enum Kept {
  STRIDE = 8,
  ID = 0,
  KIND = 1,
  LAT = 2,
  LON = 3,
  ALT = 4,
  HEAD = 5,
  ACT = 6,
  ASEQ = 7,
  LAT_E6_MAX = 90_000_000,
  LON_E6_HALF = 180_000_000,
  UNCHANGED = 0,
  SMALL_MOVE = 1,
  MOVE = 2,
  GENERAL = 3,
}
/* eslint-enable @typescript-eslint/no-duplicate-enum-values */
// tsc fails here if Kept no longer matches the protocol's own constants.
const _keptMatches: {
  stride: typeof SNAPSHOT_STRIDE;
  id: typeof SnapshotField.id;
  kind: typeof SnapshotField.kind;
  lat: typeof SnapshotField.latE6;
  lon: typeof SnapshotField.lonE6;
  alt: typeof SnapshotField.altDm;
  head: typeof SnapshotField.heading8;
  act: typeof SnapshotField.action;
  aseq: typeof SnapshotField.actionSeq;
  latMax: typeof LAT_E6_MAX;
  lonHalf: typeof LON_E6_HALF;
  unchanged: typeof UpdateCode.Unchanged;
  smallMove: typeof UpdateCode.SmallMove;
  move: typeof UpdateCode.Move;
  general: typeof UpdateCode.General;
} = {
  stride: Kept.STRIDE,
  id: Kept.ID,
  kind: Kept.KIND,
  lat: Kept.LAT,
  lon: Kept.LON,
  alt: Kept.ALT,
  head: Kept.HEAD,
  act: Kept.ACT,
  aseq: Kept.ASEQ,
  latMax: Kept.LAT_E6_MAX,
  lonHalf: Kept.LON_E6_HALF,
  unchanged: Kept.UNCHANGED,
  smallMove: Kept.SMALL_MOVE,
  move: Kept.MOVE,
  general: Kept.GENERAL,
};

// Scratch sections, filled in one merge pass and then appended in wire order: raw bytes written
// through local cursors with the put* primitives after one size check per frame, not a Writer
// call (field loads, a room check and a store of the length) per byte. Module-level is safe:
// encoding is synchronous and each worker/isolate has its own module instance.
let removedB: Uint8Array = new Uint8Array(256);
let addedB: Uint8Array = new Uint8Array(1024);
let bitmapB: Uint8Array = new Uint8Array(256);
let keptB: Uint8Array = new Uint8Array(1024);

/** Most bytes a section entry can take: a removed index gap (< 2^31), an added entity, a kept update. */
/* eslint-disable @typescript-eslint/no-duplicate-enum-values -- sizes, not distinct choices */
const enum Room {
  REMOVED = 5,
  /** idGap 5, kind 1, three svarints of int32s 5 each, heading, action, actionSeq 1 each. */
  ADDED = 24,
  /** mask 1, dLat and dLon 5 each, dAlt 5 (a difference of int32s), four u8 fields. */
  KEPT = 20,
  /** A count's uvarint (< 2^31). */
  COUNT = 5,
  /** Sections this short are copied byte by byte; a longer one with set(subarray). */
  COPY_LOOP_MAX = 64,
}
/* eslint-enable @typescript-eslint/no-duplicate-enum-values */

/** A new array of max(n, 2 * a.length) bytes (a's contents are not needed). */
function grownBytes(a: Uint8Array, n: number): Uint8Array {
  return new Uint8Array(Math.max(n, 2 * a.length));
}

/** src[0, n) into dst[at..]; returns the end. */
function copySection(src: Uint8Array, n: number, dst: Uint8Array, at: number): number {
  if (n <= Room.COPY_LOOP_MAX) {
    for (let k = 0; k < n; k++) dst[at + k] = src[k]!;
  } else {
    dst.set(src.subarray(0, n), at);
  }
  return at + n;
}

// The encoder's RangeErrors are built out of line: a template literal with a number in a hot
// function costs a NumberToString on every call in V8 (measured: one per entity encoded), even
// when nothing is thrown.
function checkEntity(d: Int32Array, o: number, prevId: number): void {
  const id = d[o + Kept.ID]!;
  if (id <= prevId) idOrderError(id, prevId);
  const lat = d[o + Kept.LAT]!;
  const lon = d[o + Kept.LON]!;
  if (lat < -Kept.LAT_E6_MAX || lat > Kept.LAT_E6_MAX) fieldError(id, 'latE6', lat);
  if (lon < -Kept.LON_E6_HALF || lon >= Kept.LON_E6_HALF) fieldError(id, 'lonE6', lon);
}

function idOrderError(id: number, prevId: number): never {
  throw new RangeError(`entity ids must be ascending and >= 1: ${id} after ${prevId}`);
}

function fieldError(id: number, field: string, v: number): never {
  throw new RangeError(`entity ${id} ${field} out of range: ${v}`);
}

function ownError(what: string, v: number): never {
  throw new RangeError(`${what}: ${v}`);
}

// wrapDelta is the identity inside the range, and its float modulo costs more than the rest of
// an entity's encoding: only call it for a delta that crosses the antimeridian.
function wrapLonE6(d: number): number {
  return d >= -Kept.LON_E6_HALF && d < Kept.LON_E6_HALF ? d : wrapDelta(d, LON_E6_PERIOD);
}

function wrapLonE7(d: number): number {
  return d >= -LON_E7_HALF && d < LON_E7_HALF ? d : wrapDelta(d, LON_E7_PERIOD);
}

// Own states as the encoder reads them, whichever form the frame came in: latE7, lonE7, altCm,
// heading16, action, actionSeq. Float64 so any number a FrameState holds is kept exactly.
const refOwn = new Float64Array(6);
const curOwn = new Float64Array(6);

function ownToScratch(o: OwnState, dst: Float64Array): void {
  dst[0] = o.latE7;
  dst[1] = o.lonE7;
  dst[2] = o.altCm;
  dst[3] = o.heading16;
  dst[4] = o.action;
  dst[5] = o.actionSeq;
}

function flatToScratch(d: Int32Array, at: number, dst: Float64Array): void {
  for (let i = 0; i < 6; i++) dst[i] = d[at + i]!;
}

/** OwnMask bits of curOwn that differ from refOwn; checks curOwn's ranges. */
function ownMask(): number {
  const latE7 = curOwn[0]!;
  const lonE7 = curOwn[1]!;
  const altCm = curOwn[2]!;
  if (latE7 < -LAT_E7_MAX || latE7 > LAT_E7_MAX) ownError('own latE7 out of range', latE7);
  if (lonE7 < -LON_E7_HALF || lonE7 >= LON_E7_HALF) ownError('own lonE7 out of range', lonE7);
  if ((altCm | 0) !== altCm) ownError('own altCm out of i32', altCm);
  let mask = 0;
  if (latE7 !== refOwn[0] || lonE7 !== refOwn[1]) mask |= OwnMask.Position;
  if (altCm !== refOwn[2]) mask |= OwnMask.Altitude;
  if (curOwn[3] !== refOwn[3]) mask |= OwnMask.Heading;
  if (curOwn[4] !== refOwn[4] || curOwn[5] !== refOwn[5]) mask |= OwnMask.Action;
  return mask;
}

/** The OWN block's fields (curOwn against refOwn) for the bits of `mask`; the mask is in the flags byte. */
function writeOwnFields(w: Writer, mask: number): void {
  if (mask & OwnMask.Position) {
    w.svarint(curOwn[0]! - refOwn[0]!);
    w.svarint(wrapLonE7(curOwn[1]! - refOwn[1]!));
  }
  if (mask & OwnMask.Altitude) w.svarint(curOwn[2]! - refOwn[2]!);
  if (mask & OwnMask.Heading) w.u16(curOwn[3]!);
  if (mask & OwnMask.Action) {
    w.u8(curOwn[4]!);
    w.u8(curOwn[5]!);
  }
}

function baselineOrderError(baselineSeq: number, seq: number): never {
  throw new RangeError(`baselineSeq must precede the frame: ${baselineSeq} vs ${seq}`);
}

/**
 * The checks of both entry points; returns the baseline seq to send (0: full snapshot). The
 * lastInputSeqs are the current frame's and the baseline's (0 without one).
 */
function checkSeqs(f: FrameEncodeFlatInput, hasBaseline: boolean, lastInputSeq: number, baseInputSeq: number): number {
  if (f.seq < 1 || f.seq >>> 0 !== f.seq) ownError('frame seq must be 1..2^32-1', f.seq);
  if (lastInputSeq >>> 0 !== lastInputSeq) ownError('lastInputSeq out of u32', lastInputSeq);
  if (baseInputSeq >>> 0 !== baseInputSeq) ownError('baseline lastInputSeq out of u32', baseInputSeq);
  const baselineSeq = hasBaseline ? f.baselineSeq : 0;
  if (hasBaseline && (baselineSeq >>> 0 !== baselineSeq || baselineSeq < 1 || baselineSeq >= f.seq)) {
    baselineOrderError(baselineSeq, f.seq);
  }
  return baselineSeq;
}

/**
 * Encodes a complete FRAME message (header included) into w and returns a fresh copy (or, with
 * `take`, a view of w's memory that w never writes again).
 * It carries exactly current - baseline, or all of current when there is no baseline.
 */
export function encodeFrame(w: Writer, f: FrameEncodeInput): Uint8Array {
  const baseline = f.baselineSeq === 0 ? null : f.baseline;
  const lastInputSeq = f.current.lastInputSeq;
  const baseInputSeq = baseline === null ? 0 : baseline.lastInputSeq;
  const baselineSeq = checkSeqs(f, baseline !== null, lastInputSeq, baseInputSeq);
  ownToScratch(baseline === null ? ZERO_OWN : baseline.own, refOwn);
  ownToScratch(f.current.own, curOwn);
  const base = baseline === null ? EMPTY : baseline.entities;
  const cur = f.current.entities;
  return encodeBody(w, f, baselineSeq, lastInputSeq, baseInputSeq, base.data, 0, base.count, cur.data, 0, cur.count);
}

/**
 * encodeFrame for states stored flat (FrameRing): same bytes, without FrameState objects. A null
 * baseline, or baselineSeq 0, sends a full snapshot.
 */
export function encodeFrameFlat(w: Writer, f: FrameEncodeFlatInput, baseline: FlatFrame | null, current: FlatFrame): Uint8Array {
  const base = f.baselineSeq === 0 ? null : baseline;
  const lastInputSeq = current.lastInputSeq;
  const baseInputSeq = base === null ? 0 : base.lastInputSeq;
  const baselineSeq = checkSeqs(f, base !== null, lastInputSeq, baseInputSeq);
  if (base === null) ownToScratch(ZERO_OWN, refOwn);
  else flatToScratch(base.data, base.own, refOwn);
  flatToScratch(current.data, current.own, curOwn);
  const cd = current.data;
  return base === null
    ? encodeBody(w, f, 0, lastInputSeq, 0, EMPTY.data, 0, 0, cd, current.rows, current.count)
    : encodeBody(w, f, baselineSeq, lastInputSeq, baseInputSeq, base.data, base.rows, base.count, cd, current.rows, current.count);
}

/**
 * The entity delta, rows bd[bAt..] (bn of them) to cd[cAt..] (cn), into the scratch sections;
 * then header, baselineGap, lastInputDelta, flags, OWN fields (refOwn -> curOwn), the sections
 * in wire order, and the finished message.
 */
function encodeBody(
  w: Writer,
  f: FrameEncodeFlatInput,
  baselineSeq: number,
  lastInputSeq: number,
  baseInputSeq: number,
  bd: Int32Array,
  bAt: number,
  bn: number,
  cd: Int32Array,
  cAt: number,
  cn: number,
): Uint8Array {
  const mask = ownMask();
  // Room for the worst case of every section, so the loop below writes with no checks.
  // (The checks are written out, the growing is not: four calls a frame were not inlined.)
  const both = bn < cn ? bn : cn;
  if (removedB.length < bn * Room.REMOVED) removedB = grownBytes(removedB, bn * Room.REMOVED);
  if (addedB.length < cn * Room.ADDED) addedB = grownBytes(addedB, cn * Room.ADDED);
  if (bitmapB.length < (both >> 2) + 1) bitmapB = grownBytes(bitmapB, (both >> 2) + 1);
  if (keptB.length < both * Room.KEPT) keptB = grownBytes(keptB, both * Room.KEPT);
  const removed = removedB;
  const added = addedB;
  const bitmap = bitmapB;
  const keptOut = keptB;
  let rp = 0;
  let ap = 0;
  let bp = 0;
  let kp = 0;
  let removedCount = 0;
  let lastRemoved = -1;
  let addedCount = 0;
  let lastAdded = 0;
  let kept = 0;
  let bits = 0; // pending 2-bit codes of the current bitmap byte
  let prevCur = 0;
  let i = 0;
  let j = 0;
  // Every value written below comes from an Int32Array (or a difference of two), so the
  // svarints need no range check; the u8 fields taken from the rows keep theirs (checkU8).
  // Both lists are walked together while both have rows, then the rest of either is removed
  // or added: no end-of-list sentinel, which (being above any int32) made the ids doubles.
  while (i < bn && j < cn) {
    const bo = bAt + i * Kept.STRIDE;
    const co = cAt + j * Kept.STRIDE;
    const bid = bd[bo + Kept.ID]!;
    const cid = cd[co + Kept.ID]!;
    if (bid < cid) {
      // In the baseline, gone now.
      rp = putUvarint(removed, rp, i - lastRemoved - 1);
      lastRemoved = i;
      removedCount++;
      i++;
      continue;
    }
    checkEntity(cd, co, prevCur);
    prevCur = cid;
    if (cid < bid) {
      ap = writeAdded(added, ap, cd, co, cid - lastAdded);
      lastAdded = cid;
      addedCount++;
      j++;
      continue;
    }
    // Kept: pick the smallest encoding of what changed.
    const dLat = cd[co + Kept.LAT]! - bd[bo + Kept.LAT]!;
    const dLon = wrapLonE6(cd[co + Kept.LON]! - bd[bo + Kept.LON]!);
    const kindSame = cd[co + Kept.KIND] === bd[bo + Kept.KIND];
    const altSame = cd[co + Kept.ALT] === bd[bo + Kept.ALT];
    const headSame = cd[co + Kept.HEAD] === bd[bo + Kept.HEAD];
    const actSame = cd[co + Kept.ACT] === bd[bo + Kept.ACT] && cd[co + Kept.ASEQ] === bd[bo + Kept.ASEQ];
    let code: number;
    if (kindSame && altSame && headSame && actSame) {
      if (dLat === 0 && dLon === 0) {
        code = Kept.UNCHANGED;
      } else if (dLat >= -8 && dLat <= 7 && dLon >= -8 && dLon <= 7) {
        code = Kept.SMALL_MOVE;
        keptOut[kp++] = (dLat & 0xf) | ((dLon & 0xf) << 4);
      } else {
        code = Kept.MOVE;
        kp = putSvarint(keptOut, kp, dLat);
        kp = putSvarint(keptOut, kp, dLon);
      }
    } else {
      code = Kept.GENERAL;
      kp = writeGeneral(keptOut, kp, cd, co, bd, bo, dLat, dLon, kindSame, altSame, headSame, actSame);
    }
    bits |= code << ((kept & 3) * 2);
    kept++;
    if ((kept & 3) === 0) {
      bitmap[bp++] = bits;
      bits = 0;
    }
    i++;
    j++;
  }
  for (; i < bn; i++) {
    rp = putUvarint(removed, rp, i - lastRemoved - 1);
    lastRemoved = i;
    removedCount++;
  }
  for (; j < cn; j++) {
    const co = cAt + j * Kept.STRIDE;
    const cid = cd[co + Kept.ID]!;
    checkEntity(cd, co, prevCur);
    prevCur = cid;
    ap = writeAdded(added, ap, cd, co, cid - lastAdded);
    lastAdded = cid;
    addedCount++;
  }
  if ((kept & 3) !== 0) bitmap[bp++] = bits;

  beginMessage(w, MessageType.Frame, PROTOCOL_VERSION, f.seq, f.serverTime, f.zone);
  w.uvarint(baselineSeq === 0 ? 0 : f.seq - baselineSeq); // baselineGap
  w.svarint(lastInputSeq - baseInputSeq); // lastInputDelta
  w.u8(mask | (removedCount > 0 ? FrameFlags.Removed : 0) | (addedCount > 0 ? FrameFlags.Added : 0));
  writeOwnFields(w, mask);
  // The sections in wire order, after one room check.
  const out = w.reserve(2 * Room.COUNT + rp + ap + bp + kp);
  let p = w.cursor;
  if (removedCount > 0) {
    p = putUvarint(out, p, removedCount);
    p = copySection(removed, rp, out, p);
  }
  if (addedCount > 0) {
    p = putUvarint(out, p, addedCount);
    p = copySection(added, ap, out, p);
  }
  p = copySection(bitmap, bp, out, p);
  p = copySection(keptOut, kp, out, p);
  w.commit(p);
  return f.take ? takeMessage(w, f.take) : finishMessage(w, f.alloc);
}

/** An ADDED entry (row cd[co..], id gap `gap` >= 1) at out[p..]; returns the end. */
function writeAdded(out: Uint8Array, p: number, cd: Int32Array, co: number, gap: number): number {
  const kind = cd[co + Kept.KIND]!;
  const head = cd[co + Kept.HEAD]!;
  const act = cd[co + Kept.ACT]!;
  const aseq = cd[co + Kept.ASEQ]!;
  checkU8(kind);
  p = putUvarint(out, p, gap);
  out[p++] = kind;
  p = putSvarint(out, p, cd[co + Kept.LAT]!);
  p = putSvarint(out, p, cd[co + Kept.LON]!);
  p = putSvarint(out, p, cd[co + Kept.ALT]!);
  checkU8(head);
  checkU8(act);
  checkU8(aseq);
  out[p] = head;
  out[p + 1] = act;
  out[p + 2] = aseq;
  return p + 3;
}

/** A kept entity's UpdateCode.General body at out[p..]; returns the end. */
function writeGeneral(
  out: Uint8Array,
  p: number,
  cd: Int32Array,
  co: number,
  bd: Int32Array,
  bo: number,
  dLat: number,
  dLon: number,
  kindSame: boolean,
  altSame: boolean,
  headSame: boolean,
  actSame: boolean,
): number {
  const posSame = dLat === 0 && dLon === 0;
  out[p++] =
    (posSame ? 0 : UpdateMask.Position) |
    (altSame ? 0 : UpdateMask.Altitude) |
    (headSame ? 0 : UpdateMask.Heading) |
    (actSame ? 0 : UpdateMask.Action) |
    (kindSame ? 0 : UpdateMask.Kind);
  if (!posSame) {
    p = putSvarint(out, p, dLat);
    p = putSvarint(out, p, dLon);
  }
  if (!altSame) p = putSvarint(out, p, cd[co + Kept.ALT]! - bd[bo + Kept.ALT]!);
  if (!headSame) p = putCheckedU8(out, p, cd[co + Kept.HEAD]!);
  if (!actSame) {
    p = putCheckedU8(out, p, cd[co + Kept.ACT]!);
    p = putCheckedU8(out, p, cd[co + Kept.ASEQ]!);
  }
  if (!kindSame) p = putCheckedU8(out, p, cd[co + Kept.KIND]!);
  return p;
}

/** A row's u8 field at out[p] (checked: rows are int32s); returns the end. */
function putCheckedU8(out: Uint8Array, p: number, v: number): number {
  checkU8(v);
  out[p] = v;
  return p + 1;
}

function bad(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BadField, message);
}

function checkI32(v: number, what: string): number {
  if ((v | 0) !== v) throw bad(`${what} out of i32`);
  return v;
}

// The payload decodeFrameInto is reading, rb[rp, re): Reader's reads and checks (same errors)
// without a Reader object per frame. Module-level is safe: decoding is synchronous (the one
// callback it makes, baselineOf, is bracketed by a save and restore).
let rb: Uint8Array = new Uint8Array(0);
let rp = 0;
let re = 0;

function truncated(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.Truncated);
}

function readU8(): number {
  if (rp >= re) throw truncated();
  return rb[rp++]!;
}

function readU16(): number {
  if (re - rp < 2) throw truncated();
  const p = rp;
  rp = p + 2;
  return rb[p]! | (rb[p + 1]! << 8);
}

/** Reader.uvarint: canonical LEB128, at most 8 bytes, at most 2^53-1. */
function readUvarint(): number {
  let p = rp;
  if (p < re) {
    const b = rb[p]!;
    if (b < 0x80) {
      rp = p + 1;
      return b;
    }
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    if (p >= re) throw truncated();
    const b = rb[p++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw new ProtocolError(ProtocolErrorCode.BadField, 'non-canonical varint');
      if (result > MAX_UVARINT) throw new ProtocolError(ProtocolErrorCode.BadField, 'varint above 2^53-1');
      rp = p;
      return result;
    }
    mul *= 128;
  }
  throw new ProtocolError(ProtocolErrorCode.BadField, 'varint longer than 8 bytes');
}

/** Reader.svarint: zigzag over readUvarint. */
function readSvarint(): number {
  const z = readUvarint();
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Reads the OWN block's fields for `mask` (a delta on ref) into dst; dst must not be ref. */
function readOwnInto(mask: number, ref: OwnState, dst: OwnState): void {
  let { latE7, lonE7, altCm, heading16, action, actionSeq } = ref;
  if (mask & OwnMask.Position) {
    latE7 += readSvarint();
    const dLon = readSvarint();
    if (latE7 < -LAT_E7_MAX || latE7 > LAT_E7_MAX) throw bad(`own latE7 ${latE7}`);
    if (dLon < -LON_E7_HALF || dLon >= LON_E7_HALF) throw bad(`own dLonE7 ${dLon}`);
    lonE7 = wrapDelta(lonE7 + dLon, LON_E7_PERIOD);
  }
  if (mask & OwnMask.Altitude) altCm = checkI32(altCm + readSvarint(), 'own altCm');
  if (mask & OwnMask.Heading) heading16 = readU16();
  if (mask & OwnMask.Action) {
    action = readU8();
    actionSeq = readU8();
  }
  dst.latE7 = latE7;
  dst.lonE7 = lonE7;
  dst.altCm = altCm;
  dst.heading16 = heading16;
  dst.action = action;
  dst.actionSeq = actionSeq;
}

/** Applies a position delta to out[o]; the wire longitude delta must already be wrapped. */
function applyMove(out: Int32Array, o: number, dLat: number, dLon: number): void {
  const lat = out[o + Kept.LAT]! + dLat;
  if (lat < -Kept.LAT_E6_MAX || lat > Kept.LAT_E6_MAX) throw bad(`latE6 ${lat}`);
  if (dLon < -Kept.LON_E6_HALF || dLon >= Kept.LON_E6_HALF) throw bad(`dLonE6 ${dLon}`);
  out[o + Kept.LAT] = lat;
  const lon = out[o + Kept.LON]! + dLon;
  // wrapDelta only when the sum left the range (it is the identity inside): the float modulo
  // it uses is slow next to the rest of this loop.
  out[o + Kept.LON] = lon >= -Kept.LON_E6_HALF && lon < Kept.LON_E6_HALF ? lon : wrapDelta(lon, LON_E6_PERIOD);
}

function readUpdate(code: number, out: Int32Array, o: number): void {
  if (code === Kept.SMALL_MOVE) {
    const b = readU8();
    // Sign-extend each 4-bit two's-complement nibble.
    applyMove(out, o, ((b & 0xf) ^ 8) - 8, ((b >> 4) ^ 8) - 8);
  } else if (code === Kept.MOVE) {
    const dLat = readSvarint();
    applyMove(out, o, dLat, readSvarint());
  } else {
    const mask = readU8();
    if (mask & ~UPDATE_MASK_ALL) throw bad(`update mask 0x${mask.toString(16)}`);
    if (mask & UpdateMask.Position) {
      const dLat = readSvarint();
      applyMove(out, o, dLat, readSvarint());
    }
    if (mask & UpdateMask.Altitude) out[o + Kept.ALT] = checkI32(out[o + Kept.ALT]! + readSvarint(), 'altDm');
    if (mask & UpdateMask.Heading) out[o + Kept.HEAD] = readU8();
    if (mask & UpdateMask.Action) {
      out[o + Kept.ACT] = readU8();
      out[o + Kept.ASEQ] = readU8();
    }
    if (mask & UpdateMask.Kind) out[o + Kept.KIND] = readU8();
  }
}

/** Baseline rows bd[0, bn) except those at removedIdx[0, removedCount) (ascending), to od[0..]. */
function copyKeptRows(bd: Int32Array, bn: number, removedIdx: Int32Array, removedCount: number, od: Int32Array): void {
  let from = 0;
  let o = 0;
  for (let q = 0; q <= removedCount; q++) {
    const to = q < removedCount ? removedIdx[q]! : bn;
    if (to > from) {
      od.set(bd.subarray(from * S, to * S), o);
      o += (to - from) * S;
    }
    from = to + 1;
  }
}

/**
 * The kept rows' updates, read from the payload at rp, applied to od's rows 0..kept-1: the
 * 2-bit codes are in payload[bitmapAt..], whose unused high bits are already checked to be 0.
 * A byte of four unchanged rows is skipped at once.
 */
function applyKeptUpdates(payload: Uint8Array, bitmapAt: number, kept: number, od: Int32Array): void {
  const bytes = (kept + 3) >> 2;
  // The read position in a local (rp is a module variable), put back around readUpdate.
  let p = rp;
  for (let i = 0; i < bytes; i++) {
    let codes = payload[bitmapAt + i]!;
    for (let o = i * 4 * Kept.STRIDE; codes !== 0; codes >>= 2, o += Kept.STRIDE) {
      const code = codes & 3;
      if (code === Kept.SMALL_MOVE) {
        // readUpdate's most common case, here: a walking entity's small step.
        if (p >= re) throw truncated();
        const m = payload[p++]!;
        applyMove(od, o, ((m & 0xf) ^ 8) - 8, ((m >> 4) ^ 8) - 8);
      } else if (code !== Kept.UNCHANGED) {
        rp = p;
        readUpdate(code, od, o);
        p = rp;
      }
    }
  }
  rp = p;
}

/**
 * Where decodeFrameInto writes one frame. Reuse one per connection so steady-state decoding
 * allocates nothing beyond the occasional growth of an array.
 */
export interface FrameDecodeTarget {
  /** Seq of the baseline (header seq - baselineGap), 0 for a full snapshot. */
  baselineSeq: number;
  /** Also written to state.lastInputSeq. */
  lastInputSeq: number;
  /** The frame's zone: the header's, or the previous FRAME's when the header has none. */
  zone: ZoneId;
  /**
   * Written in place: own fields are overwritten and entities.data is replaced by a larger array
   * when it is too small. Must not be (or share arrays with) the baseline the frame names.
   */
  state: FrameState;
  /** Ids that entered view are added[0, addedCount); the array is replaced when it must grow. */
  added: Int32Array;
  addedCount: number;
  /** Ids that left view are removed[0, removedCount); the array is replaced when it must grow. */
  removed: Int32Array;
  removedCount: number;
}

export function createFrameDecodeTarget(state?: FrameState): FrameDecodeTarget {
  return {
    baselineSeq: 0,
    lastInputSeq: 0,
    zone: '0',
    state: state ?? { own: { ...ZERO_OWN }, entities: { count: 0, data: new Int32Array(0) }, lastInputSeq: 0 },
    added: new Int32Array(0),
    addedCount: 0,
    removed: new Int32Array(0),
    removedCount: 0,
  };
}

// Decode scratch, grown on demand. Module-level is safe: decoding is synchronous.
let removedIdxScratch: Int32Array = new Int32Array(64);
let addedScratch: Int32Array = new Int32Array(64 * S);

/** `a` if it holds n values, else a new array of max(n, 2 * a.length) (exactly n when a is empty). */
function grown(a: Int32Array, n: number): Int32Array {
  return a.length >= n ? a : new Int32Array(Math.max(n, 2 * a.length));
}

/**
 * Decodes a FRAME payload (from decodeMessage) against the baseline it names, into `out`
 * (see FrameDecodeTarget). Validation is exactly decodeFrame's. On a throw, `out` holds a
 * partial result and must be discarded. The payload is payload[payloadOffset..], so a caller
 * that checked the header itself can pass the whole message with header.headerLength.
 * `previousZone` is the zone of the previous FRAME on the connection ('0' before the first):
 * a header without a zone means that one.
 */
export function decodeFrameInto(
  header: FrameHeader,
  payload: Uint8Array,
  baselineOf: (seq: number) => FrameState | undefined,
  out: FrameDecodeTarget,
  payloadOffset = 0,
  previousZone: ZoneId = '0',
): void {
  if (header.type !== MessageType.Frame) throw new RangeError(`not a FRAME header: type ${header.type}`);
  if (!(payloadOffset >= 0 && payloadOffset <= payload.length)) throw new RangeError(`bad payload offset ${payloadOffset}`);
  if (header.version !== PROTOCOL_VERSION) throw new ProtocolError(ProtocolErrorCode.BadVersion, `FRAME of version ${header.version}`);
  const zone = header.zone !== '0' ? header.zone : previousZone;
  if (zone === '0') throw bad('the first FRAME must carry its zone');
  rb = payload;
  rp = payloadOffset;
  re = payload.length;
  const gap = readUvarint();
  let baseline: FrameState | null = null;
  let baselineSeq = 0;
  if (gap !== 0) {
    if (gap >= header.seq) throw bad(`baselineGap ${gap} reaches before frame 1 (frame ${header.seq})`);
    baselineSeq = header.seq - gap;
    const at = rp;
    const b = baselineOf(baselineSeq);
    rb = payload;
    rp = at;
    re = payload.length;
    if (b === undefined) throw new ProtocolError(ProtocolErrorCode.NoBaseline, `baseline ${baselineSeq}`);
    baseline = b;
  }
  const lastInputSeq = (baseline === null ? 0 : baseline.lastInputSeq) + readSvarint();
  if (!(lastInputSeq >= 0 && lastInputSeq < MAX_U32_PLUS_1)) throw bad(`lastInputSeq ${lastInputSeq} out of u32`);
  const flags = readU8();
  if (flags & ~FLAGS_ALL) throw bad(`flags 0x${flags.toString(16)}`);
  const target = out.state;
  if (
    baseline !== null &&
    (baseline === target ||
      baseline.own === target.own ||
      baseline.entities === target.entities ||
      (baseline.entities.data === target.entities.data && target.entities.data.length > 0))
  ) {
    throw new RangeError('decodeFrameInto: the target state aliases the baseline');
  }
  readOwnInto(flags & OWN_MASK_ALL, baseline === null ? ZERO_OWN : baseline.own, target.own);
  const bd = baseline === null ? EMPTY.data : baseline.entities.data;
  const bn = baseline === null ? 0 : baseline.entities.count;

  let removedCount = 0;
  if (flags & FrameFlags.Removed) {
    removedCount = readUvarint();
    if (removedCount === 0) throw bad('REMOVED block with count 0');
    if (removedCount > bn) throw bad(`removes ${removedCount} of ${bn} entities`);
  }
  if (removedIdxScratch.length < removedCount) removedIdxScratch = grown(removedIdxScratch, removedCount);
  const removedIdx = removedIdxScratch;
  let prev = -1;
  for (let k = 0; k < removedCount; k++) {
    const idx = prev + 1 + readUvarint();
    if (idx >= bn) throw bad(`removed index ${idx} of ${bn}`);
    removedIdx[k] = idx;
    prev = idx;
  }

  let addedCount = 0;
  if (flags & FrameFlags.Added) {
    addedCount = readUvarint();
    if (addedCount === 0) throw bad('ADDED block with count 0');
    if (addedCount > (re - rp) / MIN_ADDED_BYTES) throw new ProtocolError(ProtocolErrorCode.Truncated, 'added block');
  }
  if (addedScratch.length < addedCount * S) addedScratch = grown(addedScratch, addedCount * S);
  const ad = addedScratch;
  let prevId = 0;
  for (let k = 0; k < addedCount; k++) {
    const gap = readUvarint();
    if (gap === 0) throw bad('added ids not ascending (or id 0)');
    const id = prevId + gap;
    if (id > MAX_ENTITY_ID) throw bad(`entity id ${id}`);
    const o = k * S;
    ad[o + ID] = id;
    ad[o + KIND] = readU8();
    const lat = readSvarint();
    const lon = readSvarint();
    if (lat < -LAT_E6_MAX || lat > LAT_E6_MAX) throw bad(`latE6 ${lat}`);
    if (lon < -LON_E6_HALF || lon >= LON_E6_HALF) throw bad(`lonE6 ${lon}`);
    ad[o + LAT] = lat;
    ad[o + LON] = lon;
    ad[o + ALT] = checkI32(readSvarint(), 'altDm');
    ad[o + HEAD] = readU8();
    ad[o + ACT] = readU8();
    ad[o + ASEQ] = readU8();
    prevId = id;
  }

  const kept = bn - removedCount;
  const bitmapBytes = (2 * kept + 7) >> 3;
  // Step over the bitmap and index it in place.
  const bitmapAt = rp;
  if (re - rp < bitmapBytes) throw truncated();
  rp += bitmapBytes;
  if ((kept & 3) !== 0 && payload[bitmapAt + bitmapBytes - 1]! >> ((kept & 3) * 2) !== 0) throw bad('unused bitmap bits set');

  const ents = target.entities;
  let od = ents.data;
  if (od.length < (kept + addedCount) * S) ents.data = od = grown(od, (kept + addedCount) * S);
  ents.count = 0;
  let n = 0;
  let bi = 0;
  let ri = 0;
  let ai = 0;
  let k = 0;
  if (addedCount === 0) {
    // The usual frame (nobody entered view): the rows are the baseline's minus the removed ones,
    // in order, so they are copied in runs (a memcpy each) and the updates applied in place
    // after: copying cannot fail, so the first error is the one a row-by-row walk would throw.
    copyKeptRows(bd, bn, removedIdx, removedCount, od);
    applyKeptUpdates(payload, bitmapAt, kept, od);
    n = kept;
  } else {
    // Someone entered view: merge the kept rows with the added ones by id.
    while (true) {
      while (ri < removedCount && removedIdx[ri] === bi) {
        bi++;
        ri++;
      }
      const keptId = bi < bn ? bd[bi * S + ID]! : END;
      const addId = ai < addedCount ? ad[ai * S + ID]! : END;
      if (keptId === END && addId === END) break;
      if (keptId === addId) throw bad(`added id ${addId} is already in view`);
      const o = n * S;
      if (addId < keptId) {
        const a = ai * S;
        for (let f = 0; f < S; f++) od[o + f] = ad[a + f]!;
        ai++;
      } else {
        const b = bi * S;
        for (let f = 0; f < S; f++) od[o + f] = bd[b + f]!;
        const code = (payload[bitmapAt + (k >> 2)]! >> ((k & 3) * 2)) & 3;
        if (code === UpdateCode.SmallMove) {
          // readUpdate's most common case, here: a walking entity's small step.
          if (rp >= re) throw truncated();
          const m = rb[rp++]!;
          applyMove(od, o, ((m & 0xf) ^ 8) - 8, ((m >> 4) ^ 8) - 8);
        } else if (code !== UpdateCode.Unchanged) readUpdate(code, od, o);
        k++;
        bi++;
      }
      n++;
    }
  }
  if (rp !== re) throw new ProtocolError(ProtocolErrorCode.BadLength, `${re - rp} unread bytes`);
  rb = EMPTY_BYTES; // keep no reference to the caller's buffer
  ents.count = n;

  if (removedCount > 0) {
    if (out.removed.length < removedCount) out.removed = grown(out.removed, removedCount);
    const removed = out.removed;
    for (let q = 0; q < removedCount; q++) removed[q] = bd[removedIdx[q]! * S + ID]!;
  }
  out.removedCount = removedCount;
  if (addedCount > 0) {
    if (out.added.length < addedCount) out.added = grown(out.added, addedCount);
    const added = out.added;
    for (let q = 0; q < addedCount; q++) added[q] = ad[q * S + ID]!;
  }
  out.addedCount = addedCount;
  out.baselineSeq = baselineSeq;
  out.lastInputSeq = lastInputSeq;
  target.lastInputSeq = lastInputSeq;
  out.zone = zone;
}

/**
 * Decodes a FRAME payload (from decodeMessage) against the baseline it names. The returned
 * state is freshly allocated and never aliases the baseline. `previousZone` is the zone of the
 * previous FRAME on the connection ('0' before the first), which a header without one means.
 */
export function decodeFrame(
  header: FrameHeader,
  payload: Uint8Array,
  baselineOf: (seq: number) => FrameState | undefined,
  previousZone: ZoneId = '0',
): FrameDecoded {
  const out = createFrameDecodeTarget();
  decodeFrameInto(header, payload, baselineOf, out, 0, previousZone);
  return {
    seq: header.seq,
    serverTime: header.serverTime,
    zone: out.zone,
    baselineSeq: out.baselineSeq,
    lastInputSeq: out.lastInputSeq,
    state: out.state,
    added: Array.from(out.added.subarray(0, out.addedCount)),
    removed: Array.from(out.removed.subarray(0, out.removedCount)),
  };
}
