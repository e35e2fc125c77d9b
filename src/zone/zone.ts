// One zone: the unit of authority, simulation and interest. Each tick it applies the inputs of
// the players it owns (validated by the shared movement rules), moves its NPCs, hands entities
// that left its cell to the neighbour that now contains them, publishes border ghosts, and
// encodes one delta frame per owned player against the last frame that player acknowledged.
import { Buffer } from 'node:buffer';
import type { Bus, ZoneEndpoint } from '../cluster/bus.ts';
import { GHOST_STRIDE } from '../cluster/messages.ts';
import { CharacterDirty } from '../cluster/messages.ts';
import type {
  CharacterDurable,
  CharacterTransfer,
  Delivery,
  EntityTransfer,
  GatewayBatch,
  GhostBatch,
  HandoffAnswer,
  HandoffOffer,
  KickOrder,
  PlayerInputs,
  ZoneMessage,
} from '../cluster/messages.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { Logger } from '../ops/log.ts';
import { Writer } from '../protocol/codec.ts';
import { encodeFrameFlat, type FlatFrame, type FrameEncodeFlatInput } from '../protocol/frame.ts';
import { FrameRing } from '../protocol/history.ts';
import { encodeCharacter, encodeReject } from '../protocol/messages.ts';
import { altCmToDm, heading16To8, latE7ToE6, lonE7ToE6 } from '../protocol/quantize.ts';
import type { WireInput } from '../protocol/types.ts';
import { CharacterCause, SNAPSHOT_STRIDE } from '../protocol/types.ts';
import type { PlayerSave, WorldEntityRecord } from '../store/store.ts';
import { ActionCooldowns } from '../world/actions.ts';
import { FORAGE_XP, SkillId, addItem, forageItem, grantExperience } from '../world/character.ts';
import { MoveClock, checkIntent, stepPoseInto } from '../world/movement.ts';
import { NpcBrain } from '../world/npc.ts';
import { Rng } from '../world/rng.ts';
import type { EntityId, MoveIntent, MovementRules, Pose, ZoneId } from '../world/types.ts';
import { EntityKind, KickReason, REJECT_REASON_NAMES, RejectReason } from '../world/types.ts';
import { ZoneGeometry, zoneOfPose } from '../world/zoning.ts';
import {
  AUX_STRIDE,
  AoiGrid,
  AoiScratch,
  VisibleSet,
  isDue,
  selectVisible,
  selectVisibleAfter,
  updateInterval,
} from './aoi.ts';

export interface ZoneSettings {
  tickRate: number;
  aoiRadius: number;
  aoiHysteresis: number;
  /** Bytes per client per tick a frame should stay within (entities entering view wait). */
  frameBudget: number;
  rules: MovementRules;
  maxInputsPerSecond: number;
  zoneResolution: number;
  /** How long a missing input seq is waited for before the zone skips past it. */
  inputGapTimeoutMs: number;
  /** Banked movement time a client may use to absorb network jitter. */
  moveClockSlackMs: number;
}

/**
 * Where characters go to be kept. Zones never wait on it: a left player's final save is queued,
 * and a critical save's promise settles outside the tick (the zone hears of it as a message).
 */
export interface CharacterSink {
  /** The player left the world; `save` is its final state (undefined when nothing changed). */
  left(playerId: number, save: PlayerSave | undefined): void;
  /** Resolves once the save is durable. Must not reject: persistence retries until it is. */
  critical(save: PlayerSave): Promise<void>;
}

/** Action that forages the ground for an item (wire id, see world/types.ts ACTIONS). */
const FORAGE_ACTION = 3;

export interface ZoneContext {
  /** Absent: characters are not kept (tests of the simulation alone). */
  characters?: CharacterSink;
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
  settings: ZoneSettings;
  /** Server clock in ms (monotonic, f64). */
  now: () => number;
}

/** A player's frame stream (part of PlayerCtl: one object to fetch per player, not two). */
interface PlayerView {
  /** Frames sent, kept as possible delta baselines. */
  history: FrameRing;
  nextFrameSeq: number;
  ackFrame: number;
  /**
   * The visible set the player arrived with (ids ascending): the hysteresis reference until
   * this zone has sent a frame. After that the last frame in `history` is.
   */
  arrived: VisibleSet;
  /** Zone named by the last FRAME header that carried one ('0' before the first frame). */
  lastZoneSent: ZoneId;
  /**
   * Seq of the first frame that named lastZoneSent. Until the client acknowledges a frame at or
   * after it, every frame names the zone again: the gateway may have skipped the one that did.
   */
  zoneSentSeq: number;
}

interface PlayerCtl extends PlayerView {
  gatewayId: string;
  sessionId: string;
  lastInputSeq: number;
  /** Inputs received but not yet applied, ascending by seq, no duplicates. */
  pending: WireInput[];
  gapSinceMs: number;
  clock: MoveClock;
  cooldowns: ActionCooldowns;
  rateWindowStartMs: number;
  rateWindowCount: number;
  kicked: boolean;
  /** The persistent character; undefined for guests. Mutated in place, carried on handoff. */
  character: CharacterTransfer | undefined;
}

/**
 * An entity this zone owns. Its quantised wire row is refreshed once per tick, not per viewer,
 * and kept in the grid (AoiGrid.rows) beside every ghost's.
 */
interface OwnedEntity {
  id: EntityId;
  kind: EntityKind;
  name: string;
  pose: Pose;
  action: number;
  actionSeq: number;
  x: number;
  y: number;
  npc: NpcBrain | undefined;
  player: PlayerCtl | undefined;
}

/**
 * A zone that sends this one ghosts. Each ghost's source and stamp live in the grid's aux ints
 * (GHOST_SOURCE, GHOST_STAMP) beside its position and row: no map of ghosts to keep in step.
 */
interface GhostSource {
  /** GHOST_SOURCE value of this source's ghosts (>= 1; 0 marks an owned entity). */
  tag: number;
  lastTick: number;
  /** False once its ghosts expired; a later batch makes it live again. */
  live: boolean;
  /** Stamp of its batch handled this tick, or 0 when none came. */
  stamp: number;
  /** Its latest batch not yet handled: a newer one replaces an unhandled older one. */
  pending: GhostBatch | undefined;
}

const NO_GHOSTS = new Int32Array(0);

/** Grid aux ints of an entity: its ghost source's tag (0: owned here) and its last batch stamp. */
const GHOST_SOURCE = 0;
const GHOST_STAMP = 1;

