/**
 * Exact optimal transport on a complete bipartite graph by the primal network simplex method.
 *
 * This is a TypeScript re-implementation of the solver POT calls from `ot.emd` (Bonneel's
 * lightweight adaptation of LEMON's NetworkSimplex, block-search pivot rule, arc mixing on,
 * artificial root with "EQ" supply constraints). It follows the same node numbering, arc order,
 * pivot rule and tie-breaking so that, on problems with several optimal vertices, it tends to
 * return the same vertex as POT; that choice steers which local optimum FGW's conditional
 * gradient reaches. All buffers are allocated once for the largest problem and reused.
 *
 * LEMON: Copyright (C) 2003-2010 Egervary Jeno Kombinatorikus Optimalizalasi Kutatocsoport (EGRES),
 * distributed under the Boost Software License 1.0; adaptation by Nicolas Bonneel (2013).
 */

import { RUN_MAX_ITER, RUN_UNBOUNDED } from './wasm-pivot.js';
import { PricingMemory } from './wasm-pricing.js';

const STATE_UPPER = -1;
const STATE_TREE = 0;
const STATE_LOWER = 1;
/** Reduced-cost threshold relative to the magnitude of the potentials (as in POT). */
const EPSILON = 2.2204460492503131e-15;
/** Arcs from which pricing runs in WebAssembly (see wasm-pricing.ts). */
const WASM_PRICING_MIN_ARCS = 2_000;
/** Largest supply imbalance accepted before the problem is declared infeasible. */
const SUPPLY_EPSILON = 1e-8;

/** The arc layout of the last (n, m) set up, shared by the solvers of a run (same n and m). */
interface ArcLayout {
  readonly n: number;
  readonly m: number;
  readonly arcAt: Int32Array;
  readonly positionAt: Int32Array;
  readonly source: Int32Array;
  readonly target: Int32Array;
}

let lastLayout: ArcLayout | undefined;

function isIdentity(index: Int32Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (index[i] !== i) return false;
  return true;
}

export type SimplexStatus = 'optimal' | 'infeasible' | 'unbounded' | 'max-iter';

export class NetworkSimplex {
  private nodeNum = 0;
  private arcNum = 0;
  private n1 = 0;
  private n2 = 0;
  private readonly source: Int32Array;
  private readonly target: Int32Array;
  /** Graph arc id (s * n2 + t) stored at each internal arc position. */
  private readonly arcAt: Int32Array;
  /** Flat index into the caller's n×m cost and plan matrices of each internal arc position. */
  private readonly flatAt: Int32Array;
  /** Internal position of each graph arc (inverse of arcAt). */
  private readonly positionAt: Int32Array;
  private layoutN = -1;
  private layoutM = -1;
  readonly cost: Float64Array;
  readonly flow: Float64Array;
  private readonly state: Int8Array;
  private readonly supply: Float64Array;
  private readonly pi: Float64Array;
  private readonly parent: Int32Array;
  private readonly pred: Int32Array;
  private readonly thread: Int32Array;
  private readonly revThread: Int32Array;
  private readonly succNum: Int32Array;
  private readonly lastSucc: Int32Array;
  private readonly forward: Uint8Array;
  private readonly dirtyRevs: Int32Array;
  private readonly flowArcs: Int32Array;
  private readonly demandArcs: Int32Array;
  private root = 0;
  private inArc = 0;
  private join = 0;
  private uIn = 0;
  private vIn = 0;
  private uOut = 0;
  private delta = 0;
  private blockSize = 10;
  private nextArc = 0;
  /** Per-arc arrays in WebAssembly memory, for the pricing loop there (null: all in JavaScript). */
  private readonly pricing: PricingMemory | null;
  /** Pivots performed by the last {@link run}. */
  iterations = 0;

