// Wire message shapes. Byte layouts are specified in docs/protocol.md; codecs live beside this file.
import type { ZoneId } from '../world/types.ts';
import type { InventoryItem, SkillRecord } from '../world/character.ts';

export const PROTOCOL_VERSION = 2;
/** Oldest protocol version this build still speaks (after the handshake). */
export const MIN_PROTOCOL_VERSION = 2;
/**
 * Size of the version-1 header: the layout HELLO keeps in every version (and the legacy KICK
 * written to version-1 clients). Version-2 messages have a compact header of
 * MIN_HEADER_SIZE..MAX_HEADER_SIZE bytes instead: see FrameHeader.headerLength.
 */
export const V1_HEADER_SIZE = 24;
/** Smallest compact (version 2) header: version, type, length, 1-byte seq, serverTime, crc. */
export const MIN_HEADER_SIZE = 13;
/** Largest compact (version 2) header: a 5-byte seq and a zone. */
export const MAX_HEADER_SIZE = 25;
/** Bit 7 of the compact header's type byte: a zone follows serverTime. */
export const HEADER_ZONE_BIT = 0x80;

export const MessageType = {
  // client -> server
  Hello: 1,
  Input: 2,
  Ping: 3,
  // server -> client
  Welcome: 64,
  Frame: 65,
  Reject: 66,
  Pong: 67,
  Kick: 68,
  Character: 69,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * The header in front of every message: the 24-byte version-1 layout (HELLO, and the legacy KICK)
 * or the compact version-2 layout of 13..25 bytes (everything else). See docs/protocol.md.
 */
export interface FrameHeader {
  version: number; // u8
  type: number; // message type (bits 0..6 of the compact layout's type byte)
  payloadLength: number; // u16
  seq: number; // u32: meaning depends on type (frame seq, first input seq, ping seq, rejected input seq)
  serverTime: number; // u32 ms, server clock modulo 2^32 (0 from clients)
  /**
   * u64 H3 index; '0' when the message carries none. A FRAME without one is in the zone of the
   * previous FRAME of the connection (decodeFrame resolves it).
   */
  zone: ZoneId;
  /** Bytes before the payload (24 in the version-1 layout, 13..25 in the compact one). */
  headerLength: number;
}

export interface Hello {
  minVersion: number;
  maxVersion: number;
  /** Display name, 1..32 UTF-8 bytes. */
  name: string;
  /**
   * Session token from the HTTP login API (docs/api.md); empty for a guest, which only a server
   * that allows guests accepts (otherwise KICK unauthorized).
   */
  token: string;
}

/** One input as sent on the wire; velocities quantised to cm/s. */
export interface WireInput {
  seq: number; // u32, contiguous per session (each input = previous + 1)
  dtMs: number; // u16
  eastCms: number; // svarint, cm/s
  northCms: number; // svarint, cm/s
  upCms: number; // svarint, cm/s
  actions: readonly number[]; // action ids, at most 4
}

export interface InputMessage {
  /** Highest FRAME seq the client has received (0 = none): the server's delta baseline. */
  ackFrame: number;
  inputs: WireInput[]; // 1..8, ascending contiguous seq
}

export interface Ping {
  seq: number;
  clientTime: number; // f64 ms, the client's own clock, echoed back
}

/** Own player's exact authoritative state (not quantised beyond the world grid). */
export interface OwnState {
  latE7: number;
  lonE7: number;
  altCm: number;
  heading16: number;
  action: number; // u8, last accepted action id
  actionSeq: number; // u8, increments (mod 256) per accepted action
}

export interface Welcome {
  version: number; // negotiated protocol version
  entityId: number;
  tickRate: number; // Hz
  aoiRadius: number; // metres
  maxSpeed: number;
  maxVerticalSpeed: number;
  speedTolerance: number;
  maxInputDtMs: number;
  maxInputsPerSecond: number;
  minAltCm: number; // i32, lowest altitude movement may reach (stepPose clamps to it)
  maxAltCm: number; // i32, highest altitude; >= minAltCm
  nextInputSeq: number; // the seq the client must use for its next input
  own: OwnState;
  sessionId: string; // opaque, for logs and later resume
}

export interface Reject {
  inputSeq: number;
  reason: number; // RejectReason
}

export interface Pong {
  seq: number;
  clientTime: number; // echoed f64
  serverTime: number; // f64 ms, server clock
}

export interface Kick {
  reason: number; // KickReason
  message: string; // human readable, <= 200 bytes
}

/** Why a CHARACTER was sent. Decoders accept any u8: treat unknown values like Changed. */
export const CharacterCause = {
  /** The sheet as loaded when the session started (sent right after WELCOME). */
  Login: 0,
  /** Something on the sheet changed. */
  Changed: 1,
  /** A critical change (e.g. a rare item) is now durable. */
  Confirmed: 2,
} as const;
export type CharacterCause = (typeof CharacterCause)[keyof typeof CharacterCause];

/**
 * The player's whole character sheet (not a delta: it replaces the client's copy). On the wire
 * health and stamina are whole numbers and durability/quality are multiples of 1/255; the decoder
 * returns inventory sorted by slot and skills sorted by skillId.
 */
export interface CharacterMessage {
  cause: number; // CharacterCause, u8
  health: number; // u16 (encoder rounds and clamps to 0..65535)
  stamina: number; // u16 (same)
  level: number; // u16
  experience: number; // uvarint, 0..2^53-1
  inventory: InventoryItem[]; // at most 64, unique slots
  skills: SkillRecord[]; // at most 64, unique skillIds
  /** The item whose finding caused this message, if any. */
  found: { itemId: number; quantity: number } | null;
}

/**
 * Entities one client sees in one frame, quantised for the wire and sorted by id ascending.
 * Stride SNAPSHOT_STRIDE int32s per entity, in the order of the SnapshotField offsets.
 */
export interface EntitySnapshot {
  count: number;
  data: Int32Array; // length >= count * SNAPSHOT_STRIDE
}

export const SnapshotField = {
  id: 0,
  kind: 1,
  latE6: 2, // degrees x 1e6 (about 11 cm)
  lonE6: 3, // degrees x 1e6, in [-180e6, 180e6)
  altDm: 4, // decimetres
  heading8: 5, // 0..255, 360/256 degree steps
  action: 6, // u8
  actionSeq: 7, // u8
} as const;
export const SNAPSHOT_STRIDE = 8;

/** What one client knows at one frame: its own exact state plus the entities it sees. */
export interface FrameState {
  own: OwnState;
  entities: EntitySnapshot;
  /** Last input the server had processed (u32): a FRAME carries it as a delta on its baseline's. */
  lastInputSeq: number;
}

export interface FrameDecoded {
  seq: number; // from the header
  serverTime: number;
  zone: ZoneId; // the header's, or the previous FRAME's when the header has none
  baselineSeq: number; // 0 = full snapshot; else header seq - baselineGap
  lastInputSeq: number;
  state: FrameState;
  added: number[]; // entity ids that entered view in this frame
  removed: number[]; // entity ids that left view in this frame
}

/** Union returned by decodeMessage for every type except FRAME (which needs a baseline). */
export type DecodedMessage =
  | { type: typeof MessageType.Hello; header: FrameHeader; body: Hello }
  | { type: typeof MessageType.Input; header: FrameHeader; body: InputMessage }
  | { type: typeof MessageType.Ping; header: FrameHeader; body: Ping }
  | { type: typeof MessageType.Welcome; header: FrameHeader; body: Welcome }
  | { type: typeof MessageType.Reject; header: FrameHeader; body: Reject }
  | { type: typeof MessageType.Pong; header: FrameHeader; body: Pong }
  | { type: typeof MessageType.Kick; header: FrameHeader; body: Kick }
  | { type: typeof MessageType.Character; header: FrameHeader; body: CharacterMessage }
  | { type: typeof MessageType.Frame; header: FrameHeader; payload: Uint8Array };

export const ProtocolErrorCode = {
  Truncated: 'truncated',
  Oversize: 'oversize',
  BadChecksum: 'bad_checksum',
  BadVersion: 'bad_version',
  UnknownType: 'unknown_type',
  BadLength: 'bad_length',
  BadField: 'bad_field',
  NoBaseline: 'no_baseline',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];
