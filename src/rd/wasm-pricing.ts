/**
 * The network simplex of network-simplex.ts in WebAssembly: the block-search pricing loop
 * (`findEnteringArc`), the pivot (join node, leaving arc, flow change, spanning-tree and potential
 * update) and the loop that alternates them (`pivotLoop`; both in wasm-pivot.ts), the tie check
 * (`hasTies`) and the cost gather (`setCosts` with a shift). Pricing is the hottest loop of the
 * exact OT solver: for each arc in turn, reduced cost × state, keeping the most negative, stopping
 * at the end of the first block that has one below −ε·scale. The pivots walk tree paths. Every
 * kernel repeats the arithmetic, comparisons and visiting order of its JavaScript counterpart, so
 * the same arcs enter and leave and the plans are bit-identical (wasm-kernels.test.ts compares the
 * two); WebAssembly runs them without typed-array bounds checks or a return to JavaScript per
 * pivot.
 *
 * Arrays live in a WebAssembly.Memory lent to one solver at a time (see {@link PricingMemory}).
 */
import { assemble, F64, FunctionBuilder, I32, op, VOID_BLOCK } from './wasm-assembler.js';
import { pivotKernel, runKernel } from './wasm-pivot.js';

/** Relative reduced-cost threshold; the same constant as network-simplex.ts (POT's). */
export const PRICING_EPSILON = 2.2204460492503131e-15;

/**
 * `price(arcNum, nextArc, blockSize, cost, pi, source, target, state)`: the entering arc, or −1
 * when no arc prices out; the new block start is stored at byte 0. Pointers are byte addresses.
 */
