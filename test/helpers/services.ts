// Real services for the distributed adapters' tests. Off CI a missing service skips the suite with
// a message saying why; in CI (CI=true) it fails the run, so a broken service is never hidden.
import { createConnection } from 'node:net';

export const POSTGRES_URL = process.env.BLUEMARBLE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BLUEMARBLE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

const inCi = process.env.CI === 'true' || process.env.CI === '1';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves to undefined when the service answers, else to a skip message for node:test's
 * `{ skip }` option. Throws in CI, where every service must be up.
 */
export async function serviceSkip(name: 'postgres' | 'redis'): Promise<string | undefined> {
  const url = name === 'postgres' ? POSTGRES_URL : REDIS_URL;
  if (await reachable(url, name === 'postgres' ? 5432 : 6379)) return undefined;
  const why = `${name} is not reachable at ${url}`;
  if (inCi) throw new Error(`${why}: CI=true requires it (start it as described in README.md)`);
  console.log(`# skipping ${name} tests: ${why} (set BLUEMARBLE_TEST_${name.toUpperCase()} to point elsewhere)`);
  return why;
}
