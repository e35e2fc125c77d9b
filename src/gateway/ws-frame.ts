// Server-to-client WebSocket data frames (RFC 6455 section 5.2), written straight to the socket.
//
// `ws` does the upgrade, parses what clients send, and handles ping, pong and close; only the
// gateway's outgoing binary messages take this path. ws.send() frames a message as a header
// buffer plus the payload and writes them corked (an array of chunks, a writev), which at 2,000
// clients x 20 frames a second is measurable: one contiguous buffer and one plain write per
// frame cost less (docs/benchmarks.md, "Gateway writes"). Server frames are never masked, so the
// frame is just a 2-, 4- or 10-byte header in front of the payload. Writes to the socket keep
// their order with ws's own (pongs, close frames): both go through the same stream, one whole
// frame per write.

/** FIN + opcode 2 (binary): the only data frame the gateway sends. */
const FIN_BINARY = 0x82;

/** Bytes of header a payload of `length` bytes needs. */
export function binaryFrameHeaderLength(length: number): number {
  return length < 126 ? 2 : length <= 0xffff ? 4 : 10;
}

/**
 * One unfragmented, unmasked binary frame carrying `payload`, in a fresh buffer the socket may
 * keep (small ones come from Node's shared pool, so this is a slice, not an allocation).
 */
export function encodeBinaryFrame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const h = binaryFrameHeaderLength(n);
  const out = Buffer.allocUnsafe(h + n);
  out[0] = FIN_BINARY;
  if (h === 2) {
    out[1] = n;
  } else if (h === 4) {
    out[1] = 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    // 64-bit length, big-endian; payloads here are far below 2^32.
    out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.set(payload, h);
  return out;
}
