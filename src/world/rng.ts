// Small seeded PRNG (mulberry32): 32 bits of state, so it serialises as one number and NPC
// behaviour replays identically after a zone handoff. Not for anything security-related.

export class Rng {
  private s: number;

  constructor(seed: number) {
    // Any number is accepted; it is folded to a u32 so that equal seeds give equal streams.
    this.s = (Number.isFinite(seed) ? Math.trunc(seed) : 0) >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, maxExclusive); returns min when the range is empty. */
  int(min: number, maxExclusive: number): number {
    if (!(maxExclusive > min)) return min;
    return min + Math.floor(this.next() * (maxExclusive - min));
  }

  /** Uniform float in [min, max). */
  range(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** Current state as a u32; `new Rng(rng.state)` continues the same stream. */
  get state(): number {
    return this.s;
  }

  toJSON(): number {
    return this.s;
  }

  static fromJSON(state: number): Rng {
    return new Rng(state);
  }
}