function kernel(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32], [I32]);
  const [ARCS, NEXT, BLOCK, COST, PI, SOURCE, TARGET, STATE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const e = f.local(I32);
  const end = f.local(I32);
  const pass = f.local(I32);
  const cnt = f.local(I32);
  const inArc = f.local(I32);
  const stop = f.local(I32);
  const last = f.local(I32);
  const min = f.local(F64);
  const c = f.local(F64);

  /** Pushes the address of element `index` (a local) of the array at `base`, `size` bytes each. */
  const element = (base: number, index: number, sizeLog2: number): void => {
    f.get(base);
    f.get(index);
    if (sizeLog2 > 0) {
      f.i32(sizeLog2);
      f.emit(op.i32Shl);
    }
    f.emit(op.i32Add);
  };
  /** Pushes pi[nodes[arc]]. */
  const potential = (nodes: number, arc: number): void => {
    f.get(PI);
    element(nodes, arc, 2);
    f.memory(op.i32Load, 2);
    f.i32(3);
    f.emit(op.i32Shl, op.i32Add);
    f.memory(op.f64Load, 3);
  };
  /** Pushes 1 when min < 0 and min < −ε·max(|pi[source]|, |pi[target]|, |cost|) of inArc. */
  const pricesOut = (): void => {
    f.emit(op.block, I32); // the block yields the i32 answer
    f.i32(0);
    f.get(min);
    f.f64(0);
    f.emit(op.f64Lt, op.i32Eqz);
    f.emit(op.brIf, 0); // yields 0 when min ≥ 0: nothing prices out, whatever the scale
    f.emit(op.drop);
    f.get(min);
    f.f64(-PRICING_EPSILON);
    potential(SOURCE, inArc);
    f.emit(op.f64Abs);
    potential(TARGET, inArc);
    f.emit(op.f64Abs);
    f.emit(op.f64Max);
    element(COST, inArc, 3);
    f.memory(op.f64Load, 3);
    f.emit(op.f64Abs);
    f.emit(op.f64Max);
    f.emit(op.f64Mul);
    f.emit(op.f64Lt);
    f.emit(op.end);
  };
  const found = (nextValue: number): void => {
    f.i32(0);
    f.get(nextValue);
    f.memory(op.i32Store, 2);
    f.get(inArc);
    f.emit(op.ret);
  };

  f.f64(0);
  f.set(min);
  f.get(BLOCK);
  f.set(cnt);
  f.i32(-1);
  f.set(inArc);
  f.get(NEXT);
  f.set(e);
  f.get(ARCS);
  f.set(end);
  f.i32(0);
  f.set(pass);
  // Pass 0 scans [nextArc, arcNum), pass 1 wraps around to [0, nextArc). Within a pass, arcs are
  // taken a run at a time up to the end of the current block, so that the block-end test runs once
  // per block rather than once per arc.
  f.emit(op.block, VOID_BLOCK, op.loop, VOID_BLOCK);
  f.whileNot(
    () => {
      f.get(e);
      f.get(end);
      f.emit(op.i32Eq);
    },
    () => {
      // stop = min(e + cnt, end)
      f.get(end);
      f.get(e);
      f.get(cnt);
      f.emit(op.i32Add);
      f.set(stop);
      f.get(stop);
      f.get(stop);
      f.get(end);
      f.emit(op.i32GtS);
      f.emit(op.select);
      f.set(stop);
      // cnt −= stop − e
      f.get(cnt);
      f.get(stop);
      f.get(e);
      f.emit(op.i32Sub, op.i32Sub);
      f.set(cnt);
      f.whileNot(
        () => {
          f.get(e);
          f.get(stop);
          f.emit(op.i32Eq);
        },
        () => {
          // c = state[e] · (cost[e] + pi[source[e]] − pi[target[e]])
          element(STATE, e, 0);
          f.memory(op.i32Load8S, 0);
          f.emit(op.f64ConvertI32S);
          element(COST, e, 3);
          f.memory(op.f64Load, 3);
          potential(SOURCE, e);
          f.emit(op.f64Add);
          potential(TARGET, e);
          f.emit(op.f64Sub);
          f.emit(op.f64Mul);
          f.set(c);
          // if (c < min) { min = c; inArc = e }: a branch, rarely taken and well predicted, so
          // that arcs do not wait on one another through min (selects would chain them).
          f.when(
            () => {
              f.get(c);
              f.get(min);
              f.emit(op.f64Lt);
            },
            () => {
              f.get(c);
              f.set(min);
              f.get(e);
              f.set(inArc);
            },
          );
          f.increment(e, 1);
        },
      );
      // End of a block: the last arc taken was e − 1.
      f.when(
        () => {
          f.get(cnt);
          f.emit(op.i32Eqz);
        },
        () => {
          f.get(e);
          f.i32(-1);
          f.emit(op.i32Add);
          f.set(last);
          f.when(pricesOut, () => found(last));
          f.get(BLOCK);
          f.set(cnt);
        },
      );
    },
  );
  f.get(pass);
  f.emit(op.brIf, 1); // both passes done
  f.i32(1);
  f.set(pass);
  f.i32(0);
  f.set(e);
  f.get(NEXT);
  f.set(end);
  f.emit(op.br, 0, op.end, op.end);
  f.when(pricesOut, () => found(NEXT));
  f.i32(-1);
  return f;
}

/**
 * `ties(arcNum, relTol, cost, pi, source, target, state)`: 1 when a non-tree arc has a reduced cost
 * within relTol of zero, relative to max(|cost|, |pi[source]|, |pi[target]|); see
 * NetworkSimplex.hasTies, whose arithmetic this repeats.
 */
