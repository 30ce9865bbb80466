// FGW wall time on random graphs, against POT's own timings (test/fixtures/rd-reference/timing.md).
// Workload as timing.md: random connected graphs (random tree + Erdős–Rényi edges, p = 4/n), hop
// shortest-path structure, 4-d N(0,1) features, squared Euclidean M, uniform weights, alpha = 0.5,
// POT defaults otherwise. One warm-up call, then the median of 5 calls on instance #0, and the
// median over instances #0–#4. Prints one JSON line per figure.
// Usage: node --import tsx bench/rd.bench.ts
import { loadavg } from 'node:os';
import { fusedGromovWasserstein, kneedle } from '../src/rd/index.js';
import type { FgwProblem } from '../src/rd/index.js';

/**
 * POT 0.8.2 on a 2-vCPU machine of this kind (timing.md): median of 5 (ms), median over 5
 * instances (ms), ms per CG iteration, with OpenBLAS on 2 threads; and median of 5 on 1 BLAS thread.
 */
const POT_MS: Record<
  number,
  { median5: number; instances: number; msPerIter: number; median5OneThread: number }
> = {
  50: { median5: 0.9, instances: 0.76, msPerIter: 0.299, median5OneThread: 0.89 },
  100: { median5: 2.95, instances: 2.32, msPerIter: 0.983, median5OneThread: 3.76 },
  200: { median5: 14.26, instances: 14.52, msPerIter: 4.752, median5OneThread: 19.31 },
  400: { median5: 84.71, instances: 85.97, msPerIter: 28.236, median5OneThread: 114.09 },
};

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomGraph(n: number, rand: () => number): number[][] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  const link = (u: number, v: number): void => {
    if (u !== v && !adj[u]!.includes(v)) {
      adj[u]!.push(v);
      adj[v]!.push(u);
    }
  };
  for (let v = 1; v < n; v++) link(v, Math.floor(rand() * v));
  const pEdge = 4 / n;
  for (let u = 0; u < n; u++) for (let v = u + 1; v < n; v++) if (rand() < pEdge) link(u, v);
  const c: number[][] = [];
  for (let s = 0; s < n; s++) {
    const dist = new Array<number>(n).fill(-1);
    dist[s] = 0;
    const queue = [s];
    for (let h = 0; h < queue.length; h++) {
      const u = queue[h]!;
      for (const v of adj[u]!) {
        if (dist[v] !== -1) continue;
        dist[v] = dist[u]! + 1;
        queue.push(v);
      }
    }
    c.push(dist);
  }
  return c;
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function instance(n: number, seed: number): FgwProblem {
  const rand = rng(seed);
  const feats = (): number[][] =>
    Array.from({ length: n }, () => Array.from({ length: 4 }, () => gaussian(rand)));
  return {
    structure1: randomGraph(n, rand),
    structure2: randomGraph(n, rand),
    features1: feats(),
    features2: feats(),
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Number(value.toPrecision(4)), unit }));
}

function time(problem: FgwProblem, threads: 1 | 2 = 1): { ms: number; cpuMs: number; iterations: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = fusedGromovWasserstein(problem, { alpha: 0.5, threads });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, iterations: r.iterations };
}

// The machine may be shared: report the load so that wall times can be read in context.
emit('rd bench load average (1 min, 2 vCPU)', loadavg()[0]!, 'load');

// Warm the JIT on every code path before timing anything.
for (const n of [30, 60, 120]) for (let r = 0; r < 3; r++) time(instance(n, r));

for (const n of [50, 100, 200, 400]) {
  const problems = [0, 1, 2, 3, 4].map((k) => instance(n, 1000 * n + k));
  time(problems[0]!); // warm-up (JIT)
  const runs = [0, 1, 2, 3, 4].map(() => time(problems[0]!));
  const wall = median(runs.map((r) => r.ms));
  const cpu = median(runs.map((r) => r.cpuMs));
  const iters = runs[0]!.iterations;
  const across = median(problems.map((p) => time(p).ms));
  time(problems[0]!, 2); // starts the helper thread
  const wall2 = median([0, 1, 2, 3, 4].map(() => time(problems[0]!, 2).ms));
  const pot = POT_MS[n]!;
  emit(`rd fgw n=${n} wall time`, wall, 'ms');
  emit(`rd fgw n=${n} cpu time`, cpu, 'ms');
  emit(`rd fgw n=${n} iterations`, iters, 'count');
  emit(`rd fgw n=${n} time per iteration`, wall / iters, 'ms');
  emit(`rd fgw n=${n} median over 5 instances`, across, 'ms');
  emit(`rd fgw n=${n} wall time 2 threads`, wall2, 'ms');
  emit(`rd fgw n=${n} speedup vs POT`, pot.median5 / wall, 'x');
  emit(`rd fgw n=${n} speedup vs POT single-thread BLAS`, pot.median5OneThread / wall, 'x');
  emit(`rd fgw n=${n} speedup vs POT over instances`, pot.instances / across, 'x');
  emit(`rd fgw n=${n} speedup vs POT per iteration`, pot.msPerIter / (wall / iters), 'x');
  emit(`rd fgw n=${n} speedup vs POT 2 threads`, pot.median5 / wall2, 'x');
}

// Knee detection on a 10,000-point rate-distortion curve.
{
  const x = Array.from({ length: 10_000 }, (_, i) => i / 100);
  const y = x.map((v) => 10 + 90 * Math.exp(-0.45 * v));
  kneedle(x, y);
  const t0 = performance.now();
  for (let r = 0; r < 10; r++) kneedle(x, y);
  emit('rd kneedle 10000 points', (performance.now() - t0) / 10, 'ms');
}
