import { writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { WardenError } from '../../src/index.js';
import {
  GEN_AI_ATTRIBUTES,
  TRACE_SPANS,
  formatTraceparent,
  parseTraceparent,
  tracingWanted,
} from '../../src/telemetry/index.js';
import { openWarden, sandboxIfAvailable, sandboxWorks, tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from '../llm/fake-provider.js';
import { watToWasm } from '../../scripts/build-wasm-examples.js';

/** A caller's span: what an incoming traceparent names. */
const INCOMING_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const INCOMING_SPAN = '00f067aa0ba902b7';
const INCOMING = `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01`;

function memoryProvider() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { exporter, tracerProvider, spans: () => exporter.getFinishedSpans() };
}

const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: readonly ReadableSpan[], name: string) => {
  const found = named(spans, name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const traceparentOf = (s: ReadableSpan) =>
  formatTraceparent({ traceId: s.spanContext().traceId, spanId: idOf(s), flags: s.spanContext().traceFlags });

describe('tracing: one task, one trace', () => {
  it('makes the documented spans, attributes and parent/child links, and keeps the context in metadata', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    const seen: (string | undefined)[] = [];
    await warden.registerHandler('upper', (i: { text: string }, ctx) => {
      seen.push(ctx.traceparent);
      return { text: i.text.toUpperCase() };
    });
    const task = await warden.submit({ agent: 'upper', input: { text: 'please summarise this note' } });
    expect((await warden.result(task.id, { timeoutMs: 5000 }))?.status).toBe('succeeded');
    await warden.close();

    const all = spans();
    // One trace, one root: the submit.
    expect(new Set(all.map((s) => s.spanContext().traceId)).size).toBe(1);
    const submit = one(all, TRACE_SPANS.submit);
    expect(all.filter((s) => parentOf(s) === undefined)).toEqual([submit]);
    expect(submit.attributes).toMatchObject({
      'warden.task.id': task.id,
      'warden.session.name': 'default',
      'warden.tenant': 'default',
      'warden.agent': 'upper@1.0.0',
      'warden.task.priority': 'normal',
    });
    // The task keeps the submit span's context: any process running an attempt parents to it.
    expect(task.metadata['traceparent']).toBe(traceparentOf(submit));

    const queue = one(all, TRACE_SPANS.queue);
    const claim = one(all, TRACE_SPANS.claim);
    const attempt = one(all, TRACE_SPANS.attempt);
    for (const s of [queue, claim, attempt]) expect(parentOf(s)).toBe(idOf(submit));
    expect(claim.attributes['warden.claim.via']).toMatch(/^(claim|submit|finish)$/);
    expect(attempt.attributes).toMatchObject({
      'warden.task.id': task.id,
      'warden.agent': 'upper@1.0.0',
      'warden.task.attempt': 1,
      'warden.runtime': 'inline',
      'warden.sandbox': 'in-process',
      'warden.attempt.outcome': 'succeeded',
    });
    // Queue wait ends where the claim starts; the attempt starts when the claim committed.
    const ms = (t: readonly [number, number]) => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(queue.endTime)).toBeCloseTo(ms(claim.startTime), 3);
    expect(ms(attempt.startTime)).toBeCloseTo(ms(claim.endTime), 3);

    // Provenance: task.submitted under the submit, the finish's record under the attempt.
    const appends = named(all, TRACE_SPANS.append);
    expect(appends.map((s) => [s.attributes['warden.provenance.record'], parentOf(s)])).toEqual(
      expect.arrayContaining([
        ['task.submitted', idOf(submit)],
        ['task.succeeded', idOf(attempt)],
      ]),
    );
    // Governance screened the input (under the submit) and the output (under the attempt).
    const screens = named(all, TRACE_SPANS.screen);
    expect(screens.map((s) => [s.attributes['warden.governance.stage'], parentOf(s)])).toEqual(
      expect.arrayContaining([
        ['input', idOf(submit)],
        ['output', idOf(attempt)],
      ]),
    );
    for (const s of screens) expect(s.attributes['warden.governance.action']).toBe('allow');
    // The handler saw the attempt span as its parent.
    expect(seen).toEqual([traceparentOf(attempt)]);
  });

  it('parents every span to a traceparent given in metadata (the library and CLI way)', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    await warden.registerHandler('noop', () => null);
    const task = await warden.submit({
      agent: 'noop',
      input: {},
      metadata: { traceparent: INCOMING, tracestate: 'vendor=abc', owner: 'me' },
    });
    await warden.result(task.id, { timeoutMs: 5000 });
    await warden.close();
    const all = spans();
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const s of all) expect(s.spanContext().traceId).toBe(INCOMING_TRACE);
    const submit = one(all, TRACE_SPANS.submit);
    expect(parentOf(submit)).toBe(INCOMING_SPAN);
    expect(submit.parentSpanContext?.isRemote).toBe(true);
    expect(all.filter((s) => parentOf(s) === INCOMING_SPAN)).toEqual([submit]);
    // The stored metadata names the submit span now (same trace), keeps tracestate and the caller's keys.
    expect(parseTraceparent(task.metadata['traceparent'])).toMatchObject({
      traceId: INCOMING_TRACE,
      spanId: idOf(submit),
    });
    expect(task.metadata).toMatchObject({ tracestate: 'vendor=abc', owner: 'me' });
    expect(submit.spanContext().traceState?.get('vendor')).toBe('abc');
  });

  it('ignores a malformed traceparent: a new trace starts, the submit succeeds', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    await warden.registerHandler('noop', () => null);
    const task = await warden.submit({ agent: 'noop', input: {}, metadata: { traceparent: 'garbage' } });
    await warden.result(task.id, { timeoutMs: 5000 });
    await warden.close();
    const submit = one(spans(), TRACE_SPANS.submit);
    expect(parentOf(submit)).toBeUndefined();
    expect(task.metadata['traceparent']).toBe(traceparentOf(submit));
  });

  it('marks a failed submit span with the error code', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    await expect(warden.submit({ agent: 'nobody', input: {} })).rejects.toBeInstanceOf(WardenError);
    await warden.close();
    const submit = one(spans(), TRACE_SPANS.submit);
    expect(submit.status.code).toBe(2); // ERROR
    expect(submit.attributes['error.type']).toBe('AGENT_NOT_FOUND');
  });

  it('makes one attempt span per attempt, the failed one with error status', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    let calls = 0;
    await warden.registerHandler(
      'flaky',
      () => {
        if (++calls === 1) throw new Error('first call fails');
        return { ok: true };
      },
      { retry: { maxAttempts: 3, baseMs: 1, maxMs: 2 } },
    );
    const task = await warden.submit({ agent: 'flaky', input: {} });
    const result = await warden.result(task.id, { timeoutMs: 5000 });
    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
    await warden.close();
    const all = spans();
    const submit = one(all, TRACE_SPANS.submit);
    const attempts = named(all, TRACE_SPANS.attempt).sort(
      (a, b) => Number(a.attributes['warden.task.attempt']) - Number(b.attributes['warden.task.attempt']),
    );
    expect(attempts.map((s) => s.attributes['warden.task.attempt'])).toEqual([1, 2]);
    expect(attempts.map((s) => parentOf(s))).toEqual([idOf(submit), idOf(submit)]);
    expect(attempts[0]!.status.code).toBe(2);
    expect(attempts[0]!.attributes).toMatchObject({
      'warden.attempt.outcome': 'retry',
      'error.type': 'AGENT_FAILED',
    });
    expect(attempts[1]!.status.code).toBe(0);
    expect(attempts[1]!.attributes['warden.attempt.outcome']).toBe('succeeded');
    // Each attempt waited in the queue and was claimed.
    expect(named(all, TRACE_SPANS.queue)).toHaveLength(2);
    expect(named(all, TRACE_SPANS.claim)).toHaveLength(2);
    const records = named(all, TRACE_SPANS.append).map((s) => [
      s.attributes['warden.provenance.record'],
      parentOf(s),
    ]);
    expect(records).toEqual(
      expect.arrayContaining([
        ['task.attempt_failed', idOf(attempts[0]!)],
        ['task.succeeded', idOf(attempts[1]!)],
      ]),
    );
  });

  it('joins the trace from the stored metadata when another Warden runs the task', async () => {
    const root = tempDir();
    const a = memoryProvider();
    const producer = await openWarden({
      root,
      workers: false,
      tracing: { tracerProvider: a.tracerProvider },
    });
    // The version must be registered to submit; an inline handler runs only where it is registered.
    await producer.registerHandler('noop', () => null);
    const task = await producer.submit({ agent: 'noop', input: {}, metadata: { traceparent: INCOMING } });
    await producer.close();
    const submit = one(a.spans(), TRACE_SPANS.submit);

    const b = memoryProvider();
    const worker = await openWarden({ root, tracing: { tracerProvider: b.tracerProvider } });
    await worker.registerHandler('noop', () => null);
    expect((await worker.result(task.id, { timeoutMs: 5000 }))?.status).toBe('succeeded');
    await worker.close();
    const all = b.spans();
    for (const s of all) expect(s.spanContext().traceId).toBe(INCOMING_TRACE);
    for (const name of [TRACE_SPANS.queue, TRACE_SPANS.claim, TRACE_SPANS.attempt])
      expect(parentOf(one(all, name))).toBe(idOf(submit));
    expect(one(all, TRACE_SPANS.attempt).parentSpanContext?.isRemote).toBe(true);
  });
});

