// Composition of accounts and persistence: picks the adapters from the validated config (SQLite
// and in-process sessions by default; PostgreSQL and Redis when configured) and wires them into
// what the gateway and the zones need. Only the CLI knows every adapter.
import type { Registry } from 'prom-client';
import { AuthService } from '../auth/accounts.ts';
import { MemoryLoginLimiter, RedisLoginLimiter, type LoginLimiter } from '../auth/limiter.ts';
import { MemorySessions } from '../auth/memory-sessions.ts';
import { RedisSessions } from '../auth/redis-sessions.ts';
import { authRoutes } from '../auth/routes.ts';
import type { Sessions } from '../auth/sessions.ts';
import type { PlayerDirectory } from '../gateway/gateway.ts';
import { sendJson, type HttpRoute } from '../ops/http.ts';
import type { Logger } from '../ops/log.ts';
import type { ServerConfig } from '../ops/config.ts';
import { TieredCache, type SharedCache } from '../store/cache.ts';
import { openStore } from '../store/open.ts';
import { RedisCache } from '../store/redis-cache.ts';
import type { ItemDefinition, PlayerRecord, PlayerSave, Store } from '../store/store.ts';
import { WriteBehind } from '../store/write-behind.ts';
import type { CharacterSink } from '../zone/zone.ts';

/** L1 sizes: a profile is ~1 KB, so 20,000 of them is ~20 MB per process. */
const PROFILE_L1 = { max: 20_000, ttlMs: 10 * 60_000 };
const ITEM_L1 = { max: 10_000, ttlMs: 60 * 60_000 };
const L2_TTL_MS = 30 * 60_000;

export interface Persistence {
  store: Store;
  sessions: Sessions;
  auth: AuthService;
  profiles: TieredCache<PlayerRecord>;
  items: TieredCache<ItemDefinition>;
  writeBehind: WriteBehind;
  directory: PlayerDirectory;
  routes: HttpRoute[];
  /** What the zones hand characters to; `departed` tells the gateway a player's entity is gone. */
  characterSink(departed: (playerId: number) => void): CharacterSink;
  /** Starts the write-behind timer once the zones exist to collect from. */
  start(collect: () => PlayerSave[] | Promise<PlayerSave[]>): void;
  /** Writes everything still changed, then closes connections. */
  close(): Promise<void>;
}

