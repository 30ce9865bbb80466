import { Worker } from 'node:worker_threads';
import { gemm, gemmRowKernels, mostlyDense } from './matrix.js';
import { gemmModule, runGemmKernel, WASM_MIN_WORK, wasmGemm } from './wasm-gemm.js';

/**
 * Two-thread dense product for large FGW problems: the calling thread computes the first half of
 * the output rows while one helper worker computes the second half, on SharedArrayBuffer-backed
 * matrices. The call stays synchronous (the caller blocks on Atomics.wait), and both halves use the
 * same kernels, so the result is bit-identical to the single-threaded {@link gemm}.
 *
 * The worker is created on first use, shared by every solve in the process and unref'd, so it
 * never keeps the process alive.
 */

/** Products smaller than this many multiply-adds stay on one thread (the hand-off costs ~0.1 ms). */
export const PARALLEL_MIN_WORK = 4_000_000;

// control[0] = job sequence × 8 + phase, so that a stale job message can never claim a newer job.
const POSTED = 0;
const CLAIMED = 1;
const DONE = 2;
const RECLAIMED = 3;
const FAILED = 4;
let sequence = 0;

interface Helper {
  worker: Worker;
  control: Int32Array;
}

let helper: Helper | null | undefined;

/** How two-thread products went in this process: halves done by the helper, or taken back. */
export const parallelStats = { helped: 0, reclaimed: 0 };

function getHelper(): Helper | null {
  if (helper !== undefined) return helper;
  try {
    const control = new Int32Array(new SharedArrayBuffer(4));
    // The helper runs the same kernels as this thread: the WebAssembly one when the module
    // compiled here (sent as workerData), else the JavaScript ones.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      ${gemmRowKernels()}
      ${runGemmKernel.toString()}
      let kernel = null;
      try {
        if (workerData.gemmModule) kernel = new WebAssembly.Instance(workerData.gemmModule).exports;
      } catch {
        kernel = null;
      }
      parentPort.on('message', (job) => {
        const control = new Int32Array(job.control);
        const posted = job.seq * 8 + ${POSTED};
        if (Atomics.compareExchange(control, 0, posted, posted + ${CLAIMED}) !== posted) return;
        let phase = ${DONE};
        try {
          const a = new Float64Array(job.a, job.aOffset, job.rows * job.kk);
          const b = new Float64Array(job.b, job.bOffset, job.kk * job.m);
          const out = new Float64Array(job.out, job.outOffset, job.rows * job.m);
          const useKernel =
            kernel !== null &&
            job.rows * job.kk * job.m >= ${WASM_MIN_WORK} &&
            mostlyDense(a, job.rows * job.kk);
          if (useKernel) runGemmKernel(kernel, a, b, out, job.rows, job.kk, job.m, job.accumulate);
          else gemm(a, b, out, job.rows, job.kk, job.m, new Int32Array(job.kk), job.accumulate);
        } catch {
          phase = ${FAILED};
        }
        Atomics.store(control, 0, posted + phase);
        Atomics.notify(control, 0);
      });`;
    const worker = new Worker(source, { eval: true, workerData: { gemmModule: gemmModule() } });
    worker.unref();
    worker.on('error', () => {
      helper = null;
    });
    helper = { worker, control };
  } catch {
    helper = null;
  }
  return helper;
}

/** Allocates a Float64Array the helper thread can read and write. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(length, 1) * 8), 0, length);
}

/** A copy of `v` on a SharedArrayBuffer. */
export function sharedCopy(v: Float64Array): Float64Array {
  const out = sharedFloat64(v.length);
  out.set(v);
  return out;
}

/**
 * out (n×m) = A (n×kk) · B (kk×m) (or out += A·B with `accumulate`) on two threads when the product is large and A, B and out live
 * on SharedArrayBuffers; otherwise exactly {@link gemm}.
 */
export function parallelGemm(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  nz: Int32Array,
  accumulate = false,
): void {
  const shared =
    a.buffer instanceof SharedArrayBuffer &&
    b.buffer instanceof SharedArrayBuffer &&
    out.buffer instanceof SharedArrayBuffer;
  const h = shared && n >= 8 && n * kk * m >= PARALLEL_MIN_WORK ? getHelper() : null;
  if (!h) {
    localGemm(a, b, out, n, kk, m, nz, accumulate);
    return;
  }
  const half = Math.floor(n / 2);
  const rows = n - half;
  sequence = (sequence + 1) % (1 << 27);
  const posted = sequence * 8 + POSTED;
  Atomics.store(h.control, 0, posted);
  h.worker.postMessage({
    seq: sequence,
    control: h.control.buffer,
    a: a.buffer,
    aOffset: a.byteOffset + half * kk * 8,
    b: b.buffer,
    bOffset: b.byteOffset,
    out: out.buffer,
    outOffset: out.byteOffset + half * m * 8,
    rows,
    kk,
    m,
    accumulate,
  });
  localGemm(a.subarray(0, half * kk), b, out.subarray(0, half * m), half, kk, m, nz, accumulate);
  // If the helper has not picked the job up by now (busy machine, or it died), do it here.
  const secondHalf = (): void =>
    localGemm(a.subarray(half * kk, n * kk), b, out.subarray(half * m, n * m), rows, kk, m, nz, accumulate);
  if (Atomics.compareExchange(h.control, 0, posted, posted + RECLAIMED) === posted) {
    parallelStats.reclaimed++;
    secondHalf();
    return;
  }
  for (;;) {
    const state = Atomics.load(h.control, 0);
    if (state === posted + DONE) {
      parallelStats.helped++;
      return;
    }
    if (state === posted + FAILED) {
      // The helper could not run the kernel (e.g. instrumented code): stop using it.
      helper = null;
      parallelStats.reclaimed++;
      secondHalf();
      return;
    }
    Atomics.wait(h.control, 0, state, 1000);
  }
}

/**
 * {@link gemm} on this thread: dense products in WebAssembly SIMD when available (same bits, see
 * wasm-gemm.ts), sparse ones and small ones in JavaScript.
 */
function localGemm(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  nz: Int32Array,
  accumulate: boolean,
): void {
  if (mostlyDense(a, n * kk) && wasmGemm(a, b, out, n, kk, m, accumulate)) return;
  gemm(a, b, out, n, kk, m, nz, accumulate);
}
