/**
 * The n×m element loops of conditional-gradient.ts in WebAssembly: the pass that sets up the
 * starting plan, the linear term of the line search, the pass that moves G and P = C1·G·C2 along
 * the step, and the final cost split. Each reads and writes several n×m arrays and keeps a few
 * running sums; V8 reloads every typed-array length and base after each store, and these loops run
 * two to three times faster here (n = 100: an update pass 24 µs instead of 55 µs). Also the sparse
 * half product of the line search (gw-terms.ts `sparseHalfProduct`), two columns per SIMD operation.
 *
 * The arithmetic is that of the JavaScript loops they replace, operation for operation and in the
 * same order (WebAssembly f64 is IEEE binary64 with round-to-nearest and no fused multiply-add), so
 * results are bit-identical. The arrays live in one WebAssembly.Memory per thread, laid out for the
 * last problem size (see {@link CgMemory.acquire}).
 */
import { assemble, F64, FunctionBuilder, I32, op, simd, uleb, V128 } from './wasm-assembler.js';

type Builder = FunctionBuilder;

/** Pushes the f64 at byte address `base + offset` (both locals). */
function load(f: Builder, base: number, offset: number): void {
  f.get(base);
  f.get(offset);
  f.emit(op.i32Add);
  f.memory(op.f64Load, 3);
}

/** Stores local `value` at byte address `base + offset` (both locals). */
function store(f: Builder, base: number, offset: number, value: number): void {
  f.get(base);
  f.get(offset);
  f.emit(op.i32Add);
  f.get(value);
  f.memory(op.f64Store, 3);
}

/** acc = acc + a·b (locals). */
function accumulate(f: Builder, acc: number, a: number, b: number): void {
  f.get(acc);
  f.get(a);
  f.get(b);
  f.emit(op.f64Mul, op.f64Add);
  f.set(acc);
}

/** min = v < min ? v : min (locals), as `if (v < min) min = v`. */
function keepMin(f: Builder, min: number, v: number): void {
  f.get(v);
  f.get(min);
  f.get(v);
  f.get(min);
  f.emit(op.f64Lt, op.select);
  f.set(min);
}

/** Stores locals `values` as consecutive f64 at byte address `out` (a local). */
function results(f: Builder, out: number, values: number[]): void {
  values.forEach((v, i) => {
    f.get(out);
    f.get(v);
    f.memory(op.f64Store, 3, i * 8);
  });
}

/**
 * `start(cost, constC, mf, mfc, g, pg, mi, rowTerm, colTerm, p, q, c1p, c2q, n, m, alpha, beta, out)`:
 * for k = i·m + j, constC = rowTerm[i] + colTerm[j], mf = beta·cost, mfc = mf + alpha·constC,
 * G = p[i]·q[j], P = c1p[i]·c2q[j], Mi = mf + alpha·(2·(constC − 2P)); out[0..4) = ⟨mf, G⟩,
 * ⟨constC − 2P, G⟩, ⟨P, G⟩, min Mi. beta is 1 − alpha, computed by the caller.
 */
