// Child processes for the socket scenarios: the server and the bots run as separate `node`
// processes so they do not share an event loop with each other or with the benchmark. Every
// child is registered here and killed on exit, on error and on Ctrl+C.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/bluemarble.js', import.meta.url));

const live = new Set<ChildProcess>();

/** Kills every child still running (SIGKILL: this runs from 'exit', which cannot wait). */
export function killAllChildren(): void {
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Complete stdout lines so far. */
  stdoutLines: string[];
  /** Complete stderr lines so far. */
  stderrLines: string[];
  /** Resolves with the exit code when it exits (-1 if killed by a signal or never started). */
  exited: Promise<number>;
  /** Resolves with the first stdout line matching `re` (null if the child exits first or `ms` pass). */
  waitForLine(re: RegExp, ms: number): Promise<RegExpMatchArray | null>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<number>;
}

type LineWaiter = (line: string) => boolean;

/** Starts `node bin/bluemarble.js ...args`. `onStderr` sees each stderr line (progress). */
export function startBluemarble(args: string[], opts: { onStderr?: (line: string) => void } = {}): Child {
  return startNode([BIN, ...args], opts);
}

/** Starts `node ...nodeArgs` as a registered child (killed with the others). */
export function startNode(nodeArgs: string[], opts: { onStderr?: (line: string) => void } = {}): Child {
  const proc = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`could not start node ${nodeArgs.join(' ')}`);
  live.add(proc);
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const waiters = new Set<LineWaiter>();
  const splitLines = (onLine: (l: string) => void): ((chunk: Buffer) => void) => {
    let rest = '';
    return (chunk) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) onLine(p);
    };
  };
  proc.stdout!.on(
    'data',
    splitLines((l) => {
      stdoutLines.push(l);
      for (const w of waiters) if (w(l)) waiters.delete(w);
    }),
  );
  proc.stderr!.on(
    'data',
    splitLines((l) => {
      stderrLines.push(l);
      opts.onStderr?.(l);
    }),
  );
  const exited = new Promise<number>((resolve) => {
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code ?? -1);
    });
    proc.once('error', () => {
      live.delete(proc);
      resolve(-1);
    });
  });
  const child: Child = {
    proc,
    pid: proc.pid,
    stdoutLines,
    stderrLines,
    exited,
    waitForLine(re, ms) {
      for (const l of stdoutLines) {
        const m = l.match(re);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => finish(null), ms);
        const waiter: LineWaiter = (l) => {
          const m = l.match(re);
          if (m) finish(m);
          return m !== null;
        };
        const finish = (m: RegExpMatchArray | null): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(m);
        };
        waiters.add(waiter);
        void exited.then(() => finish(null));
      });
    },
    async stop(graceMs = 3000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return child;
}

/** Resolves with the exit code, or kills the child and resolves null if it runs past `ms`. */
export async function waitExit(child: Child, ms: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  const code = await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (code === null) await child.stop(1000);
  return code;
}
