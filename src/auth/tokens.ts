// Session tokens: opaque random strings. The client holds the token; servers keep only its
// SHA-256, so reading the session store (Redis, a backup) yields nothing that logs anyone in.
// A plain hash (no salt, no slow KDF) is enough: 256 random bits cannot be guessed or brute-forced.
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded. */
export const TOKEN_LENGTH = 43;

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** A new token: 256 bits from the CSPRNG, base64url (URL- and header-safe, fits HELLO's 256 bytes). */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Hex SHA-256 of the token: the only form in which sessions are stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Cheap shape check, so junk never reaches the session store. */
export function looksLikeToken(value: string): boolean {
  return TOKEN_RE.test(value);
}
