/**
 * The dense product kernel of matrix.ts (`gemmDense`) as a WebAssembly SIMD function: two output
 * columns per f64x2 lane pair, 4×4 register blocking as in the JavaScript kernel. V8 does not
 * vectorise JavaScript, and this product is the costliest step of an FGW iteration; here it runs
 * about four times faster (400³: 7 ms instead of 28 ms). Every output entry is summed over k in the
 * same increasing order with separate multiply and add (WebAssembly has no fused multiply-add), so
 * results are bit-identical to `gemm` in matrix.ts.
 *
 * The module is assembled at load time (wasm-assembler.ts). Matrices are copied into the module's
 * memory for each product; the copies cost O(n·m), the product O(n·k·m).
 */
import { assemble, F64, FunctionBuilder, I32, op, simd, uleb, V128 } from './wasm-assembler.js';

/** Builds `gemm(a, b, out, n, kk, m)`: out += A·B, with a, b, out byte addresses. */
function kernel(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [A, B, OUT, N, KK, M] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32);
  const k = f.local(I32);
  const j = f.local(I32);
  const rowA = [0, 1, 2, 3].map(() => f.local(I32)); // byte address of A[i + r][0]
  const rowOut = [0, 1, 2, 3].map(() => f.local(I32)); // byte address of out[i + r][0]
  const rowB = [0, 1, 2, 3].map(() => f.local(I32)); // byte address of B[k + c][0]
  const jb = f.local(I32); // j * 8
  const strideA = f.local(I32); // kk * 8
  const strideB = f.local(I32); // m * 8
  const pairEnd = f.local(I32); // m - 1: column pairs run while j < m - 1
  const coef = [0, 1, 2, 3].map(() => [0, 1, 2, 3].map(() => f.local(V128))); // splat(A[i + r][k + c])
  const xs = [0, 1, 2, 3].map(() => f.local(V128));
  const acc = f.local(V128);
  const sx = [0, 1, 2, 3].map(() => f.local(F64));
  const sacc = f.local(F64);

  /** Pushes `base + j*8`. */
  const atColumn = (base: number): void => {
    f.get(base);
    f.get(jb);
    f.emit(op.i32Add);
  };
  /**
   * The j loop for `rows` output rows and `terms` B rows: out[r][j] += Σ_c coef[r][c]·B[c][j] summed
   * left to right, two columns at a time, then the last column of an odd m in scalar f64.
   */
  const columns = (rows: number, terms: number): void => {
    f.i32(0);
    f.set(jb);
    f.i32(0);
    f.set(j);
    f.whileNot(
      () => {
        f.get(j);
        f.get(pairEnd);
        f.emit(op.i32GeS);
      },
      () => {
        for (let c = 0; c < terms; c++) {
          atColumn(rowB[c]!);
          f.simd(simd.load, ...uleb(3), 0);
          f.set(xs[c]!);
        }
        for (let r = 0; r < rows; r++) {
          atColumn(rowOut[r]!); // store address
          atColumn(rowOut[r]!);
          f.simd(simd.load, ...uleb(3), 0);
          f.set(acc);
          for (let c = 0; c < terms; c++) {
            f.get(acc);
            f.get(coef[r]![c]!);
            f.get(xs[c]!);
            f.simd(simd.f64x2Mul);
            f.simd(simd.f64x2Add);
            f.set(acc);
          }
          f.get(acc);
          f.simd(simd.store, ...uleb(3), 0);
        }
        f.increment(j, 2);
        f.increment(jb, 16);
      },
    );
    // Odd m: the last column (j = m - 1) in scalar arithmetic, same order.
    f.when(
      () => {
        f.get(j);
        f.get(M);
        f.emit(op.i32Ne);
      },
      () => {
        for (let c = 0; c < terms; c++) {
          atColumn(rowB[c]!);
          f.memory(op.f64Load, 3);
          f.set(sx[c]!);
        }
        for (let r = 0; r < rows; r++) {
          atColumn(rowOut[r]!);
          atColumn(rowOut[r]!);
          f.memory(op.f64Load, 3);
          f.set(sacc);
          for (let c = 0; c < terms; c++) {
            f.get(sacc);
            f.get(coef[r]![c]!);
            f.simd(simd.f64x2ExtractLane, 0); // the coefficient is splatted: lane 0 is the scalar
            f.get(sx[c]!);
            f.emit(op.f64Mul, op.f64Add);
            f.set(sacc);
          }
          f.get(sacc);
          f.memory(op.f64Store, 3);
        }
      },
    );
  };
  /** coef[r][c] = splat(A[i + r][k + c]). */
  const loadCoefficients = (rows: number, terms: number): void => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < terms; c++) {
        f.get(rowA[r]!);
        f.get(k);
        f.i32(3);
        f.emit(op.i32Shl, op.i32Add);
        f.memory(op.f64Load, 3, c * 8);
        f.simd(simd.f64x2Splat);
        f.set(coef[r]![c]!);
      }
    }
  };
  /** rowB[c] = b + (k + c)·m·8. */
  const loadBRows = (terms: number): void => {
    f.get(k);
    f.get(strideB);
    f.emit(op.i32Mul);
    f.get(B);
    f.emit(op.i32Add);
    f.set(rowB[0]!);
    for (let c = 1; c < terms; c++) {
      f.get(rowB[c - 1]!);
      f.get(strideB);
      f.emit(op.i32Add);
      f.set(rowB[c]!);
    }
  };
  /** Rows i..i+rows-1: k in blocks of four (if rows = 4), then one k at a time. */
  const rowBlock = (rows: number): void => {
    f.get(i);
    f.get(strideA);
    f.emit(op.i32Mul);
    f.get(A);
    f.emit(op.i32Add);
    f.set(rowA[0]!);
    f.get(i);
    f.get(strideB);
    f.emit(op.i32Mul);
    f.get(OUT);
    f.emit(op.i32Add);
    f.set(rowOut[0]!);
    for (let r = 1; r < rows; r++) {
      f.get(rowA[r - 1]!);
      f.get(strideA);
      f.emit(op.i32Add);
      f.set(rowA[r]!);
      f.get(rowOut[r - 1]!);
      f.get(strideB);
      f.emit(op.i32Add);
      f.set(rowOut[r]!);
    }
    f.i32(0);
    f.set(k);
    if (rows === 4) {
      f.whileNot(
        () => {
          f.get(k);
          f.i32(3);
          f.emit(op.i32Add);
          f.get(KK);
          f.emit(op.i32GeS);
        },
        () => {
          loadCoefficients(4, 4);
          loadBRows(4);
          columns(4, 4);
          f.increment(k, 4);
        },
      );
    }
    f.whileNot(
      () => {
        f.get(k);
        f.get(KK);
        f.emit(op.i32GeS);
      },
      () => {
        loadCoefficients(rows, 1);
        loadBRows(1);
        columns(rows, 1);
        f.increment(k, 1);
      },
    );
  };

  f.get(KK);
  f.i32(3);
  f.emit(op.i32Shl);
  f.set(strideA);
  f.get(M);
  f.i32(3);
  f.emit(op.i32Shl);
  f.set(strideB);
  f.get(M);
  f.i32(-1);
  f.emit(op.i32Add);
  f.set(pairEnd);
  f.i32(0);
  f.set(i);
  f.whileNot(
    () => {
      f.get(i);
      f.i32(3);
      f.emit(op.i32Add);
      f.get(N);
      f.emit(op.i32GeS);
    },
    () => {
      rowBlock(4);
      f.increment(i, 4);
    },
  );
  f.whileNot(
    () => {
      f.get(i);
      f.get(N);
      f.emit(op.i32GeS);
    },
    () => {
      rowBlock(1);
      f.increment(i, 1);
    },
  );
  return f;
}

