import { Worker } from 'node:worker_threads';
import { MAX_BATCH, PHASE, PHASES, STARTED_WORD, WORKER_SOURCE } from './wasm-worker.js';

/** A module with what every one of its tasks shares: sent to a worker once, then named by id. */
export interface WasmProgram {
  readonly id: number;
  readonly module: WebAssembly.Module;
  /** The memory cap compiled into the module, in 64 KiB pages (also the cap of an imported memory). */
  readonly capPages: number;
  /** An instance may serve many tasks, its memory restored after each (memory-cap.ts, `resettable`). */
  readonly reusable: boolean;
  readonly env: readonly string[];
  readonly args: readonly string[];
}

export interface WasmJob {
  program: WasmProgram;
  input: string;
  /** Added to the program's environment for this task only (TRACEPARENT). */
  extraEnv?: string[];
  maxOutputBytes: number;
}

export interface WasmJobResult {
  ok: boolean;
  /** 'link' | 'trap' | 'output' when ok is false. */
  error?: 'link' | 'trap' | 'output';
  message?: string;
  exitCode?: number;
  stdout?: string;
  stdoutBytes?: number;
  memoryBytes: number;
  instantiateUs: number;
  runMs: number;
}

/** Each worker's V8 heap (our WASI host, not the module's linear memory, which memoryMb caps). */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 };
/**
 * Only a program whose tasks recently ran this briefly (moving average of the module's run time) is
 * batched; a slower one goes one job per message, as a batch would only make its jobs wait in line.
 */
const BATCH_BELOW_RUN_MS = 1;
/** A worker that has posted no result for this long has the jobs still queued behind it moved elsewhere. */
const STEAL_AFTER_MS = 5;
/** Programs a worker keeps; past that, the next batch tells it to forget them and sends what it needs. */
const MAX_PROGRAMS_PER_WORKER = 64;
const SEQ_MODULO = 2 ** 28; // seq * PHASES + phase stays a positive int32

interface Pending {
  job: WasmJob;
  signal: AbortSignal;
  onLog: (line: string) => void;
  resolve: (r: WasmJobResult) => void;
  reject: (e: unknown) => void;
  onAbort: () => void;
  settled: boolean;
  /** Where it was sent: the worker and its index in that worker's batch. */
  slot?: Slot;
  index?: number;
}

interface Slot {
  worker: Worker;
  /** One word per batch index: `seq * PHASES + phase`, shared with the worker. */
  state: Int32Array;
  seq: number;
  /** The batch in the worker; null when it is idle. */
  batch: Pending[] | null;
  /** Jobs of the batch whose fate in the worker (posted a result, or withdrawn before it ran) is unknown. */
  open: number;
  /** When the worker last made progress (got its batch, started a job, posted a result). */
  progressAt: number;
  /** The worker's count of jobs started, as last read. */
  started: number;
  known: Set<number>;
  /** Terminated (or dead): it takes no batch; its posted results still arrive until its 'exit'. */
  retired: boolean;
  /** Why the worker died, from its 'error' event, for the job it was running. */
  error?: Error;
}

/** Moving average of each program's run time in ms (see BATCH_BELOW_RUN_MS). */
const moduleCost = new WeakMap<WasmProgram, number>();