const GHOST_EXPIRY_TICKS = 3;
const TOMBSTONE_MS = 10_000;
const ORPHAN_MS = 2_000;
/** A neighbour with players keeps this zone awake this long after its last ghost batch. */
const NEIGHBOUR_WAKE_MS = 1_000;
/** Inputs per second past which the connection is closed rather than inputs rejected. */
const FLOOD_FACTOR = 3;
/** Rough wire cost of one entity entering view; used to keep frames within the budget. */
const ADD_COST_BYTES = 16;

export class Zone implements ZoneEndpoint {
  readonly id: ZoneId;
  readonly geometry: ZoneGeometry;
  private readonly ctx: ZoneContext;
  private readonly grid: AoiGrid;
  private readonly owned = new Map<EntityId, OwnedEntity>();
  private readonly players = new Map<EntityId, OwnedEntity>();
  private readonly ghostSources = new Map<ZoneId, GhostSource>();
  /** ghostSources by tag - 1. */
  private readonly ghostSourceList: GhostSource[] = [];
  /** A ghost batch was handled this tick: unstamped ghosts of its source are to be dropped. */
  private ghostBatchesIn = false;
  private readonly tombstones = new Map<EntityId, { to: ZoneId; untilMs: number }>();
  private readonly orphans = new Map<EntityId, { msgs: ZoneMessage[]; sinceMs: number }>();
  private inbox: ZoneMessage[] = [];
  /**
   * Sources with a pending batch, in the order their first one since the last drain arrived.
   * Per-tick queues here (and the gateway batches) are arrays emptied slot by slot, not maps
   * cleared: a cleared Map's previous table, once in old space, still points at last tick's
   * messages and frames until the next full GC, so they survived every scavenge and were
   * promoted (measured: ~25 % of new space surviving each scavenge, 3x the scavenge time).
   */
  private readonly ghostArrivals: Array<GhostSource | undefined> = [];
  private ghostArrivalCount = 0;
  private tickNo = 0;
  /** See warmRings. */
  private warmSum = 0;
  private tickServerTime = 0;
  private countFrames = 0;
  private countFull = 0;
  private countApplied = 0;
  private ghostStamp = 0;
  private lastTickMs = -1;
  private neighbourPlayersAtMs = -Infinity;
  private readonly neighbours: ZoneId[];
  private readonly ghostMargin: number;
  private readonly dtMs: number;
  /** Sent frames kept per player as possible baselines: one second's worth. */
  private readonly historyFrames: number;
  // Reused per tick: nothing below allocates per entity in steady state except wire bytes.
  /** Frames are handed out as views of its memory (encodeFrame's `take`): a slab, not a scratch. */
  private readonly writer = new Writer(16384);
  private readonly scratch = new AoiScratch();
  private readonly candidates = new VisibleSet(256);
  // Reused for every frame: the encoder reads them synchronously and keeps nothing of them.
  private readonly encodeInput: FrameEncodeFlatInput;
  private readonly flatCurrent: FlatFrame = { data: new Int32Array(0), own: 0, rows: 0, count: 0, lastInputSeq: 0 };
  private readonly flatBaseline: FlatFrame = { data: new Int32Array(0), own: 0, rows: 0, count: 0, lastInputSeq: 0 };
  private readonly tmpXY = { x: 0, y: 0 };
  private readonly tmpPose: Pose = { latE7: 0, lonE7: 0, altCm: 0, heading16: 0 };
  private readonly tmpIntent: MoveIntent = { dtMs: 0, east: 0, north: 0, up: 0 };
  /** Per edge, the index in `neighbours` of the zone across it. */
  private readonly edgeNeighbour: Int32Array;
  /** Per neighbour, this tick's ghost entries (GHOST_STRIDE int32s each) and their length. */
  private readonly ghostBufs: Int32Array[];
  private readonly ghostLens: Int32Array;
  /** Edge distances of the entity being placed (see updatePlacement). */
  private readonly edgeScratch: Float64Array;
  /** This tick's batch per gateway, in first-use order (see ghostArrivals for why not a Map). */
  private readonly batchGateways: string[] = [];
  private readonly batchList: Array<GatewayBatch | undefined> = [];
  private batchCount = 0;
  /** The batch batchFor() returned last, while it is in batchList. */
  private lastBatchGateway = '';
  private lastBatch: GatewayBatch | undefined;
  private readonly rng: Rng;

  constructor(id: ZoneId, ctx: ZoneContext) {
    this.id = id;
    this.ctx = ctx;
    this.geometry = new ZoneGeometry(id);
    this.neighbours = [...new Set(this.geometry.neighbourAcrossEdge)];
    this.edgeNeighbour = Int32Array.from(this.geometry.neighbourAcrossEdge, (n) => this.neighbours.indexOf(n));
    this.ghostBufs = this.neighbours.map(() => new Int32Array(GHOST_STRIDE * 64));
    this.ghostLens = new Int32Array(this.neighbours.length);
    this.edgeScratch = new Float64Array(this.geometry.edgeCount);
    const s = ctx.settings;
    // Each grid entry carries its entity's wire row: a frame copies the rows of what a viewer
    // sees straight from the grid's dense array, no lookup by id.
    this.grid = new AoiGrid(s.aoiRadius, SNAPSHOT_STRIDE);
    this.ghostMargin = s.aoiRadius * (1 + s.aoiHysteresis) + s.rules.maxSpeed;
    this.dtMs = 1000 / s.tickRate;
    this.historyFrames = s.tickRate;
    this.rng = new Rng(Number.parseInt(id.slice(-8), 16) ^ Date.now());
    this.encodeInput = { seq: 0, serverTime: 0, zone: id, baselineSeq: 0, take: frameBuffer };
  }

  get playerCount(): number {
    return this.players.size;
  }

  get entityCount(): number {
    return this.owned.size;
  }

  /** A zone with no players in or near it sleeps: it does not tick until woken. */
  isAwake(nowMs: number): boolean {
    return this.players.size > 0 || this.inbox.length > 0 || nowMs - this.neighbourPlayersAtMs < NEIGHBOUR_WAKE_MS;
  }

  /** Nothing owned, nothing pending: the host may drop this zone while it sleeps. */
  get isIdle(): boolean {
    return this.owned.size === 0 && this.inbox.length === 0 && this.tombstones.size === 0 && this.orphans.size === 0;
  }

