// Vector index: build time, recall@10, single-thread QPS and bytes per vector for our VectorIndex
// (USearch HNSW, f32 / i8 / b1 + rescoring) beside raw hnswlib-node and exact search, in one run.
// Workload: N clustered synthetic 384-d vectors (seeded; topics → subtopics → points, L2-normalised),
// 200 held-out queries from the same distribution, truth = exact top-10 by cosine.
// Each engine's search-time knob (ef / expansionSearch / oversample) is raised along a ladder until
// recall@10 reaches its target (0.95; 0.9 for b1), then QPS is measured at that setting, in
// interleaved rounds so load from other processes falls on every engine alike (median of rounds).
// Builds are single-threaded and run side by side on this 2-core budget: hnswlib-node in a child
// process (its JavaScript API inserts one point at a time), ours on the main thread with threads: 1.
// Usage: node --import tsx bench/vector-index.bench.ts   (WARDEN_BENCH_VECTORS=20000 to shrink)
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { exactSearch as usearchExact, MetricKind, type BatchMatches } from 'usearch';
import { seededRandom } from '../src/routing/canary.js';
import { VectorIndex, type Quantization } from '../src/routing/vector-index.js';

const N = Number(process.env.WARDEN_BENCH_VECTORS ?? 100_000);
const D = 384;
const QUERIES = 200;
const K = 10;
const ROUNDS = 5;
const HNSW_M = 16;
const HNSW_EF_CONSTRUCTION = 200;
const EXPANSION_ADD = 200;
const SEED = 20261207;
const TARGET = 0.95;
const TARGET_B1 = 0.9;
/** Search beams tried in order, the same for hnswlib-node's ef and our expansionSearch. */
const LADDER = [10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256];

function figure(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const rounded = Number(value.toPrecision(4));
  process.stdout.write(`${JSON.stringify({ name, value: rounded, unit, ...extra })}\n`);
}

/** Topics → subtopics (~100 points each) → points with a per-point spread, like embeddings of a corpus. */
function dataset(count: number, seed: number): Float32Array[] {
  const rand = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const around = (centre: Float32Array | undefined, spread: number): Float32Array => {
    const v = new Float32Array(D);
    let sum = 0;
    for (let i = 0; i < D; i++) {
      v[i] = (centre?.[i] ?? 0) + (gauss() * spread) / Math.sqrt(D);
      sum += v[i]! * v[i]!;
    }
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < D; i++) v[i]! *= scale;
    return v;
  };
  const subtopics = Math.max(10, Math.round(count / 100));
  const topics = Math.max(2, Math.round(subtopics / 10));
  const topicCentres = Array.from({ length: topics }, () => around(undefined, 1));
  const subCentres = Array.from({ length: subtopics }, (_, i) => around(topicCentres[i % topics], 0.8));
  return Array.from({ length: count }, () =>
    around(subCentres[Math.floor(rand() * subtopics)], 0.7 + rand() * 0.6),
  );
}

interface Engine {
  name: string;
  search(q: Float32Array, qi: number): number[];
}

/** Child process: builds raw hnswlib-node (cosine, M=16, efConstruction=200) and writes it to `path`. */
async function buildHnsw(path: string): Promise<void> {
  const vectors = dataset(N + QUERIES, SEED).slice(0, N);
  const index = new hnswlib.HierarchicalNSW('cosine', D);
  index.initIndex({ maxElements: N, m: HNSW_M, efConstruction: HNSW_EF_CONSTRUCTION, randomSeed: 100 });
  const t0 = performance.now();
  vectors.forEach((v, i) => index.addPoint(Array.from(v), i));
  const seconds = (performance.now() - t0) / 1000;
  await index.writeIndex(path);
  process.stdout.write(`${seconds}\n`);
}

const CHILD = process.env.WARDEN_VBENCH_HNSW_PATH;
if (CHILD) await buildHnsw(CHILD);
else await main();

