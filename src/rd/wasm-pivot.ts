/**
 * The pivot of network-simplex.ts in WebAssembly, and the loop that alternates pricing and pivots,
 * for the module of wasm-pricing.ts (same memory and array layout). A pivot walks tree paths with
 * pointer-chasing loads; here they run without typed-array bounds checks, and the loop returns to
 * JavaScript once per solve instead of twice per pivot. Every step, comparison and floating-point
 * operation is that of the JavaScript methods, in the same order, so the same arcs enter and leave
 * and the plans are bit-identical (wasm-kernels.test.ts compares the two).
 */
import { F64, FunctionBuilder, I32, op, uleb, VOID_BLOCK } from './wasm-assembler.js';

/** Arc states of network-simplex.ts. */
const STATE_UPPER = -1;
const STATE_TREE = 0;
const STATE_LOWER = 1;

/**
 * `pivot(inArc, cost, pi, source, target, state, flow, parent, pred, thread, revThread, succNum,
 * lastSucc, forward, dirtyRevs)`: one pivot of the network simplex on `inArc` (NetworkSimplex.pivot:
 * join node, leaving arc, flow change, spanning-tree and potential update); returns 0 when the
 * cycle is unbounded, else 1. The same steps, comparisons and floating-point operations as the
 * JavaScript methods, in the same order: they walk tree paths of pointer-chasing loads, which run
 * here without typed-array bounds checks. Pointers are byte addresses; `forward` is one byte per node.
 */
