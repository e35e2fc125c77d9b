import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions } from '@node-rs/argon2';
import { addressKey } from '../../src/auth/limiter.ts';
import { PasswordHasher } from '../../src/auth/passwords.ts';
import { TOKEN_LENGTH, hashToken, looksLikeToken, newToken } from '../../src/auth/tokens.ts';

describe('PasswordHasher', () => {
  it('hashes with argon2id at OWASP parameters (m=19456, t=2, p=1) and verifies', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse battery staple');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const params = parseOptions(hash);
    assert.deepEqual([params.memoryCost, params.timeCost, params.parallelism], [19456, 2, 1]);
    assert.equal(await hasher.verify(hash, 'correct horse battery staple'), true);
    assert.equal(await hasher.verify(hash, 'correct horse battery stapler'), false);
    assert.notEqual(await hasher.hash('correct horse battery staple'), hash, 'salted');
  });

  it('verifies composed and decomposed accents alike (NFKC)', async () => {
    const hasher = new PasswordHasher({ fast: true });
    const hash = await hasher.hash('caf\u00e9 au lait');
    assert.equal(await hasher.verify(hash, 'cafe\u0301 au lait'), true);
  });

  it('treats a malformed hash as no match, and the dummy as never matching', async () => {
    const hasher = new PasswordHasher({ fast: true });
    assert.equal(await hasher.verify('not a hash', 'x'), false);
    assert.equal(await hasher.verifyDummy('dummy password nobody has'), false);
  });
});

describe('tokens', () => {
  it('are 256 random bits, base64url, and distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = newToken();
      assert.equal(t.length, TOKEN_LENGTH);
      assert.equal(Buffer.from(t, 'base64url').length, 32);
      assert.ok(looksLikeToken(t));
      seen.add(t);
    }
    assert.equal(seen.size, 1000);
  });

  it('are stored as hex SHA-256', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.ok(!looksLikeToken(`${newToken()}x`));
    assert.ok(!looksLikeToken('a'.repeat(42) + '+'));
  });
});

describe('addressKey', () => {
  it('keys IPv4 (also mapped) by address and IPv6 by /64', () => {
    assert.equal(addressKey('203.0.113.5'), '203.0.113.5');
    assert.equal(addressKey('::ffff:203.0.113.5'), '203.0.113.5');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:0DB8:0000:0000:ffff::2'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey(''), '');
  });
});
