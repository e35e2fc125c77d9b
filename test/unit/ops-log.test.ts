import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';

function sink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = (): Array<Record<string, unknown>> =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, time, name and fields', () => {
    const { stream, lines } = sink();
    const log = createLogger({ level: 'info', name: 'zone', destination: stream });
    log.info({ zone: 'abc' }, 'started');
    log.debug('hidden below the level');
    const out = lines();
    assert.equal(out.length, 1);
    const line = out[0];
    assert.ok(line);
    assert.equal(line.msg, 'started');
    assert.equal(line.zone, 'abc');
    assert.equal(line.name, 'zone');
    assert.equal(line.level, 30);
    assert.equal(typeof line.time, 'string');
  });

  it('writes nothing at level silent', () => {
    const { stream, lines } = sink();
    const log = createLogger({ level: 'silent', destination: stream });
    log.fatal('nope');
    log.error('nope');
    assert.equal(lines().length, 0);
  });

  it('honours lower levels and child bindings', () => {
    const { stream, lines } = sink();
    const log = createLogger({ level: 'trace', destination: stream }).child({ conn: 7 });
    log.trace('t');
    const line = lines()[0];
    assert.equal(line?.conn, 7);
    assert.equal(line?.level, 10);
  });

  it('refuses an unknown level', () => {
    assert.throws(() => createLogger({ level: 'loud' }), /unknown log level/);
  });
});
