// Provenance figures: Merkle append throughput (the per-commit frontier), inclusion proofs per second,
// and export + offline verification of a 10k-record session. Run: node --import tsx bench/provenance.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Warden } from '../src/index.js';
import {
  MerkleFrontier,
  MerkleTree,
  chainRecord,
  serializeBundle,
  verifyBundleText,
  verifyInclusion,
  type ChainHead,
} from '../src/provenance/index.js';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

// Realistic records: the canonical JSON of task.started events.
const N = 200_000;
const records: string[] = [];
let head: ChainHead | null = null;
for (let i = 0; i < N; i++) {
  const link = chainRecord('0190f0c0-0000-7000-8000-000000000000', head, {
    type: 'task.started',
    at: 1_760_000_000_000 + i,
    taskId: `0190f0c0-${String(i).padStart(4, '0')}-7000-8000-000000000000`,
    attempt: 1,
    agent: 'noop@0.0.0',
    data: { worker: 'w-1234abcd' },
  });
  records.push(link.recordJson);
  head = { seq: link.record.seq, hash: link.hash };
}

{
  const f = MerkleFrontier.empty();
  const t0 = performance.now();
  for (const r of records) f.append(r);
  const ms = performance.now() - t0;
  emit('merkle frontier append (leaf hash + O(1) amortised)', (N / ms) * 1000, 'records/s', {
    records: N,
    usPerRecord: (ms * 1000) / N,
  });
  const r0 = performance.now();
  for (let i = 0; i < 10_000; i++) f.root();
  emit('merkle frontier root (O(log n), n=200k)', (10_000 / (performance.now() - r0)) * 1000, 'roots/s');
}

{
  const t0 = performance.now();
  const tree = MerkleTree.fromLeaves(records);
  emit('merkle tree build (export)', (N / (performance.now() - t0)) * 1000, 'records/s', { records: N });
  const root = tree.root();
  const M = 20_000;
  const proofs: string[][] = [];
  const g0 = performance.now();
  for (let i = 0; i < M; i++) proofs.push(tree.inclusionProof((i * 7919) % N));
  emit('inclusion proof generation (n=200k)', (M / (performance.now() - g0)) * 1000, 'proofs/s');
  const v0 = performance.now();
  for (let i = 0; i < M; i++) {
    const idx = (i * 7919) % N;
    if (!verifyInclusion(idx, N, tree.leaf(idx), proofs[i]!, root).ok) throw new Error('proof failed');
  }
  emit('inclusion proof verification (n=200k)', (M / (performance.now() - v0)) * 1000, 'proofs/s');
}

{
  const root = mkdtempSync(join(tmpdir(), 'warden-prov-bench-'));
  try {
    const warden = await Warden.open({ storage: { root }, workers: { concurrency: 50 } });
    await warden.registerHandler('noop', () => null);
    const tasks = 3_334; // 3 records each: about 10k records
    const ids: string[] = [];
    for (let s = 0; s < tasks; s += 500) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(500, tasks - s) }, (_, k) =>
          warden.submit({ agent: 'noop', input: { k: s + k } }),
        ),
      );
      ids.push(...chunk.map((t) => t.id));
    }
    await Promise.all(ids.map((id) => warden.result(id)));
    const e0 = performance.now();
    const text = serializeBundle(await warden.exportProvenance('default'));
    const exportMs = performance.now() - e0;
    await warden.close();
    const v0 = performance.now();
    const v = verifyBundleText(text);
    const verifyMs = performance.now() - v0;
    if (!v.ok) throw new Error(JSON.stringify(v.problems.slice(0, 3)));
    emit('export 10k-record session (sign, check, proofs, serialise)', exportMs, 'ms', {
      records: v.treeSize,
      statements: v.statements,
      bytes: text.length,
    });
    emit('verify 10k-record bundle offline', verifyMs, 'ms', { records: v.treeSize });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// Streamed export of a large session (the soak's export every 30 s reached 146k records): throughput, and
// how long the event loop waits meanwhile. A 2 ms timer watches the loop; a gap counts as a stall of our
// work only for the CPU time the process used during it (on a busy machine it also waits to be scheduled),
// and the wall-clock gap is printed beside it.
{
  const root = mkdtempSync(join(tmpdir(), 'warden-prov-bench-'));
  try {
    const warden = await Warden.open({ storage: { root }, workers: { concurrency: 64 } });
    await warden.registerHandler('noop', () => null);
    const tasks = 50_000; // 3 records each: 150k records
    for (let s = 0; s < tasks; s += 1000) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(1000, tasks - s) }, (_, k) =>
          warden.submit({ agent: 'noop', input: { k: s + k } }),
        ),
      );
      await Promise.all(chunk.map((t) => warden.result(t.id)));
    }
    const exportOnce = async (since: number) => {
      let last = performance.now();
      let lastCpu = process.cpuUsage();
      let maxWall = 0;
      let maxStall = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        const cpu = process.cpuUsage(lastCpu);
        maxWall = Math.max(maxWall, now - last);
        maxStall = Math.max(maxStall, Math.min(now - last, (cpu.user + cpu.system) / 1000));
        last = now;
        lastCpu = process.cpuUsage();
      }, 2);
      const rss0 = process.memoryUsage().rss;
      let peakRss = rss0;
      const t0 = performance.now();
      const stream = await warden.exportProvenanceStream('default', { since });
      let bytes = 0;
      for await (const chunk of stream.chunks()) {
        bytes += Buffer.byteLength(chunk);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
      const ms = performance.now() - t0;
      clearInterval(timer);
      return { ms, bytes, maxStall, maxWall, peakRss, rss0, summary: stream.summary };
    };
    const full = await exportOnce(0);
    emit(
      `export ${Math.round(full.summary.treeSize / 1000)}k-record session, streamed`,
      (full.summary.records / full.ms) * 1000,
      'records/s',
      {
        ms: Math.round(full.ms),
        megabytes: Number((full.bytes / 1e6).toFixed(1)),
        maxStallMs: Number(full.maxStall.toFixed(1)),
        maxWallGapMs: Number(full.maxWall.toFixed(1)),
        rssGrowthMb: Math.round((full.peakRss - full.rss0) / 1e6),
      },
    );
    emit('max event-loop stall during a streamed export', full.maxStall, 'ms', {
      records: full.summary.treeSize,
      maxWallGapMs: Number(full.maxWall.toFixed(1)),
    });
    // The next export of a growing session: only the last tenth, with a consistency proof from the first.
    const since = Math.floor(full.summary.treeSize * 0.9);
    const inc = await exportOnce(since);
    emit('incremental export, last 10% of the session', (inc.summary.records / inc.ms) * 1000, 'records/s', {
      ms: Math.round(inc.ms),
      records: inc.summary.records,
      megabytes: Number((inc.bytes / 1e6).toFixed(1)),
      maxStallMs: Number(inc.maxStall.toFixed(1)),
    });
    await warden.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
