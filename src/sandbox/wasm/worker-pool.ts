import { Worker } from 'node:worker_threads';
import { WORKER_SOURCE } from './wasm-worker.js';

export interface WasmJob {
  module: WebAssembly.Module;
  input: string;
  env: string[];
  args: string[];
  maxOutputBytes: number;
  capPages: number;
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

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** Each worker's V8 heap (our WASI host, not the module's linear memory, which memoryMb caps). */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 };

/**
 * A pool of ready worker threads running WASM tasks one at a time each. A task that must be stopped
 * (timeout, cancel) has its worker terminated — the only way to stop a wasm loop for sure — and a fresh
 * worker takes its place, so the pool keeps its size and the next task does not pay for the restart.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {}

  /** Starts every worker now rather than on first use. */
  warm(): void {
    while (this.slots.length < this.size) this.slots.push(this.spawn());
  }

  get workers(): number {
    return this.slots.length;
  }

  async run(job: WasmJob, signal: AbortSignal, onLog: (line: string) => void): Promise<WasmJobResult> {
    const slot = await this.acquire();
    const id = this.nextId++;
    return new Promise<WasmJobResult>((resolve, reject) => {
      const { worker } = slot;
      const finish = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal.removeEventListener('abort', onAbort);
      };
      const onMessage = (m: { id: number; kind: 'log' | 'done'; line?: string } & WasmJobResult) => {
        if (m.id !== id) return;
        if (m.kind === 'log') return onLog(m.line ?? '');
        finish();
        this.release(slot);
        resolve(m);
      };
      const onError = (err: Error) => {
        finish();
        this.replace(slot);
        reject(err);
      };
      const onExit = () => onError(new Error('the WASM worker exited unexpectedly'));
      const onAbort = () => {
        finish();
        this.replace(slot);
        reject(signal.reason as Error);
      };
      if (signal.aborted) return onAbort();
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      worker.postMessage({ id, ...job });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private acquire(): Promise<Slot> {
    const idle = this.slots.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    if (this.slots.length < this.size) {
      const slot = this.spawn();
      slot.busy = true;
      this.slots.push(slot);
      return Promise.resolve(slot);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) return next(slot);
    slot.busy = false;
    slot.worker.unref();
  }

  /** Terminates a worker that may be running a module and puts a fresh one in its place. */
  private replace(slot: Slot): void {
    void slot.worker.terminate();
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    if (this.closed) {
      this.slots.splice(index, 1);
      return;
    }
    const fresh = this.spawn();
    this.slots[index] = fresh;
    fresh.busy = true;
    this.release(fresh);
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS });
    worker.unref();
    // A worker that dies while idle is replaced at its next use.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      const index = this.slots.findIndex((s) => s.worker === worker);
      const slot = this.slots[index];
      if (slot && !slot.busy) this.slots.splice(index, 1);
    });
    return { worker, busy: false };
  }
}
