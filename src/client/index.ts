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
  HistogramData,
  KickEvent,
  MoveInput,
  PongEvent,
  RejectEvent,
  WebSocketLike,
} from './connection.ts';
export type { FrameDecoded, FrameState, EntitySnapshot, OwnState, Welcome } from '../protocol/types.ts';
export { SNAPSHOT_STRIDE, SnapshotField } from '../protocol/types.ts';
