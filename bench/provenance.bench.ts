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