  // ---- bus endpoint -------------------------------------------------------------------------

  deliver(msg: ZoneMessage): void {
    if (msg.kind === 'ghosts') {
      if (msg.hasPlayers) this.neighbourPlayersAtMs = this.ctx.now();
      const src = this.ghostSource(msg.from);
      if (src.pending === undefined) this.ghostArrivals[this.ghostArrivalCount++] = src;
      src.pending = msg;
      return;
    }
    // A player handed off moments ago: forward now, not at our next tick, so its inputs reach
    // the new owner before that zone's next tick and the player never stalls for a tick.
    const tomb = this.owned.has(msg.entityId) ? undefined : this.tombstones.get(msg.entityId);
    if (tomb) {
      this.ctx.bus.sendToZone(tomb.to, msg);
      this.ctx.metrics.busMessages.inc({ kind: 'forwarded' });
      return;
    }
    this.inbox.push(msg);
  }

  adopt(offer: HandoffOffer): HandoffAnswer {
    const t = offer.entity;
    if (this.owned.has(t.id)) return { accepted: false, reason: `entity ${t.id} already owned by ${this.id}` };
    try {
      this.insertOwned(t);
    } catch (err) {
      this.ctx.logger.error({ err, zone: this.id, entity: t.id }, 'adopt failed');
      return { accepted: false, reason: err instanceof Error ? err.message : String(err) };
    }
    this.tombstones.delete(t.id);
    const orphan = this.orphans.get(t.id);
    if (orphan) {
      this.orphans.delete(t.id);
      for (const m of orphan.msgs) this.inbox.push(m);
    }
    return { accepted: true };
  }

  // ---- tick ---------------------------------------------------------------------------------

  /**
   * One tick at `nowMs`. `nominalMs` is the time this tick was scheduled for on the host's fixed
   * grid (default: now): frames carry it, so their timestamps are evenly spaced whatever the
   * step's lag, and clients can time their inputs to arrive just before the next tick.
   */
  tick(nowMs: number, nominalMs = nowMs): void {
    this.tickServerTime = serverTime32(nominalMs);
    const elapsed = this.lastTickMs < 0 ? this.dtMs : Math.min(nowMs - this.lastTickMs, 1000);
    this.lastTickMs = nowMs;
    this.tickNo++;
    this.drainInbox(nowMs);
    this.expireGhostsAndTombstones(nowMs);
    for (const e of this.players.values()) this.applyInputs(e, nowMs, elapsed);
    for (const e of this.owned.values()) {
      if (e.npc) {
        const intent = e.npc.next(e.pose, this.dtMs);
        stepPoseInto(e.pose, intent, this.ctx.settings.rules, e.pose);
      }
    }
    const leaving = this.updatePlacement();
    this.warmRings();
    for (const e of this.players.values()) {
      const p = e.player!;
      if (p.kicked) continue;
      this.sendFrame(e);
      const c = p.character;
      if (c !== undefined) {
        c.playtimeMs += elapsed;
        if (c.notify >= 0 && c.heldSeq === 0) this.sendCharacter(e, c);
      }
    }
    for (const e of leaving) this.handOff(e.entity, e.to);
    // Counters once per tick rather than once per frame or input.
    const m = this.ctx.metrics;
    if (this.countFrames > 0) m.framesSent.inc(this.countFrames);
    if (this.countFull > 0) m.fullSnapshots.inc(this.countFull);
    if (this.countApplied > 0) m.inputsApplied.inc(this.countApplied);
    this.countFrames = this.countFull = this.countApplied = 0;
  }

  /**
   * Hand this tick's frames, rejects and kicks to the gateways. Separate from tick() so the host
   * can send each zone's frames as soon as that zone is done, and time the simulation alone.
   */
  flush(): void {
    const list = this.batchList;
    for (let i = 0; i < this.batchCount; i++) {
      const b = list[i]!;
      if (b.deliveries.length > 0 || b.kicks.length > 0) this.ctx.bus.sendToGateway(this.batchGateways[i]!, b);
      list[i] = undefined;
    }
    this.batchCount = 0;
    this.lastBatch = undefined;
  }

  private drainInbox(nowMs: number): void {
    const msgs = this.inbox;
    this.inbox = [];
    for (const m of msgs) {
      switch (m.kind) {
        case 'inputs':
          this.onInputs(m, nowMs);
          break;
        case 'leave': {
          const e = this.owned.get(m.entityId);
          if (e) this.playerLeft(e);
          else this.forwardOrHold(m.entityId, m, nowMs);
          break;
        }
        case 'durable':
          this.onDurable(m, nowMs);
          break;
        case 'ghosts':
          this.onGhosts(m);
          break;
      }
    }
    const arrivals = this.ghostArrivals;
    for (let i = 0; i < this.ghostArrivalCount; i++) {
      const src = arrivals[i]!;
      const g = src.pending!;
      src.pending = undefined;
      arrivals[i] = undefined;
      this.onGhosts(g);
    }
    this.ghostArrivalCount = 0;
    if (this.ghostBatchesIn) this.dropUnstampedGhosts();
  }

  private forwardOrHold(id: EntityId, m: ZoneMessage, nowMs: number): void {
    const tomb = this.tombstones.get(id);
    if (tomb) {
      this.ctx.bus.sendToZone(tomb.to, m);
      this.ctx.metrics.busMessages.inc({ kind: 'forwarded' });
      return;
    }
    // The entity may still be on its way here (offer not yet delivered on a networked bus).
    let o = this.orphans.get(id);
    if (!o) this.orphans.set(id, (o = { msgs: [], sinceMs: nowMs }));
    if (o.msgs.length < 64) o.msgs.push(m);
  }

