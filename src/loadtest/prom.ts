// A small reader for the Prometheus text format served at /metrics: enough for counters and
// gauges (histogram buckets are read as any other sample).

/** Sample name with its labels as written (e.g. `x_total{reason="speed"}`) -> value. */
export type PromSamples = Map<string, number>;

export function parseProm(text: string): PromSamples {
  const out: PromSamples = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // The value follows the last space outside the label braces (label values may hold spaces).
    const close = line.lastIndexOf('}');
    const sp = line.indexOf(' ', close >= 0 ? close : 0);
    if (sp < 0) continue;
    const name = line.slice(0, sp);
    const value = Number(line.slice(sp + 1).trim().split(' ')[0]);
    if (!Number.isNaN(value)) out.set(name, value);
  }
  return out;
}

/** Sum of every sample of a metric (all label sets); NaN when there is none. */
export function promSum(s: PromSamples, metric: string): number {
  let sum = 0;
  let found = false;
  for (const [k, v] of s) {
    if (k === metric || (k.startsWith(metric) && k[metric.length] === '{')) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : NaN;
}

/** One label's values of a metric -> summed value, e.g. inputs rejected by reason. */
export function promByLabel(s: PromSamples, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`(?:^|[{,])${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const [k, v] of s) {
    if (!k.startsWith(`${metric}{`)) continue;
    const m = k.slice(metric.length).match(re);
    if (!m) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + v;
  }
  return out;
}