  /**
   * Allocates for problems of up to `maxN` sources and `maxM` targets. `webAssembly` false keeps
   * every loop in JavaScript (the tests compare both).
   */
  constructor(maxN: number, maxM: number, webAssembly = true) {
    const nodes = maxN + maxM;
    const arcs = maxN * maxM + nodes;
    // Small problems keep the JavaScript loop: a WebAssembly instance costs more than it saves.
    this.pricing =
      webAssembly && arcs >= WASM_PRICING_MIN_ARCS
        ? PricingMemory.acquire(arcs, nodes + 1, maxN * maxM)
        : null;
    this.source = this.pricing?.source ?? new Int32Array(arcs);
    this.target = this.pricing?.target ?? new Int32Array(arcs);
    this.arcAt = this.pricing?.arcAt ?? new Int32Array(maxN * maxM);
    this.flatAt = this.pricing?.flatAt ?? new Int32Array(maxN * maxM);
    this.positionAt = this.pricing?.positionAt ?? new Int32Array(maxN * maxM);
    this.cost = this.pricing?.cost ?? new Float64Array(arcs);
    this.flow = this.pricing?.flow ?? new Float64Array(arcs);
    this.state = this.pricing?.state ?? new Int8Array(arcs);
    this.supply = new Float64Array(nodes + 1);
    this.pi = this.pricing?.pi ?? new Float64Array(nodes + 1);
    this.parent = this.pricing?.parent ?? new Int32Array(nodes + 1);
    this.pred = this.pricing?.pred ?? new Int32Array(nodes + 1);
    this.thread = this.pricing?.thread ?? new Int32Array(nodes + 1);
    this.revThread = this.pricing?.revThread ?? new Int32Array(nodes + 1);
    this.succNum = this.pricing?.succNum ?? new Int32Array(nodes + 1);
    this.lastSucc = this.pricing?.lastSucc ?? new Int32Array(nodes + 1);
    this.forward = this.pricing?.forward ?? new Uint8Array(nodes + 1);
    this.dirtyRevs = this.pricing?.dirtyRevs ?? new Int32Array(nodes + 1);
    this.flowArcs = new Int32Array(nodes);
    this.demandArcs = new Int32Array(nodes);
  }

  /**
   * Hands the WebAssembly pricing memory back for the next solver (optional: without it, the
   * memory is garbage-collected). The solver must not be used afterwards.
   */
  release(): void {
    this.pricing?.release();
  }

  /** Internal id of graph node `g` (LEMON stores nodes in reverse order). */
  private nodeId(g: number): number {
    return this.nodeNum - g - 1;
  }

  /**
   * Sets up a problem with `n` sources of mass `a` and `m` sinks of mass `b` (all > 0). The cost
   * of arc (i, j) is read afterwards through {@link setCosts}.
   */
  reset(a: Float64Array, n: number, b: Float64Array, m: number): void {
    this.n1 = n;
    this.n2 = m;
    this.nodeNum = n + m;
    this.arcNum = n * m;
    const arcNum = this.arcNum;
    if (this.layoutN !== n || this.layoutM !== m) {
      const cached = lastLayout?.n === n && lastLayout.m === m ? lastLayout : undefined;
      if (cached) {
        this.arcAt.set(cached.arcAt);
        this.positionAt.set(cached.positionAt);
        this.source.set(cached.source);
        this.target.set(cached.target);
      } else {
        // Arc mixing: arcs are visited from the last id down and stored with stride k, so that the
        // block search sees arcs from many sources in each block (same layout as POT).
        const k = Math.max(Math.floor(Math.sqrt(arcNum)), 10);
        let i = 0;
        let j = 0;
        for (let arc = arcNum - 1; arc >= 0; arc--) {
          this.arcAt[i] = arc;
          this.positionAt[arc] = i;
          this.source[i] = this.nodeId(Math.floor(arc / m));
          this.target[i] = this.nodeId((arc % m) + n);
          if ((i += k) >= arcNum) i = ++j;
        }
        lastLayout = {
          n,
          m,
          arcAt: this.arcAt.slice(0, arcNum),
          positionAt: this.positionAt.slice(0, arcNum),
          source: this.source.slice(0, arcNum),
          target: this.target.slice(0, arcNum),
        };
      }
      this.layoutN = n;
      this.layoutM = m;
    }
    for (let g = this.nodeNum - 1; g >= 0; g--) {
      this.supply[this.nodeId(g)] = g < n ? a[g]! : -b[g - n]!;
    }
    this.blockSize = Math.max(Math.floor(Math.sqrt(arcNum)), 10);
    this.nextArc = 0;
  }

