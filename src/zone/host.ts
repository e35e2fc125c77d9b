// A zone host runs the tick loops of the zones it owns. In the embedded server it also places
// every zone that an entity is offered to; with a networked bus the coordinator decides
// placement instead.
import type { Bus, Subscription } from '../cluster/bus.ts';
import { z } from 'zod';
import type { EntityTransfer } from '../cluster/messages.ts';
import type { PlayerSave, WorldEntityRecord } from '../store/store.ts';
import { destination, poseFromDegrees } from '../world/geo.ts';
import { NpcBrain } from '../world/npc.ts';
import { Rng } from '../world/rng.ts';
import type { EntityId, ZoneId } from '../world/types.ts';
import { EntityKind } from '../world/types.ts';
import { isValidZone, zoneOfPose } from '../world/zoning.ts';
import type { ZoneContext } from './zone.ts';
import { Zone } from './zone.ts';

/** An empty zone asleep this long is forgotten (it is recreated when an entity is offered). */
const IDLE_ZONE_DROP_MS = 30_000;

export interface ZoneHostStats {
  zones: number;
  awake: number;
  sleeping: number;
  players: number;
  entities: number;
  ticks: number;
}

/** Exact percentiles over the most recent steps (prometheus histograms only estimate them). */
export interface StepTimings {
  samples: number;
  /** Sum of the zone ticks of one step: simulation, AOI and encoding, without socket writes. */
  simStepP50Ms: number;
  simStepP99Ms: number;
  /** The whole step: every zone's tick plus handing its frames to the gateway's sockets. */
  stepP50Ms: number;
  stepP99Ms: number;
  stepMaxMs: number;
  zoneTickP99Ms: number;
  lagP99Ms: number;
  /**
   * How much more than one period after the previous step each step started (p99): lateness
   * between neighbouring steps only, without the grid's catching up. An interval timer (a
   * setInterval loop) can only be measured this way; bench:peers compares engines with it.
   */
  gapP99Ms: number;
}

const TIMING_WINDOW = 1200; // one minute at 20 Hz

export class ZoneHost {
  private readonly zones = new Map<ZoneId, Zone>();
  private readonly subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextStepAt = 0;
  private running = false;
  private ticks = 0;
  private readonly periodMs: number;
  private readonly stepMs = new Float64Array(TIMING_WINDOW);
  private readonly simMs = new Float64Array(TIMING_WINDOW);
  private readonly zoneMs = new Float64Array(TIMING_WINDOW * 4);
  private readonly lagMs = new Float64Array(TIMING_WINDOW);
  private readonly gapMs = new Float64Array(TIMING_WINDOW);
  /** When the previous step started (-1: none yet). */
  private prevStepStart = -1;
  private stepCount = 0;
  private zoneTickCount = 0;
  private lastStats: ZoneHostStats = { zones: 0, awake: 0, sleeping: 0, players: 0, entities: 0, ticks: 0 };

  constructor(
    private readonly ctx: ZoneContext,
    private readonly bus: Bus,
  ) {
    this.periodMs = 1000 / ctx.settings.tickRate;
  }

  /**
   * Claim zones on demand and start ticking. With autoTick false nothing ticks until step() is
   * called, which lets tests drive the world with their own clock.
   */
  start(opts: { autoTick?: boolean } = {}): void {
    this.subs.push(this.bus.onUnclaimedZone((zone) => this.claim(zone)));
    this.nextStepAt = this.ctx.now() + this.periodMs;
    if (opts.autoTick === false) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    for (const s of this.claims.values()) s.unsubscribe();
    this.claims.clear();
  }

  zone(id: ZoneId): Zone | undefined {
    return this.zones.get(id);
  }

  allZones(): IterableIterator<Zone> {
    return this.zones.values();
  }

  stats(): ZoneHostStats {
    return this.lastStats;
  }

  /** Percentiles of the last TIMING_WINDOW steps; `reset` starts a new measurement window. */
  timings(opts: { reset?: boolean } = {}): StepTimings {
    const n = Math.min(this.stepCount, TIMING_WINDOW);
    const zn = Math.min(this.zoneTickCount, this.zoneMs.length);
    const steps = Array.from(this.stepMs.subarray(0, n)).sort((a, b) => a - b);
    const zones = Array.from(this.zoneMs.subarray(0, zn)).sort((a, b) => a - b);
    const lags = Array.from(this.lagMs.subarray(0, n)).sort((a, b) => a - b);
    const gaps = Array.from(this.gapMs.subarray(0, n)).sort((a, b) => a - b);
    const sims = Array.from(this.simMs.subarray(0, n)).sort((a, b) => a - b);
    const t: StepTimings = {
      samples: n,
      simStepP50Ms: pct(sims, 0.5),
      simStepP99Ms: pct(sims, 0.99),
      stepP50Ms: pct(steps, 0.5),
      stepP99Ms: pct(steps, 0.99),
      stepMaxMs: steps.length > 0 ? steps[steps.length - 1]! : 0,
      zoneTickP99Ms: pct(zones, 0.99),
      lagP99Ms: pct(lags, 0.99),
      gapP99Ms: pct(gaps, 0.99),
    };
    if (opts.reset) {
      this.stepCount = 0;
      this.zoneTickCount = 0;
    }
    return t;
  }

