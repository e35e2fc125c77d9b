// The worked examples of docs/protocol.md, for tests that check them against the codec.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** The worked example's dump under the docs/protocol.md heading starting `### <heading>`, as hex. */
export function docDump(heading: string): string {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const at = doc.indexOf(`\n### ${heading}`);
  assert.ok(at >= 0, `no heading ${heading}`);
  const block = /```\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(block, `no dump under ${heading}`);
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/^[0-9a-f]{4} {2}/, '').replace(/ /g, ''))
    .join('');
}