  /**
   * Maps arc (s, t) of the compacted problem to entry rowIndex[s] * stride + colIndex[t] of the
   * caller's matrices, for {@link setCosts} and {@link writeFlow}. Call after the first reset.
   */
  mapArcs(stride: number, rowIndex: Int32Array, colIndex: Int32Array): void {
    const m = this.n2;
    if (stride === m && isIdentity(rowIndex, this.n1) && isIdentity(colIndex, m)) {
      this.flatAt.set(this.arcAt.subarray(0, this.arcNum));
      return;
    }
    for (let pos = 0; pos < this.arcNum; pos++) {
      const arc = this.arcAt[pos]!;
      const s = Math.floor(arc / m);
      this.flatAt[pos] = rowIndex[s]! * stride + colIndex[arc - s * m]!;
    }
  }

  /** Reads the arc costs from the caller's cost matrix (see {@link mapArcs}), plus `shift` if not 0. */
  setCosts(d: Float64Array, shift = 0): void {
    const { cost, flatAt } = this;
    // Without a shift the JavaScript copy stays: adding 0 would turn a −0 cost into +0.
    if (shift !== 0 && this.pricing?.gatherCosts(d, this.arcNum, shift)) return;
    if (shift === 0) for (let pos = 0; pos < this.arcNum; pos++) cost[pos] = d[flatAt[pos]!]!;
    else for (let pos = 0; pos < this.arcNum; pos++) cost[pos] = d[flatAt[pos]!]! + shift;
  }

  /**
   * Writes the non-zero flows into the caller's plan matrix and lists their flat indices, in
   * internal arc order. Only spanning-tree arcs can carry flow (arcs are uncapacitated, and an arc
   * leaves the tree exactly when its flow reaches 0), so only the nodeNum tree arcs are read.
   */
  writeFlow(out: Float64Array, nonzero: Int32Array): number {
    const { flow, flatAt, pred, flowArcs } = this;
    let count = 0;
    for (let u = 0; u < this.nodeNum; u++) {
      const e = pred[u]!;
      if (e < this.arcNum && flow[e] !== 0) flowArcs[count++] = e;
    }
    const positions = flowArcs.subarray(0, count).sort();
    for (let t = 0; t < count; t++) {
      const pos = positions[t]!;
      const idx = flatAt[pos]!;
      out[idx] = flow[pos]!;
      nonzero[t] = idx;
    }
    return count;
  }

  /** Solves the problem set up by {@link reset} and {@link setCosts}. */
  run(maxIter: number): SimplexStatus {
    if (!this.init()) return 'infeasible';
    if (!this.initialPivots()) return 'unbounded';
    return this.pivotLoop(maxIter);
  }

  /**
   * Re-solves after {@link setCosts} changed the costs but not the supplies, starting from the
   * previous optimal basis (still primal feasible): potentials are recomputed along the tree and
   * pivoting resumes. Far fewer pivots than {@link run} when the costs moved moderately.
   */
  rerun(maxIter: number): SimplexStatus {
    const { thread, parent, pred, forward, cost, pi } = this;
    const root = this.root;
    pi[root] = 0;
    for (let u = thread[root]!; u !== root; u = thread[u]!) {
      const c = cost[pred[u]!]!;
      pi[u] = forward[u] ? pi[parent[u]!]! - c : pi[parent[u]!]! + c;
    }
    return this.pivotLoop(maxIter);
  }

  private pivotLoop(maxIter: number): SimplexStatus {
    let status: SimplexStatus = 'optimal';
    let iter = 0;
    if (this.pricing) {
      // The same loop in WebAssembly, without a call out per pivot.
      const code = this.pricing.run(this.arcNum, this.nextArc, this.blockSize, maxIter);
      if (code === RUN_UNBOUNDED) return 'unbounded';
      if (code === RUN_MAX_ITER) status = 'max-iter';
      this.nextArc = this.pricing.nextArc;
      iter = this.pricing.runIterations;
    } else {
      while (this.findEnteringArc()) {
        if (maxIter > 0 && ++iter >= maxIter) {
          status = 'max-iter';
          break;
        }
        if (!this.pivot()) return 'unbounded';
      }
    }
    this.iterations = iter;
    // Artificial arcs must end empty; residues at rounding level are cleared (as POT does).
    for (let e = this.arcNum; e < this.arcNum + this.nodeNum; e++) this.flow[e] = 0;
    return status;
  }

