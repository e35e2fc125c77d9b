// `ws-floor`: what the same message traffic costs with no game at all, so the server's and the
// bots' CPU per client can be read against a floor: a bare `ws` server sends every client a
// 50-byte message every 50 ms, and client processes send a 30-byte message each per 50 ms.
// Measured twice against the same server: `ws` clients, then the bots' hand-written wire clients
// (src/bots/wire-socket.ts), one after the other.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startNode, type Child } from './proc.ts';
import { CpuMeter, progress, round, sleep, table } from './util.ts';

const PEER = fileURLToPath(new URL('./floor-peer.ts', import.meta.url));

export type FloorClient = 'ws' | 'wire';

/** One measurement: the server and one kind of client processes. */
export interface FloorRow {
  client: FloorClient;
  clients: number;
  clientProcesses: number;
  framesPerClientPerSecond: number;
  serverCpuPct: number;
  clientsCpuPct: number[];
  /** CPU per client per 50 ms tick, microseconds. */
  serverUsPerClientTick: number;
  clientsUsPerClientTick: number;
}

/** The `ws` clients' row (its fields, as before the wire row existed), and the wire clients' row. */
export interface FloorResult extends FloorRow {
  client: 'ws';
  wire: FloorRow;
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
  const port = await freePort();
  const server = startNode(['--import', 'tsx', PEER, 'server', String(port)]);
  try {
    if (!(await server.waitForLine(/^ready$/, 20_000))) throw new Error('ws-floor: server did not start');
    const ws = await measureClients('ws', clients, port, server, opts);
    const wire = await measureClients('wire', clients, port, server, opts);
    return { ...ws, client: 'ws', wire };
  } finally {
    await server.stop(2000);
  }
}

/** Connects `clients` sockets of one kind, measures them with the server, then stops them. */
async function measureClients(
  client: FloorClient,
  clients: number,
  port: number,
  server: Child,
  opts: { quick: boolean; signal: AbortSignal },
): Promise<FloorRow> {
  const procs = clients > 1000 ? 2 : 1;
  const peers: Child[] = [];
  try {
    for (let i = 0; i < procs; i++) {
      const share = Math.floor(clients / procs) + (i < clients % procs ? 1 : 0);
      peers.push(startNode(['--import', 'tsx', PEER, 'clients', String(port), String(share), client]));
    }
    for (const c of peers) {
      if (!(await c.waitForLine(/^ready$/, 60_000))) throw new Error(`ws-floor: ${client} clients did not connect`);
    }
    progress(`ws-floor: ${clients} ${client} sockets connected in ${procs} client process(es); warming up`);
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
      client,
      clients,
      clientProcesses: procs,
      framesPerClientPerSecond: round(seconds > 0 ? frames / seconds / clients : 0, 2),
      serverCpuPct: round(serverCpu, 0),
      clientsCpuPct: clientsCpu.map((c) => round(c, 0)),
      serverUsPerClientTick: perTick(serverCpu),
      clientsUsPerClientTick: perTick(clientsTotal),
    };
  } finally {
    await Promise.all(peers.map((c) => c.stop(2000)));
  }
}

export function formatFloor(r: FloorResult): string {
  return table(
    `ws-floor: bare ws server, ${r.clients} sockets, one 50-byte message out and one 30-byte message in per socket per 50 ms, no game; ` +
      'clients: ws, then the bots\' hand-written wire client',
    ['client', 'sockets', 'client procs', 'frames/client/s', 'CPU server %', 'CPU clients %', 'server us/client/tick', 'clients us/client/tick'],
    [r, r.wire].map((row) => [
      row.client,
      row.clients,
      row.clientProcesses,
      row.framesPerClientPerSecond,
      row.serverCpuPct,
      row.clientsCpuPct.join('+'),
      row.serverUsPerClientTick,
      row.clientsUsPerClientTick,
    ]),
  );
}
