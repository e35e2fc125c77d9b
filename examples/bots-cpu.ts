// CPU cost of the load generator per bot per tick: runs `count` guest bots in this process (the
// same runBotsRaw as `bluemarble bots`) against a server running elsewhere (start one with
// `bluemarble start --guests true`), and reports this process's CPU time over the measurement
// window only (ramp-up and startup excluded), divided by connected-bot-ticks.
//   node --import tsx examples/bots-cpu.ts ws://127.0.0.1:8080/ws [count=300] [seconds=20]
// BOTS_IMPL=/path/to/bots.ts runs another copy of src/bots/bots.ts instead (before/after
// comparisons, e.g. `git show HEAD:src/bots/bots.ts > src/bots/bots-before.ts`).
import { createBotSocket } from '../src/bots/socket.ts';
import * as current from '../src/bots/bots.ts';

const { runBotsRaw, summarizeBots } = (process.env.BOTS_IMPL ? await import(process.env.BOTS_IMPL) : current) as typeof current;

const url = process.argv[2] ?? 'ws://127.0.0.1:8080/ws';
const count = Number(process.argv[3] ?? 300);
const seconds = Number(process.argv[4] ?? 20);
let cpu0: NodeJS.CpuUsage | undefined;
let t0 = 0;
const raw = await runBotsRaw({
  url,
  count,
  durationS: seconds,
  rampS: 3,
  seed: 1,
  namePrefix: 'cpu',
  createSocket: createBotSocket,
  onProgress: (p) => {
    if (p.phase === 'measure' && cpu0 === undefined) {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
  },
});
const cpu = process.cpuUsage(cpu0);
const wallS = (performance.now() - t0) / 1000;
const cpuMs = (cpu.user + cpu.system) / 1000;
const s = summarizeBots([raw]);
const tickRate = Number(process.env.TICK_RATE ?? 20); // the server's (bots send one input per tick)
const botTicks = s.connected * wallS * tickRate;
console.log(
  JSON.stringify({
    bots: s.connected,
    seconds: Number(wallS.toFixed(1)),
    cpuPercentOfCore: Math.round((cpuMs / 1000 / wallS) * 100),
    cpuUsPerBotPerTick: Number(((cpuMs * 1000) / botTicks).toFixed(1)),
    framesPerClientPerSecond: Number(s.framesPerClientPerSecond.toFixed(1)),
    visibleEntitiesAvg: Math.round(s.visibleEntitiesAvg),
    lateTicks: s.lateTicks,
    inputsRejected: s.inputsRejected,
    predictionChecks: s.predictionChecks,
    predictionMismatches: s.predictionMismatches,
  }),
);
process.exit(0);
