// ZoneId (an H3 index as h3-js prints it) <-> the two u32 words of the message header.
import type { ZoneId } from '../world/types.ts';

const CANONICAL = /^(?:0|[1-9a-f][0-9a-f]{0,15})$/;

// One-entry cache: a server process encodes thousands of frames per tick for a handful of zones.
let lastZone: ZoneId = '0';
let lastLo = 0;
let lastHi = 0;

/** Validates `zone` and makes it the cached one (lastLo, lastHi). */
function load(zone: ZoneId): void {
  if (zone === lastZone) return;
  if (typeof zone !== 'string' || !CANONICAL.test(zone)) throw new RangeError(`bad zone id: ${String(zone)}`);
  const split = zone.length > 8 ? zone.length - 8 : 0;
  const lo = parseInt(zone.slice(split), 16);
  const hi = split === 0 ? 0 : parseInt(zone.slice(0, split), 16);
  lastZone = zone;
  lastLo = lo;
  lastHi = hi;
}

/**
 * Splits a zone id into its low and high 32-bit words. Accepts only the canonical form
 * (lower-case hex, 1..16 digits, no leading zeros, '0' for none) so the round trip is exact;
 * anything else throws RangeError.
 */
export function zoneToWords(zone: ZoneId): [lo: number, hi: number] {
  load(zone);
  return [lastLo, lastHi];
}

/** zoneToWords(zone)[0] without the array (same validation and RangeError). */
export function zoneLoWord(zone: ZoneId): number {
  load(zone);
  return lastLo;
}

/** zoneToWords(zone)[1] without the array (same validation and RangeError). */
export function zoneHiWord(zone: ZoneId): number {
  load(zone);
  return lastHi;
}

/** Inverse of zoneToWords; every pair of u32 words maps to a canonical id. */
export function wordsToZone(lo: number, hi: number): ZoneId {
  if (lo >>> 0 !== lo || hi >>> 0 !== hi) throw new RangeError(`bad zone words: ${lo}, ${hi}`);
  if (hi === 0) return lo.toString(16);
  return hi.toString(16) + lo.toString(16).padStart(8, '0');
}
