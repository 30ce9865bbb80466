import type { Worker } from 'node:worker_threads';
import { WardenError } from '../core/index.js';
import { fromThreadFailure, startModuleWorker } from '../threads/index.js';
import type { FgwJob, FgwReply } from './fgw-worker.js';
import type { AttributedGraph } from './graph.js';
import type { FgwOptions } from './options.js';
import type { FgwResult } from './result.js';

export interface FgwPoolOptions {
  /** Worker threads solving at once. @default 1 */
  workers?: number;
  /** Requests that may wait for a busy worker; beyond that `run` fails at once with RD_BUSY. @default 4 */
  maxQueue?: number;
  /**
   * Wall-clock budget of one solve, counted from when a ready worker takes it (waiting in the queue
   * and starting a worker are not counted). Past it the worker is terminated: RD_BUDGET_EXCEEDED.
   * @default 10_000
   */
  budgetMs?: number;
  /** Heap limit of each worker; a solve that needs more fails with RD_BUDGET_EXCEEDED. @default 256 */
  maxHeapMb?: number;
}

interface Job {
  input: FgwJob;
  resolve: (reply: Extract<FgwReply, { kind: 'done' | 'json' }>) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs FGW solves on a few worker threads so that a heavy request never blocks the event loop: a
 * bounded wait queue (a burst is refused, not piled up) and a time and memory budget per solve
 * (the worker is terminated when it passes them, and replaced on the next solve).
 *
 * @example
 * const pool = new FgwPool({ workers: 1, budgetMs: 10_000 });
 * const { distance } = await pool.run(a, b, { alpha: 0.5 });
 * await pool.close();
 */
export class FgwPool {
  readonly #budgetMs: number;
  readonly #maxQueue: number;
  readonly #maxHeapMb: number;
  readonly #slots: Slot[];
  readonly #queue: Job[] = [];
  #closed = false;