function startKernel(): Builder {
  const f = new FunctionBuilder([...Array<number>(15).fill(I32), F64, F64, I32]);
  const [COST, CC, MF, MFC, G, PG, MI, ROW, COL, P, Q, C1P, C2Q, N, M, ALPHA, BETA, OUT] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
  ];
  const k = f.local(I32); // byte offset of entry (i, j)
  const ib = f.local(I32); // i·8
  const jb = f.local(I32); // j·8
  const rowEnd = f.local(I32); // n·8
  const colEnd = f.local(I32); // m·8
  const rowI = f.local(F64);
  const pI = f.local(F64);
  const c1pI = f.local(F64);
  const mfk = f.local(F64);
  const cc = f.local(F64);
  const gk = f.local(F64);
  const pk = f.local(F64);
  const v = f.local(F64);
  const lin = f.local(F64);
  const quad = f.local(F64);
  const pgs = f.local(F64);
  const min = f.local(F64);
  f.f64(Infinity);
  f.set(min);
  f.get(N);
  f.i32(3);
  f.emit(op.i32Shl);
  f.set(rowEnd);
  f.get(M);
  f.i32(3);
  f.emit(op.i32Shl);
  f.set(colEnd);
  f.whileNot(
    () => {
      f.get(ib);
      f.get(rowEnd);
      f.emit(op.i32Eq);
    },
    () => {
      load(f, ROW, ib);
      f.set(rowI);
      load(f, P, ib);
      f.set(pI);
      load(f, C1P, ib);
      f.set(c1pI);
      f.i32(0);
      f.set(jb);
      f.whileNot(
        () => {
          f.get(jb);
          f.get(colEnd);
          f.emit(op.i32Eq);
        },
        () => {
          f.get(BETA);
          load(f, COST, k);
          f.emit(op.f64Mul);
          f.set(mfk);
          f.get(rowI);
          load(f, COL, jb);
          f.emit(op.f64Add);
          f.set(cc);
          f.get(pI);
          load(f, Q, jb);
          f.emit(op.f64Mul);
          f.set(gk);
          f.get(c1pI);
          load(f, C2Q, jb);
          f.emit(op.f64Mul);
          f.set(pk);
          store(f, CC, k, cc);
          store(f, MF, k, mfk);
          f.get(MFC);
          f.get(k);
          f.emit(op.i32Add);
          f.get(mfk);
          f.get(ALPHA);
          f.get(cc);
          f.emit(op.f64Mul, op.f64Add);
          f.memory(op.f64Store, 3);
          store(f, G, k, gk);
          store(f, PG, k, pk);
          accumulate(f, lin, mfk, gk);
          // quad += (cc − 2·pk)·gk; v = mfk + alpha·(2·(cc − 2·pk))
          f.get(quad);
          f.get(cc);
          f.f64(2);
          f.get(pk);
          f.emit(op.f64Mul, op.f64Sub);
          f.get(gk);
          f.emit(op.f64Mul, op.f64Add);
          f.set(quad);
          accumulate(f, pgs, pk, gk);
          f.get(mfk);
          f.get(ALPHA);
          f.f64(2);
          f.get(cc);
          f.f64(2);
          f.get(pk);
          f.emit(op.f64Mul, op.f64Sub, op.f64Mul, op.f64Mul, op.f64Add);
          f.set(v);
          store(f, MI, k, v);
          keepMin(f, min, v);
          f.increment(jb, 8);
          f.increment(k, 8);
        },
      );
      f.increment(ib, 8);
    },
  );
  results(f, OUT, [lin, quad, pgs, min]);
  return f;
}

/** `for (; k < 8·count; k += 8) body()`: a loop over `count` doubles by byte offset (k: a fresh local, 0). */
function overDoubles(f: Builder, count: number, k: number, body: () => void): void {
  const end = f.local(I32);
  f.get(count);
  f.i32(3);
  f.emit(op.i32Shl);
  f.set(end);
  f.whileNot(
    () => {
      f.get(k);
      f.get(end);
      f.emit(op.i32Eq);
    },
    () => {
      body();
      f.increment(k, 8);
    },
  );
}

/** `linear(mfc, gc, g, count)`: Σ_k mfc[k]·(gc[k] − g[k]) in increasing k. */
function linearKernel(): Builder {
  const f = new FunctionBuilder([I32, I32, I32, I32], [F64]);
  const [MFC, GC, G, COUNT] = [0, 1, 2, 3];
  const k = f.local(I32);
  const sum = f.local(F64);
  overDoubles(f, COUNT, k, () => {
    f.get(sum);
    load(f, MFC, k);
    load(f, GC, k);
    load(f, G, k);
    f.emit(op.f64Sub, op.f64Mul, op.f64Add);
    f.set(sum);
  });
  f.get(sum);
  return f;
}

/**
 * `step(g, gc, pg, x, mf, constC, mi, count, step, alpha, out)`: G += step·(Gc − G),
 * P += step·(X − P), Mi = mf + alpha·(2·(constC − 2P)); out[0..4) = ⟨mf, G⟩, ⟨constC − 2P, G⟩,
 * ⟨P, G⟩, min Mi, all with the new G and P.
 */
