// Child processes of a load test (the server, the bots processes). Every one is registered and
// killed when this process exits, fails or gets Ctrl+C, so no run leaves anything behind.
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
let hooked = false;

/** Kills every child still running (SIGKILL: this also runs from 'exit', which cannot wait). */
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

function register(c: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', killAllChildren);
  }
  live.add(c);
  c.once('exit', () => live.delete(c));
  c.once('error', () => live.delete(c));
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  stdoutLines: string[];
  stderrLines: string[];
  exited: Promise<number>;
  /** Resolves with the first stdout line matching `re` (null if the child exits first or `ms` pass). */
  waitForLine(re: RegExp, ms: number): Promise<RegExpMatchArray | null>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<number>;
}

const MAX_LINES = 5000;

function wrap(proc: ChildProcess, onStderr?: (l: string) => void): Child {
  if (proc.pid === undefined) throw new Error('could not start a child process');
  register(proc);
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const waiters = new Set<(l: string) => boolean>();
  const splitter = (onLine: (l: string) => void): ((chunk: Buffer) => void) => {
    let rest = '';
    return (chunk) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) onLine(p);
    };
  };
  proc.stdout?.on(
    'data',
    splitter((l) => {
      if (stdoutLines.length < MAX_LINES) stdoutLines.push(l);
      for (const w of waiters) if (w(l)) waiters.delete(w);
    }),
  );
  proc.stderr?.on(
    'data',
    splitter((l) => {
      if (stderrLines.length < MAX_LINES) stderrLines.push(l);
      onStderr?.(l);
    }),
  );
  const exited = new Promise<number>((resolve) => {
    proc.once('exit', (code) => resolve(code ?? -1));
    proc.once('error', () => resolve(-1));
  });
  return {
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
        const finish = (m: RegExpMatchArray | null): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(m);
        };
        const timer = setTimeout(() => finish(null), ms);
        const waiter = (l: string): boolean => {
          const m = l.match(re);
          if (m) finish(m);
          return m !== null;
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
}

/** `node <script> ...args`, stdout and stderr piped. */
export function startScript(script: string, args: string[], opts: { onStderr?: (l: string) => void } = {}): Child {
  return startNode([script, ...args], opts);
}

/** `node ...nodeArgs` (flags allowed before the script), stdout and stderr piped. */
export function startNode(nodeArgs: string[], opts: { onStderr?: (l: string) => void } = {}): Child {
  return wrap(spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] }), opts.onStderr);
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

/** A TypeScript module in a child process with an IPC channel (tsx's loader registered first). */
export function forkTs(moduleUrl: URL, opts: { onStderr?: (l: string) => void } = {}): Child {
  const tsx = import.meta.resolve('tsx');
  const proc = fork(moduleUrl, [], { execArgv: ['--import', tsx], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  return wrap(proc, opts.onStderr);
}

/** CPU seconds (user + system) a process has used, from /proc; undefined off Linux or once gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(t) ? t / 100 : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Resident set size in MB, from /proc; undefined off Linux or once gone. */
export function rssMB(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
