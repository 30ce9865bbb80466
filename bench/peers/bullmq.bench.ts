// Peer benchmark: BullMQ (Redis) no-op throughput and submit-to-result latency.
// Run: node --import tsx bench/peers/bullmq.bench.ts
// Prints only JSON lines on stdout; diagnostics go to stderr. Exits 0 without output if Redis is down.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';

const REDIS_HOST = process.env.BENCH_REDIS_HOST ?? '127.0.0.1';
const REDIS_PORT = Number(process.env.BENCH_REDIS_PORT ?? 6379);
const N = 20_000;
const CONCURRENCY = 50;
const BULK_CHUNK = 1_000;
const LATENCY_WARMUP = 100;
const LATENCY_SAMPLES = 1_000;
const WATCHDOG_MS = 150_000;

const connection: ConnectionOptions = {
  host: REDIS_HOST,
  port: REDIS_PORT,
  maxRetriesPerRequest: null, // required by BullMQ workers
  connectTimeout: 2_000,
};

interface NoopData {
  i: number;
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

/** Raw RESP PING with a hard timeout, so an absent Redis never makes us hang. */
function redisReachable(timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: REDIS_HOST, port: REDIS_PORT });
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
  });
}

/**
 * BullMQ 6.x treats its Redis client (ioredis) as an optional peer dependency and loads it with
 * require() from its CJS build. Check that it resolves from bullmq's location (NODE_PATH honoured).
 */
function ioredisResolvable(): boolean {
  try {
    const fromBullmq = createRequire(createRequire(import.meta.url).resolve('bullmq'));
    fromBullmq.resolve('ioredis');
    return true;
  } catch {
    return false;
  }
}

function queueName(kind: string): string {
  return `warden-peer-${kind}-${randomBytes(6).toString('hex')}`;
}

async function throughput(): Promise<void> {
  const name = queueName('tput');
  const queue = new Queue<NoopData>(name, { connection });
  let worker: Worker<NoopData> | undefined;
  try {
    await queue.waitUntilReady();
    for (let start = 0; start < N; start += BULK_CHUNK) {
      const batch: { name: string; data: NoopData }[] = [];
      for (let i = start; i < Math.min(N, start + BULK_CHUNK); i++) batch.push({ name: 'noop', data: { i } });
      await queue.addBulk(batch);
    }

    let completed = 0;
    let failed = 0;
    let resolveDone: () => void = () => {};
    const allDone = new Promise<void>((r) => (resolveDone = r));
    worker = new Worker<NoopData>(name, async () => {}, {
      connection,
      concurrency: CONCURRENCY,
      autorun: false,
    });
    worker.on('error', (err) => console.error('bullmq worker error:', err));
    worker.on('failed', (_job, err) => {
      failed++;
      console.error('bullmq job failed:', err);
      if (completed + failed >= N) resolveDone();
    });
    worker.on('completed', () => {
      completed++;
      if (completed + failed >= N) resolveDone();
    });
    await worker.waitUntilReady();

    const t0 = performance.now();
    void worker.run().catch((err: unknown) => console.error('bullmq worker.run failed:', err));
    await allDone;
    const elapsedMs = performance.now() - t0;
    if (failed > 0) throw new Error(`${failed} BullMQ jobs failed`);
    // Sanity check (outside the timed section): Redis agrees every job completed.
    const counts = await queue.getJobCounts('completed', 'wait', 'active', 'failed');
    if (counts.completed !== N)
      throw new Error(`expected ${N} completed jobs, Redis says ${JSON.stringify(counts)}`);

    emit({
      name: 'peer bullmq no-op throughput',
      value: round(N / (elapsedMs / 1000), 1),
      unit: 'tasks/s',
      jobs: N,
      concurrency: CONCURRENCY,
    });
  } finally {
    if (worker) await worker.close();
    await queue.obliterate({ force: true }).catch((err: unknown) => console.error('obliterate failed:', err));
    await queue.close();
  }
}

async function latency(): Promise<void> {
  const name = queueName('lat');
  const queue = new Queue<NoopData>(name, { connection });
  const events = new QueueEvents(name, { connection });
  const worker = new Worker<NoopData>(name, async () => {}, { connection, concurrency: 1 });
  worker.on('error', (err) => console.error('bullmq worker error:', err));
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_SAMPLES; i++) {
      const t0 = performance.now();
      const job = await queue.add('noop', { i });
      await job.waitUntilFinished(events, 10_000);
      const ms = performance.now() - t0;
      if (i >= LATENCY_WARMUP) samples.push(ms);
    }
    samples.sort((a, b) => a - b);
    emit({
      name: 'peer bullmq submit-to-result latency p50',
      value: round(percentile(samples, 50), 3),
      unit: 'ms',
    });
    emit({
      name: 'peer bullmq submit-to-result latency p99',
      value: round(percentile(samples, 99), 3),
      unit: 'ms',
    });
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true }).catch((err: unknown) => console.error('obliterate failed:', err));
    await queue.close();
  }
}

async function main(): Promise<void> {
  if (!ioredisResolvable()) {
    console.error(
      "bullmq peer bench: BullMQ's optional peer dependency 'ioredis' is not installed; skipping " +
        '(add ioredis as a devDependency, or point NODE_PATH at a node_modules that has it)',
    );
    return;
  }
  if (!(await redisReachable())) {
    console.error(`bullmq peer bench: Redis not reachable at ${REDIS_HOST}:${REDIS_PORT}; skipping`);
    return;
  }
  const watchdog = setTimeout(() => {
    console.error(`bullmq peer bench: watchdog fired after ${WATCHDOG_MS} ms; aborting`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  await throughput();
  await latency();
}

main().catch((err: unknown) => {
  console.error('bullmq peer bench failed:', err);
  process.exitCode = 1;
});
