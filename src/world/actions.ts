// Player action definitions and per-player cooldown bookkeeping.

import { ACTIONS, RejectReason } from './types.ts';
import type { ActionDef } from './types.ts';

const BY_ID = new Map<number, ActionDef>(ACTIONS.map((a) => [a.id, a]));

export function actionById(id: number): ActionDef | undefined {
  return BY_ID.get(id);
}

/** Serialised cooldowns: action id -> time (ms, same clock as nowMs) when it is ready again. */
export type ActionCooldownsJSON = Record<string, number>;

/**
 * Per-player cooldowns. Times are absolute ms on the caller's clock; because the state crosses
 * zones on handoff, all zone servers must pass the same clock (wall-clock epoch ms, Date.now()),
 * not a per-process monotonic clock.
 */
export class ActionCooldowns {
  private readonly readyAt = new Map<number, number>();

  /** 0 if the action may be used now; UnknownAction or Cooldown otherwise. */
  check(actionId: number, nowMs: number): RejectReason | 0 {
    if (!BY_ID.has(actionId)) return RejectReason.UnknownAction;
    const t = this.readyAt.get(actionId);
    return t !== undefined && nowMs < t ? RejectReason.Cooldown : 0;
  }

  /** Records a use (call after check returned 0). Unknown ids are ignored. */
  use(actionId: number, nowMs: number): void {
    const def = BY_ID.get(actionId);
    if (def) this.readyAt.set(actionId, nowMs + def.cooldownMs);
  }

  toJSON(): ActionCooldownsJSON {
    const o: ActionCooldownsJSON = {};
    for (const [id, t] of this.readyAt) o[String(id)] = t;
    return o;
  }

  /** Tolerant of junk: unknown ids and non-finite times are dropped. */
  static fromJSON(j: ActionCooldownsJSON): ActionCooldowns {
    const c = new ActionCooldowns();
    for (const [k, t] of Object.entries(j)) {
      const id = Number(k);
      if (BY_ID.has(id) && typeof t === 'number' && Number.isFinite(t)) c.readyAt.set(id, t);
    }
    return c;
  }
}
