import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warden } from '../../src/index.js';
import { TRACE_SPANS } from '../../src/telemetry/index.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../scale-out/pg.js';

const pgOk = await requirePostgres('the PostgreSQL tracing test');
const INCOMING_TRACE = '0af7651916cd43dd8448eb211c80319c';
const INCOMING = `00-${INCOMING_TRACE}-b7ad6b7169203331-01`;

function memoryProvider() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { tracerProvider, spans: () => exporter.getFinishedSpans() };
}

describe.runIf(pgOk)('tracing on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("a worker process joins the submitter's trace from the metadata its claim read", async () => {
    const a = memoryProvider();
    const b = memoryProvider();
    // An API-like process that only submits, and a worker: two Wardens on one database.
    const submitter = await Warden.open({
      storage: { postgres: db.url, root: tempDir() },
      workers: false,
      tracing: { tracerProvider: a.tracerProvider },
    });
    const worker = await Warden.open({
      storage: { postgres: db.url, root: tempDir() },
      workers: { concurrency: 4, pollIntervalMs: 20 },
      tracing: { tracerProvider: b.tracerProvider },
    });
    try {
      await worker.registerHandler('noop', () => ({ ok: true }), { shared: true });
      await submitter.registerHandler('noop', () => ({ ok: true }), { shared: true });
      const task = await submitter.submit({ agent: 'noop', input: {}, metadata: { traceparent: INCOMING } });
      expect((await submitter.result(task.id, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    } finally {
      await worker.close();
      await submitter.close();
    }
    const submit = a.spans().find((s) => s.name === TRACE_SPANS.submit)!;
    expect(submit.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    const ran = b.spans();
    const attempt = ran.find((s) => s.name === TRACE_SPANS.attempt)!;
    const queue = ran.find((s) => s.name === TRACE_SPANS.queue)!;
    for (const s of [attempt, queue]) {
      expect(s.spanContext().traceId).toBe(INCOMING_TRACE);
      expect(s.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
    }
    // The queue wait starts at the submit (the task's created_at), not at the claim.
    const ms = (t: readonly [number, number]) => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(queue.startTime)).toBeLessThanOrEqual(ms(submit.endTime) + 5);
    expect(ms(queue.startTime)).toBeGreaterThanOrEqual(ms(submit.startTime) - 5);
  });
});