  /** Every character changed since the last call: the write-behind batch. */
  collectSaves(): PlayerSave[] {
    const out: PlayerSave[] = [];
    for (const z of this.zones.values()) z.collectSaves(out);
    return out;
  }

  /** Server-owned entities (NPCs) as records to keep across restarts. */
  worldEntities(): WorldEntityRecord[] {
    const out: WorldEntityRecord[] = [];
    for (const z of this.zones.values()) z.collectWorldEntities(out);
    return out;
  }

  /**
   * Brings back entities saved by worldEntities(). Records come from disk, so each is checked;
   * a bad one is skipped with a log line rather than trusted. Returns how many were placed.
   */
  async restoreWorldEntities(records: readonly WorldEntityRecord[]): Promise<number> {
    const offers: Array<Promise<boolean>> = [];
    for (const r of records) {
      const entity = npcFromRecord(r);
      if (!entity) {
        this.ctx.logger.warn({ id: r.id, kind: r.kind }, 'world entity record skipped: malformed');
        continue;
      }
      const zone = zoneOfPose(entity.pose, this.ctx.settings.zoneResolution);
      offers.push(this.bus.offerEntity(zone, { from: '0', entity }).then((a) => a.accepted));
    }
    return (await Promise.all(offers)).filter(Boolean).length;
  }

  private readonly claims = new Map<ZoneId, Subscription>();
  private readonly idleSince = new Map<ZoneId, number>();

  private claim(zoneId: ZoneId): boolean {
    if (this.zones.has(zoneId)) return true;
    if (!isValidZone(zoneId)) return false;
    const zone = new Zone(zoneId, this.ctx);
    this.zones.set(zoneId, zone);
    this.claims.set(zoneId, this.bus.claimZone(zoneId, zone));
    return true;
  }

  private drop(zoneId: ZoneId): void {
    this.claims.get(zoneId)?.unsubscribe();
    this.claims.delete(zoneId);
    this.zones.delete(zoneId);
    this.idleSince.delete(zoneId);
  }

  /** Scatter NPCs uniformly (by area) in a disk; each is adopted by the zone containing it. */
  async spawnNpcs(opts: {
    count: number;
    center: { lat: number; lon: number };
    radiusM: number;
    seed: number;
    nextId: () => EntityId;
  }): Promise<number> {
    const rng = new Rng(opts.seed);
    const offers: Array<Promise<boolean>> = [];
    for (let i = 0; i < opts.count; i++) {
      const r = opts.radiusM * Math.sqrt(rng.next());
      const p = destination(opts.center.lat, opts.center.lon, rng.next() * 360, r);
      const pose = poseFromDegrees(p.lat, p.lon, 0, rng.next() * 360);
      const id = opts.nextId();
      const brain = new NpcBrain(opts.seed * 1_000_003 + id, { lat: p.lat, lon: p.lon });
      const entity: EntityTransfer = {
        id,
        kind: EntityKind.Npc,
        name: `npc-${id}`,
        pose,
        action: 0,
        actionSeq: 0,
        npc: brain.toJSON(),
      };
      const zone = zoneOfPose(pose, this.ctx.settings.zoneResolution);
      offers.push(this.bus.offerEntity(zone, { from: '0', entity }).then((a) => a.accepted));
    }
    const results = await Promise.all(offers);
    return results.filter(Boolean).length;
  }

  private schedule(): void {
    if (!this.running) return;
    const delay = Math.max(0, this.nextStepAt - this.ctx.now());
    this.timer = setTimeout(this.onTimer, delay);
  }

  /**
   * The timer's step is stamped with the grid time it was due at, even when the timer fires a
   * little early (timers have whole-ms resolution): frames stay exactly one period apart.
   */
  private readonly onTimer = (): void => this.runStep(this.nextStepAt);

  /** One step now, for tests driving the world by hand; a step run early is stamped now. */
  readonly step = (): void => this.runStep(Math.min(this.nextStepAt, this.ctx.now()));

