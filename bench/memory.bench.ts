// Cortex memory at 100k items in one scope: put throughput (builtin embeddings + the store port, in
// batches of 1,000, as the index would be fed by many puts), the first search's index build from the table,
// then search latency p50/p99 over varied queries (embedding the query, the HNSW search, and reading the
// rows of the hits). WARDEN_BENCH_MEMORY_ITEMS shrinks the workload (e.g. 10000 for a quick run).
// Usage: node --import tsx bench/memory.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import { Warden } from '../src/index.js';
import { sha256Hex } from '../src/provenance/index.js';
import { HashEmbedder } from '../src/routing/index.js';

const ITEMS = Number(process.env['WARDEN_BENCH_MEMORY_ITEMS'] ?? 100_000);
const BATCH = 1_000;
const QUERIES = 1_000;
const WARMUP = 50;

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toPrecision(4)), unit, ...extra })}\n`);
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

// A fixed vocabulary and a fixed pseudo-random sequence: the same texts every run.
const WORDS = (
  'customer prefers email phone invoice monthly office meeting tuesday budget project deadline report ' +
  'travel lisbon berlin tokyo flight hotel allergy peanuts coffee tea jazz music birthday march april ' +
  'password reset account upgrade premium refund order shipping delayed warehouse supplier contract ' +
  'renewal discount loyalty feedback survey onboarding training manager team remote hybrid laptop'
).split(' ');
let seed = 42;
const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const sentence = (n: number): string =>
  Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(' ');

const root = mkdtempSync(join(tmpdir(), 'warden-memory-bench-'));
const embedder = new HashEmbedder();
const warden = await Warden.open({
  storage: { root },
  workers: false,
  memory: { maxItemsPerScope: ITEMS * 2, embedder },
});
try {
  const session = await warden.ensureSession({ name: 'bench' });
  const now = Date.now();
  const started = performance.now();
  for (let done = 0; done < ITEMS; done += BATCH) {
    const texts = Array.from({ length: Math.min(BATCH, ITEMS - done) }, () =>
      sentence(8 + Math.floor(rand() * 12)),
    );
    const vectors = await embedder.embed(texts);
    await warden.store.memories.insertMemories(
      texts.map((text, i) => ({
        id: uuidv7(),
        tenant: session.tenant,
        sessionId: session.id,
        agent: null,
        text,
        metadataJson: '{}',
        embedder: embedder.id,
        embedding: vectors[i]!,
        taskId: null,
        createdAt: now,
        expiresAt: null,
        textDigest: sha256Hex(text),
      })),
    );
  }
  const putSeconds = (performance.now() - started) / 1000;
  emit('memory_put_throughput', ITEMS / putSeconds, 'items/s', { items: ITEMS, batch: BATCH });

  // Single puts through the service (one transaction and one embedding call each).
  const single = 500;
  const t0 = performance.now();
  for (let i = 0; i < single; i++)
    await warden.memory.cortex.put({ sessionId: session.id, tenant: session.tenant, text: sentence(12) });
  emit('memory_put_single_throughput', single / ((performance.now() - t0) / 1000), 'items/s', {
    items: single,
  });

  const b0 = performance.now();
  await warden.memory.cortex.search({
    sessionId: session.id,
    tenant: session.tenant,
    query: 'warm up',
    k: 5,
  });
  emit('memory_index_build', performance.now() - b0, 'ms', { items: ITEMS + single });

  const queries = Array.from({ length: QUERIES + WARMUP }, () => sentence(4 + Math.floor(rand() * 6)));
  const times: number[] = [];
  let found = 0;
  for (let i = 0; i < queries.length; i++) {
    const s = performance.now();
    const hits = await warden.memory.cortex.search({
      sessionId: session.id,
      tenant: session.tenant,
      query: queries[i]!,
      k: 5,
    });
    const ms = performance.now() - s;
    if (i >= WARMUP) {
      times.push(ms);
      found += hits.length;
    }
  }
  times.sort((a, b) => a - b);
  const extra = { items: ITEMS + single, k: 5, queries: QUERIES, meanHits: found / QUERIES };
  emit('memory_search_p50', quantile(times, 0.5), 'ms', extra);
  emit('memory_search_p99', quantile(times, 0.99), 'ms', extra);
} finally {
  await warden.close();
  rmSync(root, { recursive: true, force: true });
}