function stepKernel(): Builder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, F64, F64, I32]);
  const [G, GC, PG, X, MF, CC, MI, COUNT, STEP, ALPHA, OUT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const k = f.local(I32);
  const g0 = f.local(F64);
  const p0 = f.local(F64);
  const mfk = f.local(F64);
  const gk = f.local(F64);
  const pk = f.local(F64);
  const d = f.local(F64);
  const v = f.local(F64);
  const lin = f.local(F64);
  const quad = f.local(F64);
  const pgs = f.local(F64);
  const min = f.local(F64);
  f.f64(Infinity);
  f.set(min);
  overDoubles(f, COUNT, k, () => {
    load(f, G, k);
    f.set(g0);
    load(f, PG, k);
    f.set(p0);
    load(f, MF, k);
    f.set(mfk);
    // gk = g0 + step·(gc − g0); pk = p0 + step·(x − p0)
    f.get(g0);
    f.get(STEP);
    load(f, GC, k);
    f.get(g0);
    f.emit(op.f64Sub, op.f64Mul, op.f64Add);
    f.set(gk);
    f.get(p0);
    f.get(STEP);
    load(f, X, k);
    f.get(p0);
    f.emit(op.f64Sub, op.f64Mul, op.f64Add);
    f.set(pk);
    // d = constC − 2·pk
    load(f, CC, k);
    f.f64(2);
    f.get(pk);
    f.emit(op.f64Mul, op.f64Sub);
    f.set(d);
    store(f, G, k, gk);
    store(f, PG, k, pk);
    accumulate(f, lin, mfk, gk);
    accumulate(f, quad, d, gk);
    accumulate(f, pgs, pk, gk);
    // v = mfk + alpha·(2·d)
    f.get(mfk);
    f.get(ALPHA);
    f.f64(2);
    f.get(d);
    f.emit(op.f64Mul, op.f64Mul, op.f64Add);
    f.set(v);
    store(f, MI, k, v);
    keepMin(f, min, v);
  });
  results(f, OUT, [lin, quad, pgs, min]);
  return f;
}

/** `split(cost, constC, pg, g, count, out)`: out[0] = ⟨cost, G⟩, out[1] = ⟨constC − 2P, G⟩. */
function splitKernel(): Builder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [COST, CC, PG, G, COUNT, OUT] = [0, 1, 2, 3, 4, 5];
  const k = f.local(I32);
  const gk = f.local(F64);
  const feature = f.local(F64);
  const structure = f.local(F64);
  overDoubles(f, COUNT, k, () => {
    load(f, G, k);
    f.set(gk);
    f.get(feature);
    load(f, COST, k);
    f.get(gk);
    f.emit(op.f64Mul, op.f64Add);
    f.set(feature);
    f.get(structure);
    load(f, CC, k);
    f.f64(2);
    load(f, PG, k);
    f.emit(op.f64Mul, op.f64Sub);
    f.get(gk);
    f.emit(op.f64Mul, op.f64Add);
    f.set(structure);
  });
  results(f, OUT, [feature, structure]);
  return f;
}

/**
 * `sparseHalf(gc, support, size, n, m, c, tmp)`: gw-terms.ts `sparseHalfProduct` after its zero
 * fill: for each support entry (k, l) in order, row k of tmp += Gc[k,l]·row l of C2 (c = C2, when
 * n ≤ m; two columns per f64x2 operation), else column l of tmp += Gc[k,l]·column k of C1 (c = C1).
 * Each entry gets the same multiply and add, in the same order over the support.
 */
