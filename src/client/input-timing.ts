// When to send inputs: just before the server's tick that should apply them.
//
// The server applies inputs at its ticks, on a fixed grid that every FRAME's serverTime is stamped
// with (docs/protocol.md). An input sent at a random moment waits 0..1 tick at the server before it
// is applied, so input-to-update latency is spread over a whole tick. Sending each input to arrive
// a small margin before a tick instead makes that wait the margin. The margin adapts: an input
// that missed the tick it was aimed at (it was applied a tick later) widens it at once, and every
// input on time narrows it a little, so misses settle at about MISS_SHARE of inputs.
//
// Pure: no timers and no clock of its own. Times are in ms; "local" is the caller's monotonic
// clock, "server" is the server clock (local + offset, from PING/PONG).

const RING = 64;
/** Widening per missed tick, ms. */
const MISS_STEP_MS = 4;
/** Narrowing per input on time: MISS_STEP_MS * MISS_SHARE, so the margin settles at ~0.25 % misses. */
const MISS_SHARE = 0.0025;

export interface InputTimingOptions {
  /** Margin before the tick at the start, ms (default 8). */
  initialMarginMs?: number;
  /** Narrowest margin, ms (default 2). */
  minMarginMs?: number;
  /** Widest margin, ms (default 250). */
  maxMarginMs?: number;
}

export class InputTiming {
  /** Current margin before the tick, ms (adaptive). */
  marginMs: number;
  /** Inputs that were applied a tick or more later than aimed at, and on time. */
  late = 0;
  onTime = 0;
  private readonly initialMarginMs: number;
  private readonly minMarginMs: number;
  private readonly maxMarginMs: number;
  private tickMs = 50;
  /** Server time of a known tick (the newest frame's), NaN before the first frame. */
  private anchor = NaN;
  /** Server time of the tick the next input is aimed at, NaN when not yet chosen. */
  private nextTick = NaN;
  /** Tick each recent input was aimed at, by seq mod RING (NaN: not aimed). */
  private readonly aimed = new Float64Array(RING).fill(NaN);
  private ackSeq = -1;

  constructor(opts: InputTimingOptions = {}) {
    this.initialMarginMs = positive(opts.initialMarginMs, 8);
    this.minMarginMs = positive(opts.minMarginMs, 2);
    this.maxMarginMs = Math.max(this.minMarginMs, positive(opts.maxMarginMs, 250));
    this.marginMs = clamp(this.initialMarginMs, this.minMarginMs, this.maxMarginMs);
  }

  /** A new connection (WELCOME): forget the grid and the aims; the learned margin is kept. */
  reset(tickMs: number, nextInputSeq: number): void {
    this.tickMs = tickMs > 0 && Number.isFinite(tickMs) ? tickMs : 50;
    this.anchor = NaN;
    this.nextTick = NaN;
    this.aimed.fill(NaN);
    this.ackSeq = nextInputSeq - 1;
  }

  /**
   * A frame: `serverTime` is its tick's grid time (unwrapped, server clock) and `lastInputSeq` the
   * newest input applied. Inputs newly applied are checked against the tick they were aimed at.
   */
  onFrame(serverTime: number, lastInputSeq: number): void {
    if (!Number.isFinite(serverTime)) return;
    this.anchor = serverTime;
    if (lastInputSeq <= this.ackSeq) return;
    const from = Math.max(this.ackSeq + 1, lastInputSeq - RING + 1);
    let missed = false;
    for (let s = from; s <= lastInputSeq; s++) {
      const i = s & (RING - 1);
      const aimedAt = this.aimed[i]!;
      if (Number.isNaN(aimedAt)) continue;
      this.aimed[i] = NaN;
      // Applied by this frame's tick; aimed at an earlier one means it arrived too late.
      if (serverTime > aimedAt + this.tickMs / 2) {
        this.late++;
        missed = true;
      } else {
        this.onTime++;
        this.marginMs = Math.max(this.minMarginMs, this.marginMs - MISS_STEP_MS * MISS_SHARE);
      }
    }
    if (missed) this.marginMs = Math.min(this.maxMarginMs, this.marginMs + MISS_STEP_MS);
    this.ackSeq = lastInputSeq;
  }

  /**
   * Local time to send the next input: `oneWayMs` before its arrival, `marginMs` before the tick
   * it is aimed at (the first tick still reachable, never one already aimed at). NaN while the
   * grid or the clock is unknown: send on a plain schedule meanwhile.
   */
  nextSendAt(nowLocal: number, offsetMs: number, oneWayMs: number): number {
    if (Number.isNaN(this.anchor) || !Number.isFinite(offsetMs)) return NaN;
    const lead = this.marginMs + (oneWayMs > 0 && Number.isFinite(oneWayMs) ? oneWayMs : 0);
    const reachable = this.anchor + Math.ceil((nowLocal + offsetMs + lead - this.anchor) / this.tickMs) * this.tickMs;
    // Keep the aim unless the caller fell a tick or more behind it (a stall: skip, do not burst).
    if (Number.isNaN(this.nextTick) || this.nextTick < reachable - this.tickMs) this.nextTick = reachable;
    return this.nextTick - lead - offsetMs;
  }

  /**
   * Input `seq` went out: it is judged against the tick it was aimed at (so a late sender widens
   * the margin too: the margin covers the network, the server and the caller's own delays), and
   * the next input is aimed at the following tick.
   */
  onSent(seq: number, nowLocal: number, offsetMs: number, oneWayMs: number): void {
    if (Number.isNaN(this.anchor) || !Number.isFinite(offsetMs)) return;
    if (Number.isNaN(this.nextTick)) this.nextSendAt(nowLocal, offsetMs, oneWayMs);
    this.aimed[seq & (RING - 1)] = this.nextTick;
    this.nextTick += this.tickMs;
  }
}

function positive(v: number | undefined, dflt: number): number {
  return v !== undefined && Number.isFinite(v) && v >= 0 ? v : dflt;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
