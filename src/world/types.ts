// Shared world vocabulary. Pure: no Node APIs, imported by server and client alike.

/** Entity ids are positive u32; 0 means "none". */
export type EntityId = number;

/** A zone is an H3 cell, written as h3-js writes it: lower-case hex, e.g. '8828308281fffff'. */
export type ZoneId = string;

export const EntityKind = { Player: 0, Npc: 1 } as const;
export type EntityKind = (typeof EntityKind)[keyof typeof EntityKind];

/**
 * Authoritative kinematic state. Positions live on an integer grid so that server and client
 * prediction compute bit-identical results and the wire can carry them exactly:
 * latE7/lonE7 are degrees x 1e7 (about 1.1 cm), altCm is centimetres above the datum,
 * heading16 is the bearing clockwise from north in units of 360/65536 degrees.
 */
export interface Pose {
  latE7: number; // [-900_000_000, 900_000_000]
  lonE7: number; // [-1_800_000_000, 1_800_000_000)
  altCm: number;
  heading16: number; // [0, 65535]
}

/** One movement input as the server applies it (already decoded and range-checked). */
export interface MoveIntent {
  /** Time this input covers, in milliseconds (normally 1000 / tick rate). */
  dtMs: number;
  /** Desired velocity in metres per second in the local east/north/up frame. */
  east: number;
  north: number;
  up: number;
}

/** Tunables of the shared movement rules; the server sends them in WELCOME. */
export interface MovementRules {
  maxSpeed: number; // m/s horizontal
  maxVerticalSpeed: number; // m/s
  speedTolerance: number; // fraction, 0.1 = 10 %
  maxInputDtMs: number; // longest time one input may cover
  minAltCm: number;
  maxAltCm: number;
}

export const DEFAULT_MOVEMENT_RULES: MovementRules = {
  maxSpeed: 6,
  maxVerticalSpeed: 3,
  speedTolerance: 0.1,
  maxInputDtMs: 250,
  minAltCm: 0,
  maxAltCm: 1_000_000,
};

/** Why the server refused one input. Wire values are fixed: see docs/protocol.md. */
export const RejectReason = {
  Speed: 1,
  Teleport: 2,
  StaleSequence: 3,
  Rate: 4,
  Cooldown: 5,
  UnknownAction: 6,
  Malformed: 7,
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export const REJECT_REASON_NAMES: Record<RejectReason, string> = {
  1: 'speed',
  2: 'teleport',
  3: 'stale_sequence',
  4: 'rate',
  5: 'cooldown',
  6: 'unknown_action',
  7: 'malformed',
};

/** Why the server closed a connection. Sent in KICK and as WebSocket close code 4000 + value. */
export const KickReason = {
  Shutdown: 1,
  ProtocolError: 2,
  VersionMismatch: 3,
  Flood: 4,
  SlowConsumer: 5,
  HandshakeTimeout: 6,
  IdleTimeout: 7,
  Oversize: 8,
  ServerFull: 9,
  LoggedInElsewhere: 10,
  /** HELLO without a valid session token (unknown, expired or revoked), or none where one is required. */
  Unauthorized: 11,
  /** The session was ended by logout (possibly from another device). */
  LoggedOut: 12,
} as const;
export type KickReason = (typeof KickReason)[keyof typeof KickReason];

export const KICK_REASON_NAMES: Record<KickReason, string> = {
  1: 'shutdown',
  2: 'protocol_error',
  3: 'version_mismatch',
  4: 'flood',
  5: 'slow_consumer',
  6: 'handshake_timeout',
  7: 'idle_timeout',
  8: 'oversize',
  9: 'server_full',
  10: 'logged_in_elsewhere',
  11: 'unauthorized',
  12: 'logged_out',
};

/** Actions a player may request with an input. Ids are wire values. */
export interface ActionDef {
  id: number;
  name: string;
  cooldownMs: number;
}

export const ACTIONS: readonly ActionDef[] = [
  { id: 1, name: 'wave', cooldownMs: 1500 },
  { id: 2, name: 'jump', cooldownMs: 800 },
  { id: 3, name: 'interact', cooldownMs: 250 },
];
