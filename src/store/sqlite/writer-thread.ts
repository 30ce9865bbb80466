import type { Worker } from 'node:worker_threads';
import { WardenError } from '../../core/index.js';
import { fromThreadFailure, startModuleWorker } from '../../threads/index.js';
import { WRITER_METHODS } from './writer-protocol.js';
import type {
  WriterCall,
  WriterMethod,
  WriterOptions,
  WriterReply,
  WriterRequest,
} from './writer-protocol.js';

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The embedded store's writer thread. A worker thread holds a second connection to the database and runs
 * the store's writes (WRITER_METHODS) there: the SQLite b-tree work, the chain's hashing, the Merkle frontier
 * and the tree-head signatures move off the scheduler's thread, so that the scheduler and SQLite use two
 * cores. Each call resolves once its transaction has committed in the writer, exactly as a call on the
 * calling thread's own connection would: durability is unchanged. Calls made in one turn of the event loop
 * go in one message, and run in the order they were made.
 */
export class SqliteWriter {
  private readonly pending = new Map<number, Pending>();
  private queued: WriterCall[] = [];
  private nextId = 1;
  private stopped: WardenError | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WriterReply) => {
      if (reply.kind !== 'outcomes') return;
      for (const outcome of reply.outcomes) {
        const waiter = this.pending.get(outcome.id);
        if (!waiter) continue;
        this.pending.delete(outcome.id);
        if ('error' in outcome) waiter.reject(fromThreadFailure(outcome.error));
        else waiter.resolve(outcome.value);
      }
      // An idle writer does not keep the process alive; a write in progress, or closing, does.
      if (this.pending.size === 0 && !this.closing) worker.unref();
    });
    worker.on('error', (err) => this.stop(`the writer thread failed: ${err.message}`));
    worker.on('exit', (code) => this.stop(`the writer thread exited (code ${code})`));
  }

  /** Starts the thread and resolves once its connection is open. */
  static start(options: WriterOptions): Promise<SqliteWriter> {
    const worker = startModuleWorker(import.meta.url, 'writer-worker', options);
    return new Promise<SqliteWriter>((resolve, reject) => {
      const onMessage = (reply: WriterReply) => {
        if (reply.kind === 'ready') {
          cleanup();
          worker.unref();
          resolve(new SqliteWriter(worker));
        } else if (reply.kind === 'open-failed') {
          cleanup();
          reject(fromThreadFailure(reply.error));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(
          new WardenError('STORAGE_ERROR', `The store's writer thread did not start: ${err.message}`, {
            cause: err,
          }),
        );
      };
      const onExit = (code: number) => onError(new Error(`it exited with code ${code}`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  call<T>(method: WriterMethod, args: unknown[]): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.queued.length === 0) queueMicrotask(() => this.send());
      this.queued.push({ id, method, args });
    });
  }

  /** Waits for the writes in progress, closes the writer's connection (signing what is unsigned) and ends the thread. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.stopped) return resolve();
      this.send();
      this.worker.ref();
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      timer.unref();
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    });
    return this.closing;
  }

  private send(): void {
    if (this.queued.length === 0) return;
    const calls = this.queued;
    this.queued = [];
    this.worker.ref();
    this.worker.postMessage({ kind: 'calls', calls } satisfies WriterRequest);
  }

  private stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = new WardenError('CLOSED', `The store is closed: ${reason}`);
    for (const waiter of this.pending.values())
      waiter.reject(
        new WardenError(
          'STORAGE_ERROR',
          `A write was lost in flight: ${reason}; it may or may not have committed`,
        ),
      );
    this.pending.clear();
    this.queued = [];
  }
}

/**
 * When the embedded store's writes move to a writer thread: `true` at open, `'auto'` once the workload
 * shows it pays (AUTO_START_AFTER_TASKS tasks submitted or finished), `false` never.
 */
export type WriterThreadMode = boolean | 'auto';

/**
 * A thread costs a few hundred milliseconds to start: a command that runs a handful of tasks never waits
 * for one, a process that runs many starts it after its first thousand.
 */
export const AUTO_START_AFTER_TASKS = 1000;

type Method = (...args: unknown[]) => Promise<unknown>;

/**
 * Routes a store's WRITER_METHODS: to the writer thread once it runs, to the store's own connection before.
 * Switching is safe at any moment: a write on the store's own connection commits before its call returns,
 * so none is in progress when the thread takes over, and the thread's writes then run in call order.
 */
export class WriterRoute {
  private writer: SqliteWriter | undefined;
  private starting: Promise<void> | undefined;
  private tasks = 0;
  private closed = false;

  private constructor(
    private readonly options: WriterOptions,
    private readonly startAfter: number,
  ) {}

  static async open(options: WriterOptions, mode: true | 'auto'): Promise<WriterRoute> {
    const route = new WriterRoute(options, mode === true ? 0 : AUTO_START_AFTER_TASKS);
    if (mode === true) route.writer = await SqliteWriter.start(options);
    return route;
  }

  /** Whether the writes go to the thread now. */
  get threaded(): boolean {
    return this.writer !== undefined;
  }

  /** Replaces the store's write methods by ones that take this route. */
  install(store: object): void {
    const methods = store as Record<WriterMethod, Method>;
    for (const method of WRITER_METHODS) {
      const local = methods[method].bind(store);
      methods[method] = (...args) => {
        if (this.writer) return this.writer.call(method, args);
        if (!this.starting) this.count(method, args);
        return local(...args);
      };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting;
    await this.writer?.close();
  }

  private count(method: WriterMethod, args: unknown[]): void {
    if (method !== 'submit' && method !== 'submitAndClaim' && method !== 'finish') return;
    this.tasks += (args[0] as readonly unknown[]).length;
    if (this.tasks < this.startAfter) return;
    this.starting = SqliteWriter.start(this.options).then(
      async (writer) => {
        if (this.closed) await writer.close();
        else this.writer = writer;
      },
      // The writes stay on the store's own connection, as they were.
      () => undefined,
    );
  }
}
