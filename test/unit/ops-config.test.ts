import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, loadServerConfig, serverHelpText } from '../../src/ops/config.ts';
import type { ServerConfig } from '../../src/ops/config.ts';

interface Case {
  flag: string;
  env: string;
  value: string;
  read: (c: ServerConfig) => unknown;
  expected: unknown;
}

// One override per setting; values differ from the defaults.
const OVERRIDES: Case[] = [
  { flag: 'host', env: 'BLUEMARBLE_HOST', value: '0.0.0.0', read: (c) => c.host, expected: '0.0.0.0' },
  { flag: 'port', env: 'BLUEMARBLE_PORT', value: '0', read: (c) => c.port, expected: 0 },
  { flag: 'tick-rate', env: 'BLUEMARBLE_TICK_RATE', value: '30', read: (c) => c.tickRate, expected: 30 },
  { flag: 'data', env: 'BLUEMARBLE_DATA', value: 'var/bm', read: (c) => c.dataDir, expected: resolve('var/bm') },
  {
    flag: 'zone-resolution',
    env: 'BLUEMARBLE_ZONE_RESOLUTION',
    value: '10',
    read: (c) => c.world.zoneResolution,
    expected: 10,
  },
  {
    flag: 'region-resolution',
    env: 'BLUEMARBLE_REGION_RESOLUTION',
    value: '2',
    read: (c) => c.world.regionResolution,
    expected: 2,
  },
  { flag: 'aoi-radius', env: 'BLUEMARBLE_AOI_RADIUS', value: '150.5', read: (c) => c.aoi.radiusM, expected: 150.5 },
  {
    flag: 'aoi-hysteresis',
    env: 'BLUEMARBLE_AOI_HYSTERESIS',
    value: '0.25',
    read: (c) => c.aoi.hysteresis,
    expected: 0.25,
  },
  {
    flag: 'frame-budget',
    env: 'BLUEMARBLE_FRAME_BUDGET',
    value: '4000',
    read: (c) => c.aoi.frameBudgetBytes,
    expected: 4000,
  },
  { flag: 'npcs', env: 'BLUEMARBLE_NPCS', value: '0', read: (c) => c.world.npcs, expected: 0 },
  { flag: 'spawn-lat', env: 'BLUEMARBLE_SPAWN_LAT', value: '-33.8688', read: (c) => c.world.spawn.lat, expected: -33.8688 },
  { flag: 'spawn-lon', env: 'BLUEMARBLE_SPAWN_LON', value: '151.2093', read: (c) => c.world.spawn.lon, expected: 151.2093 },
  {
    flag: 'spawn-radius',
    env: 'BLUEMARBLE_SPAWN_RADIUS',
    value: '1000',
    read: (c) => c.world.spawn.radiusM,
    expected: 1000,
  },
  { flag: 'max-players', env: 'BLUEMARBLE_MAX_PLAYERS', value: '50', read: (c) => c.limits.maxPlayers, expected: 50 },
  {
    flag: 'max-message-bytes',
    env: 'BLUEMARBLE_MAX_MESSAGE_BYTES',
    value: '2048',
    read: (c) => c.limits.maxMessageBytes,
    expected: 2048,
  },
  {
    flag: 'max-inputs-per-second',
    env: 'BLUEMARBLE_MAX_INPUTS_PER_SECOND',
    value: '25',
    read: (c) => c.limits.maxInputsPerSecond,
    expected: 25,
  },
  {
    flag: 'flood-messages-per-second',
    env: 'BLUEMARBLE_FLOOD_MESSAGES_PER_SECOND',
    value: '500',
    read: (c) => c.limits.floodMessagesPerSecond,
    expected: 500,
  },
  {
    flag: 'send-buffer-skip',
    env: 'BLUEMARBLE_SEND_BUFFER_SKIP',
    value: '32768',
    read: (c) => c.limits.sendBufferSkipBytes,
    expected: 32768,
  },
  {
    flag: 'send-buffer-limit',
    env: 'BLUEMARBLE_SEND_BUFFER_LIMIT',
    value: '2097152',
    read: (c) => c.limits.sendBufferLimitBytes,
    expected: 2097152,
  },
  {
    flag: 'slow-consumer-seconds',
    env: 'BLUEMARBLE_SLOW_CONSUMER_SECONDS',
    value: '2.5',
    read: (c) => c.limits.slowConsumerSeconds,
    expected: 2.5,
  },
  {
    flag: 'handshake-timeout-ms',
    env: 'BLUEMARBLE_HANDSHAKE_TIMEOUT_MS',
    value: '1000',
    read: (c) => c.limits.handshakeTimeoutMs,
    expected: 1000,
  },
  {
    flag: 'idle-timeout-ms',
    env: 'BLUEMARBLE_IDLE_TIMEOUT_MS',
    value: '60000',
    read: (c) => c.limits.idleTimeoutMs,
    expected: 60000,
  },
  { flag: 'log-level', env: 'BLUEMARBLE_LOG_LEVEL', value: 'silent', read: (c) => c.logLevel, expected: 'silent' },
  { flag: 'seed', env: 'BLUEMARBLE_SEED', value: '4294967295', read: (c) => c.world.seed, expected: 4294967295 },
];