  private onInputs(m: PlayerInputs, nowMs: number): void {
    const e = this.players.get(m.entityId);
    if (!e) return this.forwardOrHold(m.entityId, m, nowMs);
    const p = e.player!;
    // An ack of a frame never sent is forged or corrupt: ignore it rather than trust it.
    if (m.ackFrame > p.ackFrame && m.ackFrame < p.nextFrameSeq) p.ackFrame = m.ackFrame;
    for (const inp of m.inputs) {
      if (inp.seq <= p.lastInputSeq) {
        this.reject(e, inp.seq, RejectReason.StaleSequence);
        continue;
      }
      const pend = p.pending;
      if (pend.length === 0 || pend[pend.length - 1]!.seq < inp.seq) {
        // The usual case: the next input in order.
        if (pend.length >= this.ctx.settings.maxInputsPerSecond) this.reject(e, inp.seq, RejectReason.Rate);
        else pend.push(inp);
        continue;
      }
      // Out of order: insert keeping ascending order; a seq already pending is a replay.
      let i = p.pending.length;
      while (i > 0 && p.pending[i - 1]!.seq > inp.seq) i--;
      if (i > 0 && p.pending[i - 1]!.seq === inp.seq) {
        this.reject(e, inp.seq, RejectReason.StaleSequence);
        continue;
      }
      if (p.pending.length >= this.ctx.settings.maxInputsPerSecond) {
        this.reject(e, inp.seq, RejectReason.Rate);
        continue;
      }
      p.pending.splice(i, 0, inp);
    }
  }

  private applyInputs(e: OwnedEntity, nowMs: number, elapsedMs: number): void {
    const p = e.player!;
    const s = this.ctx.settings;
    const intent = this.tmpIntent;
    p.clock.credit(elapsedMs);
    // Applied inputs leave `pending` after the loop. Nothing below adds to `pending`; kick()
    // empties it and the loop returns at once.
    const pending = p.pending;
    let taken = 0;
    while (taken < pending.length) {
      const inp = pending[taken]!;
      if (inp.seq > p.lastInputSeq + 1) {
        // Wait briefly for the missing seq (it may be in flight via the previous owner).
        if (p.gapSinceMs === 0) p.gapSinceMs = nowMs;
        if (nowMs - p.gapSinceMs < s.inputGapTimeoutMs) break;
        this.ctx.metrics.busMessages.inc({ kind: 'input_gap_skipped' });
      }
      p.gapSinceMs = 0;
      taken++;
      p.lastInputSeq = inp.seq;
      if (nowMs - p.rateWindowStartMs >= 1000) {
        p.rateWindowStartMs = nowMs;
        p.rateWindowCount = 0;
      }
      p.rateWindowCount++;
      if (p.rateWindowCount > s.maxInputsPerSecond) {
        if (p.rateWindowCount > s.maxInputsPerSecond * FLOOD_FACTOR) {
          this.kick(e, KickReason.Flood, `more than ${s.maxInputsPerSecond * FLOOD_FACTOR} inputs per second`);
          return;
        }
        this.reject(e, inp.seq, RejectReason.Rate);
        continue;
      }
      // intentFromWire's arithmetic, into a reused object.
      intent.dtMs = inp.dtMs;
      intent.east = inp.eastCms / 100;
      intent.north = inp.northCms / 100;
      intent.up = inp.upCms / 100;
      const bad = checkIntent(intent, s.rules);
      if (bad !== 0) {
        this.reject(e, inp.seq, bad);
        continue;
      }
      if (!p.clock.spend(intent.dtMs)) {
        this.reject(e, inp.seq, RejectReason.Teleport);
        continue;
      }
      // In place: the pose object is this entity's own (copied on adopt and on transfer).
      stepPoseInto(e.pose, intent, s.rules, e.pose);
      this.countApplied++;
      if (p.character) p.character.dirty |= CharacterDirty.State;
      // Movement stands even when an action is refused: the action is rejected on its own.
      for (const a of inp.actions) {
        const why = p.cooldowns.check(a, nowMs);
        if (why !== 0) {
          this.reject(e, inp.seq, why);
          continue;
        }
        p.cooldowns.use(a, nowMs);
        e.action = a;
        e.actionSeq = (e.actionSeq + 1) & 0xff;
        if (a === FORAGE_ACTION && p.character) this.forage(e, p.character);
      }
    }
    // shift(), not splice() or `length = 0`: both of those allocate (a result array; a new
    // backing store at the next push), for an array that usually holds one input.
    for (; taken > 0; taken--) pending.shift();
  }

  /**
   * Re-project moved entities, refresh their wire rows, find those that left the cell, and
   * publish border ghosts. One pass: each entity's edge distances are used while at hand, so
   * no entity keeps an array of them (one object fewer to fetch per entity per tick).
   */
  private updatePlacement(): Array<{ entity: OwnedEntity; to: ZoneId }> {
    const leaving: Array<{ entity: OwnedEntity; to: ZoneId }> = [];
    const res = this.ctx.settings.zoneResolution;
    const edges = this.edgeScratch;
    this.ghostLens.fill(0);
    for (const e of this.owned.values()) {
      this.place(e);
      // Cheap polygon test first (from the edge distances place() just computed); h3 only near
      // the border, where it decides exactly.
      if (this.geometry.marginFromEdges(edges) < 0.5) {
        const z = zoneOfPose(e.pose, res);
        if (z !== this.id) leaving.push({ entity: e, to: z });
      }
      this.addGhost(e, edges);
    }
    this.publishGhosts();
    return leaving;
  }

  /** Updates the entity's position and wire row in the grid; its edge distances go to edgeScratch. */
  private place(e: OwnedEntity): void {
    this.geometry.plane.projectPose(e.pose, this.tmpXY);
    e.x = this.tmpXY.x;
    e.y = this.tmpXY.y;
    const slot = this.grid.upsert(e.id, e.x, e.y);
    this.geometry.edgeDistances(e.x, e.y, this.edgeScratch);
    writeRow(this.grid.rows, slot * SNAPSHOT_STRIDE, e.id, e.kind, e.pose, e.action, e.actionSeq);
  }

  private handOff(e: OwnedEntity, to: ZoneId): void {
    const transfer = this.toTransfer(e);
    this.removeOwned(e);
    this.tombstones.set(e.id, { to, untilMs: this.ctx.now() + TOMBSTONE_MS });
    this.ctx.bus.offerEntity(to, { from: this.id, entity: transfer }).then(
      (answer) => {
        this.ctx.metrics.handoffs.inc({ result: answer.accepted ? 'accepted' : 'refused' });
        if (!answer.accepted) this.takeBack(transfer, answer.reason);
      },
      (err: unknown) => this.takeBack(transfer, err instanceof Error ? err.message : String(err)),
    );
  }

  /** A refused handoff: keep simulating the entity here rather than lose it. */
  private takeBack(t: EntityTransfer, reason: string): void {
    this.ctx.logger.warn({ zone: this.id, entity: t.id, reason }, 'handoff refused; entity kept');
    this.tombstones.delete(t.id);
    if (!this.owned.has(t.id)) this.insertOwned(t);
  }