  /**
   * True when some non-tree arc has a reduced cost within `relTol` of zero at the optimum: the
   * LP then (generically) has several optimal vertices and the one returned is a tie-break.
   */
  hasTies(relTol: number): boolean {
    if (this.pricing) return this.pricing.hasTies(this.arcNum, relTol);
    const { state, cost, pi, source, target } = this;
    for (let e = 0; e < this.arcNum; e++) {
      if (state[e] === STATE_TREE) continue;
      const ps = pi[source[e]!]!;
      const pt = pi[target[e]!]!;
      const c = cost[e]!;
      const rc = Math.abs(c + ps - pt);
      // max(|c|, |ps|, |pt|) ≤ their sum: most arcs are ruled out without the max.
      const bound = Math.abs(c) + Math.abs(ps) + Math.abs(pt);
      if (rc > relTol * bound) continue;
      if (rc <= relTol * Math.max(Math.abs(c), Math.abs(ps), Math.abs(pt))) return true;
    }
    return false;
  }

  private init(): boolean {
    const nodeNum = this.nodeNum;
    const arcNum = this.arcNum;
    if (nodeNum === 0) return false;
    let sum = 0;
    for (let i = 0; i < nodeNum; i++) sum += this.supply[i]!;
    if (Math.abs(sum) > SUPPLY_EPSILON) return false;
    let artCost = 0;
    for (let i = 0; i < arcNum; i++) if (this.cost[i]! > artCost) artCost = this.cost[i]!;
    artCost = (artCost + 1) * nodeNum;
    this.flow.fill(0, 0, arcNum);
    this.state.fill(STATE_LOWER, 0, arcNum);
    const root = (this.root = nodeNum);
    this.parent[root] = -1;
    this.pred[root] = -1;
    this.thread[root] = 0;
    this.revThread[0] = root;
    this.succNum[root] = nodeNum + 1;
    this.lastSucc[root] = root - 1;
    this.supply[root] = 0;
    this.pi[root] = 0;
    for (let u = 0, e = arcNum; u !== nodeNum; ++u, ++e) {
      this.parent[u] = root;
      this.pred[u] = e;
      this.thread[u] = u + 1;
      this.revThread[u + 1] = u;
      this.succNum[u] = 1;
      this.lastSucc[u] = u;
      this.state[e] = STATE_TREE;
      const s = this.supply[u]!;
      if (s >= 0) {
        this.forward[u] = 1;
        this.pi[u] = 0;
        this.source[e] = u;
        this.target[e] = root;
        this.flow[e] = s;
        this.cost[e] = 0;
      } else {
        this.forward[u] = 0;
        this.pi[u] = artCost;
        this.source[e] = root;
        this.target[e] = u;
        this.flow[e] = -s;
        this.cost[e] = artCost;
      }
    }
    return true;
  }

  /** LEMON's start heuristic: pivot in the cheapest incoming arc of each demand node. */
  private initialPivots(): boolean {
    const n = this.n1;
    const m = this.n2;
    let total = 0;
    let supplyNodes = 0;
    let demandNodes = 0;
    for (let g = this.nodeNum - 1; g >= 0; g--) {
      const curr = this.supply[this.nodeId(g)]!;
      if (curr > 0) {
        total += curr;
        supplyNodes++;
      } else if (curr < 0) demandNodes++;
    }
    if (total <= 0) return true;
    let count = 0;
    if (supplyNodes === 1 && demandNodes === 1) {
      // Single source and sink: the only arc carries everything.
      count = 0;
      this.demandArcs[count++] = this.positionAt[0]!;
    } else {
      for (let g = this.nodeNum - 1; g >= n; g--) {
        if (!(this.supply[this.nodeId(g)]! < 0)) continue;
        let minCost = Number.MAX_VALUE;
        let minPos = -1;
        for (let arc = (n - 1) * m + (g - n); arc >= 0; arc -= m) {
          const pos = this.positionAt[arc]!;
          const c = this.cost[pos]!;
          if (c < minCost) {
            minCost = c;
            minPos = pos;
          }
        }
        if (minPos >= 0) this.demandArcs[count++] = minPos;
      }
    }
    for (let t = 0; t < count; t++) {
      const e = this.demandArcs[t]!;
      this.inArc = e;
      if (this.state[e]! * (this.cost[e]! + this.pi[this.source[e]!]! - this.pi[this.target[e]!]!) >= 0)
        continue;
      if (!this.pivot()) return false;
    }
    return true;
  }

