// Public surface of the shared world rules. zoning.ts is deliberately not re-exported: it pulls
// in h3-js (a large compiled-from-C bundle) that the browser client must not carry.
export * from './types.ts';
export * from './geo.ts';
export * from './movement.ts';
export * from './actions.ts';
export * from './npc.ts';
export * from './rng.ts';
