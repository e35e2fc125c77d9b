// Messages that cross the Bus between gateways and zones. Plain data only (numbers, strings,
// arrays, Uint8Array), so a networked adapter can serialise them without knowing game logic.
import type { FrameHistoryJSON } from '../protocol/history.ts';
import type { WireInput } from '../protocol/types.ts';
import { CharacterCause } from '../protocol/types.ts';
import type { ActionCooldownsJSON } from '../world/actions.ts';
import type { CharacterSheet } from '../world/character.ts';
import type { NpcBrainJSON } from '../world/npc.ts';
import type { EntityId, Pose, ZoneId } from '../world/types.ts';
import { EntityKind } from '../world/types.ts';

/** A player's inputs as received by its gateway, routed to the zone that owns the player. */
export interface PlayerInputs {
  kind: 'inputs';
  entityId: EntityId;
  ackFrame: number;
  inputs: WireInput[];
}

/** The player's connection ended; the owning zone removes the entity. */
export interface PlayerLeave {
  kind: 'leave';
  entityId: EntityId;
}

/** Entities of `from` near the border with the receiving zone, refreshed every tick of `from`. */
export interface GhostBatch {
  kind: 'ghosts';
  from: ZoneId;
  /** True when `from` has players: keeps the neighbour awake so the border stays live. */
  hasPlayers: boolean;
  /**
   * GHOST_STRIDE int32s per entity, fields in GhostField order: no object per ghost, and
   * already binary for a networked bus. A view into a buffer the sender shares between its
   * batches of one tick: read it, or copy the view (never send or transfer its .buffer).
   */
  entities: Int32Array;
}

export const GhostField = {
  id: 0,
  kind: 1,
  latE7: 2,
  lonE7: 3,
  altCm: 4,
  heading16: 5,
  action: 6,
  actionSeq: 7,
} as const;
export const GHOST_STRIDE = 8;

/**
 * A critical save of this player's character is durable: the zone may now tell the client. Sent
 * to the zone that made the save; tombstone forwarding takes it on if the player moved on.
 */
export interface CharacterDurable {
  kind: 'durable';
  entityId: EntityId;
  saveSeq: number;
}

export type ZoneMessage = PlayerInputs | PlayerLeave | GhostBatch | CharacterDurable;

/** Bits of CharacterTransfer.dirty: which parts changed since the last save. */
export const CharacterDirty = { State: 1, Inventory: 2, Skills: 4 } as const;

/** A logged-in player's persistent character, carried with the entity across zones. */
export interface CharacterTransfer {
  playerId: number;
  sheet: CharacterSheet;
  playtimeMs: number;
  /** Last saveSeq handed to persistence (saves carry saveSeq + 1 onwards). */
  saveSeq: number;
  /** CharacterDirty bits. */
  dirty: number;
  /** A critical save not yet durable: CHARACTER notices wait for it (0 = none). */
  heldSeq: number;
  /** CharacterCause to send the client at the next tick, or -1. */
  notify: number;
  /** What the notice reports as found, if anything. */
  found: { itemId: number; quantity: number } | null;
}

/** Serialisable state of a player's frame stream, carried across zones so it never breaks. */
export interface ViewTransfer {
  nextFrameSeq: number;
  ackFrame: number;
  /** Zone named by the last FRAME header that carried one ('0' before the first frame). */
  lastZoneSent: ZoneId;
  /** Seq of the first frame that named lastZoneSent (it is named until one of those is acked). */
  zoneSentSeq: number;
  /** null for a player who has not been sent a frame yet. */
  history: FrameHistoryJSON | null;
  visible: number[];
}

export interface PlayerTransfer {
  gatewayId: string;
  sessionId: string;
  lastInputSeq: number;
  pending: WireInput[];
  moveClock: { slackMs: number; bankMs: number };
  cooldowns: ActionCooldownsJSON;
  rateWindowStartMs: number;
  rateWindowCount: number;
  view: ViewTransfer;
  /** Absent for guests, whose characters are not kept. */
  character?: CharacterTransfer;
}

/** Everything a zone needs to take over an entity: used for handoffs, joins and spawns. */
export interface EntityTransfer {
  id: EntityId;
  kind: EntityKind;
  name: string;
  pose: Pose;
  action: number;
  actionSeq: number;
  npc?: NpcBrainJSON;
  player?: PlayerTransfer;
}

/**
 * A player who has just logged in: no inputs yet, a full movement-time bank, and no frames, so
 * its first frame is a full snapshot.
 */
export function newPlayerEntity(o: {
  id: EntityId;
  name: string;
  pose: Pose;
  gatewayId: string;
  sessionId: string;
  moveClockSlackMs: number;
  character?: { playerId: number; sheet: CharacterSheet; playtimeMs: number; saveSeq: number };
}): EntityTransfer {
  return {
    id: o.id,
    kind: EntityKind.Player,
    name: o.name,
    pose: o.pose,
    action: 0,
    actionSeq: 0,
    player: {
      gatewayId: o.gatewayId,
      sessionId: o.sessionId,
      lastInputSeq: 0,
      pending: [],
      moveClock: { slackMs: o.moveClockSlackMs, bankMs: o.moveClockSlackMs },
      cooldowns: {},
      rateWindowStartMs: 0,
      rateWindowCount: 0,
      view: { nextFrameSeq: 1, ackFrame: 0, lastZoneSent: '0', zoneSentSeq: 0, history: null, visible: [] },
      ...(o.character && {
        character: { ...o.character, dirty: 0, heldSeq: 0, notify: CharacterCause.Login, found: null },
      }),
    },
  };
}

export interface HandoffOffer {
  /** Zone giving the entity away; '0' for a fresh join or spawn. */
  from: ZoneId;
  entity: EntityTransfer;
}

export type HandoffAnswer = { accepted: true } | { accepted: false; reason: string };

/** One message for one player, already encoded for the wire by the zone. */
export interface Delivery {
  entityId: EntityId;
  bytes: Uint8Array;
  /** Frames may be skipped under backpressure; rejects and kicks may not. */
  droppable: boolean;
}

/** A zone's order to close a player's connection (e.g. input flood). */
export interface KickOrder {
  entityId: EntityId;
  reason: number; // KickReason
  message: string;
}

/** Everything one zone sends one gateway in one tick. */
export interface GatewayBatch {
  zone: ZoneId;
  deliveries: Delivery[];
  kicks: KickOrder[];
}
