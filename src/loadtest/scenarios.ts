// The named scenarios of `bluemarble loadtest`: what world each asks of the target, which bots
// it runs with which behaviour, and what must hold for the run to count as working (checks).
// docs/loadtest.md describes what each models.
import { cellToBoundary, cellToLatLng, latLngToCell } from 'h3-js';
import type { BotBehaviour } from '../bots/bots.ts';
import { HOSTILE_KINDS } from '../bots/bots.ts';
import type { Check, LoadtestResult } from './schema.ts';
import type { WorldSpec } from './target.ts';

export const SCENARIO_NAMES = ['spread', 'crowd', 'migrate', 'ramp', 'churn', 'hostile'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(s);
}

/** Where worlds are centred: Paris, as the server's default spawn. */
export const PARIS = { lat: 48.8566, lon: 2.3522 };
/** Spread density, as in `bench sockets`: 1,000 players over 10 km^2. */
const SPREAD_PER_M2 = 1000 / 10e6;

export interface BotGroup {
  role: 'honest' | 'hostile';
  count: number;
  behaviour: BotBehaviour;
}

export interface ScenarioPlan {
  world: WorldSpec;
  /** Reported with the result (spawn, anchor, radii...). */
  worldInfo: Record<string, number | string>;
  groups: BotGroup[];
  rampS: number;
  warmupS: number;
  durationS: number;
}

export interface PlanInput {
  clients: number;
  durationS: number;
  smoke: boolean;
  /** The server's zone resolution (H3), for placing anchors on cells, borders and vertices. */
  zoneResolution: number;
}

export interface ScenarioDef {
  name: ScenarioName;
  /** One line: what it models. */
  description: string;
  defaults: { clients: number; durationS: number };
  smoke: { clients: number; durationS: number };
  plan(input: PlanInput): ScenarioPlan;
  checks(r: LoadtestResult): Check[];
}

export function spreadRadiusM(clients: number): number {
  return Math.sqrt(clients / SPREAD_PER_M2 / Math.PI);
}

function cellCentre(res: number): { lat: number; lon: number } {
  const [lat, lon] = cellToLatLng(latLngToCell(PARIS.lat, PARIS.lon, res));
  return { lat, lon };
}

/** A corner of the zone containing Paris: three zones meet there. */
function cellVertex(res: number): { lat: number; lon: number } {
  const [lat, lon] = cellToBoundary(latLngToCell(PARIS.lat, PARIS.lon, res))[0]!;
  return { lat, lon };
}

function timing(input: PlanInput): { rampS: number; warmupS: number } {
  return input.smoke ? { rampS: 1, warmupS: 1 } : { rampS: Math.min(10, Math.max(2, input.clients / 100)), warmupS: 5 };
}

