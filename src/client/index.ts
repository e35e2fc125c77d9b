// Public client API (package export "bluemarble/client"): usable in browsers and in Node.
export {
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  ConnectError,
  GameConnection,
  KickError,
  LatencyHistogram,
  TypedEmitter,
  kickReasonName,
  rejectReasonName,
} from './connection.ts';
export type {
  CloseEvent,
  ConnectionState,
  CreateSocket,
  GameConnectionEvents,
  GameConnectionOptions,
  FrameView,
  HistogramData,
  KickEvent,
  MoveInput,
  PongEvent,
  RejectEvent,
  WebSocketLike,
} from './connection.ts';
export type { FrameDecoded, FrameState, EntitySnapshot, OwnState, Welcome } from '../protocol/types.ts';
export { SNAPSHOT_STRIDE, SnapshotField } from '../protocol/types.ts';

// The game-facing SDK (docs/client.md).
export { ApiError, BlueMarbleClient, wsUrlOf } from './sdk.ts';
export type {
  BlueMarbleClientEvents,
  BlueMarbleClientOptions,
  ClientStats,
  ConnectedEvent,
  DisconnectedEvent,
  ReconciledEvent,
  ReconnectingEvent,
  RejectedEvent,
  SelfState,
  ZoneChangedEvent,
} from './sdk.ts';
export { PlaybackClock, RemoteEntity } from './interpolation.ts';
export { PREDICTION_RING, Predictor, poseGapM, posesEqual } from './prediction.ts';
export type { ReconcileResult } from './prediction.ts';
export { ServerClock } from './clock.ts';
export { InputTiming } from './input-timing.ts';
export type { InputTimingOptions } from './input-timing.ts';
export { LinkSocket, SimulatedLink, symmetricLink } from './link.ts';
export type { LinkDirection, LinkOptions } from './link.ts';
export type { CharacterMessage } from '../protocol/types.ts';
export type { MovementRules, Pose, ZoneId } from '../world/types.ts';
