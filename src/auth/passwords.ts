// Password hashing: argon2id via @node-rs/argon2, whose async hash/verify run on libuv's thread
// pool, so a login never blocks the event loop that also carries game traffic.
import { hash, verify } from '@node-rs/argon2';
import type { Options } from '@node-rs/argon2';

/**
 * OWASP Password Storage Cheat Sheet's first argon2id configuration: m = 19 MiB, t = 2, p = 1.
 * About 20–40 ms of one core per hash on current servers: slow enough to make offline guessing
 * expensive, cheap enough for a login burst. The library's default algorithm is argon2id
 * (its Algorithm enum is a const enum, unusable under isolatedModules, hence not spelled out);
 * tests check the `$argon2id$` prefix.
 */
export const ARGON2_PARAMS: Readonly<Options> = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

/** Tests only: the minimum cost the library allows, so suites that log in often stay fast. */
export const FAST_ARGON2_PARAMS: Readonly<Options> = Object.freeze({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

export interface PasswordHasherOptions {
  /** Cheap parameters for tests. Never in production: hashes made this way are easy to crack. */
  fast?: boolean;
}

/**
 * NIST SP 800-63B asks for Unicode normalisation so the "same" password typed on two keyboards
 * (composed vs decomposed accents) verifies.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export class PasswordHasher {
  private readonly params: Options;
  private dummy: Promise<string> | undefined;

  constructor(opts: PasswordHasherOptions = {}) {
    this.params = { ...(opts.fast === true ? FAST_ARGON2_PARAMS : ARGON2_PARAMS) };
  }

  /** A PHC string (`$argon2id$v=19$m=…`) with a fresh random salt. */
  hash(password: string): Promise<string> {
    return hash(normalizePassword(password), this.params);
  }

  /** Verifies with the parameters recorded in the hash; a malformed hash verifies nothing. */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, normalizePassword(password));
    } catch {
      return false;
    }
  }

  /**
   * Spends the same work as a real verify against a hash nobody knows the password of, so an
   * unknown username takes about as long to refuse as a wrong password (no user enumeration by
   * timing). Always false.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= hash('dummy password nobody has', this.params);
    await this.verify(await this.dummy, password);
    return false;
  }
}
