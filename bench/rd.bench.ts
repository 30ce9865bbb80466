// FGW wall time on random graphs, side by side with POT (Python Optimal Transport) on the same instances.
// Workload as test/fixtures/rd-reference/timing.md: random connected graphs (random tree + Erdős–Rényi
// edges, p = 4/n), hop shortest-path structure, 4-d N(0,1) features, squared Euclidean M, uniform
// weights, alpha = 0.5, POT defaults otherwise. The instances are generated here and sent to one
// long-lived Python process (bench/lib/pot-fgw.py) that times POT's solver call inside Python, so
// neither side pays process or JSON overhead. After a warm-up (Warden: 200 ms, for the JIT; POT: one
// call), 5 calls on instance #0, Warden and POT (its default BLAS threads, then one) taking turns so
// that machine load hits all alike (median reported), then one call on each of instances #0–#4,
// alternating (median reported).
// Distances and iteration counts are compared on every instance.
// POT needs a Python that can `import ot` (Debian: apt-get install python3-pot); tried in order:
// $WARDEN_BENCH_PYTHON, python3, /usr/bin/python3. Without one the POT figures are skipped, loudly.
// Usage: node --import tsx bench/rd.bench.ts
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fusedGromovWasserstein, kneedle, matrixFromRows } from '../src/rd/index.js';
import type { FgwProblem, Matrix } from '../src/rd/index.js';

const ALPHA = 0.5;
const SIZES = [50, 100, 200, 400];
const REPEATS = 5;
const INSTANCES = 5;

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

/**
 * The problem as Float64Array matrices, Warden's counterpart of the numpy arrays POT is given:
 * neither side's conversion from nested lists is timed (validation and M = ‖F1[i] − F2[j]‖² are,
 * on Warden's side only).
 */
function flat(problem: FgwProblem): FgwProblem {
  const matrix = (rows: FgwProblem['structure1'] | undefined): Matrix => matrixFromRows(rows as number[][]);
  return {
    structure1: matrix(problem.structure1),
    structure2: matrix(problem.structure2),
    features1: matrix(problem.features1),
    features2: matrix(problem.features2),
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Number(value.toPrecision(4)), unit, ...extra }));
}

interface Timed {
  ms: number;
  distance: number;
  iterations: number;
}

function time(problem: FgwProblem, threads: 1 | 2 = 1): Timed & { cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = fusedGromovWasserstein(problem, { alpha: ALPHA, threads });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, distance: r.distance, iterations: r.iterations };
}

interface PotReady {
  pot: string;
  numpy: string;
  blas: string | null;
  blasThreads: number | null;
}

interface PotTimed extends Timed {
  /** OpenBLAS threads during the call; null when the helper could not tell (no threadpoolctl). */
  blasThreads: number | null;
}

/** The first Python that can `import ot`, or undefined. */
function findPotPython(): string | undefined {
  const candidates = [process.env.WARDEN_BENCH_PYTHON, 'python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['-c', 'import ot'], { stdio: 'ignore', timeout: 60_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** One long-lived bench/lib/pot-fgw.py process answering one JSON line per request. */
class PotSolver {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    private readonly reader: Interface,
    readonly python: string,
    readonly info: PotReady,
  ) {}

  static async start(python: string): Promise<PotSolver> {
    const script = fileURLToPath(new URL('./lib/pot-fgw.py', import.meta.url));
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`pot-fgw.py: ${chunk.toString()}`));
    const reader = createInterface({ input: child.stdout });
    const lines = reader[Symbol.asyncIterator]();
    const ready = await readReply<PotReady>(lines, child);
    return new PotSolver(child, lines, reader, python, ready);
  }

  async solve(problem: FgwProblem, blasThreads: number | null = null): Promise<PotTimed> {
    const request = {
      c1: problem.structure1,
      c2: problem.structure2,
      f1: problem.features1,
      f2: problem.features2,
      alpha: ALPHA,
      blasThreads,
    };
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    return readReply<PotTimed>(this.lines, this.child);
  }

  close(): void {
    this.reader.close();
    this.child.stdin.end();
  }
}

async function readReply<T>(lines: AsyncIterator<string>, child: ChildProcessWithoutNullStreams): Promise<T> {
  const line = await lines.next();
  if (line.done) throw new Error(`pot-fgw.py exited (code ${String(child.exitCode)})`);
  return JSON.parse(line.value as string) as T;
}

/**
 * Runs the solver for at least 3 calls and 200 ms: on a loaded machine V8's optimising compiler
 * (a background thread) lags, and the first few dozen calls at a new size can be several times
 * slower than the steady state that the figures are about.
 */
function warmUp(problem: FgwProblem): void {
  const until = performance.now() + 200;
  for (let calls = 0; calls < 3 || performance.now() < until; calls++) time(problem);
}

function relativeDifference(ours: number, theirs: number): number {
  return Math.abs(ours - theirs) / Math.max(Math.abs(theirs), Number.MIN_VALUE);
}

// The machine may be shared: report the load so that wall times can be read in context.
emit('rd bench load average (1 min, 2 vCPU)', loadavg()[0]!, 'load');

