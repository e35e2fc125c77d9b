// IEEE 802.3 CRC-32 (the zlib/PNG one). Hand-written and table-driven rather than a dependency:
// it runs on every message in both directions, is a dozen lines, and must work in browsers too.

const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 of bytes[start, end). Reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF, result as an unsigned 32-bit number. Pass a previous result as `seed` to continue
 * over a second range: crc32(b2, 0, b2.length, crc32(b1)) === crc32(concat(b1, b2)).
 */
export function crc32(bytes: Uint8Array, start = 0, end: number = bytes.length, seed = 0): number {
  let c = ~seed;
  // Clamp so a bad range cannot read undefined (which would silently hash as 0).
  const stop = end < bytes.length ? end : bytes.length;
  for (let i = start < 0 ? 0 : start; i < stop; i++) {
    // bytes[i] is in range by the loop bounds; `!` only satisfies noUncheckedIndexedAccess.
    c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return ~c >>> 0;
}