  /** Adds the entity to the ghost entries of each neighbour whose border it is near. */
  private addGhost(e: OwnedEntity, edges: Float64Array): void {
    const edgeCount = this.geometry.edgeCount;
    const edgeNeighbour = this.edgeNeighbour;
    const bufs = this.ghostBufs;
    const lens = this.ghostLens;
    const margin = this.ghostMargin;
    for (let i = 0; i < edgeCount; i++) {
      if (edges[i]! < margin) {
        const k = edgeNeighbour[i]!;
        let buf = bufs[k]!;
        const len = lens[k]!;
        // Near a vertex an entity is close to two edges of one neighbour: one entry each.
        if (len >= GHOST_STRIDE && buf[len - GHOST_STRIDE] === e.id) continue;
        if (len + GHOST_STRIDE > buf.length) {
          const grown = new Int32Array(buf.length * 2);
          grown.set(buf);
          buf = bufs[k] = grown;
        }
        buf[len] = e.id;
        buf[len + 1] = e.kind;
        writeOwn(buf, len + 2, e); // then the pose and action, in own-state order
        lens[k] = len + GHOST_STRIDE;
      }
    }
  }

  /** Sends every neighbour this tick's ghost entries (addGhost). */
  private publishGhosts(): void {
    const hasPlayers = this.players.size > 0;
    const bufs = this.ghostBufs;
    const lens = this.ghostLens;
    // Every neighbour's entries in one new array, each batch a view of its part: one backing
    // store a tick instead of one per neighbour. Receivers only read them.
    let total = 0;
    for (let k = 0; k < lens.length; k++) total += lens[k]!;
    const all = total > 0 ? new Int32Array(total) : NO_GHOSTS;
    let at = 0;
    for (let k = 0; k < this.neighbours.length; k++) {
      const len = lens[k]!;
      const buf = bufs[k]!;
      for (let i = 0; i < len; i++) all[at + i] = buf[i]!;
      // Empty batches still matter: they clear the neighbour's ghosts and keep it awake.
      const entities = len > 0 ? all.subarray(at, at + len) : NO_GHOSTS;
      at += len;
      const batch: GhostBatch = { kind: 'ghosts', from: this.id, hasPlayers, entities };
      this.ctx.bus.sendToZone(this.neighbours[k]!, batch);
    }
  }

  private ghostSource(zone: ZoneId): GhostSource {
    let src = this.ghostSources.get(zone);
    if (!src) {
      src = { tag: this.ghostSourceList.length + 1, lastTick: 0, live: false, stamp: 0, pending: undefined };
      this.ghostSources.set(zone, src);
      this.ghostSourceList.push(src);
    }
    return src;
  }

  private onGhosts(m: GhostBatch): void {
    const src = this.ghostSource(m.from);
    src.lastTick = this.tickNo;
    src.live = true;
    // Stamp every ghost in this batch; dropUnstampedGhosts then drops the source's ghosts that
    // were not stamped. Stamps are only compared for equality, so wrapping is harmless (0 is
    // skipped: it means "no batch").
    const stamp = (this.ghostStamp = (this.ghostStamp + 1) | 0 || 1);
    src.stamp = stamp;
    this.ghostBatchesIn = true;
    const tag = src.tag;
    const grid = this.grid;
    const d = m.entities;
    const pose = this.tmpPose;
    const xy = this.tmpXY;
    for (let o = 0; o + GHOST_STRIDE <= d.length; o += GHOST_STRIDE) {
      const id = d[o]!;
      let slot = grid.indexOf(id);
      // An owned entity (source 0) keeps its own state. When the entity changed owner between
      // neighbours, the newest batch speaks for it (and the old source no longer drops it).
      if (slot >= 0 && grid.aux[slot * AUX_STRIDE + GHOST_SOURCE] === 0) continue;
      pose.latE7 = d[o + 2]!;
      pose.lonE7 = d[o + 3]!;
      pose.altCm = d[o + 4]!;
      pose.heading16 = d[o + 5]!;
      this.geometry.plane.projectPose(pose, xy);
      if (slot < 0) slot = grid.insert(id, xy.x, xy.y);
      else grid.moveAt(slot, xy.x, xy.y);
      const aux = grid.aux;
      aux[slot * AUX_STRIDE + GHOST_SOURCE] = tag;
      aux[slot * AUX_STRIDE + GHOST_STAMP] = stamp;
      writeRow(grid.rows, slot * SNAPSHOT_STRIDE, id, d[o + 1]!, pose, d[o + 6]!, d[o + 7]!);
    }
  }

  /**
   * Drops the ghosts of every source that sent a batch this tick but left them out of it. One
   * pass over the grid after all batches, rather than a lookup per ghost of each old batch.
   */
  private dropUnstampedGhosts(): void {
    this.ghostBatchesIn = false;
    const grid = this.grid;
    const list = this.ghostSourceList;
    for (let s = 0; s < grid.size; ) {
      const aux = grid.aux;
      const tag = aux[s * AUX_STRIDE + GHOST_SOURCE]!;
      if (tag !== 0) {
        const stamp = list[tag - 1]!.stamp;
        if (stamp !== 0 && aux[s * AUX_STRIDE + GHOST_STAMP] !== stamp) {
          grid.removeAt(s); // the last entity moved into s: look at s again
          continue;
        }
      }
      s++;
    }
    for (const src of list) src.stamp = 0;
  }

  /** Drops every ghost of the source with this tag. */
  private dropGhostsOf(tag: number): void {
    const grid = this.grid;
    for (let s = 0; s < grid.size; ) {
      if (grid.aux[s * AUX_STRIDE + GHOST_SOURCE] === tag) grid.removeAt(s);
      else s++;
    }
  }

  private expireGhostsAndTombstones(nowMs: number): void {
    for (const src of this.ghostSourceList) {
      if (src.live && this.tickNo - src.lastTick > GHOST_EXPIRY_TICKS) {
        src.live = false;
        this.dropGhostsOf(src.tag);
      }
    }
    for (const [id, t] of this.tombstones) if (t.untilMs < nowMs) this.tombstones.delete(id);
    for (const [id, o] of this.orphans) {
      if (nowMs - o.sinceMs > ORPHAN_MS) {
        this.orphans.delete(id);
        this.ctx.metrics.busMessages.inc({ kind: 'orphan_dropped' }, o.msgs.length);
      }
    }
  }

