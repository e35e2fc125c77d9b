// A bots process of a load test: forked by the runner (src/loadtest/runner.ts) with an IPC
// channel, it runs one group of bots (src/bots/bots.ts) with the scenario's behaviour and sends
// the runner a progress sample every second and the mergeable result at the end.
import { botSocketFactory, defaultBotSocketKind } from '../bots/socket.ts';
import { BotsConnectError, runBotsRaw } from '../bots/bots.ts';
import type { BotBehaviour, BotProgress, BotRawResult } from '../bots/bots.ts';

export interface AgentInput {
  url: string;
  /** Most bots this process will open. */
  count: number;
  durationS: number;
  rampS: number;
  warmupS: number;
  seed: number;
  namePrefix: string;
  indexOffset: number;
  behaviour: BotBehaviour;
  /** The runner sets how many bots to have open ('target' commands) instead of the ramp. */
  stepped: boolean;
  /** Initial target with `stepped`. */
  initialTarget?: number;
}

/** Runner -> agent. */
export type AgentCommand = { type: 'start'; input: AgentInput } | { type: 'target'; count: number } | { type: 'stop' };

/** Agent -> runner. */
export type AgentMessage =
  | { type: 'progress'; progress: BotProgress }
  | { type: 'done'; result: BotRawResult }
  | { type: 'error'; message: string; connect: boolean };

if (process.send !== undefined) {
  const send = (m: AgentMessage): void => {
    process.send?.(m);
  };
  const abort = new AbortController();
  let target = 0;
  let started = false;
  process.on('message', (cmd: AgentCommand) => {
    if (cmd.type === 'stop') abort.abort();
    else if (cmd.type === 'target') target = cmd.count;
    else if (cmd.type === 'start' && !started) {
      started = true;
      const input = cmd.input;
      target = input.initialTarget ?? 0;
      runBotsRaw({
        url: input.url,
        count: input.count,
        durationS: input.durationS,
        rampS: input.rampS,
        warmupS: input.warmupS,
        seed: input.seed,
        namePrefix: input.namePrefix,
        indexOffset: input.indexOffset,
        behaviour: input.behaviour,
        // The bots' default client: the hand-written one, or `ws` for wss:// (src/bots/socket.ts).
        createSocket: botSocketFactory(defaultBotSocketKind(input.url)),
        signal: abort.signal,
        onProgress: (progress) => send({ type: 'progress', progress }),
        ...(input.stepped && { target: () => target }),
      }).then(
        (result) => {
          send({ type: 'done', result });
          process.disconnect?.();
        },
        (err: unknown) => {
          send({ type: 'error', message: err instanceof Error ? err.message : String(err), connect: err instanceof BotsConnectError });
          process.disconnect?.();
        },
      );
    }
  });
  // The runner went away: stop.
  process.on('disconnect', () => abort.abort());
}
