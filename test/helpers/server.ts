// Start an embedded world on a free port for a test, with its data in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/cli/server.ts';
import { loadServerConfig } from '../../src/ops/config.ts';

export async function startTestServer(flags: string[] = []): Promise<RunningServer & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bluemarble-test-'));
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
      rmSync(dataDir, { recursive: true, force: true });
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