export function pivotKernel(): FunctionBuilder {
  const f = new FunctionBuilder(Array<number>(15).fill(I32), [I32]);
  const [IN, COST, PI, SOURCE, TARGET, STATE, FLOW, PARENT, PRED, THREAD, REV, SUCC, LAST, FORWARD, DIRTY] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const u = f.local(I32);
  const v = f.local(I32);
  const join = f.local(I32);
  const first = f.local(I32);
  const second = f.local(I32);
  const uIn = f.local(I32);
  const vIn = f.local(I32);
  const uOut = f.local(I32);
  const result = f.local(I32);
  const e = f.local(I32);
  const out = f.local(I32);
  const oldRevThread = f.local(I32);
  const oldSuccNum = f.local(I32);
  const oldLastSucc = f.local(I32);
  const vOut = f.local(I32);
  const right = f.local(I32);
  const last = f.local(I32);
  const stem = f.local(I32);
  const parStem = f.local(I32);
  const newStem = f.local(I32);
  const w = f.local(I32);
  const dirty = f.local(I32);
  const i = f.local(I32);
  const tmpSc = f.local(I32);
  const tmpLs = f.local(I32);
  const upLimitIn = f.local(I32);
  const upLimitOut = f.local(I32);
  const delta = f.local(F64);
  const d = f.local(F64);
  const val = f.local(F64);
  const sigma = f.local(F64);

  /** Pushes the address of element `index` (a local) of the array at `base`, of 2^log2 bytes each. */
  const elementAt =
    (log2: number) =>
    (base: number, index: number): void => {
      f.get(base);
      f.get(index);
      if (log2 === 0) {
        f.emit(op.i32Add);
        return;
      }
      f.i32(log2);
      f.emit(op.i32Shl, op.i32Add);
    };
  const at1 = elementAt(0);
  const at4 = elementAt(2);
  const at8 = elementAt(3);
  /** Pushes the i32 element `index` of `base`. */
  const ld = (base: number, index: number): void => {
    at4(base, index);
    f.memory(op.i32Load, 2);
  };
  /** local `into` = base[index]. */
  const read = (into: number, base: number, index: number): void => {
    ld(base, index);
    f.set(into);
  };
  /** base[index] = the i32 pushed by `value`. */
  const st = (base: number, index: number, value: () => void): void => {
    at4(base, index);
    value();
    f.memory(op.i32Store, 2);
  };
  const local = (l: number) => (): void => f.get(l);
  const ldf = (base: number, index: number): void => {
    at8(base, index);
    f.memory(op.f64Load, 3);
  };
  const forwardOf = (node: number): void => {
    at1(FORWARD, node);
    f.memory(op.i32Load8U, 0);
  };
  const setForward = (node: number, value: () => void): void => {
    at1(FORWARD, node);
    value();
    f.memory(op.i32Store8, 0);
  };
  const stateOf = (arc: number): void => {
    at1(STATE, arc);
    f.memory(op.i32Load8S, 0);
  };
  const setState = (arc: number, value: () => void): void => {
    at1(STATE, arc);
    value();
    f.memory(op.i32Store8, 0);
  };
  /** for (u = start; u !== stop; u = parent[u]) body, `start` and `stop` locals. */
  const upPath = (from: number, stop: number, body: () => void): void => {
    f.get(from);
    f.set(u);
    f.whileNot(
      () => {
        f.get(u);
        f.get(stop);
        f.emit(op.i32Eq);
      },
      () => {
        body();
        read(u, PARENT, u);
      },
    );
  };
  /** local == other local, as an i32. */
  const eq = (a: number, b: number) => (): void => {
    f.get(a);
    f.get(b);
    f.emit(op.i32Eq);
  };

  // findJoinNode
  read(u, SOURCE, IN);
  read(v, TARGET, IN);
  f.whileNot(eq(u, v), () => {
    f.ifElse(
      () => {
        ld(SUCC, u);
        ld(SUCC, v);
        f.emit(op.i32LtS);
      },
      () => read(u, PARENT, u),
      () => read(v, PARENT, v),
    );
  });
  f.get(u);
  f.set(join);

  // findLeavingArc
  f.ifElse(
    () => {
      stateOf(IN);
      f.i32(STATE_LOWER);
      f.emit(op.i32Eq);
    },
    () => {
      read(first, SOURCE, IN);
      read(second, TARGET, IN);
    },
    () => {
      read(first, TARGET, IN);
      read(second, SOURCE, IN);
    },
  );
  f.f64(Infinity);
  f.set(delta);
  upPath(first, join, () => {
    // d = forward[u] ? flow[pred[u]] : Infinity; if (d < delta) …
    f.f64(Infinity);
    f.set(d);
    f.when(
      () => forwardOf(u),
      () => {
        read(e, PRED, u);
        ldf(FLOW, e);
        f.set(d);
      },
    );
    f.when(
      () => {
        f.get(d);
        f.get(delta);
        f.emit(op.f64Lt);
      },
      () => {
        f.get(d);
        f.set(delta);
        f.get(u);
        f.set(uOut);
        f.i32(1);
        f.set(result);
      },
    );
  });
  upPath(second, join, () => {
    // d = forward[u] ? Infinity : flow[pred[u]]; if (d <= delta) …
    f.f64(Infinity);
    f.set(d);
    f.when(
      () => {
        forwardOf(u);
        f.emit(op.i32Eqz);
      },
      () => {
        read(e, PRED, u);
        ldf(FLOW, e);
        f.set(d);
      },
    );
    f.when(
      () => {
        f.get(d);
        f.get(delta);
        f.emit(op.f64Le);
      },
      () => {
        f.get(d);
        f.set(delta);
        f.get(u);
        f.set(uOut);
        f.i32(2);
        f.set(result);
      },
    );
  });
  f.ifElse(
    () => {
      f.get(result);
      f.i32(1);
      f.emit(op.i32Eq);
    },
    () => {
      f.get(first);
      f.set(uIn);
      f.get(second);
      f.set(vIn);
    },
    () => {
      f.get(second);
      f.set(uIn);
      f.get(first);
      f.set(vIn);
    },
  );
  // Unbounded cycle.
  f.when(
    () => {
      f.get(delta);
      f.f64(Number.MAX_VALUE);
      f.emit(op.f64Ge);
    },
    () => {
      f.i32(0);
      f.emit(op.ret);
    },
  );

  // changeFlow
  f.when(
    () => {
      f.get(delta);
      f.f64(0);
      f.emit(op.f64Gt);
    },
    () => {
      stateOf(IN);
      f.emit(op.f64ConvertI32S);
      f.get(delta);
      f.emit(op.f64Mul);
      f.set(val);
      at8(FLOW, IN);
      ldf(FLOW, IN);
      f.get(val);
      f.emit(op.f64Add);
      f.memory(op.f64Store, 3);
      /** flow[pred[u]] += forward[u] ? a : b along the path from `from` to join. */
      const walk = (from: number, forwardNegates: boolean): void => {
        upPath(from, join, () => {
          read(e, PRED, u);
          at8(FLOW, e);
          ldf(FLOW, e);
          f.get(val);
          f.emit(op.f64Neg);
          f.get(val);
          forwardOf(u);
          if (!forwardNegates) f.emit(op.i32Eqz);
          f.emit(op.select); // forwardNegates: forward ? −val : val; else forward ? val : −val
          f.emit(op.f64Add);
          f.memory(op.f64Store, 3);
        });
      };
      const sourceNode = f.local(I32);
      const targetNode = f.local(I32);
      read(sourceNode, SOURCE, IN);
      walk(sourceNode, true);
      read(targetNode, TARGET, IN);
      walk(targetNode, false);
    },
  );
  // No arc leaves: the entering arc only switches bound.
  f.when(
    () => {
      f.get(result);
      f.emit(op.i32Eqz);
    },
    () => {
      setState(IN, () => {
        f.i32(0);
        stateOf(IN);
        f.emit(op.i32Sub);
      });
      f.i32(1);
      f.emit(op.ret);
    },
  );
  setState(IN, () => f.i32(STATE_TREE));
  read(out, PRED, uOut);
  setState(out, () => {
    f.i32(STATE_LOWER);
    f.i32(STATE_UPPER);
    ldf(FLOW, out);
    f.f64(0);
    f.emit(op.f64Eq, op.select);
  });

  // updateTreeStructure
  read(oldRevThread, REV, uOut);
  read(oldSuccNum, SUCC, uOut);
  read(oldLastSucc, LAST, uOut);
  read(vOut, PARENT, uOut);
  read(u, LAST, uIn);
  read(right, THREAD, u);
  f.ifElse(
    eq(oldRevThread, vIn),
    () => {
      read(last, LAST, uOut);
      read(last, THREAD, last);
    },
    () => read(last, THREAD, vIn),
  );
  f.get(uIn);
  f.set(stem);
  st(THREAD, vIn, local(stem));
  st(DIRTY, dirty, local(vIn));
  f.increment(dirty, 1);
  f.get(vIn);
  f.set(parStem);
  f.whileNot(eq(stem, uOut), () => {
    read(newStem, PARENT, stem);
    st(THREAD, u, local(newStem));
    st(DIRTY, dirty, local(u));
    f.increment(dirty, 1);
    read(w, REV, stem);
    st(THREAD, w, local(right));
    st(REV, right, local(w));
    st(PARENT, stem, local(parStem));
    f.get(stem);
    f.set(parStem);
    f.get(newStem);
    f.set(stem);
    f.ifElse(
      () => {
        ld(LAST, stem);
        ld(LAST, parStem);
        f.emit(op.i32Eq);
      },
      () => read(u, REV, parStem),
      () => read(u, LAST, stem),
    );
    read(right, THREAD, u);
  });
  st(PARENT, uOut, local(parStem));
  st(THREAD, u, local(last));
  st(REV, last, local(u));
  st(LAST, uOut, local(u));
  f.when(
    () => {
      f.get(oldRevThread);
      f.get(vIn);
      f.emit(op.i32Ne);
    },
    () => {
      st(THREAD, oldRevThread, local(right));
      st(REV, right, local(oldRevThread));
    },
  );
  f.whileNot(eq(i, dirty), () => {
    read(e, DIRTY, i); // e: a dirty node here
    // revThread[thread[e]] = e
    f.get(REV);
    ld(THREAD, e);
    f.i32(2);
    f.emit(op.i32Shl, op.i32Add);
    f.get(e);
    f.memory(op.i32Store, 2);
    f.increment(i, 1);
  });
  read(tmpLs, LAST, uOut);
  f.get(uOut);
  f.set(u);
  f.whileNot(eq(u, uIn), () => {
    read(w, PARENT, u);
    st(PRED, u, () => ld(PRED, w));
    setForward(u, () => {
      forwardOf(w);
      f.emit(op.i32Eqz);
    });
    // tmpSc += succNum[u] − succNum[w]; succNum[u] = tmpSc
    f.get(tmpSc);
    ld(SUCC, u);
    ld(SUCC, w);
    f.emit(op.i32Sub, op.i32Add);
    f.set(tmpSc);
    st(SUCC, u, local(tmpSc));
    st(LAST, w, local(tmpLs));
    f.get(w);
    f.set(u);
  });
  st(PRED, uIn, local(IN));
  setForward(uIn, () => {
    f.get(uIn);
    ld(SOURCE, IN);
    f.emit(op.i32Eq);
  });
  st(SUCC, uIn, local(oldSuccNum));
  f.i32(-1);
  f.set(upLimitIn);
  f.i32(-1);
  f.set(upLimitOut);
  f.ifElse(
    () => {
      ld(LAST, join);
      f.get(vIn);
      f.emit(op.i32Eq);
    },
    () => {
      f.get(join);
      f.set(upLimitOut);
    },
    () => {
      f.get(join);
      f.set(upLimitIn);
    },
  );
  /** for (u = from; u !== limit && lastSucc[u] === match; u = parent[u]) lastSucc[u] = value */
  const relabel = (from: number, limit: number, match: number, value: () => void): void => {
    f.get(from);
    f.set(u);
    f.emit(op.block, VOID_BLOCK, op.loop, VOID_BLOCK);
    f.get(u);
    f.get(limit);
    f.emit(op.i32Eq, op.brIf, 1); // u === limit (checked before lastSucc[u] is read)
    ld(LAST, u);
    f.get(match);
    f.emit(op.i32Ne, op.brIf, 1);
    st(LAST, u, value);
    read(u, PARENT, u);
    f.emit(op.br, 0, op.end, op.end);
  };
  relabel(vIn, upLimitIn, vIn, () => ld(LAST, uOut));
  f.ifElse(
    () => {
      f.get(join);
      f.get(oldRevThread);
      f.emit(op.i32Ne);
      f.get(vIn);
      f.get(oldRevThread);
      f.emit(op.i32Ne, op.i32And);
    },
    () => relabel(vOut, upLimitOut, oldLastSucc, local(oldRevThread)),
    () => relabel(vOut, upLimitOut, oldLastSucc, () => ld(LAST, uOut)),
  );
  upPath(vIn, join, () =>
    st(SUCC, u, () => {
      ld(SUCC, u);
      f.get(oldSuccNum);
      f.emit(op.i32Add);
    }),
  );
  upPath(vOut, join, () =>
    st(SUCC, u, () => {
      ld(SUCC, u);
      f.get(oldSuccNum);
      f.emit(op.i32Sub);
    }),
  );

  // updatePotential: sigma = forward[uIn] ? pi[vIn] − pi[uIn] − c : pi[vIn] − pi[uIn] + c
  ldf(PI, vIn);
  ldf(PI, uIn);
  f.emit(op.f64Sub);
  f.set(sigma);
  read(e, PRED, uIn);
  ldf(COST, e);
  f.set(d);
  f.ifElse(
    () => forwardOf(uIn),
    () => {
      f.get(sigma);
      f.get(d);
      f.emit(op.f64Sub);
      f.set(sigma);
    },
    () => {
      f.get(sigma);
      f.get(d);
      f.emit(op.f64Add);
      f.set(sigma);
    },
  );
  read(e, LAST, uIn);
  read(e, THREAD, e); // e: end of the subtree walk
  f.get(uIn);
  f.set(u);
  f.whileNot(eq(u, e), () => {
    at8(PI, u);
    ldf(PI, u);
    f.get(sigma);
    f.emit(op.f64Add);
    f.memory(op.f64Store, 3);
    read(u, THREAD, u);
  });
  f.i32(1);
  return f;
}

