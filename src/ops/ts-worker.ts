// Worker threads that run our TypeScript sources: the thread loads tsx's loader first, then the
// module, so `npm start` still needs no build step.
import { Worker } from 'node:worker_threads';

export function startTsWorker(moduleUrl: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
