// The store thread's entry (started by ThreadedStore through startTsWorker): hosts one SqliteStore
// and answers each request with a reply carrying the same id.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite.ts';
import { serializeError, unpackSaves } from './store-thread.ts';
import type { PackedSaves, StoreReply, StoreRequest, StoreWorkerData } from './store-thread.ts';
import type { NewAccount, WorldEntityRecord } from './store.ts';

const port = parentPort;
if (port === null) throw new Error('store-worker.ts must run as a worker thread');
const { path } = workerData as StoreWorkerData;

// A database that cannot be opened is reported to each call rather than crashing the thread, so
// the caller sees why (typically in migrate(), the first call).
let store: SqliteStore | undefined;
let openError: unknown;
try {
  store = new SqliteStore(path);
} catch (err) {
  openError = err;
}

function dispatch(s: SqliteStore, req: StoreRequest): Promise<unknown> {
  const a = req.args;
  switch (req.method) {
    case 'migrate':
      return s.migrate();
    case 'createAccount':
      return s.createAccount(a[0] as NewAccount);
    case 'findAccountByUsername':
      return s.findAccountByUsername(a[0] as string);
    case 'findAccountById':
      return s.findAccountById(a[0] as number);
    case 'recordLogin':
      return s.recordLogin(a[0] as number, a[1] as number);
    case 'loadPlayer':
      return s.loadPlayer(a[0] as number);
    case 'savePlayers':
      return s.savePlayers(unpackSaves(a[0] as PackedSaves));
    case 'itemDefinitions':
      return s.itemDefinitions();
    case 'itemDefinition':
      return s.itemDefinition(a[0] as number);
    case 'saveWorldEntities':
      return s.saveWorldEntities(a[0] as WorldEntityRecord[]);
    case 'loadWorldEntities':
      return s.loadWorldEntities();
    case 'close':
      return s.close();
  }
}

port.on('message', (req: StoreRequest) => {
  const reply = (r: StoreReply) => port.postMessage(r);
  if (store === undefined) {
    // close() of a store that never opened succeeds: there is nothing to close.
    if (req.method === 'close') reply({ id: req.id, ok: true, value: undefined });
    else reply({ id: req.id, ok: false, error: serializeError(openError) });
    return;
  }
  let result: Promise<unknown>;
  try {
    result = dispatch(store, req);
  } catch (err) {
    result = Promise.reject(err);
  }
  result.then(
    (value) => reply({ id: req.id, ok: true, value }),
    (err: unknown) => reply({ id: req.id, ok: false, error: serializeError(err) }),
  );
});
