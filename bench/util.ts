// Small helpers shared by the benchmark scenarios: percentiles, tables, progress, CPU sampling.
import { cpuSeconds } from '../src/loadtest/proc.ts';

/** Exact percentile of already sorted samples (nearest rank); 0 for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Abortable sleep: the load-test runner's. */
export { sleep } from '../src/loadtest/runner.ts';

/** Progress goes to stderr so stdout stays clean for tables and the JSON line. */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export type Cell = string | number;

/** Plain-text table with right-aligned numbers, for stdout. */
export function table(title: string, header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)];
  return out.join('\n') + '\n';
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/** CPU use of a set of processes between two samples, as a percentage of one core. */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  private startedAt = 0;

  begin(pids: readonly number[]): void {
    this.start.clear();
    this.startedAt = performance.now();
    for (const pid of pids) {
      const c = cpuSeconds(pid);
      if (c !== undefined) this.start.set(pid, c);
    }
  }

  /** Percent of one core per pid (NaN where unknown). */
  end(pids: readonly number[]): number[] {
    const wall = (performance.now() - this.startedAt) / 1000;
    return pids.map((pid) => {
      const a = this.start.get(pid);
      const b = cpuSeconds(pid);
      return a === undefined || b === undefined || wall <= 0 ? NaN : (100 * (b - a)) / wall;
    });
  }
}
