// CPU cost of the SDK per client per tick: N clients (guests) on one server in this process, all
// driven from one loop with autoInputs: false (as bots would be), each doing per tick what a
// game does: step() (encode + send + predict), receive and reconcile its frame, interpolate its
// entities (sample()). Times step()+sample() in the loop and every incoming message's handling.
//   node --import tsx examples/sdk-cpu.ts [clients=200] [seconds=10]
import { startServer } from '../src/cli/server.ts';
import { loadServerConfig } from '../src/ops/config.ts';
import { createBotSocket } from '../src/bots/socket.ts';
import { BlueMarbleClient } from '../src/client/index.ts';
import type { WebSocketLike } from '../src/client/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 200);
const SECONDS = Number(process.argv[3] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'sdk-cpu-'));
const server = await startServer(loadServerConfig(['--port', '0', '--data', dir, '--log-level', 'silent', '--guests', 'true', '--npcs', '50'], {}));
// Times every incoming message's handling (GameConnection decode + SDK reconcile/entities).
let recvMs = 0;
function timedSocket(url: string): WebSocketLike {
  const inner = createBotSocket(url);
  let handler: ((ev: { data: unknown }) => void) | null = null;
  inner.onmessage = (ev) => {
    const a = performance.now();
    handler?.(ev);
    recvMs += performance.now() - a;
  };
  return new Proxy(inner, {
    set(target, prop, value) {
      if (prop === 'onmessage') handler = value as typeof handler;
      else (target as unknown as Record<string | symbol, unknown>)[prop] = value;
      return true;
    },
  });
}
const clients: BlueMarbleClient[] = [];
for (let i = 0; i < N; i++) {
  const c = new BlueMarbleClient({ baseUrl: server.url, createSocket: timedSocket, autoInputs: false, name: `cpu${i}` });
  await c.connect();
  clients.push(c);
}
const tickMs = 1000 / clients[0]!.welcome!.tickRate;
let sdkMs = 0;
recvMs = 0;
let ticks = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await new Promise<void>((resolve) => {
  const loop = setInterval(() => {
    const a = performance.now();
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i]!;
      c.setMove({ east: Math.cos(i + ticks / 40) * 4, north: Math.sin(i + ticks / 40) * 4 });
      c.step();
      c.sample(a);
    }
    sdkMs += performance.now() - a;
    ticks++;
    if (performance.now() - t0 > SECONDS * 1000) {
      clearInterval(loop);
      resolve();
    }
  }, tickMs);
});
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const st = clients.reduce((s, c) => s + c.stats.inView, 0) / N;
const mism = clients.reduce((s, c) => s + c.stats.predictionMismatches, 0);
console.log(JSON.stringify({ clients: N, ticks, avgInView: Math.round(st), mismatches: mism }));
console.log(`receive (decode + reconcile + entities) per client per tick: ${((recvMs / ticks / N) * 1000).toFixed(1)} us`);
console.log(`total SDK per client per tick: ${(((sdkMs + recvMs) / ticks / N) * 1000).toFixed(1)} us`);
console.log(`step()+sample() per client per tick: ${((sdkMs / ticks / N) * 1000).toFixed(1)} us`);
console.log(`whole process (server + ${N} clients + sockets): ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)} % of a core`);
for (const c of clients) await c.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
