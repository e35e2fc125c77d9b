// Prometheus metrics. Each Metrics owns its own Registry (never prom-client's global one) so
// several servers can live in one process, as they do in tests.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASON_NAMES } from '../world/types.ts';
import type { RejectReason } from '../world/types.ts';

// Zone ticks are expected to take well under a millisecond to a few; 50 ms at 20 Hz is a full budget.
const TICK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
// A step runs every due zone, so it can legitimately be longer than one zone tick.
const STEP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];
// Lag grows without bound under overload; the top buckets show how far behind the loop fell.
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const VISIBLE_BUCKETS = [0, 1, 5, 10, 25, 50, 100, 200, 500];

type HistogramReading = Awaited<ReturnType<Histogram['get']>>;
/** prom-client's reader behind both get() and the registry's text output (absent from its typings). */
const readHistogram = (Histogram.prototype as unknown as { getForPromString(this: Histogram): Promise<HistogramReading> })
  .getForPromString;

/**
 * A label-less histogram for values observed in hot loops (once per client per tick): record(v)
 * is a bucket increment in a typed array, without observe()'s label hashing and validation.
 * Every read adds those counts to what observe() stored, so /metrics shows exactly what
 * observing each value would have.
 */
export class FastHistogram extends Histogram {
  private readonly metricName: string;
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last one counts values above every bound (+Inf only). */
  private readonly counts: Float64Array | undefined;
  private fastSum = 0;
  private fastCount = 0;
  /** After reset() prom-client holds no series until the next observe(); record() makes one. */
  private needsSeries = false;

  constructor(config: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    super(config);
    this.metricName = config.name;
    this.bounds = Float64Array.from(config.buckets);
    this.counts = new Float64Array(config.buckets.length + 1);
  }

  record(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (this.needsSeries) {
      this.needsSeries = false;
      this.zero({});
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts![i]!++;
    this.fastSum += value;
    this.fastCount++;
  }

  override reset(): void {
    super.reset();
    // The base constructor calls reset() before this class's fields exist.
    if (this.counts === undefined) return;
    this.counts.fill(0);
    this.fastSum = 0;
    this.fastCount = 0;
    this.needsSeries = true;
  }

  /** What the registry reads for /metrics; get() reads it too. */
  async getForPromString(): Promise<HistogramReading> {
    const data = await readHistogram.call(this);
    const counts = this.counts;
    if (this.fastCount === 0 || counts === undefined) return data;
    const bucket = `${this.metricName}_bucket`;
    for (const v of data.values) {
      if (v.metricName === bucket) {
        const le = v.labels['le'];
        let below = 0;
        if (le === '+Inf') below = this.fastCount;
        else for (let i = 0; i < this.bounds.length && this.bounds[i]! <= Number(le); i++) below += counts[i]!;
        v.value += below;
      } else if (v.metricName === `${this.metricName}_sum`) {
        v.value += this.fastSum;
      } else if (v.metricName === `${this.metricName}_count`) {
        v.value += this.fastCount;
      }
    }
    return data;
  }
}

/**
 * A label-less counter for hot paths (once per message): add(n) bumps a plain number, and every
 * read folds it in first (prom-client calls `collect` before reading), so /metrics is exact.
 */
export class FastCounter extends Counter {
  private pending = 0;

  constructor(config: { name: string; help: string; registers: Registry[] }) {
    super({
      ...config,
      collect(this: Counter) {
        (this as FastCounter).fold();
      },
    });
  }

  add(n: number): void {
    this.pending += n;
  }

  private fold(): void {
    if (this.pending === 0) return;
    const n = this.pending;
    this.pending = 0;
    this.inc(n);
  }
}

/** Label value for an input rejection code; unknown codes share one label to bound cardinality. */
export function rejectReasonLabel(code: number): string {
  return Object.hasOwn(REJECT_REASON_NAMES, code) ? REJECT_REASON_NAMES[code as RejectReason] : 'unknown';
}

export class Metrics {
  readonly registry: Registry;

  readonly playersConnected: Gauge;
  readonly tickDuration: Histogram;
  readonly stepDuration: Histogram;
  readonly tickLag: Histogram;
  readonly bytesSent: FastCounter;
  readonly bytesReceived: FastCounter;
  readonly messagesSent: FastCounter;
  readonly messagesReceived: FastCounter;
  readonly inputsApplied: Counter;
  readonly inputsRejected: Counter<'reason'>;
  readonly visibleEntities: FastHistogram;
  readonly framesSent: Counter;
  readonly framesSkipped: Counter;
  readonly fullSnapshots: Counter;
  readonly zonesActive: Gauge;
  readonly zonesSleeping: Gauge;
  readonly entities: Gauge<'kind'>;
  readonly handoffs: Counter<'result'>;
  readonly connectionsOpened: Counter;
  readonly connectionsClosed: Counter<'reason'>;
  readonly protocolErrors: Counter<'code'>;
  readonly busMessages: Counter<'kind'>;