async function main(): Promise<void> {
  const all = dataset(N + QUERIES, SEED);
  const flat = new Float32Array(N * D);
  all.slice(0, N).forEach((v, i) => flat.set(v, i * D));
  const vectors = all.slice(0, N);
  const queries = all.slice(N);
  const keys = vectors.map((_, i) => i);
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-vbench-'));
    dirs.push(dir);
    return dir;
  };
  figure('vector index workload', N, 'vectors', { dimensions: D, queries: QUERIES, k: K });

  const hnswPath = join(tempDir(), 'hnswlib.bin');
  // A child process (same seed, same data) builds hnswlib-node while this one builds ours.
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, WARDEN_VBENCH_HNSW_PATH: hnswPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let childOut = '';
  child.stdout.on('data', (chunk: Buffer) => (childOut += chunk.toString()));
  const hnswBuilt = new Promise<number>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(Number(childOut.trim())) : reject(new Error(`hnswlib-node build exited ${code}`)),
    ),
  );

  // Ours: one build per quantization (threads: 1, beside the hnswlib-node build), saved so each
  // search setting of the ladder can be loaded without rebuilding.
  const built: { quantization: Quantization; dir: string; memory: number; graphBytes: number }[] = [];
  for (const quantization of ['f32', 'i8', 'b1'] as const) {
    const index = new VectorIndex({
      dimensions: D,
      quantization,
      connectivity: HNSW_M,
      expansionAdd: EXPANSION_ADD,
      threads: 1,
    });
    const t0 = performance.now();
    index.addMany(keys, vectors);
    figure(`vector index ${quantization} build time`, (performance.now() - t0) / 1000, 's', {
      threads: 1,
      M: HNSW_M,
      expansionAdd: EXPANSION_ADD,
    });
    const dir = tempDir();
    await index.save(dir);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as {
      files: { graph: { bytes: number } };
    };
    built.push({ quantization, dir, memory: index.memoryBytes(), graphBytes: meta.files.graph.bytes });
  }

  // Truth for recall from USearch's native brute force (all cores); our own exact search (JavaScript,
  // one thread, on the full vectors) is timed on a slice of the queries for its QPS figure.
  const exactMatches = usearchExact(flat, queries, D, K, MetricKind.Cos, 0) as BatchMatches;
  const truth = queries.map((_, qi) => new Set(Array.from(exactMatches.get(qi).keys, Number)));
  const exact = new VectorIndex({ dimensions: D });
  exact.addMany(keys, vectors);
  const started = performance.now();
  const exactQueries = queries.slice(0, Math.min(QUERIES, Math.ceil(4_000_000 / N)));
  for (const q of exactQueries) exact.exactSearch(q, K);
  figure(
    'vector index exact search QPS',
    exactQueries.length / ((performance.now() - started) / 1000),
    'queries/s',
    {
      threads: 1,
    },
  );

  function recall(search: (q: Float32Array, qi: number) => number[]): number {
    let hits = 0;
    queries.forEach((q, qi) => {
      for (const key of search(q, qi).slice(0, K)) if (truth[qi]!.has(key)) hits++;
    });
    return hits / (QUERIES * K);
  }

  // Raw hnswlib-node; its API takes plain arrays, converted before timing so that cost is not counted.
  figure('hnswlib-node build time', await hnswBuilt, 's', {
    threads: 1,
    M: HNSW_M,
    efConstruction: HNSW_EF_CONSTRUCTION,
  });
  const hnsw = new hnswlib.HierarchicalNSW('cosine', D);
  await hnsw.readIndex(hnswPath);
  const plainQueries = queries.map((q) => Array.from(q));
  let hnswEf = 0;
  let hnswRecall = 0;
  for (const ef of LADDER) {
    hnsw.setEf(ef);
    hnswEf = ef;
    hnswRecall = recall((_, qi) => hnsw.searchKnn(plainQueries[qi]!, K).neighbors);
    if (hnswRecall >= TARGET) break;
  }
  figure('hnswlib-node recall@10', hnswRecall, 'ratio', { ef: hnswEf });
  figure('hnswlib-node bytes per vector', statSync(hnswPath).size / N, 'bytes');
  const engines: Engine[] = [
    { name: 'hnswlib-node', search: (_, qi) => hnsw.searchKnn(plainQueries[qi]!, K).neighbors },
  ];

  // Ours: build once per quantization (addMany: one native call on all cores), save, then reload
  // with each search setting of the ladder until the recall target is met.
  interface Variant {
    quantization: Quantization;
    target: number;
    ladder: { expansionSearch: number; oversample: number }[];
  }
  const variants: Variant[] = [
    {
      quantization: 'f32',
      target: TARGET,
      ladder: LADDER.map((e) => ({ expansionSearch: e, oversample: 1 })),
    },
    {
      quantization: 'i8',
      target: TARGET,
      ladder: LADDER.map((e) => ({ expansionSearch: e, oversample: 2 })),
    },
    {
      quantization: 'b1',
      target: TARGET_B1,
      ladder: [2, 3, 4, 6, 8, 12, 16, 24].map((o) => ({ expansionSearch: 10, oversample: o })),
    },
  ];
  for (const variant of variants) {
    const label = `vector index ${variant.quantization}`;
    const { dir, memory, graphBytes } = built.find((b) => b.quantization === variant.quantization)!;
    let tuned: VectorIndex | undefined;
    let setting = variant.ladder[0]!;
    let got = 0;
    for (const step of variant.ladder) {
      const candidate = await VectorIndex.load(dir, step);
      tuned = candidate;
      setting = step;
      got = recall((q) => candidate.search(q, K).map((m) => m.key));
      if (got >= variant.target) break;
    }
    figure(`${label} recall@10`, got, 'ratio', { ...setting, rescored: variant.quantization !== 'f32' });
    figure(`${label} bytes per vector (graph)`, graphBytes / N, 'bytes');
    figure(`${label} bytes per vector (graph + float32 copy)`, memory / N, 'bytes');
    const search = tuned!;
    engines.push({ name: label, search: (q) => search.search(q, K).map((m) => m.key) });
  }

  // QPS: single-threaded searches, one warm-up round, then interleaved timed rounds.
  const rounds = new Map<string, number[]>(engines.map((e) => [e.name, []]));
  for (let round = 0; round <= ROUNDS; round++)
    for (const engine of engines) {
      const t0 = performance.now();
      queries.forEach((q, qi) => engine.search(q, qi));
      const qps = QUERIES / ((performance.now() - t0) / 1000);
      if (round > 0) rounds.get(engine.name)!.push(qps);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const qps = new Map([...rounds].map(([name, xs]) => [name, median(xs)]));
  for (const [name, value] of qps) figure(`${name} QPS`, value, 'queries/s', { threads: 1 });
  const ratio = (name: string, a: string, b: string) =>
    figure(name, qps.get(a)! / qps.get(b)!, 'x', { ours: qps.get(a), theirs: qps.get(b) });
  ratio('vector index f32 vs hnswlib-node QPS', 'vector index f32', 'hnswlib-node');
  ratio('vector index i8 vs hnswlib-node QPS', 'vector index i8', 'hnswlib-node');
  ratio('vector index b1 vs f32 QPS', 'vector index b1', 'vector index f32');
  ratio('vector index b1 vs hnswlib-node QPS', 'vector index b1', 'hnswlib-node');

  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