function sparseHalfKernel(): Builder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [GC, SUPPORT, SIZE, N, M, C, TMP] = [0, 1, 2, 3, 4, 5, 6];
  const s = f.local(I32); // byte offset into support
  const sEnd = f.local(I32);
  const idx = f.local(I32);
  const k = f.local(I32);
  const l = f.local(I32);
  const dst = f.local(I32);
  const src = f.local(I32);
  const j = f.local(I32); // byte offset along a row or down a column
  const jEnd = f.local(I32);
  const pairEnd = f.local(I32);
  const dstStep = f.local(I32);
  const srcStep = f.local(I32);
  const v = f.local(F64);
  const vv = f.local(V128);
  /** dst[j] = dst[j] + v·src[j'] in scalar f64, for the current byte offsets. */
  const scalarStep = (srcOffset: () => void): void => {
    f.get(dst);
    f.get(j);
    f.emit(op.i32Add);
    f.get(dst);
    f.get(j);
    f.emit(op.i32Add);
    f.memory(op.f64Load, 3);
    f.get(v);
    srcOffset();
    f.memory(op.f64Load, 3);
    f.emit(op.f64Mul, op.f64Add);
    f.memory(op.f64Store, 3);
  };
  f.get(SIZE);
  f.i32(2);
  f.emit(op.i32Shl);
  f.set(sEnd);
  f.whileNot(
    () => {
      f.get(s);
      f.get(sEnd);
      f.emit(op.i32Eq);
    },
    () => {
      f.get(SUPPORT);
      f.get(s);
      f.emit(op.i32Add);
      f.memory(op.i32Load, 2);
      f.set(idx);
      f.get(idx);
      f.get(M);
      f.emit(op.i32DivU);
      f.set(k);
      f.get(idx);
      f.get(k);
      f.get(M);
      f.emit(op.i32Mul, op.i32Sub);
      f.set(l);
      f.get(GC);
      f.get(idx);
      f.i32(3);
      f.emit(op.i32Shl, op.i32Add);
      f.memory(op.f64Load, 3);
      f.set(v);
      f.i32(0);
      f.set(j);
      f.ifElse(
        () => {
          f.get(N);
          f.get(M);
          f.emit(op.i32GtS, op.i32Eqz);
        },
        () => {
          // Row k of tmp gathers row l of C2: dst = tmp + k·m·8, src = C2 + l·m·8.
          f.get(TMP);
          f.get(k);
          f.get(M);
          f.emit(op.i32Mul);
          f.i32(3);
          f.emit(op.i32Shl, op.i32Add);
          f.set(dst);
          f.get(C);
          f.get(l);
          f.get(M);
          f.emit(op.i32Mul);
          f.i32(3);
          f.emit(op.i32Shl, op.i32Add);
          f.set(src);
          f.get(M);
          f.i32(3);
          f.emit(op.i32Shl);
          f.set(jEnd);
          f.get(jEnd);
          f.i32(8);
          f.emit(op.i32Sub);
          f.set(pairEnd);
          f.get(v);
          f.simd(simd.f64x2Splat);
          f.set(vv);
          f.whileNot(
            () => {
              f.get(j);
              f.get(pairEnd);
              f.emit(op.i32GeS);
            },
            () => {
              f.get(dst);
              f.get(j);
              f.emit(op.i32Add);
              f.get(dst);
              f.get(j);
              f.emit(op.i32Add);
              f.simd(simd.load, ...uleb(3), 0);
              f.get(vv);
              f.get(src);
              f.get(j);
              f.emit(op.i32Add);
              f.simd(simd.load, ...uleb(3), 0);
              f.simd(simd.f64x2Mul);
              f.simd(simd.f64x2Add);
              f.simd(simd.store, ...uleb(3), 0);
              f.increment(j, 16);
            },
          );
          f.when(
            () => {
              f.get(j);
              f.get(jEnd);
              f.emit(op.i32Ne);
            },
            () =>
              scalarStep(() => {
                f.get(src);
                f.get(j);
                f.emit(op.i32Add);
              }),
          );
        },
        () => {
          // Column l of tmp gathers column k of C1: dst = tmp + l·8 (stride m·8), src = C1 + k·8
          // (stride n·8); j runs over dst offsets and src follows.
          f.get(TMP);
          f.get(l);
          f.i32(3);
          f.emit(op.i32Shl, op.i32Add);
          f.set(dst);
          f.get(C);
          f.get(k);
          f.i32(3);
          f.emit(op.i32Shl, op.i32Add);
          f.set(src);
          f.get(M);
          f.i32(3);
          f.emit(op.i32Shl);
          f.set(dstStep);
          f.get(N);
          f.i32(3);
          f.emit(op.i32Shl);
          f.set(srcStep);
          f.get(N);
          f.get(dstStep);
          f.emit(op.i32Mul);
          f.set(jEnd);
          f.whileNot(
            () => {
              f.get(j);
              f.get(jEnd);
              f.emit(op.i32Eq);
            },
            () => {
              scalarStep(() => f.get(src));
              f.get(src);
              f.get(srcStep);
              f.emit(op.i32Add);
              f.set(src);
              f.get(j);
              f.get(dstStep);
              f.emit(op.i32Add);
              f.set(j);
            },
          );
        },
      );
      f.increment(s, 4);
    },
  );
  return f;
}