  // ---- frames -------------------------------------------------------------------------------

  /**
   * Reads, for every player, what sendFrame starts with in its frame ring: the ring order, the
   * last frame's header and its first row. A ring is touched once a tick and is rarely still in
   * cache, and those first reads are a chain of dependent misses (ring, its array, the order,
   * the slot). In this tight loop the CPU runs ahead into the next players while a miss is
   * pending, so the misses of many players overlap instead of each stalling its own sendFrame
   * (measured: ~8 % of the spread world's step). Reading more of the ring here (all the rows,
   * the baseline, the build slot) measured slower.
   */
  private warmRings(): void {
    let sum = 0;
    for (const e of this.players.values()) {
      const p = e.player!;
      const ring = p.history;
      const d = ring.data;
      const last = ring.newest();
      if (last >= 0) sum += ring.countOf(last) + d[ring.rowsAt(last)]!;
    }
    // Kept so the reads above are not optimised away.
    this.warmSum = sum;
  }

  private sendFrame(e: OwnedEntity): void {
    const s = this.ctx.settings;
    const p = e.player!;
    const view: PlayerView = p;
    const ring = view.history;
    const seq = view.nextFrameSeq++;
    const cand = this.candidates;
    // The hysteresis reference is the last frame sent, read where the ring stores it; before
    // this zone sent any, the set the player arrived with.
    const last = ring.newest();
    const count =
      last >= 0
        ? selectVisibleAfter(
            this.grid,
            e.id,
            e.x,
            e.y,
            s.aoiRadius,
            s.aoiHysteresis,
            ring.data,
            ring.rowsAt(last),
            SNAPSHOT_STRIDE,
            ring.countOf(last),
            this.scratch,
            cand,
          )
        : selectVisible(this.grid, e.id, e.x, e.y, s.aoiRadius, s.aoiHysteresis, view.arrived, this.scratch, cand);
    const ids = cand.ids;
    const dists = cand.distances;
    const slots = cand.slots;
    const rows = this.grid.rows;

    // Built in the ring's build slot and committed below: no copy into the ring. That slot is
    // never a stored frame, so it cannot alias the baseline or the previous frame. build() may
    // grow the ring's storage, so every offset is taken after it.
    const curSlot = ring.build(count);
    const baseSlot = view.ackFrame > 0 ? ring.find(view.ackFrame) : -1;
    const prevSlot = ring.find(seq - 1);
    const d = ring.data;
    const ownAt = ring.ownAt(curSlot);
    writeOwn(d, ownAt, e);
    const outAt = ring.rowsAt(curSlot);
    const prevAt = prevSlot >= 0 ? ring.rowsAt(prevSlot) : 0;
    const prevCount = prevSlot >= 0 ? ring.countOf(prevSlot) : 0;
    let pi = 0;
    let n = 0;
    let addsLeft = Math.max(0, Math.floor((s.frameBudget - 48 - prevCount * 3) / ADD_COST_BYTES));
    for (let k = 0; k < count; k++) {
      const id = ids[k]!;
      // Merge-walk the previous frame (both sorted by id) to find this entity's last sent row.
      while (pi < prevCount && d[prevAt + pi * SNAPSHOT_STRIDE]! < id) pi++;
      const wasSent = pi < prevCount && d[prevAt + pi * SNAPSHOT_STRIDE] === id;
      const o = outAt + n * SNAPSHOT_STRIDE;
      if (wasSent && !isDue(id, seq, updateInterval(dists[k]!, s.aoiRadius))) {
        // Far entity not due this frame: repeat what the client last got, costing nothing.
        copyRow(d, prevAt + pi * SNAPSHOT_STRIDE, d, o);
        n++;
        continue;
      }
      if (!wasSent) {
        if (addsLeft === 0) continue; // enters view in a later frame, within the budget
        addsLeft--;
      }
      copyRow(rows, slots[k]! * SNAPSHOT_STRIDE, d, o);
      n++;
    }
    const useBaseline = baseSlot >= 0;
    if (!useBaseline) this.countFull++;
    // The header names the zone in a full snapshot, in the first frame after it changed (the
    // first frame, or a handoff from another zone) and in every frame until the client has
    // acknowledged one of those; otherwise the client takes the zone of its previous frame.
    if (p.lastZoneSent !== this.id) {
      p.lastZoneSent = this.id;
      p.zoneSentSeq = seq;
    }
    const enc = this.encodeInput;
    enc.seq = seq;
    enc.serverTime = this.tickServerTime;
    enc.zone = !useBaseline || p.ackFrame < p.zoneSentSeq ? this.id : '0';
    enc.baselineSeq = useBaseline ? p.ackFrame : 0;
    const cur = this.flatCurrent;
    cur.data = d;
    cur.own = ownAt;
    cur.rows = outAt;
    cur.count = n;
    cur.lastInputSeq = p.lastInputSeq;
    let base: FlatFrame | null = null;
    if (useBaseline) {
      base = this.flatBaseline;
      base.data = d;
      base.own = ring.ownAt(baseSlot);
      base.rows = ring.rowsAt(baseSlot);
      base.count = ring.countOf(baseSlot);
      base.lastInputSeq = ring.lastInputOf(baseSlot);
    }
    const bytes = encodeFrameFlat(this.writer, enc, base, cur);
    ring.commit(seq, n, p.lastInputSeq);
    this.ctx.metrics.visibleEntities.record(n);
    this.countFrames++;
    this.deliver_(p.gatewayId, { entityId: e.id, bytes, droppable: true });
  }

  private reject(e: OwnedEntity, inputSeq: number, reason: RejectReason): void {
    this.ctx.metrics.inputsRejected.inc({ reason: rejectLabel(reason) });
    const bytes = encodeReject({ inputSeq, reason }, { seq: inputSeq, serverTime: serverTime32(this.ctx.now()), zone: this.id });
    this.deliver_(e.player!.gatewayId, { entityId: e.id, bytes, droppable: false });
  }

  private kick(e: OwnedEntity, reason: KickReason, message: string): void {
    const p = e.player!;
    if (p.kicked) return;
    p.kicked = true;
    p.pending.length = 0;
    this.batchFor(p.gatewayId).kicks.push({ entityId: e.id, reason, message } satisfies KickOrder);
  }

  private deliver_(gatewayId: string, d: Delivery): void {
    this.batchFor(gatewayId).deliveries.push(d);
  }