  /**
   * Block search: the most negative reduced cost within the first block that has one (in
   * WebAssembly, inside the run kernel, when the arrays live there).
   */
  private findEnteringArc(): boolean {
    const state = this.state;
    const cost = this.cost;
    const pi = this.pi;
    const source = this.source;
    const target = this.target;
    const searchArcNum = this.arcNum;
    let min = 0;
    let cnt = this.blockSize;
    let e = this.nextArc;
    for (let pass = 0; pass < 2; pass++) {
      const end = pass === 0 ? searchArcNum : this.nextArc;
      for (e = pass === 0 ? this.nextArc : 0; e !== end; ++e) {
        const c = state[e]! * (cost[e]! + pi[source[e]!]! - pi[target[e]!]!);
        if (c < min) {
          min = c;
          this.inArc = e;
        }
        if (--cnt === 0) {
          if (min < -EPSILON * this.scale()) {
            this.nextArc = e;
            return true;
          }
          cnt = this.blockSize;
        }
      }
    }
    if (min >= -EPSILON * this.scale()) return false;
    this.nextArc = e;
    return true;
  }

  private scale(): number {
    const a = this.inArc;
    const ps = Math.abs(this.pi[this.source[a]!]!);
    const pt = Math.abs(this.pi[this.target[a]!]!);
    const m = ps > pt ? ps : pt;
    const c = Math.abs(this.cost[a]!);
    return m > c ? m : c;
  }

  /** One pivot on `inArc`; false when the cycle is unbounded. */
  private pivot(): boolean {
    // The same steps in WebAssembly (wasm-pricing.ts) when the arrays live there.
    if (this.pricing) return this.pricing.pivot(this.inArc);
    this.findJoinNode();
    const change = this.findLeavingArc();
    if (this.delta >= Number.MAX_VALUE) return false;
    this.changeFlow(change);
    if (change) {
      this.updateTreeStructure();
      this.updatePotential();
    }
    return true;
  }

  // The pivot steps below read fields into locals first: V8 does not hoist field loads out of
  // loops that store into typed arrays, and these loops run once per pivot along tree paths.
  private findJoinNode(): void {
    const { succNum, parent } = this;
    let u = this.source[this.inArc]!;
    let v = this.target[this.inArc]!;
    while (u !== v) {
      if (succNum[u]! < succNum[v]!) u = parent[u]!;
      else v = parent[v]!;
    }
    this.join = u;
  }

  private findLeavingArc(): boolean {
    const inArc = this.inArc;
    let first: number;
    let second: number;
    if (this.state[inArc] === STATE_LOWER) {
      first = this.source[inArc]!;
      second = this.target[inArc]!;
    } else {
      first = this.target[inArc]!;
      second = this.source[inArc]!;
    }
    const { parent, forward, flow, pred, join } = this;
    let delta = Infinity;
    let uOut = this.uOut;
    let result = 0;
    for (let u = first; u !== join; u = parent[u]!) {
      const d = forward[u] ? flow[pred[u]!]! : Infinity;
      if (d < delta) {
        delta = d;
        uOut = u;
        result = 1;
      }
    }
    for (let u = second; u !== join; u = parent[u]!) {
      const d = forward[u] ? Infinity : flow[pred[u]!]!;
      if (d <= delta) {
        delta = d;
        uOut = u;
        result = 2;
      }
    }
    this.delta = delta;
    this.uOut = uOut;
    if (result === 1) {
      this.uIn = first;
      this.vIn = second;
    } else {
      this.uIn = second;
      this.vIn = first;
    }
    return result !== 0;
  }

  private changeFlow(change: boolean): void {
    const inArc = this.inArc;
    const { flow, parent, pred, forward, join } = this;
    if (this.delta > 0) {
      const val = this.state[inArc]! * this.delta;
      flow[inArc] = flow[inArc]! + val;
      for (let u = this.source[inArc]!; u !== join; u = parent[u]!) {
        const e = pred[u]!;
        flow[e] = flow[e]! + (forward[u] ? -val : val);
      }
      for (let u = this.target[inArc]!; u !== join; u = parent[u]!) {
        const e = pred[u]!;
        flow[e] = flow[e]! + (forward[u] ? val : -val);
      }
    }
    if (change) {
      this.state[inArc] = STATE_TREE;
      const out = this.pred[this.uOut]!;
      this.state[out] = flow[out] === 0 ? STATE_LOWER : STATE_UPPER;
    } else {
      this.state[inArc] = -this.state[inArc]!;
    }
  }

