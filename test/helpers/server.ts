// Start an embedded world on a free port for a test, with its data in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/cli/server.ts';
import { loadServerConfig } from '../../src/ops/config.ts';

/** A temporary data folder; the caller removes it (for tests that restart a server on it). */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'bluemarble-test-'));
}

/**
 * With opts.dataDir the server uses that folder and leaves it in place on close (so a test can
 * restart on the same world); without, it gets a temporary one removed on close.
 */
export async function startTestServer(
  flags: string[] = [],
  opts: { dataDir?: string } = {},
): Promise<RunningServer & { dataDir: string }> {
  const dataDir = opts.dataDir ?? tempDataDir();
  // TEST_ZONE_THREADS=1 runs any suite with the zones in a worker thread.
  const threads = process.env.TEST_ZONE_THREADS ? ['--zone-threads', process.env.TEST_ZONE_THREADS] : [];
  const config = loadServerConfig(
    // Guests allowed unless a test says otherwise: most suites exercise the world, not accounts.
    ['--port', '0', '--data', dataDir, '--log-level', process.env.TEST_LOG ?? 'silent', '--guests', 'true', ...threads, ...flags],
    {},
  );
  const server = await startServer(config);
  return {
    ...server,
    dataDir,
    async close() {
      await server.close();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Value of a counter/gauge sample from Prometheus text, e.g. metric('x_total{reason="speed"}'). */
export async function metric(server: RunningServer, sample: string): Promise<number> {
  const text = await server.metricsText();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return Number.NaN;
}