describe('tracing over HTTP', () => {
  it('parents the task to the traceparent header of POST /sessions/:id/execute', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    await warden.registerHandler('noop', (i: unknown) => ({ got: i }));
    const app = await buildServer(warden, { logger: false, rateLimit: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { key } = await createApiKey(warden.store, { tenant: 'default', role: 'operator', name: 'ot' });
      const { port } = app.server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/sessions/default/execute?wait=5000`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          traceparent: INCOMING,
          tracestate: 'congo=t61rcWkgMzE',
        },
        body: JSON.stringify({ agent: 'noop', input: { n: 1 } }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { task: { metadata: Record<string, string> } };
      expect(body.task.metadata['tracestate']).toBe('congo=t61rcWkgMzE');
      expect(parseTraceparent(body.task.metadata['traceparent'])?.traceId).toBe(INCOMING_TRACE);
    } finally {
      await app.close();
      await warden.close();
    }
    const all = spans();
    for (const s of all) expect(s.spanContext().traceId).toBe(INCOMING_TRACE);
    const submit = one(all, TRACE_SPANS.submit);
    expect(parentOf(submit)).toBe(INCOMING_SPAN);
    expect(parentOf(one(all, TRACE_SPANS.attempt))).toBe(idOf(submit));
  });
});

describe('tracing LLM calls', () => {
  let fake: FakeProvider;
  beforeEach(async () => {
    fake = await startFakeProvider();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('makes a GenAI chat span under the attempt, and the provider request carries its traceparent', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider }, llm: { env: { FAKE_KEY: 'sk-test' } } });
    const dir = tempDir();
    const model = {
      provider: 'openai',
      model: 'fake-model',
      baseUrl: fake.openaiBase,
      apiKeyEnv: 'FAKE_KEY',
      maxTokens: 64,
      temperature: 0.2,
    };
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata: { name: chat, version: 1.0.0 }',
        'spec:',
        '  runtime: llm',
        `  model: ${JSON.stringify(model)}`,
        '  prompt: { system: "Be brief.", user: "Say {{input.text}}" }',
        '  retry: { maxAttempts: 1 }',
      ].join('\n'),
    );
    await warden.registerAgent({ path: join(dir, 'agent.yaml') });
    fake.script({ kind: 'complete', tokens: ['hi', ' there'], usage: { prompt: 7, completion: 3 } });
    const task = await warden.submit({ agent: 'chat', input: { text: 'hi' } });
    expect((await warden.result(task.id, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    await warden.close();

    const all = spans();
    const attempt = one(all, TRACE_SPANS.attempt);
    expect(attempt.attributes).toMatchObject({ 'warden.runtime': 'llm', 'warden.sandbox': 'in-process' });
    const chat = one(all, 'chat fake-model');
    expect(chat.kind).toBe(2); // CLIENT
    expect(parentOf(chat)).toBe(idOf(attempt));
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'fake-model',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
      'server.address': '127.0.0.1',
    });
    // Governance screened the rendered prompt (under the submit) and the answer (under the attempt).
    const submit = one(all, TRACE_SPANS.submit);
    const screens = named(all, TRACE_SPANS.screen);
    expect(screens.map((s) => [s.attributes['warden.governance.stage'], parentOf(s)])).toEqual(
      expect.arrayContaining([
        ['input', idOf(submit)],
        ['output', idOf(attempt)],
      ]),
    );
    for (const s of screens) expect(s.attributes['warden.governance.action']).toBe('allow');
    const request = fake.requests.find((r) => r.path.endsWith('/chat/completions'))!;
    expect(request.headers['traceparent']).toBe(traceparentOf(chat));
  });

  it('marks a failed model call with its error code', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider }, llm: { env: { FAKE_KEY: 'sk-test' } } });
    const dir = tempDir();
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata: { name: chat, version: 1.0.0 }',
        'spec:',
        '  runtime: llm',
        `  model: ${JSON.stringify({ provider: 'openai', model: 'fake-model', baseUrl: fake.openaiBase, apiKeyEnv: 'FAKE_KEY' })}`,
        '  prompt: "Say {{input.text}}"',
        '  retry: { maxAttempts: 1 }',
      ].join('\n'),
    );
    await warden.registerAgent({ path: join(dir, 'agent.yaml') });
    fake.script({ kind: 'status', status: 401, body: { error: { message: 'bad key' } } });
    const task = await warden.submit({ agent: 'chat', input: { text: 'hi' } });
    expect((await warden.result(task.id, { timeoutMs: 10_000 }))?.status).toBe('dead');
    await warden.close();
    const chat = one(spans(), 'chat fake-model');
    expect(chat.status.code).toBe(2);
    expect(chat.attributes['error.type']).toBe('LLM_AUTH_FAILED');
  });
});

/** A real OTLP/HTTP receiver: POST /v1/traces, JSON (what exporter-trace-otlp-http sends) decoded. */
async function startReceiver() {
  const bodies: { contentType: string | undefined; body: OtlpJson }[] = [];
  const server = http.createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      bodies.push({ contentType: req.headers['content-type'], body: JSON.parse(raw) as OtlpJson });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    bodies,
    spans: () =>
      bodies.flatMap((b) =>
        b.body.resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) =>
            ss.spans.map((s) => ({ ...s, service: serviceName(rs.resource?.attributes ?? []) })),
          ),
        ),
      ),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface OtlpJson {
  resourceSpans: {
    resource?: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[];
  }[];
}

function serviceName(attributes: { key: string; value: { stringValue?: string } }[]): string | undefined {
  return attributes.find((a) => a.key === 'service.name')?.value.stringValue;
}

describe('tracing to an OTLP/HTTP receiver', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('exports the task spans to OTEL_EXPORTER_OTLP_ENDPOINT by close()', async () => {
    const receiver = await startReceiver();
    try {
      process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
      process.env['OTEL_SERVICE_NAME'] = 'warden-under-test';
      const warden = await openWarden();
      await warden.registerHandler('noop', () => null);
      const task = await warden.submit({ agent: 'noop', input: {}, metadata: { traceparent: INCOMING } });
      await warden.result(task.id, { timeoutMs: 5000 });
      // Batched: nothing need have been sent yet; close() flushes and shuts the provider down.
      await warden.close();
      expect(receiver.bodies.length).toBeGreaterThan(0);
      expect(receiver.bodies[0]!.contentType).toBe('application/json');
      const spans = receiver.spans();
      const names = spans.map((s) => s.name);
      for (const n of [TRACE_SPANS.submit, TRACE_SPANS.queue, TRACE_SPANS.claim, TRACE_SPANS.attempt])
        expect(names).toContain(n);
      for (const s of spans) expect(s.traceId).toBe(INCOMING_TRACE);
      expect(spans.find((s) => s.name === TRACE_SPANS.submit)?.parentSpanId).toBe(INCOMING_SPAN);
      expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['warden-under-test']));
    } finally {
      await receiver.close();
    }
  });

  it('exports to the traces endpoint given as an option, and an agent span joins under its attempt', async () => {
    const receiver = await startReceiver();
    try {
      const warden = await openWarden({
        tracing: { otlp: { url: `${receiver.url}/v1/traces` } },
        sandbox: sandboxIfAvailable(),
      });
      // The agent posts its own span to the receiver: allowed through the egress proxy when sandboxed.
      await warden.ensureSession({ name: 'net', allowNetwork: true });
      const port = new URL(receiver.url).port;
      const dir = tempDir();
      writeFileSync(join(dir, 'agent.mjs'), AGENT_EMITTING_SPAN);
      writeFileSync(
        join(dir, 'agent.yaml'),
        [
          'apiVersion: warden.dev/v1',
          'kind: Agent',
          'metadata: { name: traced, version: 1.0.0 }',
          'spec:',
          '  runtime: node',
          '  entry: ./agent.mjs',
          '  resources: { timeoutMs: 20000 }',
          '  retry: { maxAttempts: 1 }',
          `  network: { allow: ["127.0.0.1:${port}"] }`,
        ].join('\n'),
      );
      await warden.registerAgent({ path: join(dir, 'agent.yaml') });
      const task = await warden.submit({ agent: 'traced', session: 'net', input: { port: Number(port) } });
      const result = await warden.result<{ traceparent: string }>(task.id, { timeoutMs: 20_000 });
      expect(result?.error ?? null).toBeNull();
      await warden.close();

      const spans = receiver.spans();
      const attempt = spans.find((s) => s.name === TRACE_SPANS.attempt)!;
      expect(attempt).toBeDefined();
      // The agent saw the attempt span as TRACEPARENT ...
      expect(parseTraceparent(result!.output!.traceparent)).toMatchObject({
        traceId: attempt.traceId,
        spanId: attempt.spanId,
      });
      // ... and its own span arrived in the same trace, under the attempt.
      const own = spans.find((s) => s.name === 'agent.work')!;
      expect(own).toMatchObject({ traceId: attempt.traceId, parentSpanId: attempt.spanId, service: 'agent' });
    } finally {
      await receiver.close();
    }
  });
});

/**
 * A node agent that reads TRACEPARENT, sends its own span (OTLP/JSON) to the receiver (through the egress
 * proxy when sandboxed: HTTP_PROXY) and reports what it saw.
 */
const AGENT_EMITTING_SPAN = `
import http from 'node:http';
import { randomBytes } from 'node:crypto';
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => (raw += c));
process.stdin.on('end', async () => {
  const { port } = JSON.parse(raw);
  const traceparent = process.env.TRACEPARENT;
  const [, traceId, parentSpanId] = traceparent.split('-');
  const now = BigInt(Date.now()) * 1000000n;
  const span = {
    traceId, spanId: randomBytes(8).toString('hex'), parentSpanId, name: 'agent.work', kind: 1,
    startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1000000n),
  };
  const body = JSON.stringify({ resourceSpans: [{
    resource: { attributes: [{ key: 'service.name', value: { stringValue: 'agent' } }] },
    scopeSpans: [{ scope: { name: 'agent' }, spans: [span] }],
  }] });
  const url = 'http://127.0.0.1:' + port + '/v1/traces';
  const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : null;
  const status = await new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json' };
    const req = http.request(
      proxy
        ? { host: proxy.hostname, port: proxy.port, path: url, method: 'POST', headers }
        : { host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); },
    );
    req.on('error', reject);
    req.end(body);
  });
  process.stdout.write(JSON.stringify({ traceparent, exported: status }));
});
`;

describe.runIf(sandboxWorks('the sandboxed TRACEPARENT test'))('tracing sandboxed agents', () => {
  it('gives a sandboxed node agent TRACEPARENT naming its attempt span', async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    const dir = tempDir();
    writeFileSync(
      join(dir, 'agent.mjs'),
      `process.stdin.resume(); process.stdin.on('end', () => process.stdout.write(JSON.stringify({ tp: process.env.TRACEPARENT ?? null })));`,
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata: { name: tp, version: 1.0.0 }',
        'spec:',
        '  runtime: node',
        '  entry: ./agent.mjs',
        '  resources: { timeoutMs: 20000 }',
      ].join('\n'),
    );
    await warden.registerAgent({ path: join(dir, 'agent.yaml') });
    const task = await warden.submit({ agent: 'tp', input: {}, metadata: { traceparent: INCOMING } });
    const result = await warden.result<{ tp: string | null }>(task.id, { timeoutMs: 20_000 });
    await warden.close();
    const attempt = one(spans(), TRACE_SPANS.attempt);
    expect(attempt.attributes['warden.sandbox']).toBe('bwrap');
    expect(result?.output?.tp).toBe(traceparentOf(attempt));
    expect(parseTraceparent(result?.output?.tp)?.traceId).toBe(INCOMING_TRACE);
  });
});

/** A WASI module that writes its whole environment (NUL-separated) to stderr and nothing to stdout. */
const WASM_PRINTS_ENV = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (drop (call $get (i32.const 64) (i32.const 2048)))
    (i32.store (i32.const 8) (i32.const 2048))
    (i32.store (i32.const 12) (i32.load (i32.const 4)))
    (drop (call $fd_write (i32.const 2) (i32.const 8) (i32.const 1) (i32.const 16)))))`;