  private batchFor(gatewayId: string): GatewayBatch {
    // Usually every player of a zone is on one gateway: skip the search for a repeat.
    if (gatewayId === this.lastBatchGateway && this.lastBatch !== undefined) return this.lastBatch;
    let b: GatewayBatch | undefined;
    for (let i = 0; i < this.batchCount && b === undefined; i++) {
      if (this.batchGateways[i] === gatewayId) b = this.batchList[i];
    }
    if (b === undefined) {
      b = { zone: this.id, deliveries: [], kicks: [] };
      this.batchGateways[this.batchCount] = gatewayId;
      this.batchList[this.batchCount++] = b;
    }
    this.lastBatchGateway = gatewayId;
    this.lastBatch = b;
    return b;
  }

  // ---- characters ---------------------------------------------------------------------------

  /** Foraging finds an item and teaches the foraging skill. A rare find is saved before it is told. */
  private forage(e: OwnedEntity, c: CharacterTransfer): void {
    const item = forageItem(this.rng);
    const left = addItem(c.sheet.inventory, item, 1);
    grantExperience(c.sheet, SkillId.Foraging, FORAGE_XP);
    c.dirty |= CharacterDirty.State | CharacterDirty.Inventory | CharacterDirty.Skills;
    const found = left === 0 ? { itemId: item.itemId, quantity: 1 } : null;
    // While a rare find waits to be durable, its notice keeps naming it, not a later stone.
    if (c.heldSeq === 0 || c.found === null) c.found = found;
    if (c.notify < 0) c.notify = CharacterCause.Changed;
    const sink = this.ctx.characters;
    if (found && item.rare && sink) {
      const save = this.characterSave(e, c);
      c.heldSeq = save.state.saveSeq;
      c.notify = CharacterCause.Confirmed;
      const msg: CharacterDurable = { kind: 'durable', entityId: e.id, saveSeq: save.state.saveSeq };
      // Addressed to this zone; if the player has moved on, the tombstone forwards it.
      void sink.critical(save).then(() => this.ctx.bus.sendToZone(this.id, msg));
    }
  }

  private onDurable(m: CharacterDurable, nowMs: number): void {
    const e = this.players.get(m.entityId);
    if (!e) return this.forwardOrHold(m.entityId, m, nowMs);
    const c = e.player!.character;
    if (c && c.heldSeq !== 0 && m.saveSeq >= c.heldSeq) c.heldSeq = 0;
  }

  private sendCharacter(e: OwnedEntity, c: CharacterTransfer): void {
    const sh = c.sheet;
    const bytes = encodeCharacter(
      {
        cause: c.notify,
        health: sh.health,
        stamina: sh.stamina,
        level: sh.level,
        experience: sh.experience,
        inventory: sh.inventory,
        skills: sh.skills,
        found: c.found,
      },
      { serverTime: this.tickServerTime, zone: this.id },
    );
    c.notify = -1;
    c.found = null;
    this.deliver_(e.player!.gatewayId, { entityId: e.id, bytes, droppable: false });
  }

  /** Snapshot for persistence: takes the next saveSeq and clears the dirty bits. */
  private characterSave(e: OwnedEntity, c: CharacterTransfer): PlayerSave {
    const sh = c.sheet;
    const save: PlayerSave = {
      state: {
        playerId: c.playerId,
        zone: this.id,
        latE7: e.pose.latE7,
        lonE7: e.pose.lonE7,
        altCm: e.pose.altCm,
        heading16: e.pose.heading16,
        health: sh.health,
        stamina: sh.stamina,
        level: sh.level,
        experience: sh.experience,
        playtimeSeconds: Math.floor(c.playtimeMs / 1000),
        saveSeq: ++c.saveSeq,
      },
    };
    // Copies: the live sheet keeps changing while the save waits for its batch.
    if (c.dirty & CharacterDirty.Inventory) save.inventory = sh.inventory.map((i) => ({ ...i }));
    if (c.dirty & CharacterDirty.Skills) save.skills = sh.skills.map((k) => ({ ...k }));
    c.dirty = 0;
    return save;
  }

  /**
   * Saves of every character changed since it was last collected: the write-behind batch. Runs
   * between ticks, never inside one.
   */
  collectSaves(into: PlayerSave[]): void {
    for (const e of this.players.values()) {
      const c = e.player!.character;
      if (c !== undefined && c.dirty !== 0) into.push(this.characterSave(e, c));
    }
  }

  /** NPCs as records that survive a restart. */
  collectWorldEntities(into: WorldEntityRecord[]): void {
    for (const e of this.owned.values()) {
      if (!e.npc) continue;
      const p = e.pose;
      into.push({ id: e.id, kind: e.kind, zone: this.id, ...p, data: { name: e.name, npc: e.npc.toJSON() } });
    }
  }

  private playerLeft(e: OwnedEntity): void {
    const c = e.player?.character;
    this.removeOwned(e);
    if (c) this.ctx.characters?.left(c.playerId, c.dirty !== 0 ? this.characterSave(e, c) : undefined);
  }

  // ---- ownership ----------------------------------------------------------------------------

  private insertOwned(t: EntityTransfer): void {
    const e: OwnedEntity = {
      id: t.id,
      kind: t.kind,
      name: t.name,
      // Field by field, not a spread: every pose then has the one hidden class of this literal
      // (and of tmpPose), whoever made t.pose. Spread copies took a new class per source (three
      // after a few handoffs), which made the pose reads of place(), writeRow and writeOwn
      // megamorphic (measured: ~10 LoadIC_Megamorphic calls per entity per tick).
      pose: { latE7: t.pose.latE7, lonE7: t.pose.lonE7, altCm: t.pose.altCm, heading16: t.pose.heading16 },
      action: t.action,
      actionSeq: t.actionSeq,
      x: 0,
      y: 0,
      npc: t.npc !== undefined ? NpcBrain.fromJSON(t.npc) : undefined,
      player: undefined,
    };
    if (t.player) {
      const pt = t.player;
      const clock = MoveClock.fromJSON(pt.moveClock);
      e.player = {
        gatewayId: pt.gatewayId,
        sessionId: pt.sessionId,
        lastInputSeq: pt.lastInputSeq,
        pending: pt.pending.slice(),
        gapSinceMs: 0,
        clock,
        cooldowns: ActionCooldowns.fromJSON(pt.cooldowns),
        rateWindowStartMs: pt.rateWindowStartMs,
        rateWindowCount: pt.rateWindowCount,
        history: pt.view.history === null ? new FrameRing(this.historyFrames) : FrameRing.fromJSON(pt.view.history),
        nextFrameSeq: pt.view.nextFrameSeq,
        ackFrame: pt.view.ackFrame,
        arrived: visibleSetOf(pt.view.visible),
        lastZoneSent: pt.view.lastZoneSent,
        zoneSentSeq: pt.view.zoneSentSeq,
        kicked: false,
        character: pt.character ? structuredClone(pt.character) : undefined,
      };
    }
    // An owned entity replaces any ghost of itself that a neighbour published earlier (what is
    // in the grid under its id and not owned is a ghost).
    const ghost = this.grid.indexOf(e.id);
    if (ghost >= 0) this.grid.removeAt(ghost);
    this.owned.set(e.id, e);
    if (e.player) this.players.set(e.id, e);
    this.place(e);
  }

