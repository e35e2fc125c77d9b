// The Sessions port: who is logged in. Tokens are opaque random strings handed to the client;
// adapters only ever see their SHA-256 hashes, so a leaked store never yields a usable token.
// Adapters: MemorySessions (embedded default) and RedisSessions (--redis). One contract suite
// (test/contract/sessions.contract.ts) runs against both.

export interface SessionRecord {
  /** hex SHA-256 of the token */
  tokenHash: string;
  playerId: number;
  username: string;
  createdAtMs: number;
  lastSeenAtMs: number;
}

/** Why a session ended: told to whoever holds a connection on it (a gateway kicks the socket). */
export type SessionEndReason = 'logout' | 'logged_in_elsewhere' | 'expired' | 'refreshed';

export interface SessionEnded {
  tokenHash: string;
  playerId: number;
  reason: SessionEndReason;
  /**
   * True when another process ended it and this one heard of it (Redis pub/sub). Lets a listener
   * count each ending once across a cluster (metrics) while still kicking sockets for all.
   */
  remote?: boolean;
}

export interface Sessions {
  /** Stores a new session. The caller made the token; tokenHash is its hash. */
  create(session: SessionRecord): Promise<void>;
  /**
   * Returns the live session and slides its inactivity expiry to now + idleMs, or undefined when
   * it is unknown, revoked or idle for longer than idleMs (an expired session is removed).
   */
  touch(tokenHash: string, nowMs: number): Promise<SessionRecord | undefined>;
  /** Ends one session; false when it did not exist. Listeners hear of it with `reason`. */
  revoke(tokenHash: string, reason: SessionEndReason): Promise<boolean>;
  /** Ends every session of a player (single login); returns the hashes ended. */
  revokePlayer(playerId: number, reason: SessionEndReason): Promise<string[]>;
  /**
   * Hears of every ended session, including those ended by another process sharing the same
   * adapter (Redis pub/sub), so whichever gateway holds the socket can kick it.
   */
  onEnded(listener: (ended: SessionEnded) => void): { unsubscribe(): void };
  close(): Promise<void>;
}

export interface SessionsOptions {
  /** Inactivity after which a session expires (default 30 minutes). */
  idleMs: number;
}

/** 30 minutes: a player away from the keyboard that long logs in again. */
export const DEFAULT_IDLE_MS = 30 * 60_000;