// Per setting, values that must be refused.
const INVALID: Array<{ flag: string; env: string; values: string[] }> = [
  { flag: 'host', env: 'BLUEMARBLE_HOST', values: ['', 'a..b', 'bad host', '1.2.3.999', '-x.com'] },
  { flag: 'port', env: 'BLUEMARBLE_PORT', values: ['65536', '-1', '80.5', '', '80abc', 'NaN', '0x50', ' 80', '1e3'] },
  { flag: 'tick-rate', env: 'BLUEMARBLE_TICK_RATE', values: ['45', '9', '20abc', '', 'NaN', '20.5', 'Infinity'] },
  { flag: 'data', env: 'BLUEMARBLE_DATA', values: [''] },
  { flag: 'zone-resolution', env: 'BLUEMARBLE_ZONE_RESOLUTION', values: ['4', '11', '8.0'] },
  { flag: 'region-resolution', env: 'BLUEMARBLE_REGION_RESOLUTION', values: ['-1', '16', 'x'] },
  { flag: 'aoi-radius', env: 'BLUEMARBLE_AOI_RADIUS', values: ['9.99', '10001', 'abc', ''] },
  { flag: 'aoi-hysteresis', env: 'BLUEMARBLE_AOI_HYSTERESIS', values: ['0.51', '-0.1', '.'] },
  { flag: 'frame-budget', env: 'BLUEMARBLE_FRAME_BUDGET', values: ['199', '65001', '1200.5'] },
  { flag: 'npcs', env: 'BLUEMARBLE_NPCS', values: ['-1', '100001', '3e2'] },
  { flag: 'spawn-lat', env: 'BLUEMARBLE_SPAWN_LAT', values: ['90.1', '-91', 'north'] },
  { flag: 'spawn-lon', env: 'BLUEMARBLE_SPAWN_LON', values: ['180.5', '-181', ''] },
  { flag: 'spawn-radius', env: 'BLUEMARBLE_SPAWN_RADIUS', values: ['-1', '50001'] },
  { flag: 'max-players', env: 'BLUEMARBLE_MAX_PLAYERS', values: ['0', '1.5', 'many'] },
  { flag: 'max-message-bytes', env: 'BLUEMARBLE_MAX_MESSAGE_BYTES', values: ['63', '65536'] },
  { flag: 'max-inputs-per-second', env: 'BLUEMARBLE_MAX_INPUTS_PER_SECOND', values: ['-1', '1001', '2.5'] },
  { flag: 'flood-messages-per-second', env: 'BLUEMARBLE_FLOOD_MESSAGES_PER_SECOND', values: ['0', 'x'] },
  { flag: 'send-buffer-skip', env: 'BLUEMARBLE_SEND_BUFFER_SKIP', values: ['0', 'big'] },
  { flag: 'send-buffer-limit', env: 'BLUEMARBLE_SEND_BUFFER_LIMIT', values: ['0', '1048576.5'] },
  { flag: 'slow-consumer-seconds', env: 'BLUEMARBLE_SLOW_CONSUMER_SECONDS', values: ['0', '601', 's'] },
  { flag: 'handshake-timeout-ms', env: 'BLUEMARBLE_HANDSHAKE_TIMEOUT_MS', values: ['99', '5000.5'] },
  { flag: 'idle-timeout-ms', env: 'BLUEMARBLE_IDLE_TIMEOUT_MS', values: ['999', ''] },
  { flag: 'log-level', env: 'BLUEMARBLE_LOG_LEVEL', values: ['loud', 'INFO', ''] },
  { flag: 'seed', env: 'BLUEMARBLE_SEED', values: ['-1', '4294967296', '1.5', 'abc'] },
];

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('loadServerConfig', () => {
  it('loads the defaults', () => {
    const c = loadServerConfig([], {});
    assert.deepEqual(c, DEFAULT_CONFIG);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.tickRate, 20);
    assert.equal(c.dataDir, resolve('./data'));
    assert.equal(c.world.zoneResolution, 8);
    assert.equal(c.world.regionResolution, 4);
    assert.equal(c.aoi.radiusM, 200);
    assert.equal(c.aoi.hysteresis, 0.1);
    assert.equal(c.aoi.frameBudgetBytes, 1200);
    assert.equal(c.world.npcs, 300);
    assert.deepEqual(c.world.spawn, { lat: 48.8566, lon: 2.3522, radiusM: 300 });
    assert.equal(c.limits.maxPlayers, 10000);
    assert.equal(c.limits.maxMessageBytes, 1024);
    assert.equal(c.limits.maxInputsPerSecond, 40, '0 resolves to 2 x tick rate');
    assert.equal(c.limits.floodMessagesPerSecond, 200);
    assert.equal(c.limits.sendBufferSkipBytes, 65536);
    assert.equal(c.limits.sendBufferLimitBytes, 1048576);
    assert.equal(c.limits.slowConsumerSeconds, 5);
    assert.equal(c.limits.handshakeTimeoutMs, 5000);
    assert.equal(c.limits.idleTimeoutMs, 30000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.world.seed, 1);
  });

  it('freezes DEFAULT_CONFIG so callers cannot change it for others', () => {
    assert.ok(Object.isFrozen(DEFAULT_CONFIG));
    assert.ok(Object.isFrozen(DEFAULT_CONFIG.world.spawn));
  });

  it('resolves an "auto" input rate from the configured tick rate', () => {
    assert.equal(loadServerConfig(['--tick-rate', '30'], {}).limits.maxInputsPerSecond, 60);
  });

  for (const c of OVERRIDES) {
    it(`--${c.flag} overrides the default`, () => {
      assert.deepEqual(c.read(loadServerConfig([`--${c.flag}`, c.value], {})), c.expected);
      assert.deepEqual(c.read(loadServerConfig([`--${c.flag}=${c.value}`], {})), c.expected);
    });
    it(`${c.env} overrides the default`, () => {
      assert.deepEqual(c.read(loadServerConfig([], { [c.env]: c.value })), c.expected);
    });
  }

  it('prefers flag over env over default', () => {
    assert.equal(loadServerConfig(['--port', '9001'], { BLUEMARBLE_PORT: '9002' }).port, 9001);
    assert.equal(loadServerConfig([], { BLUEMARBLE_PORT: '9002' }).port, 9002);
    assert.equal(loadServerConfig([], { BLUEMARBLE_PORT: undefined }).port, 8080);
  });

  it('does not read an invalid env value when the flag overrides it', () => {
    assert.equal(loadServerConfig(['--tick-rate', '10'], { BLUEMARBLE_TICK_RATE: 'junk' }).tickRate, 10);
  });

  it('uses the example wording for an out-of-range value', () => {
    const err = configError(() => loadServerConfig(['--tick-rate', '45'], {}));
    assert.match(err.message, /--tick-rate \(BLUEMARBLE_TICK_RATE\): 45 is out of range: allowed 10 to 30/);
  });

  for (const bad of INVALID) {
    for (const value of bad.values) {
      for (const source of ['flag', 'env'] as const) {
        it(`rejects ${source} ${bad.flag}=${JSON.stringify(value)} naming --${bad.flag} and ${bad.env}`, () => {
          const err = configError(() =>
            source === 'flag' ? loadServerConfig([`--${bad.flag}=${value}`], {}) : loadServerConfig([], { [bad.env]: value }),
          );
          assert.ok(err.message.includes(`--${bad.flag} (${bad.env})`), err.message);
          assert.match(err.message, /allowed/);
          assert.equal(err.problems.length, 1, err.message);
        });
      }
    }
  }

  it('lists every problem, not just the first', () => {
    const err = configError(() =>
      loadServerConfig(['--port', 'x', '--bogus', '--tick-rate', '99'], { BLUEMARBLE_LOG_LEVEL: 'loud' }),
    );
    assert.equal(err.problems.length, 4, err.message);
    for (const part of ['--bogus', '--port (BLUEMARBLE_PORT)', '--tick-rate (BLUEMARBLE_TICK_RATE)', 'BLUEMARBLE_LOG_LEVEL']) {
      assert.ok(err.message.includes(part), `${part} missing from ${err.message}`);
    }
  });

  it('names an unknown flag', () => {
    const err = configError(() => loadServerConfig(['--tickrate', '20'], {}));
    assert.match(err.message, /unknown flag --tickrate/);
    assert.equal(err.problems.length, 1, 'its value is not reported as a stray argument');
    assert.match(configError(() => loadServerConfig(['-p', '1'], {})).message, /unknown flag -p/);
  });

  it('rejects stray positional arguments and flags without values', () => {
    assert.match(configError(() => loadServerConfig(['start'], {})).message, /unexpected argument start/);
    const err = configError(() => loadServerConfig(['--port'], {}));
    assert.match(err.message, /--port \(BLUEMARBLE_PORT\): --port needs a value/);
    const err2 = configError(() => loadServerConfig(['--port', '--host', 'x'], {}));
    assert.match(err2.message, /--port needs a value/);
  });

  it('accepts negative numbers as flag values', () => {
    const c = loadServerConfig(['--spawn-lat', '-33.5', '--spawn-lon', '-.5'], {});
    assert.deepEqual([c.world.spawn.lat, c.world.spawn.lon], [-33.5, -0.5]);
  });

  it('tolerates --help so callers can pass argv unchanged', () => {
    assert.equal(loadServerConfig(['--help'], {}).port, 8080);
    assert.equal(loadServerConfig(['-h'], {}).port, 8080);
  });

  it('requires the region resolution to be below the zone resolution', () => {
    for (const [zone, region] of [
      ['8', '8'],
      ['6', '9'],
    ] as const) {
      const err = configError(() =>
        loadServerConfig(['--zone-resolution', zone], { BLUEMARBLE_REGION_RESOLUTION: region }),
      );
      assert.equal(err.problems.length, 1, err.message);
      assert.match(err.message, /--region-resolution \(BLUEMARBLE_REGION_RESOLUTION\)/);
      assert.match(err.message, /--zone-resolution \(BLUEMARBLE_ZONE_RESOLUTION\)/);
    }
    assert.equal(loadServerConfig(['--zone-resolution', '5', '--region-resolution', '4'], {}).world.regionResolution, 4);
  });

  it('requires the send-buffer limit to exceed the skip threshold', () => {
    const err = configError(() => loadServerConfig(['--send-buffer-limit', '65536'], {}));
    assert.match(err.message, /--send-buffer-limit \(BLUEMARBLE_SEND_BUFFER_LIMIT\)/);
    assert.match(err.message, /--send-buffer-skip \(BLUEMARBLE_SEND_BUFFER_SKIP\)/);
  });

  it('requires the flood limit to admit the permitted input rate', () => {
    const err = configError(() => loadServerConfig(['--max-inputs-per-second', '300'], {}));
    assert.match(err.message, /--flood-messages-per-second \(BLUEMARBLE_FLOOD_MESSAGES_PER_SECOND\)/);
    assert.match(err.message, /--max-inputs-per-second \(BLUEMARBLE_MAX_INPUTS_PER_SECOND\)/);
  });

  it('accepts IPv6 and hostnames as host', () => {
    for (const host of ['::', '::1', 'localhost', 'game-1.example.org']) {
      assert.equal(loadServerConfig(['--host', host], {}).host, host);
    }
  });
});

describe('serverHelpText', () => {
  it('lists every flag, env var and default', () => {
    const text = serverHelpText();
    for (const c of OVERRIDES) {
      assert.ok(text.includes(`--${c.flag}`), `--${c.flag} missing`);
      assert.ok(text.includes(c.env), `${c.env} missing`);
    }
    for (const def of ['127.0.0.1', '8080', '48.8566', '2.3522', '1048576', './data']) {
      assert.ok(text.includes(`default: ${def}`), `default ${def} missing`);
    }
  });
});
