// The `bluemarble` command: start a world, run bots, run benchmarks and load tests.
import { ConfigError, loadServerConfig, serverHelpText } from '../ops/config.ts';
import { startServer } from './server.ts';

const USAGE = `usage: bluemarble <command> [options]

commands:
  start     run a world in this process (HTTP and WebSocket on one port)
  bots      connect simulated players to a running world
  migrate   apply database migrations (also done by start) and exit
  bench     run the benchmarks
  loadtest  run a named load scenario and write a report (see docs/loadtest.md)
  help      show this text

'bluemarble <command> --help' shows a command's options.`;

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let code: number;
  switch (command) {
    case 'start':
      code = await startCommand(rest);
      break;
    case 'migrate':
      code = await migrateCommand(rest);
      break;
    case 'bots': {
      const { botsCommand } = await import('../bots/cli.ts');
      code = await botsCommand(rest);
      break;
    }
    case 'loadtest': {
      const { loadtestCommand } = await import('../loadtest/cli.ts');
      code = await loadtestCommand(rest);
      break;
    }
    case 'bench': {
      const { benchCommand } = await import('../../bench/cli.ts');
      code = await benchCommand(rest);
      break;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      code = command === undefined ? 2 : 0;
      break;
    default:
      console.error(`bluemarble: unknown command '${command}'\n\n${USAGE}`);
      code = 2;
  }
  if (code !== 0 || command !== 'start') process.exitCode = code;
}

async function startCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: bluemarble start [options]\n\n${serverHelpText()}`);
    return 0;
  }
  let server;
  try {
    const config = loadServerConfig(argv, process.env);
    server = await startServer(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`bluemarble start: ${err.message}`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      console.error(`bluemarble start: cannot listen: ${e.message}`);
      return 1;
    }
    // A database or Redis that cannot be reached is the operator's to fix: say so, no stack.
    console.error(`bluemarble start: ${e.message ?? String(err)}`);
    return 1;
  }
  console.log(`BlueMarble world running.\n  play / health: ${server.url}/healthz\n  metrics:       ${server.url}/metrics\n  WebSocket:     ${server.wsUrl}\n  bots:          npx bluemarble bots --url ${server.wsUrl} --count 200 --duration 30\nPress Ctrl+C to stop.`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.logger.info({ signal }, 'shutting down');
      server.close().then(resolve, (err: unknown) => {
        server.logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

/** Applies pending migrations to the configured database (--db / BLUEMARBLE_DB) and exits. */
async function migrateCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: bluemarble migrate [--db <url>] [--data <folder>]\n\nApplies pending migrations and exits. Takes the same --db and --data as start.');
    return 0;
  }
  try {
    const config = loadServerConfig(argv, process.env);
    const { openStore } = await import('../store/open.ts');
    const store = await openStore({ db: config.persistence.db, dataDir: config.dataDir });
    // openStore migrates; a second call reports nothing left to do, which is what we print.
    const left = await store.migrate();
    await store.close();
    console.log(`bluemarble migrate: ${store.kind} database is up to date${left.length > 0 ? ` (applied ${left.join(', ')})` : ''}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`bluemarble migrate: ${err.message}`);
      return 2;
    }
    console.error(`bluemarble migrate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
