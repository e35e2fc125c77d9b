// Walking players without sockets, for the in-process scenarios (`tick`, `save-tick`): the zone
// settings they share, and a stand-in gateway that keeps per player what a gateway keeps per
// connection, acknowledges frames as a client does (so frames are deltas, as in production) and
// sends one input per player per tick.
import type { Bus } from '../src/cluster/bus.ts';
import { newPlayerEntity, type GatewayBatch } from '../src/cluster/messages.ts';
import { headerSeqOf, headerTypeOf } from '../src/protocol/messages.ts';
import { MessageType, type WireInput } from '../src/protocol/types.ts';
import { destination, poseFromDegrees } from '../src/world/geo.ts';
import type { Rng } from '../src/world/rng.ts';
import { DEFAULT_MOVEMENT_RULES, type ZoneId } from '../src/world/types.ts';
import { zoneOfPose } from '../src/world/zoning.ts';
import type { ZoneSettings } from '../src/zone/zone.ts';

export const BENCH_GATEWAY = 'gw-bench';
export const BENCH_TICK_RATE = 20;

/** The embedded server's defaults at 20 Hz and a 200 m area of interest. */
export function benchZoneSettings(): ZoneSettings {
  return {
    tickRate: BENCH_TICK_RATE,
    aoiRadius: 200,
    aoiHysteresis: 0.1,
    frameBudget: 1200,
    rules: DEFAULT_MOVEMENT_RULES,
    maxInputsPerSecond: 2 * BENCH_TICK_RATE,
    zoneResolution: 8,
    inputGapTimeoutMs: 250,
    moveClockSlackMs: 1000,
  };
}

/** Walkers turn on average every 5 s. */
const TURN_CHANCE = 1 / (5 * BENCH_TICK_RATE);

/** Players 1..n, indexed by entity id. */
export class Walkers {
  readonly zoneOf: ZoneId[];
  readonly ack: Uint32Array;
  private readonly seq: Uint32Array;
  private readonly east: Float64Array;
  private readonly north: Float64Array;
  /** Kicked players: no more inputs. */
  private readonly gone: Uint8Array;
  bytes = 0;
  rejects = 0;
  kicks = 0;
  private readonly speed = 0.75 * DEFAULT_MOVEMENT_RULES.maxSpeed;

  constructor(
    private readonly bus: Bus,
    readonly n: number,
    private readonly rng: Rng,
  ) {
    this.zoneOf = new Array<ZoneId>(n + 1).fill('0');
    this.ack = new Uint32Array(n + 1);
    this.seq = new Uint32Array(n + 1);
    this.east = new Float64Array(n + 1);
    this.north = new Float64Array(n + 1);
    this.gone = new Uint8Array(n + 1);
    bus.serveGateway(BENCH_GATEWAY, (b: GatewayBatch) => {
      for (const d of b.deliveries) {
        this.bytes += d.bytes.byteLength;
        this.zoneOf[d.entityId] = b.zone;
        const type = headerTypeOf(d.bytes);
        if (type === MessageType.Frame) {
          // The header seq is the frame seq, which the client acks.
          this.ack[d.entityId] = headerSeqOf(d.bytes);
        } else if (type === MessageType.Reject) {
          this.rejects++;
        }
      }
      for (const k of b.kicks) {
        this.kicks++;
        this.gone[k.entityId] = 1;
      }
    });
  }

  private turn(id: number): void {
    const h = this.rng.next() * 2 * Math.PI;
    this.east[id] = Math.sin(h) * this.speed;
    this.north[id] = Math.cos(h) * this.speed;
  }

  /**
   * Offers every player to its zone, spread uniformly (by area) over a disk. `character` gives an
   * account's character to player `id` (so it is saved), or nothing for a guest.
   */
  async spawn(o: {
    center: { lat: number; lon: number };
    radiusM: number;
    settings: ZoneSettings;
    character?: (id: number) => Parameters<typeof newPlayerEntity>[0]['character'];
  }): Promise<void> {
    const offers: Array<Promise<{ accepted: boolean }>> = [];
    for (let id = 1; id <= this.n; id++) {
      const p = destination(o.center.lat, o.center.lon, this.rng.next() * 360, o.radiusM * Math.sqrt(this.rng.next()));
      const pose = poseFromDegrees(p.lat, p.lon, 0, this.rng.next() * 360);
      this.zoneOf[id] = zoneOfPose(pose, o.settings.zoneResolution);
      this.turn(id);
      const character = o.character?.(id);
      const entity = newPlayerEntity({
        id,
        name: `p${id}`,
        pose,
        gatewayId: BENCH_GATEWAY,
        sessionId: `s${id}`,
        moveClockSlackMs: o.settings.moveClockSlackMs,
        ...(character && { character }),
      });
      offers.push(this.bus.offerEntity(this.zoneOf[id]!, { from: '0', entity }));
    }
    const refused = (await Promise.all(offers)).filter((a) => !a.accepted).length;
    if (refused > 0) throw new Error(`${refused} of ${this.n} players refused at spawn`);
  }

  /** One input per player (not kicked), acknowledging the last frame it got. */
  sendInputs(dtMs: number): void {
    for (let id = 1; id <= this.n; id++) {
      if (this.gone[id]) continue;
      if (this.rng.next() < TURN_CHANCE) this.turn(id);
      const input: WireInput = {
        seq: ++this.seq[id]!,
        dtMs,
        eastCms: Math.round(this.east[id]! * 100),
        northCms: Math.round(this.north[id]! * 100),
        upCms: 0,
        actions: [],
      };
      this.bus.sendToZone(this.zoneOf[id]!, { kind: 'inputs', entityId: id, ackFrame: this.ack[id]!, inputs: [input] });
    }
  }
}