  constructor(options: FgwPoolOptions = {}) {
    const workers = options.workers ?? 1;
    this.#maxQueue = options.maxQueue ?? 4;
    this.#budgetMs = options.budgetMs ?? 10_000;
    this.#maxHeapMb = options.maxHeapMb ?? 256;
    if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError('workers must be an integer ≥ 1');
    if (!Number.isSafeInteger(this.#maxQueue) || this.#maxQueue < 0)
      throw new RangeError('maxQueue must be an integer ≥ 0');
    if (!(this.#budgetMs > 0)) throw new RangeError('budgetMs must be > 0');
    if (!(this.#maxHeapMb >= 16)) throw new RangeError('maxHeapMb must be ≥ 16');
    this.#slots = Array.from({ length: workers }, () => ({
      worker: undefined,
      ready: false,
      job: undefined,
      timer: undefined,
    }));
  }

  /** Solves are running / waiting right now. */
  get load(): { running: number; queued: number } {
    return { running: this.#slots.filter((s) => s.job).length, queued: this.#queue.length };
  }

  /**
   * `fgwDistance(a, b, options)` on a worker thread.
   * @throws WardenError RD_BUSY (queue full), RD_BUDGET_EXCEEDED, CLOSED, and the solver's own RD_* errors
   */
  async run(a: AttributedGraph, b: AttributedGraph, options: FgwOptions = {}): Promise<FgwResult> {
    const reply = await this.#submit({ a, b, options, as: 'result' });
    if (reply.kind !== 'done') throw new WardenError('INTERNAL', 'FGW worker sent JSON for a result');
    return reply.result;
  }

  /**
   * `JSON.stringify(fgwReport(fgwDistance(a, b, options), options))`, all on the worker thread: for a
   * 400×400 coupling, building and serialising the rows alone costs the event loop 0.1–0.7 s.
   * @throws the same as {@link run}
   */
  async runJson(a: AttributedGraph, b: AttributedGraph, options: FgwOptions = {}): Promise<string> {
    const reply = await this.#submit({ a, b, options, as: 'json' });
    if (reply.kind !== 'json') throw new WardenError('INTERNAL', 'FGW worker sent a result for JSON');
    return reply.text;
  }

  #submit(input: FgwJob): Promise<Extract<FgwReply, { kind: 'done' | 'json' }>> {
    if (this.#closed) return Promise.reject(new WardenError('CLOSED', 'The FGW worker pool is closed'));
    const idle = this.#slots.find((s) => !s.job);
    if (!idle && this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new WardenError(
          'RD_BUSY',
          `All ${this.#slots.length} FGW workers are busy and ${this.#queue.length} requests are waiting; retry shortly`,
          { details: { workers: this.#slots.length, queued: this.#queue.length } },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = { input, resolve, reject };
      if (idle) this.#assign(idle, job);
      else this.#queue.push(job);
    });
  }

  /** Stops every worker; running and waiting solves fail with CLOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new WardenError('CLOSED', 'The FGW worker pool was closed');
    for (const job of this.#queue.splice(0)) job.reject(closed);
    await Promise.all(
      this.#slots.map(async (slot) => {
        const worker = slot.worker;
        this.#finish(slot)?.reject(closed);
        this.#discard(slot);
        await worker?.terminate();
      }),
    );
  }

  #assign(slot: Slot, job: Job): void {
    slot.job = job;
    if (!slot.worker) this.#spawn(slot);
    else if (slot.ready) this.#start(slot);
  }

  #start(slot: Slot): void {
    const worker = slot.worker!;
    worker.ref(); // a solve in progress keeps the process alive, an idle worker does not
    slot.timer = setTimeout(() => {
      this.#finish(slot)?.reject(
        new WardenError(
          'RD_BUDGET_EXCEEDED',
          `FGW did not finish within the ${this.#budgetMs} ms budget and was stopped`,
          {
            details: { budgetMs: this.#budgetMs },
          },
        ),
      );
      this.#discard(slot);
      void worker.terminate();
      this.#next(slot);
    }, this.#budgetMs);
    slot.timer.unref();
    worker.postMessage(slot.job!.input);
  }

  #spawn(slot: Slot): void {
    const worker = startModuleWorker(import.meta.url, 'fgw-worker', undefined, {
      resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb },
    });
    slot.worker = worker;
    slot.ready = false;
    worker.on('message', (reply: FgwReply) => {
      if (slot.worker !== worker) return; // a reply from a worker already given up on
      if (reply.kind === 'ready') {
        slot.ready = true;
        if (slot.job) this.#start(slot);
        else worker.unref();
        return;
      }
      const job = this.#finish(slot);
      if (reply.kind === 'failed') job?.reject(fromThreadFailure(reply));
      else job?.resolve(reply);
      this.#next(slot);
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (slot.worker !== worker) return;
      const job = this.#finish(slot);
      this.#discard(slot);
      job?.reject(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new WardenError(
              'RD_BUDGET_EXCEEDED',
              `FGW needed more than the ${this.#maxHeapMb} MB heap budget`,
              {
                details: { maxHeapMb: this.#maxHeapMb },
              },
            )
          : new WardenError('INTERNAL', `FGW worker failed: ${error.message}`, { cause: error }),
      );
      this.#next(slot);
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      const job = this.#finish(slot);
      this.#discard(slot);
      job?.reject(new WardenError('INTERNAL', `FGW worker exited with code ${code}`));
      this.#next(slot);
    });
  }

  /** Detaches and returns the slot's job, stopping its budget timer. */
  #finish(slot: Slot): Job | undefined {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    slot.worker?.unref();
    return job;
  }

  #discard(slot: Slot): void {
    slot.worker = undefined;
    slot.ready = false;
  }

  #next(slot: Slot): void {
    const job = this.#queue.shift();
    if (job && !this.#closed) this.#assign(slot, job);
  }
}