  /** One scheduler step: tick every awake zone once, then schedule the next on a fixed grid. */
  private runStep(nominal: number): void {
    const m = this.ctx.metrics;
    const start = this.ctx.now();
    const lag = Math.max(0, start - nominal);
    m.tickLag.observe(lag / 1000);
    this.lagMs[this.stepCount % TIMING_WINDOW] = lag;
    this.gapMs[this.stepCount % TIMING_WINDOW] = this.prevStepStart < 0 ? 0 : Math.max(0, start - this.prevStepStart - this.periodMs);
    this.prevStepStart = start;
    let awake = 0;
    let simMs = 0;
    let players = 0;
    let entities = 0;
    for (const zone of this.zones.values()) {
      players += zone.playerCount;
      entities += zone.entityCount;
      if (!zone.isAwake(start)) {
        // Empty sleeping zones cost memory only; they come back when an entity is offered.
        // The grace period keeps a zone placed moments ago (its adoption still queued).
        if (!zone.isIdle) this.idleSince.delete(zone.id);
        else if (!this.idleSince.has(zone.id)) this.idleSince.set(zone.id, start);
        else if (start - this.idleSince.get(zone.id)! > IDLE_ZONE_DROP_MS) this.drop(zone.id);
        continue;
      }
      this.idleSince.delete(zone.id);
      awake++;
      const t0 = this.ctx.now();
      try {
        zone.tick(t0, nominal);
      } catch (err) {
        // A bug in one zone must not stop the world; it is loud in logs and metrics.
        this.ctx.logger.error({ err, zone: zone.id }, 'zone tick failed');
        m.busMessages.inc({ kind: 'zone_tick_error' });
      }
      const zoneMs = this.ctx.now() - t0;
      simMs += zoneMs;
      m.tickDuration.observe(zoneMs / 1000);
      this.zoneMs[this.zoneTickCount++ % this.zoneMs.length] = zoneMs;
      // Send this zone's frames now rather than after every zone has ticked: a player's update
      // leaves as soon as its own zone is done.
      zone.flush();
    }
    this.ticks++;
    const end = this.ctx.now();
    m.stepDuration.observe((end - start) / 1000);
    this.simMs[this.stepCount % TIMING_WINDOW] = simMs;
    this.stepMs[this.stepCount++ % TIMING_WINDOW] = end - start;
    m.zonesActive.set(awake);
    m.entities.set({ kind: 'player' }, players);
    m.entities.set({ kind: 'npc' }, entities - players);
    m.zonesSleeping.set(this.zones.size - awake);
    this.lastStats = {
      zones: this.zones.size,
      awake,
      sleeping: this.zones.size - awake,
      players,
      entities,
      ticks: this.ticks,
    };
    this.nextStepAt += this.periodMs;
    // Fell far behind (machine stalled): skip missed steps instead of bursting to catch up.
    if (end - this.nextStepAt > this.periodMs * 5) this.nextStepAt = end + this.periodMs;
    this.schedule();
  }
}

const finiteNum = z.number().finite();
const npcRecordData = z.object({
  name: z.string().min(1).max(64),
  npc: z.object({
    rng: z.number().int(),
    home: z.object({ lat: finiteNum.min(-90).max(90), lon: finiteNum.min(-180).max(180) }),
    homeRadiusM: finiteNum.positive(),
    speed: finiteNum.nonnegative(),
    headingDeg: finiteNum,
    turnInMs: finiteNum,
    pauseMs: finiteNum,
  }),
});

function npcFromRecord(r: WorldEntityRecord): EntityTransfer | undefined {
  if (r.kind !== EntityKind.Npc || !Number.isInteger(r.id) || r.id < 1 || r.id > 0xffffffff) return undefined;
  const pose = { latE7: r.latE7, lonE7: r.lonE7, altCm: r.altCm, heading16: r.heading16 };
  if (!isValidPose(pose)) return undefined;
  const data = npcRecordData.safeParse(r.data);
  if (!data.success) return undefined;
  return { id: r.id, kind: EntityKind.Npc, name: data.data.name, pose, action: 0, actionSeq: 0, npc: data.data.npc };
}

function isValidPose(p: { latE7: number; lonE7: number; altCm: number; heading16: number }): boolean {
  return (
    Number.isInteger(p.latE7) &&
    Math.abs(p.latE7) <= 900_000_000 &&
    Number.isInteger(p.lonE7) &&
    p.lonE7 >= -1_800_000_000 &&
    p.lonE7 < 1_800_000_000 &&
    Number.isInteger(p.altCm) &&
    Number.isInteger(p.heading16) &&
    p.heading16 >= 0 &&
    p.heading16 <= 0xffff
  );
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
