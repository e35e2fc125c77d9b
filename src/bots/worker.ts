// Worker-thread entry for `bluemarble bots --workers N`: runs one group of bots and reports
// progress and mergeable results to the main thread (see startBotsWorker in cli.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { botSocketFactory } from './socket.ts';
import type { BotSocketKind } from './socket.ts';
import { BotsConnectError, runBotsRaw } from './bots.ts';
import type { BotProgress, BotRawResult } from './bots.ts';

export interface BotsWorkerInput {
  url: string;
  count: number;
  durationS: number;
  rampS: number;
  namePrefix: string;
  indexOffset: number;
  seed: number | undefined;
  /** Session tokens for this worker's bots (index-aligned); absent: guests. */
  tokens?: string[];
  /** HTTP base URL for lookups; absent: none. */
  lookupsUrl?: string;
  inputTiming: 'aligned' | 'free';
  /** WebSocket client (`--socket`). */
  socket: BotSocketKind;
}

/** Worker -> main. */
export type BotsWorkerMessage =
  | { type: 'progress'; progress: BotProgress }
  | { type: 'done'; result: BotRawResult }
  | { type: 'error'; message: string; connect: boolean };

/** Main -> worker: end the run early (the worker still reports 'done'). */
export type BotsWorkerCommand = { type: 'stop' };

const port = parentPort;
if (port) {
  const input = workerData as BotsWorkerInput;
  const abort = new AbortController();
  port.on('message', (cmd: BotsWorkerCommand) => {
    if (cmd.type === 'stop') abort.abort();
  });
  const post = (m: BotsWorkerMessage): void => port.postMessage(m);
  const { socket, ...rest } = input;
  runBotsRaw({
    ...rest,
    createSocket: botSocketFactory(socket),
    onProgress: (progress) => post({ type: 'progress', progress }),
    signal: abort.signal,
  }).then(
    (result) => {
      post({ type: 'done', result }); // the main thread terminates us once this arrives
    },
    (err: unknown) => {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err), connect: err instanceof BotsConnectError });
    },
  );
}