/**
 * A pool of ready worker threads running WASM tasks, one at a time in each worker. Queued tasks go to
 * idle workers in batches (one message, one result message each), so that tiny modules do not pay a
 * thread round trip each, and finished tasks reach the scheduler together. A task that must be stopped
 * (timeout, cancel) while it runs has its worker terminated — the only way to stop a wasm loop for sure —
 * and a fresh worker takes its place; its batch's tasks that had not started move to other workers.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextProgramId = 1;
  private dispatchScheduled = false;
  private stealTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(readonly size: number) {}

  /** Starts every worker now rather than on first use. */
  warm(): void {
    while (this.slots.length < this.size) this.slots.push(this.spawn());
  }

  get workers(): number {
    return this.slots.length;
  }

  /** Registers a module with its argv and environment; its tasks name it rather than carry it. */
  program(def: Omit<WasmProgram, 'id'>): WasmProgram {
    return { ...def, env: [...def.env], args: [...def.args], id: this.nextProgramId++ };
  }

  run(job: WasmJob, signal: AbortSignal, onLog: (line: string) => void): Promise<WasmJobResult> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.closed) return Promise.reject(closedError());
    return new Promise<WasmJobResult>((resolve, reject) => {
      const pending: Pending = {
        job,
        signal,
        onLog,
        resolve,
        reject,
        onAbort: () => this.abort(pending),
        settled: false,
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
      this.queue.push(pending);
      // Tasks launched together (a claim of many) reach here in the same turn: send them as one batch.
      if (!this.dispatchScheduled) {
        this.dispatchScheduled = true;
        queueMicrotask(() => {
          this.dispatchScheduled = false;
          this.dispatch();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.stealTimer);
    const queued = this.queue.splice(0);
    for (const p of queued) this.settle(p, undefined, closedError());
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  /** Sends queued jobs to idle workers, spread evenly, starting workers up to the pool's size. */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      const idle = this.slots.filter((s) => !s.retired && s.batch === null);
      if (idle.length === 0) {
        if (this.slots.length >= this.size) break;
        this.slots.push(this.spawn());
        continue;
      }
      // Spread over the idle workers and those still to start.
      const spare = idle.length + (this.size - this.slots.length);
      this.send(idle[0]!, this.takeBatch(Math.ceil(this.queue.length / spare)));
    }
    this.armSteal();
  }

  /** Up to `wanted` queued jobs of programs that run briefly, or the first job alone. */
  private takeBatch(wanted: number): Pending[] {
    const first = this.queue.shift()!;
    const batch = [first];
    if (!batches(first.job.program)) return batch;
    const limit = Math.min(MAX_BATCH, wanted);
    for (let i = 0; i < this.queue.length && batch.length < limit;) {
      const next = this.queue[i]!;
      if (batches(next.job.program)) {
        batch.push(next);
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private send(slot: Slot, batch: Pending[]): void {
    slot.seq = (slot.seq + 1) % SEQ_MODULO;
    const base = slot.seq * PHASES;
    const programs: WasmProgram[] = [];
    let reset = false;
    const fresh = new Set<WasmProgram>();
    for (const p of batch) if (!slot.known.has(p.job.program.id)) fresh.add(p.job.program);
    if (slot.known.size + fresh.size > MAX_PROGRAMS_PER_WORKER) {
      reset = true;
      slot.known.clear();
      for (const p of batch) fresh.add(p.job.program);
    }
    for (const program of fresh) {
      slot.known.add(program.id);
      programs.push(program);
    }
    const jobs = batch.map((p, i) => {
      p.slot = slot;
      p.index = i;
      Atomics.store(slot.state, i, base + PHASE.QUEUED);
      const { program, input, extraEnv, maxOutputBytes } = p.job;
      return extraEnv
        ? { program: program.id, input, extraEnv, maxOutputBytes }
        : { program: program.id, input, maxOutputBytes };
    });
    slot.batch = batch;
    slot.open = batch.length;
    slot.progressAt = performance.now();
    slot.worker.ref();
    slot.worker.postMessage({
      kind: 'batch',
      seq: slot.seq,
      ...(reset ? { reset } : {}),
      programs: programs.map(({ id, module, capPages, reusable, env, args }) => ({
        id,
        module,
        capPages,
        reusable,
        env,
        args,
      })),
      jobs,
    });
  }

  private onMessage(slot: Slot, m: { i: number; kind: 'log' | 'done'; line?: string } & WasmJobResult): void {
    const pending = slot.batch?.[m.i];
    if (!pending) return;
    if (m.kind === 'log') {
      if (!pending.settled) pending.onLog(m.line ?? '');
      return;
    }
    noteRunTime(pending.job.program, m.runMs);
    slot.progressAt = performance.now();
    this.settle(pending, m);
    this.closeOne(slot);
  }

  /** One job of the slot's batch has a known fate; when none is left open, the worker takes more. */
  private closeOne(slot: Slot): void {
    if (--slot.open > 0 || slot.retired) return;
    slot.batch = null;
    if (this.queue.length > 0) this.dispatch();
    else {
      slot.worker.unref();
      this.steal();
    }
  }

  private settle(p: Pending, result?: WasmJobResult, error?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    p.signal.removeEventListener('abort', p.onAbort);
    if (result) p.resolve(result);
    else p.reject(error);
  }

  private abort(p: Pending): void {
    const reason = p.signal.reason as Error;
    const slot = p.slot;
    if (!slot) {
      // Still queued here: it never reached a worker.
      const at = this.queue.indexOf(p);
      if (at >= 0) this.queue.splice(at, 1);
      return this.settle(p, undefined, reason);
    }
    if (p.settled) return;
    const phase = this.withdraw(slot, p);
    this.settle(p, undefined, reason);
    if (phase === PHASE.QUEUED) this.closeOne(slot);
    // Its result is posted already (and will be ignored): the worker goes on with its batch.
    else if (phase === PHASE.RUNNING) this.retire(slot);
  }

  /**
   * Moves a job of a slot's batch from QUEUED to WITHDRAWN, unless the worker took it first; returns the
   * phase it had (QUEUED when the withdrawal won).
   */
  private withdraw(slot: Slot, p: Pending): number {
    const base = slot.seq * PHASES;
    const before = Atomics.compareExchange(slot.state, p.index!, base + PHASE.QUEUED, base + PHASE.WITHDRAWN);
    return before - base;
  }

  /**
   * Terminates a worker (running a job that must stop, or dead) and starts a fresh one in its place. Its
   * batch's jobs that had not started go back to the front of the queue; results it posted before it
   * stopped still arrive (before 'exit'); the job it was running fails with the worker's error, unless it
   * was settled already (the aborted job).
   */
  private retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    const requeue: Pending[] = [];
    for (const p of slot.batch ?? []) {
      if (p.settled) continue;
      if (this.withdraw(slot, p) === PHASE.QUEUED) {
        slot.open--;
        delete p.slot;
        delete p.index;
        if (this.closed) this.settle(p, undefined, closedError());
        else requeue.push(p);
      }
    }
    this.queue.unshift(...requeue);
    void slot.worker.terminate();
    const index = this.slots.indexOf(slot);
    if (index >= 0) {
      if (this.closed) this.slots.splice(index, 1);
      else this.slots[index] = this.spawn();
    }
    if (this.queue.length > 0) this.dispatch();
  }

  /**
   * After a worker's exit (its posted results delivered by now): a worker that died on its own is
   * retired (replaced, if it had work), and whatever of its batch is still open — the job it was running —
   * fails with its error.
   */
  private exited(slot: Slot): void {
    if (!slot.retired) {
      if (slot.batch === null) {
        // Idle: gone without replacement (the next dispatch starts another), so a worker that cannot start
        // does not restart forever.
        slot.retired = true;
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        return;
      }
      this.retire(slot);
    }
    const error = slot.error ?? new Error('the WASM worker exited unexpectedly');
    for (const p of slot.batch ?? []) if (p.slot === slot) this.settle(p, undefined, error);
    slot.batch = null;
  }

  /**
   * Jobs waiting behind a job that runs long in one worker move to an idle one: their worker has posted
   * nothing for STEAL_AFTER_MS. Withdrawn jobs were never started, so none runs twice.
   */
  private steal(): void {
    if (this.closed || !this.slots.some((s) => !s.retired && s.batch === null)) return;
    const now = performance.now();
    for (const slot of this.slots) {
      if (slot.retired || slot.batch === null) continue;
      // Progress as the worker counts it (jobs started), not as this thread has read its messages.
      const started = Atomics.load(slot.state, STARTED_WORD);
      if (started !== slot.started) {
        slot.started = started;
        slot.progressAt = now;
      }
      if (now - slot.progressAt < STEAL_AFTER_MS) continue;
      for (const p of slot.batch) {
        if (p.settled || p.slot !== slot || this.withdraw(slot, p) !== PHASE.QUEUED) continue;
        delete p.slot;
        delete p.index;
        this.queue.push(p);
        slot.open--;
      }
      // Not one job started yet (a worker still booting): the whole batch moved, the worker is idle.
      if (slot.open === 0) {
        slot.batch = null;
        slot.worker.unref();
      }
    }
    if (this.queue.length > 0) this.dispatch();
  }

  /** While any batch has jobs waiting and a worker could take them, look again shortly. */
  private armSteal(): void {
    if (this.stealTimer || this.closed) return;
    const waiting = this.slots.some((s) => !s.retired && s.batch !== null && s.open > 1);
    if (!waiting) return;
    this.stealTimer = setTimeout(() => {
      this.stealTimer = undefined;
      this.steal();
      this.armSteal();
    }, STEAL_AFTER_MS).unref();
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS });
    worker.unref();
    const shared = new SharedArrayBuffer((MAX_BATCH + 1) * Int32Array.BYTES_PER_ELEMENT);
    const slot: Slot = {
      worker,
      state: new Int32Array(shared),
      seq: 0,
      batch: null,
      open: 0,
      progressAt: 0,
      started: 0,
      known: new Set(),
      retired: false,
    };
    worker.postMessage({ kind: 'init', state: shared });
    worker.on('message', (m: Parameters<WorkerPool['onMessage']>[1]) => this.onMessage(slot, m));
    worker.on('error', (err: Error) => {
      slot.error ??= err;
    });
    worker.on('exit', () => this.exited(slot));
    return slot;
  }
}

function closedError(): Error {
  return new Error('the WASM worker pool is closed');
}

/** Moving average of a program's run time, which decides whether its jobs are batched. */
function noteRunTime(program: WasmProgram, runMs: number): void {
  const before = moduleCost.get(program);
  moduleCost.set(program, before === undefined ? runMs : before * 0.8 + runMs * 0.2);
}

function batches(program: WasmProgram): boolean {
  const cost = moduleCost.get(program);
  return cost !== undefined && cost < BATCH_BELOW_RUN_MS;
}
