// An in-process world driven tick by tick with a fake clock: zones, the in-memory bus and a
// recording stand-in for the gateway that decodes every frame like a client would.
import { MemoryBus } from '../../src/cluster/memory-bus.ts';
import { newPlayerEntity, type GatewayBatch } from '../../src/cluster/messages.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { decodeFrame } from '../../src/protocol/frame.ts';
import { FrameHistory } from '../../src/protocol/history.ts';
import { decodeMessage } from '../../src/protocol/messages.ts';
import { MessageType } from '../../src/protocol/types.ts';
import type { CharacterMessage, FrameDecoded, WireInput } from '../../src/protocol/types.ts';
import type { CharacterSheet } from '../../src/world/character.ts';
import type { EntityId, Pose, ZoneId } from '../../src/world/types.ts';
import { DEFAULT_MOVEMENT_RULES } from '../../src/world/types.ts';
import { zoneOfPose } from '../../src/world/zoning.ts';
import { ZoneHost } from '../../src/zone/host.ts';
import type { CharacterSink, ZoneSettings } from '../../src/zone/zone.ts';

export const GATEWAY = 'gw-test';

/** The zone settings of the tests' worlds: the server's defaults at 20 Hz. */
export function testZoneSettings(overrides: Partial<ZoneSettings> = {}): ZoneSettings {
  return {
    tickRate: 20,
    aoiRadius: 200,
    aoiHysteresis: 0.1,
    frameBudget: 1200,
    rules: DEFAULT_MOVEMENT_RULES,
    maxInputsPerSecond: 40,
    zoneResolution: 8,
    inputGapTimeoutMs: 250,
    moveClockSlackMs: 1000,
    ...overrides,
  };
}

export interface SimPlayer {
  id: EntityId;
  zone: ZoneId;
  history: FrameHistory;
  lastFrame: FrameDecoded | undefined;
  frames: FrameDecoded[];
  /** The zone that sent each of frames (to check the zone each one decodes to). */
  frameSenders: ZoneId[];
  /** Frames whose header named the zone (the rest meant the previous frame's). */
  framesWithZone: number;
  rejects: Array<{ seq: number; reason: number }>;
  kicks: number[];
  characters: CharacterMessage[];
  nextSeq: number;
}

export class Sim {
  readonly bus = new MemoryBus();
  readonly metrics = new Metrics();
  readonly logger = createLogger({ level: process.env.SIM_LOG ?? 'silent' });
  readonly settings: ZoneSettings;
  readonly host: ZoneHost;
  readonly players = new Map<EntityId, SimPlayer>();
  nowMs = 1_000_000;
  private lastId = 0;

  constructor(overrides: Partial<ZoneSettings> = {}, characters?: CharacterSink) {
    this.settings = testZoneSettings(overrides);
    this.bus.onHandlerError = (err) => {
      throw err;
    };
    this.host = new ZoneHost(
      {
        bus: this.bus,
        metrics: this.metrics,
        logger: this.logger,
        settings: this.settings,
        now: () => this.nowMs,
        ...(characters && { characters }),
      },
      this.bus,
    );
    this.host.start({ autoTick: false });
    this.bus.serveGateway(GATEWAY, (b) => this.onBatch(b));
  }

  nextId(): EntityId {
    return ++this.lastId;
  }

  /** With `character`, the player is an account's (its character is kept through the sink). */
  async addPlayer(
    pose: Pose,
    name = 'p',
    character?: { playerId: number; sheet: CharacterSheet; playtimeMs?: number; saveSeq?: number },
  ): Promise<SimPlayer> {
    const id = this.nextId();
    const zone = zoneOfPose(pose, this.settings.zoneResolution);
    const entity = newPlayerEntity({
      id,
      name,
      pose,
      gatewayId: GATEWAY,
      sessionId: `s${id}`,
      moveClockSlackMs: this.settings.moveClockSlackMs,
      ...(character && { character: { playtimeMs: 0, saveSeq: 0, ...character } }),
    });
    const answer = await this.bus.offerEntity(zone, { from: '0', entity });
    if (!answer.accepted) throw new Error(answer.reason);
    const p: SimPlayer = {
      id,
      zone,
      history: new FrameHistory(64),
      lastFrame: undefined,
      frames: [],
      frameSenders: [],
      framesWithZone: 0,
      rejects: [],
      kicks: [],
      characters: [],
      nextSeq: 1,
    };
    this.players.set(id, p);
    return p;
  }

  /** Send inputs the way the gateway does: to the zone that last sent this player a frame. */
  sendInputs(p: SimPlayer, inputs: WireInput[]): void {
    this.bus.sendToZone(p.zone, { kind: 'inputs', entityId: p.id, ackFrame: p.lastFrame?.seq ?? 0, inputs });
  }

  /**
   * Deliver what was sent since the last tick (as a real event loop reads sockets before the
   * timer fires), advance the clock one tick, step every awake zone, and let traffic settle.
   */
  async tick(): Promise<void> {
    await settle();
    this.nowMs += 1000 / this.settings.tickRate;
    this.host.step();
    await settle();
  }

  ownersOf(id: EntityId): ZoneId[] {
    const out: ZoneId[] = [];
    for (const z of this.host.allZones()) if (z.snapshotForTest().owned.some((e) => e.id === id)) out.push(z.id);
    return out;
  }

  private onBatch(b: GatewayBatch): void {
    for (const d of b.deliveries) {
      const p = this.players.get(d.entityId);
      if (!p) continue;
      p.zone = b.zone;
      const msg = decodeMessage(d.bytes);
      if (msg.type === MessageType.Frame) {
        const f = decodeFrame(msg.header, msg.payload, (seq) => p.history.get(seq), p.lastFrame?.zone ?? '0');
        p.history.put(f.seq, f.state);
        p.lastFrame = f;
        p.frames.push(f);
        p.frameSenders.push(b.zone);
        if (msg.header.zone !== '0') p.framesWithZone++;
      } else if (msg.type === MessageType.Character) {
        p.characters.push(msg.body);
      } else if (msg.type === MessageType.Reject) {
        p.rejects.push({ seq: msg.body.inputSeq, reason: msg.body.reason });
      }
    }
    for (const k of b.kicks) this.players.get(k.entityId)?.kicks.push(k.reason);
  }
}

/** Let queued microtasks (bus deliveries, handoff answers) run to completion. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function input(seq: number, eastMs: number, northMs: number, dtMs = 50, actions: number[] = []): WireInput {
  return { seq, dtMs, eastCms: Math.round(eastMs * 100), northCms: Math.round(northMs * 100), upCms: 0, actions };
}