export async function openPersistence(config: ServerConfig, logger: Logger, registry: Registry): Promise<Persistence> {
  const p = config.persistence;
  const log = logger.child({ part: 'persistence' });
  const store = await openStore({ db: p.db, dataDir: config.dataDir, logger: log });
  const opened: Array<{ close(): unknown }> = [store];
  try {
    const idleMs = p.sessionIdleMs;
    let sessions: Sessions;
    let limiter: LoginLimiter;
    let l2: SharedCache | undefined;
    if (p.redis !== '') {
      const rs = new RedisSessions({ url: p.redis, prefix: p.redisPrefix, idleMs, logger: log });
      opened.push(rs);
      await rs.ready; // an unreachable Redis fails the start, not the first login
      sessions = rs;
      const rl = new RedisLoginLimiter({ url: p.redis, prefix: p.redisPrefix });
      opened.push(rl);
      limiter = rl;
      const rc = new RedisCache({ url: p.redis, prefix: `${p.redisPrefix}cache:`, log });
      opened.push(rc);
      await rc.ready();
      l2 = rc;
    } else {
      sessions = new MemorySessions({ idleMs, logger: log });
      opened.push(sessions);
      limiter = new MemoryLoginLimiter();
    }

    // Both caches share the tiers; only what they hold and how a miss is loaded differ.
    const tiered = <T>(space: 'player' | 'item', l1: { max: number; ttlMs: number }, load: (id: number) => Promise<T | undefined>) =>
      new TieredCache<T>({ space, l1, ...(l2 && { l2, l2TtlMs: L2_TTL_MS }), load: (key) => load(Number(key)), registry, log });
    const profiles = tiered<PlayerRecord>('player', PROFILE_L1, (id) => store.loadPlayer(id));
    const items = tiered<ItemDefinition>('item', ITEM_L1, (id) => store.itemDefinition(id));
    // A new account's profile is known without asking the database: write it through, so the
    // first login finds it in the cache.
    const auth = new AuthService({
      store,
      sessions,
      limiter,
      logger: log,
      registry,
      idleMs,
      onRegistered: ({ playerId, username }) =>
        void profiles.set(String(playerId), { playerId, username, state: null, inventory: [], skills: [] }),
    });
    let collect: () => PlayerSave[] | Promise<PlayerSave[]> = () => [];
    const writeBehind = new WriteBehind({
      store,
      collect: () => collect(),
      intervalMs: p.saveIntervalMs,
      logger: log,
      registry,
      onSaved: (saves) => writeThrough(profiles, saves),
    });
    const directory: PlayerDirectory = {
      authenticate: (token) => auth.authenticate(token),
      keepAlive: async (tokenHash) => (await sessions.touch(tokenHash, Date.now())) !== undefined,
      loadCharacter: async (playerId) => {
        // A player who just left may still have a save on its way: never load behind it.
        await writeBehind.whenSaved(playerId);
        return profiles.get(String(playerId));
      },
      onSessionEnded: (listener) => sessions.onEnded(listener),
    };
    const routes: HttpRoute[] = [...authRoutes(auth), ...gameRoutes(profiles, items, store)];
    return {
      store,
      sessions,
      auth,
      profiles,
      items,
      writeBehind,
      directory,
      routes,
      characterSink: (departed) => ({
        left(playerId, save) {
          writeBehind.left(playerId, save);
          departed(playerId);
        },
        critical: (save) => writeBehind.critical(save),
      }),
      start(c) {
        collect = c;
        writeBehind.start();
      },
      async close() {
        const r = await writeBehind.close();
        log.info({ written: r.written, failed: r.failed }, 'final character batch written');
        auth.close();
        profiles.close();
        items.close();
        for (const o of opened.reverse()) await o.close();
      },
    };
  } catch (err) {
    for (const o of opened.reverse()) await Promise.resolve(o.close()).catch(() => undefined);
    throw err;
  }
}

/**
 * After a commit: the cached profile takes the saved state (write-through). A profile not in this
 * process's L1 is invalidated instead, so no tier keeps an older copy.
 */
function writeThrough(profiles: TieredCache<PlayerRecord>, saves: readonly PlayerSave[]): void {
  for (const save of saves) {
    const key = String(save.state.playerId);
    const cur = profiles.peek(key);
    if (!cur) {
      void profiles.invalidate(key);
      continue;
    }
    void profiles.set(key, {
      ...cur,
      state: save.state,
      inventory: save.inventory ?? cur.inventory,
      skills: save.skills ?? cur.skills,
    });
  }
}

const ID_RE = /^[1-9]\d{0,9}$/;

/** Read-only game data for clients: item definitions and public player profiles, served from cache. */
function gameRoutes(profiles: TieredCache<PlayerRecord>, items: TieredCache<ItemDefinition>, store: Store): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/items',
      handle: async (_req, res) => {
        const defs = await store.itemDefinitions();
        sendJson(res, 200, { items: defs }, { 'Cache-Control': 'max-age=60' });
      },
    },
    {
      method: 'GET',
      path: '/api/items/:id',
      handle: async (_req, res, params) => {
        const id = params?.id ?? '';
        const def = ID_RE.test(id) ? await items.get(id) : undefined;
        if (!def) return sendJson(res, 404, { error: 'not_found', message: `no item with id ${JSON.stringify(id)}` });
        sendJson(res, 200, def, { 'Cache-Control': 'max-age=60' });
      },
    },
    {
      method: 'GET',
      path: '/api/players/:id',
      handle: async (_req, res, params) => {
        const id = params?.id ?? '';
        const rec = ID_RE.test(id) ? await profiles.get(id) : undefined;
        if (!rec) return sendJson(res, 404, { error: 'not_found', message: `no player with id ${JSON.stringify(id)}` });
        // Public profile only: where a player is and what they carry stays private.
        sendJson(res, 200, { playerId: rec.playerId, username: rec.username, level: rec.state?.level ?? 1 });
      },
    },
  ];
}
