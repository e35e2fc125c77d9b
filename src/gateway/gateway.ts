// The WebSocket edge. A client keeps one socket to a gateway for its whole session; the gateway
// checks every message before anything else sees it, routes inputs to the zone that owns the
// player (learned from the zone that last sent it a frame, so handoffs need no directory), and
// protects the tick from slow readers by skipping frames and, past a limit, disconnecting.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { encodeBinaryFrame } from './ws-frame.ts';
import { readClientFramesFirst } from './ws-inbound.ts';
import type { Bus, Subscription } from '../cluster/bus.ts';
import { newPlayerEntity, type GatewayBatch } from '../cluster/messages.ts';
import type { SessionEnded, SessionRecord } from '../auth/sessions.ts';
import type { PlayerRecord } from '../store/store.ts';
import { newCharacterSheet } from '../world/character.ts';
import type { Logger } from '../ops/log.ts';
import type { Metrics } from '../ops/metrics.ts';
import { ProtocolError } from '../protocol/codec.ts';
import { decodeMessage, encodeKick, encodePong, encodeWelcome, headerSeqOf, type DecodeOptions } from '../protocol/messages.ts';
import { MessageType, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../protocol/types.ts';
import type { Hello } from '../protocol/types.ts';
import { destination, poseFromDegrees } from '../world/geo.ts';
import { Rng } from '../world/rng.ts';
import type { EntityId, MovementRules, Pose, ZoneId } from '../world/types.ts';
import { KICK_REASON_NAMES, KickReason } from '../world/types.ts';
import { zoneOfPose } from '../world/zoning.ts';

export interface GatewaySettings {
  gatewayId: string;
  path: string;
  maxMessageBytes: number;
  floodMessagesPerSecond: number;
  sendBufferSkip: number;
  sendBufferLimit: number;
  slowConsumerSeconds: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  maxPlayers: number;
  spawn: { lat: number; lon: number; radiusM: number };
  tickRate: number;
  aoiRadius: number;
  rules: MovementRules;
  maxInputsPerSecond: number;
  zoneResolution: number;
  moveClockSlackMs: number;
  seed: number;
  /** HELLO without a token joins as a guest (nothing kept); otherwise it is refused. */
  guests: boolean;
  /** How often a connected player's session is kept alive (it expires after idleMs unused). */
  sessionKeepAliveMs: number;
}

/**
 * What the gateway needs of accounts and persistence, in the game's words. The composition root
 * wires it to the AuthService, the Sessions adapter and the profile cache.
 */
export interface PlayerDirectory {
  /** The session a token opens, or undefined when it is unknown, expired or revoked. */
  authenticate(token: string): Promise<SessionRecord | undefined>;
  /** Slides the session's inactivity expiry; false when it has ended. */
  keepAlive(tokenHash: string): Promise<boolean>;
  /** The character to enter the world with; waits for any save of it still being written. */
  loadCharacter(playerId: number): Promise<PlayerRecord | undefined>;
  /** Hears of sessions ended anywhere (logout, a newer login, expiry). */
  onSessionEnded(listener: (ended: SessionEnded) => void): Subscription;
}

export interface GatewayContext {
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** Entity ids for guests; account players use entityIdOfPlayer(playerId). */
  nextEntityId: () => EntityId;
  /** Absent: guests only (no accounts configured). */
  directory?: PlayerDirectory;
}

/** Players' entity ids derive from their account, so every gateway gives a player the same one. */
export const PLAYER_ENTITY_BASE = 1_000_000;
/** Guests take ids from here (entity ids are int32 on the wire): above any account's up to player 1,999,000,000. */
export const GUEST_ENTITY_BASE = 2_000_000_000;
export const entityIdOfPlayer = (playerId: number): EntityId => PLAYER_ENTITY_BASE + playerId;
/** A relogging player's previous entity must be saved and gone first; this bounds the wait. */
const DEPARTURE_WAIT_MS = 5000;

type ConnState = 'handshake' | 'authenticating' | 'joining' | 'playing' | 'closed';

interface Conn {
  ws: WebSocket;
  /** The upgraded socket under `ws`: the gateway's binary messages are written to it directly (ws-frame.ts). */
  socket: Duplex;
  state: ConnState;
  id: number;
  remote: string;
  entityId: EntityId;
  zone: ZoneId;
  version: number;
  openedAtMs: number;
  lastMessageAtMs: number;
  windowStartMs: number;
  windowCount: number;
  lastFrameSent: number;
  lastAck: number;
  skippingSinceMs: number;
  kicked: boolean;
  /** 0 for a guest. */
  playerId: number;
  tokenHash: string;
  lastKeepAliveMs: number;
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly maxPayload: number;
  private readonly conns = new Set<Conn>();
  private readonly players = new Map<EntityId, Conn>();
  /** Account players by player id, from the moment their token is accepted (one socket each). */
  private readonly byPlayer = new Map<number, Conn>();
  private readonly bySession = new Map<string, Conn>();
  /** Players whose entity is leaving the world: a new login waits for their final save. */
  private readonly departures = new Map<number, { done: Promise<void>; resolve: () => void }>();
  private sessionSub: Subscription | undefined;
  private readonly rng: Rng;
  private sub: Subscription | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private nextConnId = 1;
  private closing = false;
  private warnedNoFastReads = false;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly s: GatewaySettings,
  ) {
    this.rng = new Rng(s.seed ^ 0x5bd1e995);
    // ws enforces a hard cap itself; our own smaller limit gives the client a KICK with a reason.
    this.helloDecode = { maxBytes: s.maxMessageBytes, minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION };
    for (let v = MIN_PROTOCOL_VERSION; v <= PROTOCOL_VERSION; v++) {
      this.versionDecode[v] = { maxBytes: s.maxMessageBytes, minVersion: v, maxVersion: v };
    }
    this.maxPayload = Math.max(s.maxMessageBytes * 4, 65536);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  /**
   * decodeMessage's options, made once instead of once per message: before HELLO, any version we
   * speak; after it, only the one agreed (indexed by version).
   */
  private readonly helloDecode: DecodeOptions;
  private readonly versionDecode: DecodeOptions[] = [];

  get playerCount(): number {
    return this.players.size;
  }

  attach(server: Server): void {
    server.on('upgrade', this.onUpgrade);
    this.sub = this.ctx.bus.serveGateway(this.s.gatewayId, this.onBatch);
    this.sessionSub = this.ctx.directory?.onSessionEnded(this.onSessionEnded);
    this.sweepTimer = setInterval(this.sweep, 250);
    this.sweepTimer.unref();
  }

  /** Kick everyone with `shutdown` and stop accepting. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sub?.unsubscribe();
    this.sessionSub?.unsubscribe();
    const closed: Array<Promise<void>> = [];
    for (const c of this.conns) {
      closed.push(new Promise((resolve) => c.ws.once('close', () => resolve())));
      this.kick(c, KickReason.Shutdown, 'server shutting down');
    }
    await Promise.race([Promise.all(closed), delay(2000)]);
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.s.path || this.closing) {
      socket.end(`HTTP/1.1 ${this.closing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, req));
  };

  private onConnection(ws: WebSocket, socket: Duplex, req: IncomingMessage): void {
    const now = this.ctx.now();
    const c: Conn = {
      ws,
      socket,
      state: 'handshake',
      id: this.nextConnId++,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`,
      entityId: 0,
      zone: '0',
      version: PROTOCOL_VERSION,
      openedAtMs: now,
      lastMessageAtMs: now,
      windowStartMs: now,
      windowCount: 0,
      lastFrameSent: 0,
      lastAck: 0,
      skippingSinceMs: 0,
      kicked: false,
      playerId: 0,
      tokenHash: '',
      lastKeepAliveMs: now,
    };
    this.conns.add(c);
    this.ctx.metrics.connectionsOpened.inc();
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    // Plain binary frames skip ws's Receiver (ws-inbound.ts); ws still gets everything else.
    if (!readClientFramesFirst(ws, this.maxPayload, (bytes) => this.onMessage(c, bytes, true)) && !this.warnedNoFastReads) {
      this.warnedNoFastReads = true;
      this.ctx.logger.warn('this ws version keeps no Receiver where ws-inbound.ts expects it: client frames go through ws alone (slower)');
    }
    ws.on('close', () => this.onClose(c));
    ws.on('error', (err) => {
      // ws reports oversize frames and invalid framing here, then closes the socket itself.
      this.ctx.metrics.protocolErrors.inc({ code: 'websocket' });
      this.ctx.logger.info({ conn: c.id, remote: c.remote, err: err.message }, 'websocket error');
    });
  }

  private onMessage(c: Conn, data: RawData, isBinary: boolean): void {
    if (c.state === 'closed') return;
    const m = this.ctx.metrics;
    const bytes = toBytes(data);
    const now = this.ctx.now();
    // add(): a plain sum per message, folded into the counters when metrics are read.
    m.bytesReceived.add(bytes.length);
    m.messagesReceived.add(1);
    c.lastMessageAtMs = now;
    if (now - c.windowStartMs >= 1000) {
      c.windowStartMs = now;
      c.windowCount = 0;
    }
    if (++c.windowCount > this.s.floodMessagesPerSecond) {
      return this.kick(c, KickReason.Flood, `more than ${this.s.floodMessagesPerSecond} messages per second`);
    }
    if (!isBinary) return this.protocolError(c, 'bad_field', 'text messages are not part of the protocol');
    if (bytes.length > this.s.maxMessageBytes) {
      m.protocolErrors.inc({ code: 'oversize' });
      return this.kick(c, KickReason.Oversize, `message of ${bytes.length} bytes exceeds ${this.s.maxMessageBytes}`);
    }
    let msg;
    try {
      msg = decodeMessage(bytes, c.state === 'handshake' ? this.helloDecode : this.versionDecode[c.version]);
    } catch (err) {
      if (err instanceof ProtocolError) return this.protocolError(c, err.code, err.message);
      throw err;
    }
    if (c.state === 'handshake') {
      if (msg.type !== MessageType.Hello) return this.protocolError(c, 'bad_field', 'first message must be HELLO');
      return this.onHello(c, msg.body);
    }
    switch (msg.type) {
      case MessageType.Input:
        if (c.state !== 'playing') return; // inputs before WELCOME cannot carry valid seqs
        if (msg.body.ackFrame > c.lastAck && msg.body.ackFrame <= c.lastFrameSent) c.lastAck = msg.body.ackFrame;
        this.ctx.bus.sendToZone(c.zone, {
          kind: 'inputs',
          entityId: c.entityId,
          ackFrame: msg.body.ackFrame,
          inputs: msg.body.inputs,
        });
        return;
      case MessageType.Ping: {
        const pong = encodePong(
          { seq: msg.body.seq, clientTime: msg.body.clientTime, serverTime: now },
          { seq: msg.body.seq, serverTime: now >>> 0, zone: c.zone, version: c.version },
        );
        this.send(c, pong);
        return;
      }
      default:
        return this.protocolError(c, 'bad_field', `message type ${msg.type} is not valid from a client`);
    }
  }

  private onHello(c: Conn, hello: Hello): void {
    const version = Math.min(PROTOCOL_VERSION, hello.maxVersion);
    if (version < Math.max(MIN_PROTOCOL_VERSION, hello.minVersion)) {
      // A client that speaks only version 1 reads the version-1 layout: tell it in that one.
      if (hello.maxVersion === 1) c.version = 1;
      return this.kick(
        c,
        KickReason.VersionMismatch,
        `server speaks versions ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}, client ${hello.minVersion}..${hello.maxVersion}`,
      );
    }
    if (this.players.size >= this.s.maxPlayers) return this.kick(c, KickReason.ServerFull, 'server is full');
    c.version = version;
    const directory = this.ctx.directory;
    if (hello.token === '' || directory === undefined) {
      if (!this.s.guests) {
        return this.kick(c, KickReason.Unauthorized, 'a session token is required: log in with POST /api/login');
      }
      c.state = 'joining';
      return this.join(c, { entityId: this.ctx.nextEntityId(), name: hello.name, pose: this.spawnPose() });
    }
    c.state = 'authenticating';
    void this.authenticate(c, hello.token, directory).catch((err: unknown) => {
      this.ctx.logger.error({ err, conn: c.id, player: c.playerId }, 'login on the socket failed');
      if (c.state === 'authenticating') this.kick(c, KickReason.ServerFull, 'could not load the character: try again');
    });
  }

  private async authenticate(c: Conn, token: string, directory: PlayerDirectory): Promise<void> {
    const session = await directory.authenticate(token);
    if (c.state !== 'authenticating') return;
    if (!session) {
      this.ctx.metrics.protocolErrors.inc({ code: 'unauthorized' });
      return this.kick(c, KickReason.Unauthorized, 'session token is unknown, expired or revoked: log in again');
    }
    // One socket per account: the newer connection wins, the older is told why it was closed.
    const older = this.byPlayer.get(session.playerId);
    if (older && older !== c) this.kick(older, KickReason.LoggedInElsewhere, 'the account connected again elsewhere');
    c.playerId = session.playerId;
    c.tokenHash = session.tokenHash;
    c.lastKeepAliveMs = this.ctx.now();
    this.byPlayer.set(c.playerId, c);
    this.bySession.set(c.tokenHash, c);
    const departing = this.departures.get(c.playerId);
    if (departing) await Promise.race([departing.done, delay(DEPARTURE_WAIT_MS)]);
    if (c.state !== 'authenticating') return;
    const record = await directory.loadCharacter(c.playerId);
    if (c.state !== 'authenticating') return;
    if (!record) return this.kick(c, KickReason.Unauthorized, 'the account no longer exists');
    const st = record.state;
    const pose = st ? { latE7: st.latE7, lonE7: st.lonE7, altCm: st.altCm, heading16: st.heading16 } : this.spawnPose();
    const sheet = newCharacterSheet();
    if (st) {
      sheet.health = st.health;
      sheet.stamina = st.stamina;
      sheet.level = st.level;
      sheet.experience = st.experience;
    }
    sheet.inventory = record.inventory.map((i) => ({ ...i }));
    sheet.skills = record.skills.map((k) => ({ ...k }));
    c.state = 'joining';
    this.join(c, {
      entityId: entityIdOfPlayer(c.playerId),
      name: record.username,
      pose,
      character: {
        playerId: c.playerId,
        sheet,
        playtimeMs: (st?.playtimeSeconds ?? 0) * 1000,
        saveSeq: st?.saveSeq ?? 0,
      },
    });
  }

  private spawnPose(): Pose {
    const spawn = this.s.spawn;
    const r = spawn.radiusM * Math.sqrt(this.rng.next());
    const at = destination(spawn.lat, spawn.lon, this.rng.next() * 360, r);
    return poseFromDegrees(at.lat, at.lon, 0, this.rng.next() * 360);
  }

  private join(
    c: Conn,
    who: { entityId: EntityId; name: string; pose: Pose; character?: Parameters<typeof newPlayerEntity>[0]['character'] },
  ): void {
    const { entityId, pose } = who;
    const version = c.version;
    const sessionId = randomUUID();
    const zone = zoneOfPose(pose, this.s.zoneResolution);
    const entity = newPlayerEntity({
      id: entityId,
      name: who.name,
      pose,
      gatewayId: this.s.gatewayId,
      sessionId,
      moveClockSlackMs: this.s.moveClockSlackMs,
      ...(who.character && { character: who.character }),
    });
    this.ctx.bus.offerEntity(zone, { from: '0', entity }).then((answer) => {
      if (c.state !== 'joining') {
        // The socket closed while the zone was adopting: tell the zone the player left.
        if (answer.accepted) {
          if (c.playerId !== 0) this.expectDeparture(c.playerId);
          this.ctx.bus.sendToZone(zone, { kind: 'leave', entityId });
        }
        return;
      }
      if (!answer.accepted) return this.kick(c, KickReason.ServerFull, `no zone could take the player: ${answer.reason}`);
      c.entityId = entityId;
      c.zone = zone;
      c.state = 'playing';
      this.players.set(entityId, c);
      this.ctx.metrics.playersConnected.set(this.players.size);
      const welcome = encodeWelcome(
        {
          version,
          entityId,
          tickRate: this.s.tickRate,
          aoiRadius: this.s.aoiRadius,
          maxSpeed: this.s.rules.maxSpeed,
          maxVerticalSpeed: this.s.rules.maxVerticalSpeed,
          speedTolerance: this.s.rules.speedTolerance,
          maxInputDtMs: this.s.rules.maxInputDtMs,
          maxInputsPerSecond: this.s.maxInputsPerSecond,
          minAltCm: this.s.rules.minAltCm,
          maxAltCm: this.s.rules.maxAltCm,
          nextInputSeq: 1,
          own: { ...pose, action: 0, actionSeq: 0 },
          sessionId,
        },
        { serverTime: this.ctx.now() >>> 0, zone, version },
      );
      this.send(c, welcome);
      this.ctx.logger.info(
        { conn: c.id, remote: c.remote, entity: entityId, player: c.playerId || undefined, zone, name: who.name },
        'player joined',
      );
    });
  }

  /** The zones report a player's entity gone and its final save queued (CharacterSink.left). */
  departed(playerId: number): void {
    const d = this.departures.get(playerId);
    if (!d) return;
    this.departures.delete(playerId);
    d.resolve();
  }

  private expectDeparture(playerId: number): void {
    if (this.departures.has(playerId)) return;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.departures.set(playerId, { done, resolve });
    // Never wait forever on a zone that lost the entity.
    setTimeout(() => this.departed(playerId), DEPARTURE_WAIT_MS * 2).unref();
  }

  private readonly onSessionEnded = (ended: SessionEnded): void => {
    const c = this.bySession.get(ended.tokenHash);
    if (!c) return;
    switch (ended.reason) {
      case 'logout':
        return this.kick(c, KickReason.LoggedOut, 'logged out');
      case 'logged_in_elsewhere':
        return this.kick(c, KickReason.LoggedInElsewhere, 'the account logged in elsewhere');
      case 'expired':
        return this.kick(c, KickReason.Unauthorized, 'session expired: log in again');
      case 'refreshed':
        // The client holds a newer token for the same session: the socket stays; keep-alives stop.
        this.bySession.delete(c.tokenHash);
        c.tokenHash = '';
        return;
    }
  };

  private readonly onBatch = (batch: GatewayBatch): void => {
    const now = this.ctx.now();
    let bytesOut = 0;
    let sent = 0;
    let skipped = 0;
    for (const d of batch.deliveries) {
      const c = this.players.get(d.entityId);
      if (!c || c.state !== 'playing') continue;
      c.zone = batch.zone; // whoever sends the player frames owns it: route inputs there
      if (d.droppable) {
        const seq = headerSeqOf(d.bytes);
        // Everything queued on the socket: our frames and ws's own (pongs, close).
        const buffered = c.socket.writableLength;
        if (buffered > this.s.sendBufferLimit) {
          this.kick(c, KickReason.SlowConsumer, `send buffer over ${this.s.sendBufferLimit} bytes`);
          continue;
        }
        // Skip when the socket is backed up or the client stopped acknowledging frames: it will
        // be brought back with a delta against what it last acked, or a full snapshot.
        const ackLag = c.lastFrameSent - c.lastAck;
        if (buffered > this.s.sendBufferSkip || ackLag > this.s.tickRate * 2) {
          skipped++;
          if (c.skippingSinceMs === 0) c.skippingSinceMs = now;
          else if (now - c.skippingSinceMs > this.s.slowConsumerSeconds * 1000) {
            this.kick(c, KickReason.SlowConsumer, `not keeping up for ${this.s.slowConsumerSeconds} s`);
          }
          continue;
        }
        c.skippingSinceMs = 0;
        c.lastFrameSent = seq;
      }
      if (c.ws.readyState !== c.ws.OPEN) continue; // closing: no data after a close frame
      c.socket.write(encodeBinaryFrame(d.bytes));
      bytesOut += d.bytes.length;
      sent++;
    }
    for (const k of batch.kicks) {
      const c = this.players.get(k.entityId);
      if (c) this.kick(c, k.reason as KickReason, k.message);
    }
    const m = this.ctx.metrics;
    m.bytesSent.add(bytesOut);
    m.messagesSent.add(sent);
    if (skipped > 0) m.framesSkipped.inc(skipped);
  };

  /** Handshake and idle timeouts, checked for all connections at once instead of a timer each. */
  private readonly sweep = (): void => {
    const now = this.ctx.now();
    for (const c of this.conns) {
      if (c.state === 'handshake' && now - c.openedAtMs > this.s.handshakeTimeoutMs) {
        this.kick(c, KickReason.HandshakeTimeout, `no HELLO within ${this.s.handshakeTimeoutMs} ms`);
      } else if (c.state === 'authenticating' && now - c.openedAtMs > this.s.handshakeTimeoutMs + 2 * DEPARTURE_WAIT_MS) {
        // Sessions or the database not answering: the client hears so instead of waiting forever.
        this.kick(c, KickReason.ServerFull, 'login timed out: the server could not load the character, try again');
      } else if (c.state === 'playing' && now - c.lastMessageAtMs > this.s.idleTimeoutMs) {
        this.kick(c, KickReason.IdleTimeout, `nothing received for ${this.s.idleTimeoutMs} ms`);
      } else if (c.state === 'playing' && c.tokenHash !== '' && now - c.lastKeepAliveMs > this.s.sessionKeepAliveMs) {
        this.keepAlive(c, now);
      }
    }
  };

  /** Playing keeps the session alive; a session ended meanwhile closes the socket. */
  private keepAlive(c: Conn, now: number): void {
    c.lastKeepAliveMs = now;
    const hash = c.tokenHash;
    this.ctx.directory?.keepAlive(hash).then(
      (alive) => {
        if (!alive && c.tokenHash === hash) this.kick(c, KickReason.Unauthorized, 'session expired: log in again');
      },
      (err: unknown) => this.ctx.logger.warn({ err, conn: c.id }, 'session keep-alive failed; will retry'),
    );
  }

  private protocolError(c: Conn, code: string, detail: string): void {
    this.ctx.metrics.protocolErrors.inc({ code });
    this.kick(c, KickReason.ProtocolError, `${code}: ${detail}`.slice(0, 200));
  }

  private send(c: Conn, bytes: Uint8Array): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.socket.write(encodeBinaryFrame(bytes));
    this.ctx.metrics.bytesSent.add(bytes.length);
    this.ctx.metrics.messagesSent.add(1);
  }

  private kick(c: Conn, reason: KickReason, message: string): void {
    if (c.kicked || c.state === 'closed') return;
    c.kicked = true;
    const name = KICK_REASON_NAMES[reason] ?? 'unknown';
    this.ctx.metrics.connectionsClosed.inc({ reason: name });
    this.ctx.logger.info({ conn: c.id, remote: c.remote, entity: c.entityId, reason: name, message }, 'connection kicked');
    this.send(c, encodeKick({ reason, message }, { zone: c.zone, version: c.version, serverTime: this.ctx.now() >>> 0 }));
    c.ws.close(4000 + reason, name);
    // A peer that never completes the close handshake is cut off.
    setTimeout(() => c.ws.terminate(), 2000).unref();
    this.leave(c);
  }

  private onClose(c: Conn): void {
    if (!c.kicked) this.ctx.metrics.connectionsClosed.inc({ reason: 'client_closed' });
    this.leave(c);
    this.conns.delete(c);
  }

  private leave(c: Conn): void {
    if (c.state === 'playing') {
      this.players.delete(c.entityId);
      this.ctx.metrics.playersConnected.set(this.players.size);
      if (c.playerId !== 0) this.expectDeparture(c.playerId);
      this.ctx.bus.sendToZone(c.zone, { kind: 'leave', entityId: c.entityId });
    }
    if (c.playerId !== 0 && this.byPlayer.get(c.playerId) === c) this.byPlayer.delete(c.playerId);
    if (c.tokenHash !== '' && this.bySession.get(c.tokenHash) === c) this.bySession.delete(c.tokenHash);
    c.state = 'closed';
  }
}

function toBytes(data: RawData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