interface Exports {
  memory: WebAssembly.Memory;
  start(...args: number[]): void;
  linear(mfc: number, gc: number, g: number, count: number): number;
  step(
    g: number,
    gc: number,
    pg: number,
    x: number,
    mf: number,
    constC: number,
    mi: number,
    count: number,
    step: number,
    alpha: number,
    out: number,
  ): void;
  split(cost: number, constC: number, pg: number, g: number, count: number, out: number): void;
  sparseHalf(gc: number, support: number, size: number, n: number, m: number, c: number, tmp: number): void;
}

let instance: Exports | null | undefined;

function kernels(): Exports | null {
  if (instance !== undefined) return instance;
  try {
    const module = new WebAssembly.Module(
      assemble(
        {
          start: startKernel(),
          linear: linearKernel(),
          step: stepKernel(),
          split: splitKernel(),
          sparseHalf: sparseHalfKernel(),
        },
        { importMemory: false, pages: 1 },
      ),
    );
    instance = new WebAssembly.Instance(module).exports as unknown as Exports;
  } catch {
    instance = null;
  }
  return instance;
}

/** Running sums of {@link CgMemory.start} and {@link CgMemory.step}. */
export interface CgSums {
  /** ⟨Mf, G⟩ */
  linG: number;
  /** ⟨constC − 2P, G⟩ */
  quadG: number;
  /** ⟨P, G⟩ */
  pgG: number;
  /** min over the linearisation Mi */
  minMi: number;
}

/**
 * The conditional-gradient arrays of an n×m problem in the kernels' memory, and the kernels over
 * them. One layout is live at a time per thread: {@link CgMemory.acquire} may grow the memory,
 * which invalidates the arrays of every earlier CgMemory (conditional-gradient.ts keeps one
 * workspace at a time, so none is in use then).
 */
export class CgMemory {
  readonly cost: Float64Array;
  readonly constC: Float64Array;
  readonly mf: Float64Array;
  readonly mfc: Float64Array;
  readonly gc: Float64Array;
  readonly pg: Float64Array;
  readonly x: Float64Array;
  readonly mi: Float64Array;
  readonly g: Float64Array;
  readonly rowTerm: Float64Array;
  readonly colTerm: Float64Array;
  readonly p: Float64Array;
  readonly q: Float64Array;
  readonly c1p: Float64Array;
  readonly c2q: Float64Array;
  /** Scratch of the sparse half product (gw-terms.ts `ProductScratch.tmp`). */
  readonly tmp: Float64Array;
  /** A copy of C2 (n ≤ m) or C1 (n > m) for {@link sparseHalf}. */
  private readonly structure: Float64Array;
  private readonly support: Int32Array;
  private readonly out: Float64Array;
  private readonly k: Exports;
  private readonly n: number;
  private readonly m: number;