const python = findPotPython();
const pot = python === undefined ? undefined : await PotSolver.start(python);
if (pot === undefined) {
  console.error(
    '\n*** POT not installed: apt-get install python3-pot (or set WARDEN_BENCH_PYTHON to a Python with POT); ' +
      'POT comparison skipped. ***\n',
  );
} else {
  const { info } = pot;
  console.error(
    `rd bench: POT ${info.pot} via ${pot.python}, numpy ${info.numpy}, BLAS ${info.blas ?? 'unknown'} on ` +
      `${info.blasThreads ?? 'unknown'} thread(s)`,
  );
  if (info.blasThreads !== null) emit('rd pot blas threads', info.blasThreads, 'threads', { pot: info.pot });
}

// Warm the JIT on every code path before timing anything.
for (const n of [30, 60, 120]) for (let r = 0; r < 3; r++) time(flat(instance(n, r)));

let worstDifference = 0;
for (const n of SIZES) {
  // Nested arrays for POT (JSON), the same numbers as Float64Array matrices for Warden.
  const problems = Array.from({ length: INSTANCES }, (_, k) => instance(n, 1000 * n + k));
  const ourProblems = problems.map(flat);
  const first = ourProblems[0]!;
  const potFirst = problems[0]!;
  warmUp(first);
  await pot?.solve(potFirst); // warm-up (caches, BLAS threads)
  await pot?.solve(potFirst, 1);
  // Warden, POT, and POT on one BLAS thread (Warden's default is one thread) take turns.
  const runs: ReturnType<typeof time>[] = [];
  const potRuns: PotTimed[] = [];
  const potRunsOneThread: PotTimed[] = [];
  for (let r = 0; r < REPEATS; r++) {
    runs.push(time(first));
    if (!pot) continue;
    potRuns.push(await pot.solve(potFirst));
    potRunsOneThread.push(await pot.solve(potFirst, 1));
  }
  const wall = median(runs.map((r) => r.ms));
  const cpu = median(runs.map((r) => r.cpuMs));
  const iters = runs[0]!.iterations;
  const ours: Timed[] = [];
  const theirs: PotTimed[] = [];
  for (let k = 0; k < INSTANCES; k++) {
    ours.push(time(ourProblems[k]!));
    if (pot) theirs.push(await pot.solve(problems[k]!));
  }
  const across = median(ours.map((r) => r.ms));
  time(first, 2); // starts the helper thread
  const wall2 = median(Array.from({ length: REPEATS }, () => time(first, 2).ms));
  emit(`rd fgw n=${n} wall time`, wall, 'ms');
  emit(`rd fgw n=${n} cpu time`, cpu, 'ms');
  emit(`rd fgw n=${n} iterations`, iters, 'count');
  emit(`rd fgw n=${n} time per iteration`, wall / iters, 'ms');
  emit(`rd fgw n=${n} median over 5 instances`, across, 'ms');
  emit(`rd fgw n=${n} wall time 2 threads`, wall2, 'ms');
  if (!pot) continue;

  const potWall = median(potRuns.map((r) => r.ms));
  const potAcross = median(theirs.map((r) => r.ms));
  let difference = 0;
  for (let k = 0; k < INSTANCES; k++) {
    difference = Math.max(difference, relativeDifference(ours[k]!.distance, theirs[k]!.distance));
  }
  worstDifference = Math.max(worstDifference, difference);
  const iterationsDiffer = ours.filter((r, k) => r.iterations !== theirs[k]!.iterations).length;
  emit(`rd pot n=${n} wall time`, potWall, 'ms', { blasThreads: potRuns[0]!.blasThreads });
  emit(`rd pot n=${n} iterations`, potRuns[0]!.iterations, 'count');
  emit(`rd pot n=${n} median over 5 instances`, potAcross, 'ms');
  emit(`rd fgw n=${n} time vs POT`, wall / potWall, 'x', { ours: wall, theirs: potWall });
  emit(`rd fgw n=${n} time vs POT over instances`, across / potAcross, 'x', {
    ours: across,
    theirs: potAcross,
  });
  emit(`rd fgw n=${n} distance max relative difference vs POT`, difference, 'ratio', {
    instances: INSTANCES,
    iterationsDiffer,
  });

  // Limiting BLAS threads needs threadpoolctl in that Python.
  if (potRunsOneThread[0]!.blasThreads !== 1) {
    console.error('rd bench: threadpoolctl missing in that Python; no single-thread BLAS figures');
  } else {
    const potWall1 = median(potRunsOneThread.map((r) => r.ms));
    emit(`rd pot n=${n} wall time single-thread BLAS`, potWall1, 'ms');
    emit(`rd fgw n=${n} time vs POT single-thread BLAS`, wall / potWall1, 'x', {
      ours: wall,
      theirs: potWall1,
    });
  }
}
pot?.close();
if (pot) emit('rd fgw distance max relative difference vs POT', worstDifference, 'ratio');

// Knee detection on a 10,000-point rate-distortion curve.
{
  const x = Array.from({ length: 10_000 }, (_, i) => i / 100);
  const y = x.map((v) => 10 + 90 * Math.exp(-0.45 * v));
  kneedle(x, y);
  const t0 = performance.now();
  for (let r = 0; r < 10; r++) kneedle(x, y);
  emit('rd kneedle 10000 points', (performance.now() - t0) / 10, 'ms');
}