  private updateTreeStructure(): void {
    const { parent, thread, revThread, succNum, lastSucc, pred, forward, dirtyRevs } = this;
    const uIn = this.uIn;
    const vIn = this.vIn;
    const uOut = this.uOut;
    const join = this.join;
    const oldRevThread = revThread[uOut]!;
    const oldSuccNum = succNum[uOut]!;
    const oldLastSucc = lastSucc[uOut]!;
    const vOut = parent[uOut]!;

    let u = lastSucc[uIn]!;
    let right = thread[u]!;
    const last = oldRevThread === vIn ? thread[lastSucc[uOut]!]! : thread[vIn]!;

    // Re-hang the stem (the path from uIn to uOut) under vIn, fixing the thread order.
    let stem = uIn;
    thread[vIn] = stem;
    let dirty = 0;
    dirtyRevs[dirty++] = vIn;
    let parStem = vIn;
    while (stem !== uOut) {
      const newStem = parent[stem]!;
      thread[u] = newStem;
      dirtyRevs[dirty++] = u;
      const w = revThread[stem]!;
      thread[w] = right;
      revThread[right] = w;
      parent[stem] = parStem;
      parStem = stem;
      stem = newStem;
      u = lastSucc[stem] === lastSucc[parStem] ? revThread[parStem]! : lastSucc[stem]!;
      right = thread[u]!;
    }
    parent[uOut] = parStem;
    thread[u] = last;
    revThread[last] = u;
    lastSucc[uOut] = u;

    if (oldRevThread !== vIn) {
      thread[oldRevThread] = right;
      revThread[right] = oldRevThread;
    }
    for (let i = 0; i < dirty; i++) {
      const d = dirtyRevs[i]!;
      revThread[thread[d]!] = d;
    }

    let tmpSc = 0;
    const tmpLs = lastSucc[uOut]!;
    u = uOut;
    while (u !== uIn) {
      const w = parent[u]!;
      pred[u] = pred[w]!;
      forward[u] = forward[w] ? 0 : 1;
      tmpSc += succNum[u]! - succNum[w]!;
      succNum[u] = tmpSc;
      lastSucc[w] = tmpLs;
      u = w;
    }
    pred[uIn] = this.inArc;
    forward[uIn] = uIn === this.source[this.inArc] ? 1 : 0;
    succNum[uIn] = oldSuccNum;

    let upLimitIn = -1;
    let upLimitOut = -1;
    if (lastSucc[join] === vIn) upLimitOut = join;
    else upLimitIn = join;

    for (u = vIn; u !== upLimitIn && lastSucc[u] === vIn; u = parent[u]!) lastSucc[u] = lastSucc[uOut]!;
    if (join !== oldRevThread && vIn !== oldRevThread) {
      for (u = vOut; u !== upLimitOut && lastSucc[u] === oldLastSucc; u = parent[u]!)
        lastSucc[u] = oldRevThread;
    } else {
      for (u = vOut; u !== upLimitOut && lastSucc[u] === oldLastSucc; u = parent[u]!)
        lastSucc[u] = lastSucc[uOut]!;
    }
    for (u = vIn; u !== join; u = parent[u]!) succNum[u] = succNum[u]! + oldSuccNum;
    for (u = vOut; u !== join; u = parent[u]!) succNum[u] = succNum[u]! - oldSuccNum;
  }

  private updatePotential(): void {
    const uIn = this.uIn;
    const vIn = this.vIn;
    const { pi, thread } = this;
    const c = this.cost[this.pred[uIn]!]!;
    const sigma = this.forward[uIn] ? pi[vIn]! - pi[uIn]! - c : pi[vIn]! - pi[uIn]! + c;
    const end = thread[this.lastSucc[uIn]!]!;
    for (let u = uIn; u !== end; u = thread[u]!) pi[u] = pi[u]! + sigma;
  }
}
