// The cost of OpenTelemetry tracing on Warden's no-op throughput (docs/telemetry.md), measured as
// bench/warden.bench.ts measures it (20k tasks queued first, then drained by one worker at concurrency 50,
// embedded SQLite, inline no-op handler), in the same run: tracing off, on with the SDK's in-memory exporter
// (behind a batch processor, and behind the simple processor the tests use), and on with a batch processor
// to an exporter that discards. Also the same with submit
// and run concurrently in one process. Prints each figure and the overhead against off (target <= 10 %).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { Warden, type WardenOptions } from '../src/index.js';

const JOBS = 20_000;
const CONCURRENCY = 50;
const ROUNDS = Number(process.env['TRACING_BENCH_ROUNDS'] ?? 3);

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

/** Counts what it is given and drops it. */
class DiscardingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (r: { code: number }) => void): void {
    this.spans += spans.length;
    done({ code: 0 }); // ExportResultCode.SUCCESS
  }
  async shutdown(): Promise<void> {}
}

interface Mode {
  name: string;
  tracing: () => { options: WardenOptions['tracing']; spans: () => number; close: () => Promise<void> };
}

const MODES: Mode[] = [
  { name: 'off', tracing: () => ({ options: undefined, spans: () => 0, close: async () => {} }) },
  {
    // The SDK's in-memory exporter behind a batch processor, as a deployment would have it.
    name: 'in-memory',
    tracing: () => {
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({
        spanProcessors: [
          new BatchSpanProcessor({ exporter, maxQueueSize: 65_536, maxExportBatchSize: 2048 }),
        ],
      });
      return {
        options: { tracerProvider },
        spans: () => exporter.getFinishedSpans().length,
        close: () => tracerProvider.shutdown(),
      };
    },
  },
  {
    // What the tests use: the simple processor exports each span as it ends (slow by design).
    name: 'in-memory, simple processor',
    tracing: () => {
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
      return {
        options: { tracerProvider },
        spans: () => exporter.getFinishedSpans().length,
        close: () => tracerProvider.shutdown(),
      };
    },
  },
  {
    name: 'batch',
    tracing: () => {
      const exporter = new DiscardingExporter();
      const tracerProvider = new TracerProvider({
        spanProcessors: [
          new BatchSpanProcessor({ exporter, maxQueueSize: 65_536, maxExportBatchSize: 2048 }),
        ],
      });
      return {
        options: { tracerProvider },
        spans: () => exporter.spans,
        close: () => tracerProvider.shutdown(),
      };
    },
  },
  {
    // Sampling 10 % of traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG=0.1): the rest cost little.
    name: 'batch, 10 % sampled',
    tracing: () => {
      const exporter = new DiscardingExporter();
      const tracerProvider = new TracerProvider({
        sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }),
        spanProcessors: [
          new BatchSpanProcessor({ exporter, maxQueueSize: 65_536, maxExportBatchSize: 2048 }),
        ],
      });
      return {
        options: { tracerProvider },
        spans: () => exporter.spans,
        close: () => tracerProvider.shutdown(),
      };
    },
  },
];

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

/** Queued first (by a producer with the same tracing), then drained: tasks/s of the drain, spans made. */
async function drain(mode: Mode): Promise<{ rate: number; spans: number }> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const t = mode.tracing();
  try {
    const producer = await Warden.open({ storage: { root }, workers: false, tracing: t.options });
    await producer.registerHandler('noop', () => null);
    await submitAll(producer, JOBS);
    await producer.close();
    const warden = await Warden.open({
      storage: { root },
      workers: { concurrency: CONCURRENCY },
      tracing: t.options,
    });
    // Opened with workers, it starts claiming at once: the handler is registered before it can run one.
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    warden.events.on('task', (e) => {
      if (e.state === 'succeeded' && ++done === JOBS) finished();
    });
    const started = performance.now();
    await warden.registerHandler('noop', () => null);
    await all;
    const ms = performance.now() - started;
    await warden.close();
    return { rate: (JOBS / ms) * 1000, spans: t.spans() };
  } finally {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Submit and run concurrently in one process (the submit's context is known here: no store read). */
async function concurrent(mode: Mode): Promise<{ rate: number; spans: number }> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const t = mode.tracing();
  try {
    const warden = await Warden.open({
      storage: { root },
      workers: { concurrency: CONCURRENCY },
      tracing: t.options,
    });
    await warden.registerHandler('noop', () => null);
    const t0 = performance.now();
    const ids = await submitAll(warden, JOBS);
    await Promise.all(ids.map((id) => warden.result(id)));
    const ms = performance.now() - t0;
    await warden.close();
    return { rate: (JOBS / ms) * 1000, spans: t.spans() };
  } finally {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const [label, run] of [
  ['no-op throughput', drain],
  ['no-op throughput (submit and run concurrently)', concurrent],
] as const) {
  // Interleaved rounds, so that drift in the machine's load falls on every mode alike; the median is kept.
  const rates = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
  const spans = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES) {
      const r = await run(mode);
      rates.get(mode.name)!.push(r.rate);
      spans.set(mode.name, r.spans);
    }
  }
  const off = median(rates.get('off')!);
  for (const mode of MODES) {
    const rate = median(rates.get(mode.name)!);
    emit(`warden ${label}, tracing ${mode.name}`, rate, 'tasks/s', {
      jobs: JOBS,
      rounds: ROUNDS,
      spans: spans.get(mode.name),
      ...(mode.name === 'off' ? {} : { overheadPercent: Number((((off - rate) / off) * 100).toFixed(1)) }),
    });
  }
}
