// Child processes for the benchmarks: the server and the bots run as separate `node` processes so
// they do not share an event loop with each other or with the benchmark. The load-test runner's
// process handling (src/loadtest/proc.ts) is the one implementation: every child is registered
// and killed on exit, on error and on Ctrl+C.
import { fileURLToPath } from 'node:url';
import { startNode, type Child } from '../src/loadtest/proc.ts';

export { killAllChildren, startNode, waitExit } from '../src/loadtest/proc.ts';
export type { Child } from '../src/loadtest/proc.ts';

export const BIN = fileURLToPath(new URL('../bin/bluemarble.js', import.meta.url));

/** Starts `node bin/bluemarble.js ...args`. `onStderr` sees each stderr line (progress). */
export function startBluemarble(args: string[], opts: { onStderr?: (line: string) => void } = {}): Child {
  return startNode([BIN, ...args], opts);
}