/** An instance of the kernel module: its memory and `gemm`. */
export interface GemmKernel {
  readonly memory: WebAssembly.Memory;
  readonly gemm: (a: number, b: number, out: number, n: number, kk: number, m: number) => void;
}

let compiledModule: WebAssembly.Module | null | undefined;
let instance: GemmKernel | null | undefined;

/** The compiled module (to instantiate here or in parallel-gemm's helper thread), or null. */
export function gemmModule(): WebAssembly.Module | null {
  if (compiledModule !== undefined) return compiledModule;
  try {
    compiledModule = new WebAssembly.Module(assemble({ gemm: kernel() }, { importMemory: false, pages: 1 }));
  } catch {
    compiledModule = null; // no WebAssembly SIMD here
  }
  return compiledModule;
}

function getKernel(): GemmKernel | null {
  if (instance !== undefined) return instance;
  const module = gemmModule();
  try {
    instance = module ? (new WebAssembly.Instance(module).exports as unknown as GemmKernel) : null;
  } catch {
    instance = null;
  }
  return instance;
}

/** Products below this many multiply-adds are not worth the copies (measured: n = k = m ≈ 24). */
export const WASM_MIN_WORK = 16_000;

/**
 * out (n×m) = A (n×kk) · B (kk×m), or out += A·B with `accumulate`, in WebAssembly SIMD. Returns
 * false (nothing written) when the product is small or SIMD is unavailable; the caller then uses
 * the JavaScript kernel, which gives the same bits.
 */
export function wasmGemm(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  accumulate: boolean,
): boolean {
  if (n * kk * m < WASM_MIN_WORK) return false;
  const k = getKernel();
  if (!k) return false;
  runGemmKernel(k, a, b, out, n, kk, m, accumulate);
  return true;
}

/**
 * Copies A, B (and out, to accumulate) into the kernel's memory, runs it and copies out back.
 * Self-contained: parallel-gemm.ts sends its source to the helper thread.
 */
export function runGemmKernel(
  k: GemmKernel,
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  accumulate: boolean,
): void {
  const aLen = n * kk;
  const bLen = kk * m;
  const outLen = n * m;
  const bytes = (aLen + bLen + outLen) * 8;
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65_536));
  const heap = new Float64Array(k.memory.buffer);
  heap.set(a.subarray(0, aLen), 0);
  heap.set(b.subarray(0, bLen), aLen);
  const outAt = aLen + bLen;
  if (accumulate) heap.set(out.subarray(0, outLen), outAt);
  else heap.fill(0, outAt, outAt + outLen);
  k.gemm(0, aLen * 8, outAt * 8, n, kk, m);
  out.set(heap.subarray(outAt, outAt + outLen));
}
