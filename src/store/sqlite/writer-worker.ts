// The writer thread: a second connection to the embedded database that runs the store's writes (see
// SqliteWriter). Loaded by startModuleWorker; its options come in workerData.data.
import { parentPort, workerData } from 'node:worker_threads';
import { TreeHeadKey } from '../../provenance/index.js';
import { toThreadFailure, type ModuleWorkerData } from '../../threads/index.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';
import type { WriterOptions, WriterOutcome, WriterReply, WriterRequest } from './writer-protocol.js';

const port = parentPort!;
const options = (workerData as ModuleWorkerData<WriterOptions>).data;
const reply = (message: WriterReply): void => port.postMessage(message);

// The store wraps what its transactions throw as STORAGE_ERROR; anything else thrown here is one too.
const failure = (err: unknown) => toThreadFailure(err, 'STORAGE_ERROR');

let store: SqliteStore;
try {
  store = await openSqliteStore(
    {
      path: options.path,
      synchronous: options.synchronous,
      signIntervalMs: options.signIntervalMs,
      witnessDir: options.witnessDir,
      // The calling thread's connection checkpoints; a second checkpointer would only compete with it.
      checkpoint: false,
    },
    TreeHeadKey.fromPrivatePem(options.signerPem),
  );
} catch (err) {
  reply({ kind: 'open-failed', error: failure(err) });
  process.exit(1);
}

type Method = (...args: unknown[]) => Promise<unknown>;

async function run(request: WriterRequest): Promise<void> {
  if (request.kind === 'close') {
    // The caller waits for this thread's exit, which follows the port's close.
    await store.close().catch(() => undefined);
    port.close();
    return;
  }
  const outcomes: WriterOutcome[] = [];
  for (const call of request.calls) {
    try {
      const method = store[call.method] as unknown as Method;
      outcomes.push({ id: call.id, value: await method.apply(store, call.args) });
    } catch (err) {
      outcomes.push({ id: call.id, error: failure(err) });
    }
  }
  reply({ kind: 'outcomes', outcomes });
}

// In the order they were called: each call's transaction commits before the next one starts.
let queue = Promise.resolve();
port.on('message', (request: WriterRequest) => {
  queue = queue.then(() => run(request));
});

reply({ kind: 'ready' });
