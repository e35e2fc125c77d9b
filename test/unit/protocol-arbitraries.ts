// Shared fast-check generators for the protocol tests (not a test file itself).
import fc from 'fast-check';
import type { CharacterMessage, Hello, InputMessage, Kick, OwnState, Ping, Pong, Reject, Welcome } from '../../src/protocol/types.ts';
import type { InventoryItem, SkillRecord } from '../../src/world/character.ts';

const utf8Len = (s: string): number => new TextEncoder().encode(s).length;
const str = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength: min, maxLength: max }).filter((s) => {
    const n = utf8Len(s);
    return n >= min && n <= max;
  });

/** Plain-prototype records, so deepStrictEqual against decoded objects works. */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

export const u8 = fc.integer({ min: 0, max: 255 });
export const u16 = fc.integer({ min: 0, max: 65535 });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
export const zone = fc.oneof(
  fc.constant('0'),
  fc.constant('8828308281fffff'),
  fc.tuple(u32, u32).map(([lo, hi]) => (hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0'))),
);
export const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });
export const finiteFloat = fc.float({ noNaN: true, noDefaultInfinity: true });

export const ownState: fc.Arbitrary<OwnState> = rec({
  latE7: fc.integer({ min: -900_000_000, max: 900_000_000 }),
  lonE7: fc.integer({ min: -1_800_000_000, max: 1_799_999_999 }),
  altCm: i32,
  heading16: u16,
  action: u8,
  actionSeq: u8,
});

export const hello: fc.Arbitrary<Hello> = fc
  .record({ a: fc.integer({ min: 1, max: 255 }), b: fc.integer({ min: 1, max: 255 }), name: str(1, 32), token: str(0, 256) })
  .map(({ a, b, name, token }) => ({ minVersion: Math.min(a, b), maxVersion: Math.max(a, b), name, token }));

export const input: fc.Arbitrary<InputMessage> = fc
  .record({
    ackFrame: u32,
    first: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 0xffffffff - 8 })),
    inputs: fc.array(
      rec({
        dtMs: u16,
        eastCms: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        northCms: fc.integer({ min: -1000, max: 1000 }),
        upCms: fc.integer(),
        actions: fc.array(u8, { maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ ackFrame, first, inputs }) => ({ ackFrame, inputs: inputs.map((x, i) => ({ seq: first + i, ...x })) }));

export const ping: fc.Arbitrary<Ping> = rec({ seq: u32, clientTime: finiteDouble });
export const pong: fc.Arbitrary<Pong> = rec({ seq: u32, clientTime: finiteDouble, serverTime: finiteDouble });
export const reject: fc.Arbitrary<Reject> = rec({ inputSeq: u32, reason: u8 });
export const kick: fc.Arbitrary<Kick> = rec({ reason: u8, message: str(0, 200) });
export const welcome: fc.Arbitrary<Welcome> = rec({
  version: fc.integer({ min: 1, max: 255 }),
  entityId: fc.integer({ min: 1, max: 0xffffffff }),
  tickRate: fc.integer({ min: 1, max: 255 }),
  aoiRadius: finiteFloat,
  maxSpeed: finiteFloat,
  maxVerticalSpeed: finiteFloat,
  speedTolerance: finiteFloat,
  maxInputDtMs: u16,
  maxInputsPerSecond: u16,
  minAltCm: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  altSpan: fc.integer({ min: 0, max: 0xffffffff }),
  nextInputSeq: u32,
  own: ownState,
  sessionId: str(0, 64),
}).map(({ altSpan, ...w }) => ({ ...w, maxAltCm: Math.min(0x7fffffff, w.minAltCm + altSpan) }));

/** A 0..1 fraction already on the wire's 1/255 grid, so it round-trips exactly. */
export const fraction255 = fc.integer({ min: 0, max: 255 }).map((k) => k / 255);
const id32 = fc.integer({ min: 1, max: 0xffffffff });
const experience = fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

export const inventoryItem: fc.Arbitrary<InventoryItem> = rec({
  slot: u8,
  itemId: fc.oneof(fc.integer({ min: 1, max: 5 }), id32),
  quantity: fc.oneof(fc.integer({ min: 0, max: 99 }), u32),
  durability: fraction255,
  quality: fraction255,
});

export const skillRecord: fc.Arbitrary<SkillRecord> = rec({
  skillId: fc.oneof(fc.integer({ min: 1, max: 10 }), id32),
  level: u16,
  experience,
});

/** Wire-exact CHARACTER bodies: whole health/stamina, quantised fractions, sorted unique slots/ids. */
export const character: fc.Arbitrary<CharacterMessage> = rec({
  cause: fc.oneof(fc.integer({ min: 0, max: 2 }), u8),
  health: u16,
  stamina: u16,
  level: u16,
  experience,
  inventory: fc
    .uniqueArray(inventoryItem, { maxLength: 64, selector: (i) => i.slot })
    .map((items) => items.sort((a, b) => a.slot - b.slot)),
  skills: fc
    .uniqueArray(skillRecord, { maxLength: 64, selector: (s) => s.skillId })
    .map((skills) => skills.sort((a, b) => a.skillId - b.skillId)),
  found: fc.option(rec({ itemId: id32, quantity: u32 }), { nil: null }),
});