describe('tracing WASM agents', () => {
  it("puts TRACEPARENT in the module's WASI environment", async () => {
    const { tracerProvider, spans } = memoryProvider();
    const warden = await openWarden({ tracing: { tracerProvider } });
    const dir = tempDir();
    writeFileSync(join(dir, 'env.wasm'), await watToWasm(WASM_PRINTS_ENV, 'env.wat'));
    writeFileSync(
      join(dir, 'agent.yaml'),
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata: { name: wenv, version: 1.0.0 }',
        'spec:',
        '  runtime: wasm',
        '  module: ./env.wasm',
        '  env: { GREETING: hello }',
      ].join('\n'),
    );
    await warden.registerAgent({ path: join(dir, 'agent.yaml') });
    const task = await warden.submit({ agent: 'wenv', input: {} });
    expect((await warden.result(task.id, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    const logged = (await warden.logs(task.id)).map((l) => l.message).join('\n');
    await warden.close();
    const attempt = one(spans(), TRACE_SPANS.attempt);
    expect(attempt.attributes['warden.sandbox']).toBe('wasm');
    const env = logged.split(/\0|\n/).filter(Boolean);
    expect(env).toContain('GREETING=hello');
    expect(env).toContain(`TRACEPARENT=${traceparentOf(attempt)}`);
  });
});

describe('tracing is off by default', () => {
  const saved = { ...process.env };
  afterEach(() => {
    trace.disable();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('without the option or the variables: no provider is registered and a task makes no span', async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];
    // Even an SDK another part of the process registered globally gets nothing from Warden.
    const global = memoryProvider();
    const registered = trace.setGlobalTracerProvider(global.tracerProvider);
    expect(registered).toBe(true);
    const warden = await openWarden();
    const seen: (string | undefined)[] = [];
    await warden.registerHandler('noop', (_i: unknown, ctx) => {
      seen.push(ctx.traceparent);
      return null;
    });
    const task = await warden.submit({ agent: 'noop', input: {} });
    await warden.result(task.id, { timeoutMs: 5000 });
    await warden.close();
    expect(global.spans()).toEqual([]);
    expect(task.metadata).toEqual({});
    expect(seen).toEqual([undefined]);
  });

  it('reads the standard variables: an endpoint turns it on, OTEL_SDK_DISABLED and none turn it off', () => {
    expect(tracingWanted(undefined, {})).toBe(false);
    expect(tracingWanted(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' })).toBe(true);
    expect(tracingWanted(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:4318/v1/traces' })).toBe(
      true,
    );
    expect(
      tracingWanted(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBe(false);
    expect(
      tracingWanted(undefined, {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318',
        OTEL_TRACES_EXPORTER: 'none',
      }),
    ).toBe(false);
    expect(tracingWanted(false, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' })).toBe(false);
    expect(tracingWanted({ enabled: false }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' })).toBe(false);
    expect(tracingWanted({ tracerProvider: memoryProvider().tracerProvider }, {})).toBe(true);
  });

  it('tracing: false wins over the variables', async () => {
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = 'http://127.0.0.1:9'; // nothing listens: never reached
    const warden = await openWarden({ tracing: false });
    await warden.registerHandler('noop', () => null);
    const task = await warden.submit({ agent: 'noop', input: {} });
    await warden.result(task.id, { timeoutMs: 5000 });
    await warden.close();
    expect(task.metadata).toEqual({});
  });
});

describe('trace context and conventions', () => {
  it('parses and formats W3C traceparent values', () => {
    expect(parseTraceparent(INCOMING)).toEqual({ traceId: INCOMING_TRACE, spanId: INCOMING_SPAN, flags: 1 });
    expect(formatTraceparent(parseTraceparent(INCOMING)!)).toBe(INCOMING);
    // A future version may append fields; version 00 may not; ff is invalid; all-zero ids are invalid.
    expect(parseTraceparent(`01-${INCOMING_TRACE}-${INCOMING_SPAN}-01-extra`)?.traceId).toBe(INCOMING_TRACE);
    for (const bad of [
      `${INCOMING}-extra`,
      `ff-${INCOMING_TRACE}-${INCOMING_SPAN}-01`,
      `00-${'0'.repeat(32)}-${INCOMING_SPAN}-01`,
      `00-${INCOMING_TRACE}-${'0'.repeat(16)}-01`,
      `00-${INCOMING_TRACE.toUpperCase()}-${INCOMING_SPAN}-01`,
      'garbage',
      42,
      undefined,
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });

  it('uses the GenAI attribute names of @opentelemetry/semantic-conventions/incubating', () => {
    expect(GEN_AI_ATTRIBUTES).toEqual({
      operationName: incubating.ATTR_GEN_AI_OPERATION_NAME,
      providerName: incubating.ATTR_GEN_AI_PROVIDER_NAME,
      system: incubating.ATTR_GEN_AI_SYSTEM,
      requestModel: incubating.ATTR_GEN_AI_REQUEST_MODEL,
      requestMaxTokens: incubating.ATTR_GEN_AI_REQUEST_MAX_TOKENS,
      requestTemperature: incubating.ATTR_GEN_AI_REQUEST_TEMPERATURE,
      requestTopP: incubating.ATTR_GEN_AI_REQUEST_TOP_P,
      inputTokens: incubating.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      outputTokens: incubating.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      finishReasons: incubating.ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
    });
    expect(incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT).toBe('chat');
    expect(incubating.GEN_AI_PROVIDER_NAME_VALUE_OPENAI).toBe('openai');
    expect(incubating.GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC).toBe('anthropic');
  });
});