  /**
   * processMetrics: Node's default process metrics (CPU, memory, event loop). Off for a zone
   * thread, whose registry is merged into the main thread's: the process is counted once.
   */
  constructor(opts: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
    const registers = [registry];

    this.playersConnected = new Gauge({
      name: 'bluemarble_players_connected',
      help: 'Players with a completed handshake.',
      registers,
    });
    this.tickDuration = new Histogram({
      name: 'bluemarble_zone_tick_seconds',
      help: 'Duration of one zone tick.',
      buckets: TICK_BUCKETS,
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'bluemarble_world_step_seconds',
      help: 'Duration of one scheduler step (all due zones).',
      buckets: STEP_BUCKETS,
      registers,
    });
    this.tickLag = new Histogram({
      name: 'bluemarble_tick_lag_seconds',
      help: 'How late a scheduler step started compared with its schedule.',
      buckets: LAG_BUCKETS,
      registers,
    });
    this.bytesSent = new FastCounter({
      name: 'bluemarble_bytes_sent_total',
      help: 'Bytes sent to clients.',
      registers,
    });
    this.bytesReceived = new FastCounter({
      name: 'bluemarble_bytes_received_total',
      help: 'Bytes received from clients.',
      registers,
    });
    this.messagesSent = new FastCounter({
      name: 'bluemarble_messages_sent_total',
      help: 'Messages sent to clients.',
      registers,
    });
    this.messagesReceived = new FastCounter({
      name: 'bluemarble_messages_received_total',
      help: 'Messages received from clients.',
      registers,
    });
    this.inputsApplied = new Counter({
      name: 'bluemarble_inputs_applied_total',
      help: 'Client inputs applied to the world.',
      registers,
    });
    this.inputsRejected = new Counter({
      name: 'bluemarble_inputs_rejected_total',
      help: 'Client inputs refused, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.visibleEntities = new FastHistogram({
      name: 'bluemarble_visible_entities',
      help: 'Entities visible to one client in one frame.',
      buckets: VISIBLE_BUCKETS,
      registers,
    });
    this.framesSent = new Counter({
      name: 'bluemarble_frames_sent_total',
      help: 'State frames sent to clients.',
      registers,
    });
    this.framesSkipped = new Counter({
      name: 'bluemarble_frames_skipped_total',
      help: 'State frames skipped because the socket send buffer was full (backpressure).',
      registers,
    });
    this.fullSnapshots = new Counter({
      name: 'bluemarble_full_snapshots_total',
      help: 'Full (non-delta) snapshots sent to clients.',
      registers,
    });
    this.zonesActive = new Gauge({
      name: 'bluemarble_zones_active',
      help: 'Zones currently ticking.',
      registers,
    });
    this.zonesSleeping = new Gauge({
      name: 'bluemarble_zones_sleeping',
      help: 'Zones loaded but asleep (no players nearby).',
      registers,
    });
    this.entities = new Gauge({
      name: 'bluemarble_entities',
      help: 'Entities in the world, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.handoffs = new Counter({
      name: 'bluemarble_handoffs_total',
      help: 'Entity handoffs between zones, by result.',
      labelNames: ['result'],
      registers,
    });
    this.connectionsOpened = new Counter({
      name: 'bluemarble_connections_opened_total',
      help: 'WebSocket connections accepted.',
      registers,
    });
    this.connectionsClosed = new Counter({
      name: 'bluemarble_connections_closed_total',
      help: 'WebSocket connections closed, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'bluemarble_protocol_errors_total',
      help: 'Malformed or unexpected client messages, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.busMessages = new Counter({
      name: 'bluemarble_bus_messages_total',
      help: 'Messages on the internal zone bus, by kind.',
      labelNames: ['kind'],
      registers,
    });

    // Start every known rejection reason at 0 so rate() queries work before the first rejection.
    for (const name of Object.values(REJECT_REASON_NAMES)) this.inputsRejected.inc({ reason: name }, 0);
  }

  /** Prometheus content type matching text(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** All metrics in Prometheus text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
