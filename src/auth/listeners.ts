// The onEnded fan-out both Sessions adapters share. A throwing listener is logged (when a logger
// was given) and never stops the others or the adapter.
import type { Logger } from '../ops/log.ts';
import type { SessionEnded } from './sessions.ts';

export class EndedListeners {
  private readonly listeners = new Set<(ended: SessionEnded) => void>();

  constructor(private readonly logger?: Logger) {}

  add(listener: (ended: SessionEnded) => void): { unsubscribe(): void } {
    // Wrapped, so the same function subscribed twice is called twice and unsubscribes separately.
    const entry = (ended: SessionEnded): void => listener(ended);
    this.listeners.add(entry);
    return { unsubscribe: () => void this.listeners.delete(entry) };
  }

  emit(ended: SessionEnded): void {
    for (const listener of [...this.listeners]) {
      try {
        listener({ ...ended });
      } catch (err) {
        this.logger?.error({ err, playerId: ended.playerId, reason: ended.reason }, 'session listener failed');
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
