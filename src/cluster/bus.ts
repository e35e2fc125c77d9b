// The Bus port: how gateways and zones talk, in the game's words. The in-memory adapter is the
// embedded default; a NATS adapter implements the same contract for zones in other processes.
import type { ZoneId } from '../world/types.ts';
import type { GatewayBatch, HandoffAnswer, HandoffOffer, ZoneMessage } from './messages.ts';

export interface Subscription {
  unsubscribe(): void;
}

/** What a process that owns a zone exposes on the bus. */
export interface ZoneEndpoint {
  deliver(msg: ZoneMessage): void;
  /** Adopt an entity (handoff, join, spawn). Must not throw; refuse with a reason instead. */
  adopt(offer: HandoffOffer): HandoffAnswer | Promise<HandoffAnswer>;
}

/** Called when something is addressed to a zone nobody owns; returns true if it claimed it. */
export type ZonePlacer = (zone: ZoneId) => boolean;

export interface Bus {
  /** This process now owns `zone`: its messages and handoff offers come to `endpoint`. */
  claimZone(zone: ZoneId, endpoint: ZoneEndpoint): Subscription;
  /** Register who places unowned zones (the coordinator). Only offerEntity places a zone. */
  onUnclaimedZone(placer: ZonePlacer): Subscription;
  /**
   * Send to the zone's owner. Messages from one sender to one zone arrive in order. Returns
   * false when the zone has no owner (the message is dropped): a zone comes into being only when
   * an entity is offered to it, so border ghosts never create empty zones.
   */
  sendToZone(zone: ZoneId, msg: ZoneMessage): boolean;
  /** Offer an entity to a zone; resolves with its answer (refused if no owner can be found). */
  offerEntity(zone: ZoneId, offer: HandoffOffer): Promise<HandoffAnswer>;
  serveGateway(gatewayId: string, handler: (batch: GatewayBatch) => void): Subscription;
  /** Returns false when the gateway is unknown (the batch is dropped). */
  sendToGateway(gatewayId: string, batch: GatewayBatch): boolean;
  close(): Promise<void>;
}