/** Status codes of the `run` kernel. */
export const RUN_OPTIMAL = 0;
export const RUN_MAX_ITER = 1;
export const RUN_UNBOUNDED = 2;

/**
 * `run(arcNum, nextArc, blockSize, maxIter, cost, pi, source, target, state, flow, parent, pred,
 * thread, revThread, succNum, lastSucc, forward, dirtyRevs)`: NetworkSimplex.pivotLoop, pricing and
 * pivoting until no arc prices out (RUN_OPTIMAL), the pivot budget is spent (RUN_MAX_ITER, counted
 * only when maxIter > 0, as there) or a cycle is unbounded (RUN_UNBOUNDED), without a return to
 * JavaScript per pivot. The block start is left at byte 0 and the pivot count at byte 4.
 * `priceIndex` and `pivotIndex` are the module's function indices of the price kernel (see
 * wasm-pricing.ts) and of {@link pivotKernel}.
 */
export function runKernel(priceIndex: number, pivotIndex: number): FunctionBuilder {
  const f = new FunctionBuilder(Array<number>(18).fill(I32), [I32]);
  const [ARCS, NEXT, BLOCK, MAX_ITER, COST, PI, SOURCE, TARGET, STATE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const TREE = [9, 10, 11, 12, 13, 14, 15, 16, 17]; // flow … dirtyRevs, as the pivot kernel takes them
  const next = f.local(I32);
  const arc = f.local(I32);
  const iter = f.local(I32);
  const status = f.local(I32);
  f.get(NEXT);
  f.set(next);
  f.emit(op.block, VOID_BLOCK, op.loop, VOID_BLOCK);
  for (const param of [ARCS, next, BLOCK, COST, PI, SOURCE, TARGET, STATE]) f.get(param);
  f.emit(op.call, ...uleb(priceIndex));
  f.set(arc);
  f.i32(RUN_OPTIMAL);
  f.set(status);
  f.get(arc);
  f.i32(0);
  f.emit(op.i32LtS, op.brIf, 1); // nothing prices out
  f.i32(0);
  f.memory(op.i32Load, 2);
  f.set(next);
  f.when(
    () => {
      f.get(MAX_ITER);
      f.i32(0);
      f.emit(op.i32GtS);
    },
    () => {
      f.increment(iter, 1);
      f.i32(RUN_MAX_ITER);
      f.set(status);
      f.get(iter);
      f.get(MAX_ITER);
      f.emit(op.i32GeS, op.brIf, 2); // out of the `when` block, the loop and the outer block
    },
  );
  f.get(arc);
  for (const param of [COST, PI, SOURCE, TARGET, STATE, ...TREE]) f.get(param);
  f.emit(op.call, ...uleb(pivotIndex));
  f.emit(op.i32Eqz, op.if, VOID_BLOCK); // the pivot failed: unbounded
  f.i32(RUN_UNBOUNDED);
  f.emit(op.ret, op.end);
  f.emit(op.br, 0, op.end, op.end);
  f.i32(4);
  f.get(iter);
  f.memory(op.i32Store, 2);
  f.get(status);
  return f;
}
