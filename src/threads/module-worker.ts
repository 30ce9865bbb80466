import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// Only dynamic imports, so it runs as CommonJS or as ESM (the eval type follows the parent's --input-type).
// boot.tsx: tsx's ESM API, whose register() lets the thread import the TypeScript sources (tests, tsx).
const BOOT = `
import('node:worker_threads').then(async ({ workerData }) => {
  if (workerData.boot.tsx) (await import(workerData.boot.tsx)).register();
  await import(workerData.boot.entry);
});
`;

/** What a module started by startModuleWorker finds in `workerData`. */
export interface ModuleWorkerData<D> {
  boot: { entry: string; tsx?: string };
  data: D;
}

/**
 * Starts a worker thread that runs the module `name` next to `callerUrl` (pass `import.meta.url`): the
 * built `.js` when Warden runs built, the `.ts` source through tsx when it runs from source. The module
 * reads its own options from `workerData.data`.
 * @example const worker = startModuleWorker(import.meta.url, 'writer-worker', { path });
 */
export function startModuleWorker<D>(
  callerUrl: string,
  name: string,
  data: D,
  options: Omit<WorkerOptions, 'eval' | 'workerData'> = {},
): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl).href;
  const workerData: ModuleWorkerData<D> = {
    boot: fromSource ? { entry, tsx: tsxEsmApi() } : { entry },
    data,
  };
  return new Worker(BOOT, { ...options, eval: true, workerData });
}

function tsxEsmApi(): string {
  const packageJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    exports: { './esm/api': { import: { default: string } } };
  };
  return pathToFileURL(join(dirname(packageJson), exports['./esm/api'].import.default)).href;
}
