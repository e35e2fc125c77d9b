// The SharedCache contract against the embedded adapter: peers of one MemorySharedCache share its
// store, as processes share one Redis.
import { MemorySharedCache } from '../../src/store/memory-cache.ts';
import { sharedCacheContract } from './cache.contract.ts';

const root = new MemorySharedCache();
sharedCacheContract('memory', async () => root.peer());
