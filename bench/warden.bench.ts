// Warden's own scheduler figures: no-op throughput and submit->result latency, embedded (SQLite, durable,
// with the provenance chain), inline handler — the same workload bench/peers runs on BullMQ and graphile-worker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Warden } from '../src/index.js';

const JOBS = 20_000;
const CONCURRENCY = 50;

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

async function open(root: string, workers: boolean, writerThread = false) {
  const warden = await Warden.open({
    storage: { root, writerThread },
    workers: workers ? { concurrency: CONCURRENCY } : false,
  });
  await warden.registerHandler('noop', () => null);
  return warden;
}

async function submitAll(warden: Warden, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 1000) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(1000, n - start) }, (_, k) =>
        warden.submit({ agent: 'noop', input: { k: start + k } }),
      ),
    );
    for (const t of chunk) ids.push(t.id);
  }
  return ids;
}

/**
 * Queues JOBS, then drains them. With `writerThread`, the store's writes run on its writer thread (opened
 * with the store, so its start-up is not timed): the figures say whether the thread hop pays on this machine.
 */
async function drainThroughput(writerThread = false): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const label = writerThread ? ' (writer thread)' : '';
  try {
    const producer = await open(root, false, writerThread);
    const t0 = performance.now();
    await submitAll(producer, JOBS);
    const submitMs = performance.now() - t0;
    await producer.close();
    emit(`warden submit throughput (durable, group commit)${label}`, (JOBS / submitMs) * 1000, 'tasks/s', {
      jobs: JOBS,
    });

    // Like the peers: jobs are queued first, then one worker with concurrency 50 drains them. Its
    // scheduler runs from open() on, but nothing is runnable until the handler is registered, which is
    // when the clock starts (as BullMQ's worker.run()). Opened with `workers: false` and started by hand,
    // it would run at the default concurrency (32), not at the 50 the peers get.
    const warden = await Warden.open({
      storage: { root, writerThread },
      workers: { concurrency: CONCURRENCY },
    });
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    warden.scheduler.events.on('task', (e) => {
      if (e.state === 'succeeded' && ++done === JOBS) finished();
    });
    const started = performance.now();
    await warden.registerHandler('noop', () => null);
    await all;
    const ms = performance.now() - started;
    const stats = await warden.store.stats();
    if (stats.byState['succeeded'] !== JOBS)
      throw new Error(`expected ${JOBS} succeeded, got ${JSON.stringify(stats.byState)}`);
    const chain = await warden.verify('default');
    if (!chain.ok) throw new Error('provenance chain does not verify');
    await warden.close();
    emit(`warden no-op throughput${label}`, (JOBS / ms) * 1000, 'tasks/s', {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      provenanceRecords: chain.length,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function mixedThroughput(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  try {
    const warden = await open(root, true);
    const t0 = performance.now();
    const ids = await submitAll(warden, JOBS);
    await Promise.all(ids.map((id) => warden.result(id)));
    const ms = performance.now() - t0;
    await warden.close();
    emit('warden no-op throughput (submit and run concurrently)', (JOBS / ms) * 1000, 'tasks/s', {
      jobs: JOBS,
      concurrency: CONCURRENCY,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function latency(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  try {
    const warden = await open(root, true);
    const samples: number[] = [];
    for (let i = 0; i < 1100; i++) {
      const s = performance.now();
      const t = await warden.submit({ agent: 'noop', input: { i } });
      await warden.result(t.id);
      if (i >= 100) samples.push(performance.now() - s);
    }
    await warden.close();
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    emit('warden submit-to-result latency p50', at(0.5), 'ms', { samples: samples.length });
    emit('warden submit-to-result latency p99', at(0.99), 'ms', { samples: samples.length });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await drainThroughput();
await drainThroughput(true);
await mixedThroughput();
await latency();
