// `ws-floor`: what the same message traffic costs with no game at all, so the server's and the
// bots' CPU per client can be read against a floor: a bare `ws` server sends every client a
// 50-byte message every 50 ms, and client processes send a 30-byte message each per 50 ms.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startNode, type Child } from './proc.ts';
import { CpuMeter, progress, round, sleep, table } from './util.ts';

const PEER = fileURLToPath(new URL('./floor-peer.ts', import.meta.url));

export interface FloorResult {
  clients: number;
  clientProcesses: number;
  framesPerClientPerSecond: number;
  serverCpuPct: number;
  clientsCpuPct: number[];
  /** CPU per client per 50 ms tick, microseconds. */
  serverUsPerClientTick: number;
  clientsUsPerClientTick: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function runFloor(opts: { quick: boolean; signal: AbortSignal; counts: number[] | undefined }): Promise<FloorResult> {
  const clients = opts.counts?.[0] ?? (opts.quick ? 500 : 2000);
  const procs = clients > 1000 ? 2 : 1;
  const port = await freePort();
  const children: Child[] = [];
  try {
    const server = startNode(['--import', 'tsx', PEER, 'server', String(port)]);
    children.push(server);
    if (!(await server.waitForLine(/^ready$/, 20_000))) throw new Error('ws-floor: server did not start');
    const peers: Child[] = [];
    for (let i = 0; i < procs; i++) {
      const share = Math.floor(clients / procs) + (i < clients % procs ? 1 : 0);
      const c = startNode(['--import', 'tsx', PEER, 'clients', String(port), String(share)]);
      children.push(c);
      peers.push(c);
    }
    for (const c of peers) {
      if (!(await c.waitForLine(/^ready$/, 60_000))) throw new Error('ws-floor: clients did not connect');
    }
    progress(`ws-floor: ${clients} sockets connected in ${procs} client process(es); warming up`);
    await sleep(3000, opts.signal);
    const pids = [server.pid, ...peers.map((p) => p.pid)];
    const cpu = new CpuMeter();
    const before = peers.map((p) => p.stdoutLines.length);
    cpu.begin(pids);
    const windowS = opts.quick ? 5 : 10;
    await sleep(windowS * 1000, opts.signal);
    const [serverCpu = NaN, ...clientsCpu] = cpu.end(pids);
    let frames = 0;
    let seconds = 0;
    peers.forEach((p, i) => {
      for (const line of p.stdoutLines.slice(before[i])) {
        const m = /^frames (\d+)$/.exec(line);
        if (m) {
          frames += Number(m[1]);
          if (i === 0) seconds++;
        }
      }
    });
    const perTick = (pct: number): number => round(((pct / 100) * 1e6) / (clients * 20), 1);
    const clientsTotal = clientsCpu.reduce((a, b) => a + b, 0);
    return {
      clients,
      clientProcesses: procs,
      framesPerClientPerSecond: round(seconds > 0 ? frames / seconds / clients : 0, 2),
      serverCpuPct: round(serverCpu, 0),
      clientsCpuPct: clientsCpu.map((c) => round(c, 0)),
      serverUsPerClientTick: perTick(serverCpu),
      clientsUsPerClientTick: perTick(clientsTotal),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(2000)));
  }
}

export function formatFloor(r: FloorResult): string {
  return table(
    `ws-floor: bare ws, ${r.clients} sockets, one 50-byte message out and one 30-byte message in per socket per 50 ms, no game`,
    ['sockets', 'client procs', 'frames/client/s', 'CPU server %', 'CPU clients %', 'server us/client/tick', 'clients us/client/tick'],
    [
      [
        r.clients,
        r.clientProcesses,
        r.framesPerClientPerSecond,
        r.serverCpuPct,
        r.clientsCpuPct.join('+'),
        r.serverUsPerClientTick,
        r.clientsUsPerClientTick,
      ],
    ],
  );
}