function tiesKernel(): FunctionBuilder {
  const f = new FunctionBuilder([I32, F64, I32, I32, I32, I32, I32], [I32]);
  const [ARCS, TOL, COST, PI, SOURCE, TARGET, STATE] = [0, 1, 2, 3, 4, 5, 6];
  const e = f.local(I32);
  const c = f.local(F64);
  const ps = f.local(F64);
  const pt = f.local(F64);
  const rc = f.local(F64);
  const address = (base: number, sizeLog2: number): void => {
    f.get(base);
    f.get(e);
    if (sizeLog2 > 0) {
      f.i32(sizeLog2);
      f.emit(op.i32Shl);
    }
    f.emit(op.i32Add);
  };
  const potential = (nodes: number, into: number): void => {
    f.get(PI);
    address(nodes, 2);
    f.memory(op.i32Load, 2);
    f.i32(3);
    f.emit(op.i32Shl, op.i32Add);
    f.memory(op.f64Load, 3);
    f.set(into);
  };
  f.i32(0);
  f.set(e);
  f.whileNot(
    () => {
      f.get(e);
      f.get(ARCS);
      f.emit(op.i32Eq);
    },
    () => {
      f.when(
        () => {
          address(STATE, 0);
          f.memory(op.i32Load8S, 0); // non-zero: not a tree arc
        },
        () => {
          address(COST, 3);
          f.memory(op.f64Load, 3);
          f.set(c);
          potential(SOURCE, ps);
          potential(TARGET, pt);
          f.get(c);
          f.get(ps);
          f.emit(op.f64Add);
          f.get(pt);
          f.emit(op.f64Sub);
          f.emit(op.f64Abs);
          f.set(rc);
          // rc ≤ relTol · (|c| + |ps| + |pt|), the cheap bound first, then the exact test.
          f.when(
            () => {
              f.get(rc);
              f.get(TOL);
              f.get(c);
              f.emit(op.f64Abs);
              f.get(ps);
              f.emit(op.f64Abs);
              f.emit(op.f64Add);
              f.get(pt);
              f.emit(op.f64Abs);
              f.emit(op.f64Add);
              f.emit(op.f64Mul);
              f.emit(op.f64Le);
            },
            () => {
              f.when(
                () => {
                  f.get(rc);
                  f.get(TOL);
                  f.get(c);
                  f.emit(op.f64Abs);
                  f.get(ps);
                  f.emit(op.f64Abs);
                  f.emit(op.f64Max);
                  f.get(pt);
                  f.emit(op.f64Abs);
                  f.emit(op.f64Max);
                  f.emit(op.f64Mul);
                  f.emit(op.f64Le);
                },
                () => {
                  f.i32(1);
                  f.emit(op.ret);
                },
              );
            },
          );
        },
      );
      f.increment(e, 1);
    },
  );
  f.i32(0);
  return f;
}

/**
 * `gather(input, flatAt, cost, arcNum, shift)`: cost[pos] = input[flatAt[pos]] + shift for each arc
 * position, NetworkSimplex.setCosts with a shift (its JavaScript loop spends most of its time on
 * bounds checks of the random reads).
 */
function gatherKernel(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, F64]);
  const [INPUT, FLAT, COST, ARCS, SHIFT] = [0, 1, 2, 3, 4];
  const pos = f.local(I32); // byte offset of arc position pos in flatAt (4 bytes each)
  const end = f.local(I32);
  f.get(ARCS);
  f.i32(2);
  f.emit(op.i32Shl);
  f.set(end);
  f.whileNot(
    () => {
      f.get(pos);
      f.get(end);
      f.emit(op.i32Eq);
    },
    () => {
      // cost address: COST + pos·2 (8-byte entries)
      f.get(COST);
      f.get(pos);
      f.i32(1);
      f.emit(op.i32Shl, op.i32Add);
      // input[flatAt[pos]]
      f.get(INPUT);
      f.get(FLAT);
      f.get(pos);
      f.emit(op.i32Add);
      f.memory(op.i32Load, 2);
      f.i32(3);
      f.emit(op.i32Shl, op.i32Add);
      f.memory(op.f64Load, 3);
      f.get(SHIFT);
      f.emit(op.f64Add);
      f.memory(op.f64Store, 3);
      f.increment(pos, 4);
    },
  );
  return f;
}

interface Exports {
  price(
    arcNum: number,
    nextArc: number,
    blockSize: number,
    cost: number,
    pi: number,
    source: number,
    target: number,
    state: number,
  ): number;
  ties(
    arcNum: number,
    relTol: number,
    cost: number,
    pi: number,
    source: number,
    target: number,
    state: number,
  ): number;
  gather(input: number, flatAt: number, cost: number, arcNum: number, shift: number): void;
  run(...args: number[]): number;
  pivot(
    inArc: number,
    cost: number,
    pi: number,
    source: number,
    target: number,
    state: number,
    flow: number,
    parent: number,
    pred: number,
    thread: number,
    revThread: number,
    succNum: number,
    lastSucc: number,
    forward: number,
    dirtyRevs: number,
  ): number;
}

let compiled: WebAssembly.Module | null | undefined;

function pricingModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = new WebAssembly.Module(
      assemble(
        {
          price: kernel(),
          ties: tiesKernel(),
          gather: gatherKernel(),
          pivot: pivotKernel(),
          run: runKernel(0, 3), // the indices of price and pivot in this list
        },
        { importMemory: true, pages: 1 },
      ),
    );
  } catch {
    compiled = null;
  }
  return compiled;
}

/**
 * WebAssembly memories are costly to create and, being external memory, push V8 into full
 * collections when many are created (one per solve would be), so released ones are kept for reuse.
 */
const POOL_LIMIT = 4;
const pool: PricingMemory[] = [];

/**
 * The simplex's arrays (per arc and per node), laid out in one WebAssembly memory for the kernels.
 * Obtained with {@link PricingMemory.acquire}; {@link PricingMemory.release} hands it back for
 * reuse, after which the arrays belong to the next solver (not releasing is safe: the memory is
 * then collected).
 */
export class PricingMemory {
  cost = new Float64Array(0);
  pi = new Float64Array(0);
  source = new Int32Array(0);
  target = new Int32Array(0);
  state = new Int8Array(0);
  /** Not read by the pricing loop; kept here so that they are pooled too. */
  flow = new Float64Array(0);
  arcAt = new Int32Array(0);
  flatAt = new Int32Array(0);
  positionAt = new Int32Array(0);
  /** Spanning-tree arrays, one entry per node (artificial root included). */
  parent = new Int32Array(0);
  pred = new Int32Array(0);
  thread = new Int32Array(0);
  revThread = new Int32Array(0);
  succNum = new Int32Array(0);
  lastSucc = new Int32Array(0);
  dirtyRevs = new Int32Array(0);
  forward = new Uint8Array(0);
  /** A copy of the caller's cost matrix for {@link gatherCosts} (graphArcs entries). */
  private input = new Float64Array(0);
  private nextSlot = new Int32Array(0);
  private costAt = 0;
  private piAt = 0;
  private sourceAt = 0;
  private targetAt = 0;
  private stateAt = 0;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly exports: Exports,
  ) {}

  /**
   * Arrays for `arcs` arcs (artificial ones included), `potentials` nodes and `graphArcs` arcs of
   * the bipartite graph, or null where WebAssembly is unavailable. Their contents are undefined.
   */
  static acquire(arcs: number, potentials: number, graphArcs: number): PricingMemory | null {
    let pricing = pool.pop();
    if (!pricing) {
      const module = pricingModule();
      if (!module) return null;
      try {
        const memory = new WebAssembly.Memory({ initial: 1 });
        const instance = new WebAssembly.Instance(module, { env: { memory } });
        pricing = new PricingMemory(memory, instance.exports as unknown as Exports);
      } catch {
        return null;
      }
    }
    try {
      pricing.layOut(arcs, potentials, graphArcs);
    } catch {
      return null; // could not grow the memory
    }
    return pricing;
  }

  /** Hands the memory back for reuse; its arrays must not be used afterwards. */
  release(): void {
    if (pool.length < POOL_LIMIT && !pool.includes(this)) pool.push(this);
  }

  private layOut(arcs: number, potentials: number, graphArcs: number): void {
    this.costAt = 8; // bytes 0..3: the block start written by price(), 4..7: the pivots of run()
    const flowAt = this.costAt + arcs * 8;
    this.piAt = flowAt + arcs * 8;
    this.sourceAt = this.piAt + potentials * 8;
    this.targetAt = this.sourceAt + arcs * 4;
    const arcAtAt = this.targetAt + arcs * 4;
    const flatAtAt = arcAtAt + graphArcs * 4;
    const positionAtAt = flatAtAt + graphArcs * 4;
    const nodeArraysAt = positionAtAt + graphArcs * 4; // seven Int32Arrays of `potentials`
    this.stateAt = nodeArraysAt + 7 * potentials * 4;
    const forwardAt = this.stateAt + arcs;
    const inputAt = Math.ceil((forwardAt + potentials) / 8) * 8;
    const bytes = inputAt + graphArcs * 8;
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65_536));
    const buffer = this.memory.buffer;
    this.nextSlot = new Int32Array(buffer, 0, 2);
    this.cost = new Float64Array(buffer, this.costAt, arcs);
    this.pi = new Float64Array(buffer, this.piAt, potentials);
    this.source = new Int32Array(buffer, this.sourceAt, arcs);
    this.target = new Int32Array(buffer, this.targetAt, arcs);
    this.state = new Int8Array(buffer, this.stateAt, arcs);
    this.flow = new Float64Array(buffer, flowAt, arcs);
    this.arcAt = new Int32Array(buffer, arcAtAt, graphArcs);
    this.flatAt = new Int32Array(buffer, flatAtAt, graphArcs);
    this.positionAt = new Int32Array(buffer, positionAtAt, graphArcs);
    this.input = new Float64Array(buffer, inputAt, graphArcs);
    const nodes = (k: number): Int32Array<ArrayBuffer> =>
      new Int32Array(buffer, nodeArraysAt + k * potentials * 4, potentials);
    this.parent = nodes(0);
    this.pred = nodes(1);
    this.thread = nodes(2);
    this.revThread = nodes(3);
    this.succNum = nodes(4);
    this.lastSucc = nodes(5);
    this.dirtyRevs = nodes(6);
    this.forward = new Uint8Array(buffer, forwardAt, potentials);
  }

  /**
   * Prices and pivots until optimal, out of pivots or unbounded (see the run kernel); returns a
   * RUN_* code, with the block start in {@link nextArc} and the pivot count in {@link runIterations}.
   */
  run(arcNum: number, nextArc: number, blockSize: number, maxIter: number): number {
    return this.exports.run(
      arcNum,
      nextArc,
      blockSize,
      maxIter,
      this.costAt,
      this.piAt,
      this.sourceAt,
      this.targetAt,
      this.stateAt,
      ...this.treeAddresses(),
    );
  }

  /** Pivots counted by the last {@link run}. */
  get runIterations(): number {
    return this.nextSlot[1]!;
  }

  /** Byte addresses of flow and the spanning-tree arrays, in the pivot kernel's order. */
  private treeAddresses(): number[] {
    return [
      this.flow.byteOffset,
      this.parent.byteOffset,
      this.pred.byteOffset,
      this.thread.byteOffset,
      this.revThread.byteOffset,
      this.succNum.byteOffset,
      this.lastSucc.byteOffset,
      this.forward.byteOffset,
      this.dirtyRevs.byteOffset,
    ];
  }

  /**
   * One pivot on `inArc` (see the pivot kernel); false when the cycle is unbounded. The tree addresses are
   * spelled out, in treeAddresses()'s order, rather than spread from it: the warm start calls this once per
   * demand arc, and a spread allocates an array per call.
   */
  pivot(inArc: number): boolean {
    return (
      this.exports.pivot(
        inArc,
        this.costAt,
        this.piAt,
        this.sourceAt,
        this.targetAt,
        this.stateAt,
        this.flow.byteOffset,
        this.parent.byteOffset,
        this.pred.byteOffset,
        this.thread.byteOffset,
        this.revThread.byteOffset,
        this.succNum.byteOffset,
        this.lastSucc.byteOffset,
        this.forward.byteOffset,
        this.dirtyRevs.byteOffset,
      ) !== 0
    );
  }

  /**
   * cost[pos] = d[flatAt[pos]] + shift for the first `arcNum` positions; false (nothing done) when
   * `d` is larger than the matrix this memory was laid out for.
   */
  gatherCosts(d: Float64Array, arcNum: number, shift: number): boolean {
    if (d.length > this.input.length) return false;
    this.input.set(d);
    this.exports.gather(this.input.byteOffset, this.flatAt.byteOffset, this.costAt, arcNum, shift);
    return true;
  }

  /** Whether a non-tree arc among the first `arcNum` has a reduced cost within `relTol` of 0. */
  hasTies(arcNum: number, relTol: number): boolean {
    const { costAt, piAt, sourceAt, targetAt, stateAt } = this;
    return this.exports.ties(arcNum, relTol, costAt, piAt, sourceAt, targetAt, stateAt) !== 0;
  }

  /** The block start left by the last {@link run} (that of its last entering arc). */
  get nextArc(): number {
    return this.nextSlot[0]!;
  }
}