  private removeOwned(e: OwnedEntity): void {
    this.owned.delete(e.id);
    this.players.delete(e.id);
    this.grid.remove(e.id);
  }

  private toTransfer(e: OwnedEntity): EntityTransfer {
    const t: EntityTransfer = {
      id: e.id,
      kind: e.kind,
      name: e.name,
      pose: { ...e.pose },
      action: e.action,
      actionSeq: e.actionSeq,
    };
    if (e.npc) t.npc = e.npc.toJSON();
    if (e.player) {
      const p = e.player;
      t.player = {
        gatewayId: p.gatewayId,
        sessionId: p.sessionId,
        lastInputSeq: p.lastInputSeq,
        pending: p.pending.slice(),
        moveClock: p.clock.toJSON(),
        cooldowns: p.cooldowns.toJSON(),
        rateWindowStartMs: p.rateWindowStartMs,
        rateWindowCount: p.rateWindowCount,
        view: {
          nextFrameSeq: p.nextFrameSeq,
          ackFrame: p.ackFrame,
          history: p.history.toJSON(),
          visible: lastVisible(p),
          lastZoneSent: p.lastZoneSent,
          zoneSentSeq: p.zoneSentSeq,
        },
      };
      // Handed over, not copied: this zone forgets the entity as it goes.
      if (p.character) t.player.character = p.character;
    }
    return t;
  }

  /** Entities and ghosts as plain data, for tests and the ops view. */
  snapshotForTest(): { owned: Array<{ id: EntityId; pose: Pose; kind: EntityKind }>; ghosts: EntityId[] } {
    return {
      owned: [...this.owned.values()].map((e) => ({ id: e.id, pose: { ...e.pose }, kind: e.kind })),
      ghosts: this.ghostIds(),
    };
  }

  private ghostIds(): EntityId[] {
    const ids: EntityId[] = [];
    const grid = this.grid;
    for (let s = 0; s < grid.size; s++) if (grid.aux[s * AUX_STRIDE + GHOST_SOURCE] !== 0) ids.push(grid.idAt(s));
    return ids.sort((a, b) => a - b);
  }

  /** Last input seq applied for a player, or undefined if not owned here. */
  lastInputSeqOf(id: EntityId): number | undefined {
    return this.players.get(id)?.player?.lastInputSeq;
  }
}

/**
 * Copy one snapshot row, unrolled: in a loop V8 re-checked both arrays' maps and reloaded their
 * bounds and data pointers on every int (measured: ~17 instructions per int copied); straight
 * code checks them once. Plain copies beat TypedArray.set + subarray for 8 ints, and allocate nothing.
 */
function copyRow(src: Int32Array, from: number, dst: Int32Array, to: number): void {
  dst[to] = src[from]!;
  dst[to + 1] = src[from + 1]!;
  dst[to + 2] = src[from + 2]!;
  dst[to + 3] = src[from + 3]!;
  dst[to + 4] = src[from + 4]!;
  dst[to + 5] = src[from + 5]!;
  dst[to + 6] = src[from + 6]!;
  dst[to + 7] = src[from + 7]!;
}
/** copyRow copies exactly this many ints: tsc fails here if rows change size. */
const _rowIsEightInts: 8 = SNAPSHOT_STRIDE;

/**
 * A frame is a Buffer view of the zone writer's slab (no copy, no ArrayBuffer per frame), and ws
 * sends a Buffer as is.
 */
const frameBuffer = (buffer: ArrayBuffer, byteOffset: number, length: number): Uint8Array =>
  Buffer.from(buffer, byteOffset, length);

function writeRow(
  q: Int32Array,
  o: number,
  id: number,
  kind: number,
  pose: Pose,
  action: number,
  actionSeq: number,
): void {
  q[o] = id;
  q[o + 1] = kind;
  q[o + 2] = latE7ToE6(pose.latE7);
  q[o + 3] = lonE7ToE6(pose.lonE7);
  q[o + 4] = altCmToDm(pose.altCm);
  q[o + 5] = heading16To8(pose.heading16);
  q[o + 6] = action;
  q[o + 7] = actionSeq;
}

/** Ids of the last frame sent (what the next owner continues hysteresis from). */
function lastVisible(view: PlayerView): number[] {
  const ring = view.history;
  const last = ring.newest();
  if (last < 0) return Array.from(view.arrived.ids.subarray(0, view.arrived.count));
  const d = ring.data;
  const at = ring.rowsAt(last);
  const ids: number[] = [];
  for (let k = 0; k < ring.countOf(last); k++) ids.push(d[at + k * SNAPSHOT_STRIDE]!);
  return ids;
}

function visibleSetOf(ids: number[]): VisibleSet {
  const v = new VisibleSet(Math.max(64, ids.length));
  for (let i = 0; i < ids.length; i++) v.ids[i] = ids[i]!;
  v.count = ids.length;
  return v;
}

/** The entity's own state into a ring slot (FrameRing.ownAt order). */
function writeOwn(d: Int32Array, at: number, e: OwnedEntity): void {
  const pose = e.pose;
  d[at] = pose.latE7;
  d[at + 1] = pose.lonE7;
  d[at + 2] = pose.altCm;
  d[at + 3] = pose.heading16;
  d[at + 4] = e.action;
  d[at + 5] = e.actionSeq;
}

export function serverTime32(nowMs: number): number {
  return Math.floor(nowMs) >>> 0;
}

function rejectLabel(r: RejectReason): string {
  return REJECT_REASON_NAMES[r] ?? 'unknown';
}
