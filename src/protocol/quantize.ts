// World grid (exact, used for the client's own state) -> wire grid for remote entities.
// Rounding everywhere is "half away from zero" on integers, so results are symmetric about 0
// and identical on every platform (no float rounding involved for integer inputs).

export const LON_E6_PERIOD = 360e6;
export const LON_E7_PERIOD = 3.6e9;
export const HEADING8_STEPS = 256;

/** Integer division by 10, rounding half away from zero; never returns -0. */
function div10(v: number): number {
  const a = Math.floor((Math.abs(v) + 5) / 10);
  return v < 0 && a !== 0 ? -a : a;
}

/** Wraps d into [-period/2, period/2). */
export function wrapDelta(d: number, period: number): number {
  const half = period / 2;
  const r = (d + half) % period;
  return (r < 0 ? r + period : r) - half;
}

/** Latitude 1e-7 degrees -> 1e-6 degrees (about 11 cm). */
export function latE7ToE6(v: number): number {
  return div10(v);
}

/** Longitude 1e-7 -> 1e-6 degrees, wrapped into [-180e6, 180e6) (1799999995 -> -180000000). */
export function lonE7ToE6(v: number): number {
  return wrapDelta(div10(v), LON_E6_PERIOD);
}

/** Altitude centimetres -> decimetres. */
export function altCmToDm(v: number): number {
  return div10(v);
}

/** Heading in 1/65536 turns -> 1/256 turns, to nearest (half up), 256 wraps to 0. */
export function heading16To8(v: number): number {
  return ((v + 128) >> 8) & 0xff;
}
