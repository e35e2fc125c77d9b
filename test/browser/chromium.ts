// Headless Chromium for the browser tests: Debian's `chromium` package (scripts/setup-browser.sh
// installs it) driven by playwright-core; no browser build is downloaded. Off CI a missing
// browser skips the suite with a message; with CI=true it fails the run.
import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.BLUEMARBLE_CHROMIUM ?? '/usr/bin/chromium';
export const RESULTS_DIR = 'test-results';

const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Flags for this kind of machine: no sandbox (root in a container), no GPU, nothing phoning home. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Undefined when Chromium is installed, else a skip message; throws in CI, where it must be. */
export function browserSkip(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const why = `Chromium is not installed at ${CHROMIUM_PATH}`;
  if (inCi) throw new Error(`${why}: CI=true requires it (run scripts/setup-browser.sh)`);
  console.log(`# skipping browser tests: ${why} (run \`npm run setup:browser\`, or set BLUEMARBLE_CHROMIUM)`);
  return why;
}

/** A fresh headless browser (playwright gives each launch its own temporary profile). */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
}

/** Exact percentile of samples (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