  private constructor(k: Exports, n: number, m: number) {
    this.k = k;
    this.n = n;
    this.m = m;
    const nm = n * m;
    const side = Math.max(n, m);
    const supportSlots = Math.ceil((n + m + 1) / 2); // Int32 entries, two per 8 bytes
    const lengths = [4, nm, nm, nm, nm, nm, nm, nm, nm, nm, n, m, n, m, n, m, nm, side * side, supportSlots];
    const bytes = lengths.reduce((sum, len) => sum + len * 8, 0);
    const have = k.memory.buffer.byteLength;
    if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65_536));
    const buffer = k.memory.buffer;
    let at = 0;
    const take = (len: number): Float64Array => {
      const view = new Float64Array(buffer, at, len);
      at += len * 8;
      return view;
    };
    this.out = take(4);
    this.cost = take(nm);
    this.constC = take(nm);
    this.mf = take(nm);
    this.mfc = take(nm);
    this.gc = take(nm);
    this.pg = take(nm);
    this.x = take(nm);
    this.mi = take(nm);
    this.g = take(nm);
    this.rowTerm = take(n);
    this.colTerm = take(m);
    this.p = take(n);
    this.q = take(m);
    this.c1p = take(n);
    this.c2q = take(m);
    this.tmp = take(nm);
    this.structure = take(side * side);
    this.support = new Int32Array(buffer, at, n + m + 1);
  }

  /** Arrays for an n×m problem, or null where WebAssembly is unavailable or memory cannot grow. */
  static acquire(n: number, m: number): CgMemory | null {
    const k = kernels();
    if (!k) return null;
    try {
      return new CgMemory(k, n, m);
    } catch {
      return null;
    }
  }

  /**
   * The starting pass (see conditional-gradient.ts), reading cost, rowTerm, colTerm, p, q, c1p and
   * c2q, which the caller has filled.
   */
  start(alpha: number, sums: CgSums): void {
    const { k, n, m } = this;
    k.start(
      this.cost.byteOffset,
      this.constC.byteOffset,
      this.mf.byteOffset,
      this.mfc.byteOffset,
      this.g.byteOffset,
      this.pg.byteOffset,
      this.mi.byteOffset,
      this.rowTerm.byteOffset,
      this.colTerm.byteOffset,
      this.p.byteOffset,
      this.q.byteOffset,
      this.c1p.byteOffset,
      this.c2q.byteOffset,
      n,
      m,
      alpha,
      1 - alpha,
      this.out.byteOffset,
    );
    this.read(sums);
  }

  /** Σ_k mfc[k]·(gc[k] − g[k]). */
  linear(): number {
    return this.k.linear(this.mfc.byteOffset, this.gc.byteOffset, this.g.byteOffset, this.n * this.m);
  }

  /** The update pass along `step` (see conditional-gradient.ts). */
  step(step: number, alpha: number, sums: CgSums): void {
    this.k.step(
      this.g.byteOffset,
      this.gc.byteOffset,
      this.pg.byteOffset,
      this.x.byteOffset,
      this.mf.byteOffset,
      this.constC.byteOffset,
      this.mi.byteOffset,
      this.n * this.m,
      step,
      alpha,
      this.out.byteOffset,
    );
    this.read(sums);
  }

  /** [⟨cost, G⟩, ⟨constC − 2P, G⟩]. */
  split(): [number, number] {
    const { out } = this;
    this.k.split(
      this.cost.byteOffset,
      this.constC.byteOffset,
      this.pg.byteOffset,
      this.g.byteOffset,
      this.n * this.m,
      out.byteOffset,
    );
    return [out[0]!, out[1]!];
  }

  /**
   * Copies the structure matrix that {@link sparseHalf} reads: C2 when n ≤ m, else C1. Once per
   * solve, before the first {@link sparseHalf}.
   */
  setStructure(c1: Float64Array, c2: Float64Array): void {
    const { n, m } = this;
    this.structure.set(n <= m ? c2.subarray(0, m * m) : c1.subarray(0, n * n));
  }

  /**
   * tmp = Gc·C2 (n ≤ m) or C1·Gc (n > m) for Gc = gc on `support[0..size)`, as gw-terms.ts
   * `sparseHalfProduct` (see the kernel).
   */
  sparseHalf(support: Int32Array, size: number): void {
    const { n, m, tmp } = this;
    tmp.fill(0);
    this.support.set(support.subarray(0, size));
    this.k.sparseHalf(
      this.gc.byteOffset,
      this.support.byteOffset,
      size,
      n,
      m,
      this.structure.byteOffset,
      tmp.byteOffset,
    );
  }

  private read(sums: CgSums): void {
    const { out } = this;
    sums.linG = out[0]!;
    sums.quadG = out[1]!;
    sums.pgG = out[2]!;
    sums.minMi = out[3]!;
  }
}
