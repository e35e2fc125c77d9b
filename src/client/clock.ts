// The synchronised server clock: offset = server clock - local clock, from PING/PONG (the
// connection keeps the offset of the lowest-RTT recent pong, the one least skewed by queueing).
// Small changes are blended in so the clock does not jitter; big ones (first sync, a new server)
// are taken at once. Before the first pong, frames' timestamps give a rough offset.

/** Header serverTime is the server clock modulo 2^32. */
const U32 = 0x1_0000_0000;

export class ServerClock {
  /** Server clock minus local clock (ms); NaN until known. */
  offsetMs = NaN;
  /** True once a PONG gave the offset (rather than a frame's timestamp). */
  synced = false;
  private lastFrame32 = -1;
  private lastFrameFull = 0;

  /** Round trip of the PONG behind the current estimate (ms); Infinity when unknown. */
  private rttMs = Infinity;

  /**
   * A PONG-based offset estimate (GameConnection.clockOffsetMs) and the round trip of the PONG it
   * came from (GameConnection.clockRttMs). An estimate from a clearly shorter round trip is taken
   * at once: its error is bounded by half that round trip, so it is better, not just different
   * (a first PONG that waited at a busy server would otherwise skew the clock for many seconds).
   */
  fromPong(offsetMs: number, rttMs = Number.NaN): void {
    if (!Number.isFinite(offsetMs)) return;
    const d = offsetMs - this.offsetMs;
    const tighter = rttMs + 1 < this.rttMs;
    if (!this.synced || tighter || !(Math.abs(d) < 50)) this.offsetMs = offsetMs;
    else this.offsetMs += d * 0.25;
    if (Number.isFinite(rttMs)) this.rttMs = rttMs;
    this.synced = true;
  }

  /** Current server time (ms) for local time `nowMs`; NaN before any estimate. */
  at(nowMs: number): number {
    return nowMs + this.offsetMs;
  }

  /**
   * A frame's u32 serverTime as a full server time (ms), unwrapped next to the previous frame's
   * (or the clock estimate for the first). Without a PONG yet, it also seeds the offset.
   */
  unwrapFrameTime(t32: number, nowMs: number): number {
    let full: number;
    if (this.lastFrame32 >= 0) {
      full = this.lastFrameFull + ((t32 - this.lastFrame32) | 0);
    } else if (Number.isFinite(this.offsetMs)) {
      const est = nowMs + this.offsetMs;
      full = t32 + Math.round((est - t32) / U32) * U32;
    } else {
      full = t32;
    }
    this.lastFrame32 = t32;
    this.lastFrameFull = full;
    if (!this.synced) this.offsetMs = full - nowMs;
    return full;
  }

  /**
   * A u32 server time (a header's) as the full server time nearest the current estimate at local
   * time `nowMs`; NaN before any estimate. Unlike unwrapFrameTime it does not follow the chain of
   * frames, which starts from the bare u32 when the first frame comes before the first PONG.
   */
  nearest(t32: number, nowMs: number): number {
    const est = nowMs + this.offsetMs;
    return Number.isFinite(est) ? t32 + Math.round((est - t32) / U32) * U32 : NaN;
  }

  /** A new connection: frame timestamps restart their unwrapping (the offset is kept). */
  resetFrames(): void {
    this.lastFrame32 = -1;
  }
}