function world(centre: { lat: number; lon: number }, radiusM: number, clients: number): WorldSpec {
  return { spawnLat: round6(centre.lat), spawnLon: round6(centre.lon), spawnRadiusM: radiusM, npcs: 0, maxPlayers: clients };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

/** Checks every scenario shares: the bots got in, the server was measured, nothing malformed. */
function commonChecks(r: LoadtestResult): Check[] {
  const s = r.summary;
  const measured = r.samples.filter((x) => x.measured && x.tickP99Ms !== null).length;
  return [
    check('bots connected', s.peakConnected >= Math.floor(0.9 * s.clients), `peak ${s.peakConnected} of ${s.clients}`),
    check('server measured', measured > 0, `${measured} measured seconds with server timings`),
    check('frames received', (s.framesPerClientPerS ?? 0) > 0, `${s.framesPerClientPerS ?? '-'} frames per client per second`),
    check('no protocol errors (honest bots)', s.protocolErrors === 0, `${s.protocolErrors}`),
  ];
}

const spread: ScenarioDef = {
  name: 'spread',
  description: 'players scattered over many zones at 1,000 per 10 km², each seeing a dozen others: the everyday world',
  defaults: { clients: 1000, durationS: 30 },
  smoke: { clients: 24, durationS: 4 },
  plan(input) {
    const radius = Math.max(1500, spreadRadiusM(input.clients));
    return {
      world: world(PARIS, radius, input.clients),
      worldInfo: { spawnRadiusM: Math.round(radius), densityPerKm2: Math.round((input.clients / (Math.PI * radius * radius)) * 1e6) },
      groups: [{ role: 'honest', count: input.clients, behaviour: { move: 'wander', anchor: PARIS, tetherM: radius } }],
      durationS: input.durationS,
      ...timing(input),
    };
  },
  checks(r) {
    const zones = r.summary.zones ?? 0;
    return [...commonChecks(r), check('many zones', zones >= 3, `${zones} zones`)];
  },
};

const crowd: ScenarioDef = {
  name: 'crowd',
  description: 'a city: everyone within 250 m of the centre of one zone, wandering into its neighbours, seeing up to everyone',
  defaults: { clients: 400, durationS: 30 },
  smoke: { clients: 24, durationS: 4 },
  plan(input) {
    const centre = cellCentre(input.zoneResolution);
    // The smoke's few dozen bots stand closer, so that they too see (nearly) everyone.
    const radius = input.smoke ? 100 : 250;
    const tether = radius + 50;
    return {
      world: world(centre, radius, input.clients),
      worldInfo: { spawnRadiusM: radius, tetherM: tether, centreLat: round6(centre.lat), centreLon: round6(centre.lon) },
      groups: [{ role: 'honest', count: input.clients, behaviour: { move: 'wander', anchor: centre, tetherM: tether } }],
      durationS: input.durationS,
      ...timing(input),
    };
  },
  checks(r) {
    const s = r.summary;
    const zones = s.zones ?? 0;
    const expectVisible = Math.min(s.clients - 1, 50) * 0.5;
    return [
      ...commonChecks(r),
      check('one zone and its neighbours', zones >= 1 && zones <= 7, `${zones} zones`),
      check('crowded view', (s.visibleAvg ?? 0) >= expectVisible, `${s.visibleAvg ?? '-'} entities in view on average (>= ${expectVisible})`),
    ];
  },
};

const migrate: ScenarioDef = {
  name: 'migrate',
  description: 'streams of players walking back and forth through a corner where three zones meet: handoffs all the time',
  defaults: { clients: 500, durationS: 30 },
  smoke: { clients: 24, durationS: 5 },
  plan(input) {
    const vertex = cellVertex(input.zoneResolution);
    const spawnRadius = input.smoke ? 40 : 150;
    const overshoot = input.smoke ? 25 : 200;
    return {
      world: world(vertex, spawnRadius, input.clients),
      worldInfo: { spawnRadiusM: spawnRadius, overshootM: overshoot, vertexLat: round6(vertex.lat), vertexLon: round6(vertex.lon) },
      groups: [
        {
          role: 'honest',
          count: input.clients,
          behaviour: { move: 'shuttle', anchor: vertex, overshootM: overshoot, spreadM: input.smoke ? 10 : 60 },
        },
      ],
      durationS: input.durationS,
      ...timing(input),
    };
  },
  checks(r) {
    const handoffs = r.serverCounters['handoffs_accepted'] ?? 0;
    const zoneChanges = r.serverCounters['bots_zone_changes'] ?? 0;
    return [
      ...commonChecks(r),
      check('handoffs', handoffs > 0, `${handoffs} handoffs accepted by the server, ${r.summary.handoffsPerS ?? '-'} per second measured`),
      check('bots changed zones', zoneChanges > 0, `${zoneChanges} zone changes seen by the bots`),
      check('no rejects', r.summary.inputsRejected === 0, JSON.stringify(r.summary.rejectsByReason)),
    ];
  },
};

const churn: ScenarioDef = {
  name: 'churn',
  description: 'constant log-ins and log-outs: every player stays a short while, leaves, and comes back as a new session',
  defaults: { clients: 500, durationS: 30 },
  smoke: { clients: 24, durationS: 5 },
  plan(input) {
    const radius = Math.max(1000, spreadRadiusM(input.clients));
    const sessionS = input.smoke ? { min: 1.5, max: 3 } : { min: 10, max: 40 };
    return {
      world: world(PARIS, radius, input.clients),
      worldInfo: { spawnRadiusM: Math.round(radius), sessionMinS: sessionS.min, sessionMaxS: sessionS.max, rejoinGapMs: 500 },
      groups: [{ role: 'honest', count: input.clients, behaviour: { move: 'wander', anchor: PARIS, tetherM: radius, sessionS, rejoinGapMs: 500 } }],
      durationS: input.durationS,
      ...timing(input),
    };
  },
  checks(r) {
    const joins = r.serverCounters['bots_joins'] ?? 0;
    return [
      ...commonChecks(r),
      check('sessions ended and began again', joins > r.summary.clients, `${joins} handshakes by ${r.summary.clients} bots`),
      check('no unexpected disconnects', r.summary.disconnects === 0, `${r.summary.disconnects}`),
    ];
  },
};

/** Share of hostile clients in `hostile`. */
export const HOSTILE_SHARE = 0.25;

const hostile: ScenarioDef = {
  name: 'hostile',
  description: 'a quarter of the clients cheat and attack (speed hacks, replays, floods, garbage frames) among honest players',
  defaults: { clients: 400, durationS: 30 },
  smoke: { clients: 24, durationS: 5 },
  plan(input) {
    const centre = cellCentre(input.zoneResolution);
    const nHostile = Math.max(HOSTILE_KINDS.length, Math.round(input.clients * HOSTILE_SHARE));
    const nHonest = Math.max(1, input.clients - nHostile);
    return {
      world: world(centre, 300, input.clients),
      worldInfo: { spawnRadiusM: 300, hostileShare: HOSTILE_SHARE, hostileClients: nHostile, hostileKinds: HOSTILE_KINDS.join(',') },
      groups: [
        { role: 'honest', count: nHonest, behaviour: { move: 'wander', anchor: centre, tetherM: 350 } },
        { role: 'hostile', count: nHostile, behaviour: { move: 'wander', anchor: centre, tetherM: 350, hostile: HOSTILE_KINDS, rejoinGapMs: 1000 } },
      ],
      durationS: input.durationS,
      ...timing(input),
    };
  },
  checks(r) {
    const s = r.summary;
    const h = r.hostile;
    const kicked = h ? Object.values(h.kicksByReason).reduce((a, b) => a + b, 0) : 0;
    return [
      ...commonChecks(r),
      check('honest players unaffected: no rejects', s.inputsRejected === 0, JSON.stringify(s.rejectsByReason)),
      check('honest players unaffected: no disconnects', s.disconnects === 0, `${s.disconnects}`),
      check('cheats rejected', (h?.inputsRejected ?? 0) > 0, JSON.stringify(h?.rejectsByReason ?? {})),
      check('attackers kicked', kicked > 0, JSON.stringify(h?.kicksByReason ?? {})),
    ];
  },
};

/** `ramp` adds clients in steps until the server no longer holds its tick rate (see runner.ts). */
const ramp: ScenarioDef = {
  name: 'ramp',
  description: 'clients added in steps, spread at 1,000 per 10 km² of a 2 km disk, until the server no longer holds its tick rate',
  defaults: { clients: 5000, durationS: 240 },
  smoke: { clients: 30, durationS: 30 },
  plan(input) {
    const radius = input.smoke ? 500 : 2000;
    return {
      world: world(PARIS, radius, input.clients),
      worldInfo: { spawnRadiusM: radius },
      groups: [{ role: 'honest', count: input.clients, behaviour: { move: 'wander', anchor: PARIS, tetherM: radius } }],
      durationS: input.durationS,
      rampS: 0,
      warmupS: 0,
    };
  },
  checks(r) {
    const o = r.ramp;
    return [
      check('levels measured', (o?.levels.length ?? 0) >= 2, `${o?.levels.length ?? 0} levels`),
      check('stopped by itself', o !== null && o.stoppedBy !== 'aborted', `stopped by ${o?.stoppedBy ?? '-'} after ${o?.elapsedS ?? '-'} s`),
      check('within 5 minutes', r.elapsedS < 300, `${r.elapsedS} s`),
    ];
  },
};

export const SCENARIOS: Record<ScenarioName, ScenarioDef> = { spread, crowd, migrate, ramp, churn, hostile };
