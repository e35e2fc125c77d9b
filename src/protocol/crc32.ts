// IEEE 802.3 CRC-32 (the zlib/PNG one). Hand-written and table-driven rather than a dependency:
// it runs on every message in both directions and must work in browsers too. Four bytes a step
// ("slicing by 4"): the server checksums every FRAME it sends and a client every FRAME it reads,
// and a byte at a time was a visible share of both (the server's encoder, a bots process).

/** TABLE[k * 256 + n]: the CRC register after byte n followed by k zero bytes (k = 0..3). */
const TABLE = /* @__PURE__ */ (() => {
  const t = new Int32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 4; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * CRC-32 of bytes[start, end). Reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF, result as an unsigned 32-bit number. Pass a previous result as `seed` to continue
 * over a second range: crc32(b2, 0, b2.length, crc32(b1)) === crc32(concat(b1, b2)).
 */
export function crc32(bytes: Uint8Array, start = 0, end: number = bytes.length, seed = 0): number {
  const t = TABLE;
  let c = ~seed;
  // Clamp so a bad range cannot read undefined (which would silently hash as 0).
  const stop = end < bytes.length ? end : bytes.length;
  let i = start < 0 ? 0 : start;
  for (const stop4 = stop - 3; i < stop4; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[c >>> 24]!;
  }
  for (; i < stop; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
