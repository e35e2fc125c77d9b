// Tick phases: the zones of one host spread over evenly spaced moments of the tick period.
//
// Why: when every zone ticks at the same moment, a host's whole tick (simulation, encoding, one
// socket write per player) runs as one burst each period: a player whose zone comes late in the
// burst, or whose input arrives just after it, waits for it. Spread over P phases, each moment
// carries about 1/P of the zones: the same work per period in small pieces, frames leaving the
// host evenly through the period, and a lower, steadier input-to-update latency. The price is
// more, smaller wake-ups at both ends of every socket (a few % of CPU), which is why one phase
// stays the default. Each zone still ticks exactly once per period on its own fixed grid.
//
// Pure: membership and the grid arithmetic; the host (host.ts) owns the timer and the zones.

/**
 * Phases per period unless configured (--tick-phases): one, every zone at once. Spreading costs
 * the host a few % of CPU (more, smaller wake-ups on both ends of every socket) for a lower and
 * steadier input-to-update latency; docs/benchmarks.md ("Tick phases") has the figures.
 */
export const DEFAULT_TICK_PHASES = 1;

/** Members (zones) assigned to phases 0..count-1, kept balanced by count as they come and go. */
export class TickPhases<T> {
  private readonly lists: T[][];
  private readonly phaseOf = new Map<T, number>();

  constructor(readonly count: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`tick phases must be a whole number >= 1, got ${count}`);
    this.lists = Array.from({ length: count }, () => []);
  }

  /** Adds `member` to the phase with the fewest members (the lowest such phase); returns it. */
  add(member: T): number {
    const known = this.phaseOf.get(member);
    if (known !== undefined) return known;
    let best = 0;
    for (let p = 1; p < this.count; p++) if (this.lists[p]!.length < this.lists[best]!.length) best = p;
    this.lists[best]!.push(member);
    this.phaseOf.set(member, best);
    return best;
  }

  /** Removes `member`; the others keep their phases (a zone's grid never moves under it). */
  remove(member: T): void {
    const p = this.phaseOf.get(member);
    if (p === undefined) return;
    this.phaseOf.delete(member);
    const list = this.lists[p]!;
    const i = list.indexOf(member);
    if (i >= 0) list.splice(i, 1);
  }

  /** The phase of `member`, or undefined. */
  of(member: T): number | undefined {
    return this.phaseOf.get(member);
  }

  /** The members ticking at phase `p`, in the order they were added. Do not modify. */
  members(p: number): readonly T[] {
    return this.lists[p]!;
  }

  get size(): number {
    return this.phaseOf.size;
  }

  /**
   * How many phases to move on from `p` to reach the next phase with members: 1..count.
   * An empty host steps once per period (count), so it still keeps its period's bookkeeping.
   */
  stepsToNext(p: number): number {
    for (let s = 1; s < this.count; s++) if (this.lists[(p + s) % this.count]!.length > 0) return s;
    return this.count;
  }
}
