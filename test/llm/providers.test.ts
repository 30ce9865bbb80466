import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskResult } from '../../src/index.js';
import { verifyBundle } from '../../src/provenance/index.js';
import { eventually, openWarden, tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';

const KEY = 'sk-test-SECRET-4f9a1c';
let fake: FakeProvider;

beforeEach(async () => {
  fake = await startFakeProvider();
});
afterEach(async () => {
  await fake.close();
});

interface AgentOptions {
  name?: string;
  provider?: 'openai' | 'anthropic';
  model?: Record<string, unknown>;
  prompt?: string;
  /** YAML flow maps of spec.retry and spec.resources. */
  retry?: string;
  resources?: string;
  extra?: string;
}

/** Writes an llm agent.yaml pointing at the fake provider and returns its path. */
function agentYaml(o: AgentOptions = {}): string {
  const provider = o.provider ?? 'openai';
  const model = {
    provider,
    model: 'fake-model',
    baseUrl: provider === 'openai' ? fake.openaiBase : fake.url,
    apiKeyEnv: 'FAKE_KEY',
    idleTimeoutMs: 300,
    ...o.model,
  };
  const dir = tempDir();
  const path = join(dir, 'agent.yaml');
  writeFileSync(
    path,
    [
      'apiVersion: warden.dev/v1',
      'kind: Agent',
      `metadata: { name: ${o.name ?? 'chat'}, version: 1.0.0 }`,
      'spec:',
      '  runtime: llm',
      `  model: ${JSON.stringify(model)}`,
      `  prompt: ${o.prompt ?? '{ system: "Be brief.", user: "Say {{input.text}}" }'}`,
      `  retry: ${o.retry ?? '{ maxAttempts: 3, baseMs: 1, maxMs: 5 }'}`,
      `  resources: ${o.resources ?? '{ timeoutMs: 3000 }'}`,
      o.extra ?? '',
    ].join('\n'),
  );
  return path;
}

async function setup(o: AgentOptions = {}, env: Record<string, string> = { FAKE_KEY: KEY }) {
  const root = tempDir();
  const warden = await openWarden({
    root,
    llm: {
      env,
      prices: { 'openai/fake-model': { input: 1, output: 2 }, 'fake-model': { input: 3, output: 4 } },
    },
  });
  await warden.registerAgent({ path: agentYaml(o) });
  const run = async (input: unknown, session?: string): Promise<TaskResult> => {
    const task = await warden.submit({ agent: o.name ?? 'chat', input, ...(session ? { session } : {}) });
    const result = await warden.result(task.id, { timeoutMs: 10_000 });
    if (!result) throw new Error('no result');
    return result;
  };
  return { warden, run, root };
}

describe('OpenAI-compatible provider', () => {
  it('streams a completion: tokens as events, text, usage and cost on the result', async () => {
    const { warden, run } = await setup();
    const tokens: { index: number; text: string }[] = [];
    warden.scheduler.events.on('token', (e) => tokens.push({ index: e.index, text: e.text }));
    fake.script({ kind: 'complete', tokens: ['Hel', 'lo', ' there'], usage: { prompt: 11, completion: 3 } });
    const r = await run({ text: 'hi' });
    expect(r.status).toBe('succeeded');
    expect(r.output).toEqual({ text: 'Hello there', finishReason: 'stop' });
    expect(tokens).toEqual([
      { index: 0, text: 'Hel' },
      { index: 1, text: 'lo' },
      { index: 2, text: ' there' },
    ]);
    expect(r.usage?.llm).toMatchObject({
      provider: 'openai',
      model: 'fake-model',
      promptTokens: 11,
      completionTokens: 3,
      costUsd: (11 * 1 + 3 * 2) / 1e6,
      finishReason: 'stop',
    });
    expect(r.usage?.llm?.timeToFirstTokenMs).toBeGreaterThan(0);
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.body).toMatchObject({
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hi' },
      ],
    });
  });

  it('passes generation parameters and reads a non-streamed response', async () => {
    const { run } = await setup({
      model: { stream: false, temperature: 0.2, maxTokens: 64, topP: 0.9, seed: 7, stop: ['END'] },
    });
    fake.script({ kind: 'complete', tokens: ['whole ', 'answer'], usage: { prompt: 5, completion: 2 } });
    const r = await run({ text: 'x' });
    expect(r.output).toEqual({ text: 'whole answer', finishReason: 'stop' });
    expect(r.usage?.llm).toMatchObject({ promptTokens: 5, completionTokens: 2 });
    expect(fake.requests.at(-1)!.body).toMatchObject({
      temperature: 0.2,
      max_tokens: 64,
      top_p: 0.9,
      seed: 7,
      stop: ['END'],
    });
    expect(fake.requests.at(-1)!.body).not.toHaveProperty('stream');
  });

  it('sends no Authorization when no key is configured (local servers such as Ollama)', async () => {
    const { run } = await setup({ model: { apiKeyEnv: undefined } }, {});
    const r = await run({ text: 'x' });
    expect(r.status).toBe('succeeded');
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('fails with LLM_API_KEY_MISSING when the named variable is unset, without calling the provider', async () => {
    const { run } = await setup({}, {});
    const r = await run({ text: 'x' });
    expect(r.status).toBe('dead');
    expect(r.error?.code).toBe('LLM_API_KEY_MISSING');
    expect(r.attempts).toBe(1);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Anthropic provider', () => {
  it('streams Messages API events, with the system prompt, key and version headers', async () => {
    const { warden, run } = await setup({ provider: 'anthropic', model: { maxTokens: 200 } });
    const tokens: string[] = [];
    warden.scheduler.events.on('token', (e) => tokens.push(e.text));
    fake.script({ kind: 'complete', tokens: ['Bon', 'jour'], usage: { prompt: 9, completion: 2 } });
    const r = await run({ text: 'hi' });
    expect(r.output).toEqual({ text: 'Bonjour', finishReason: 'end_turn' });
    expect(tokens).toEqual(['Bon', 'jour']);
    expect(r.usage?.llm).toMatchObject({
      provider: 'anthropic',
      promptTokens: 9,
      completionTokens: 2,
      costUsd: (9 * 3 + 2 * 4) / 1e6,
    });
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe(KEY);
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toMatchObject({
      model: 'fake-model',
      max_tokens: 200,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Say hi' }],
      stream: true,
    });
  });

  it('reads a non-streamed message', async () => {
    const { run } = await setup({ provider: 'anthropic', model: { stream: false } });
    fake.script({ kind: 'complete', tokens: ['one ', 'shot'], usage: { prompt: 4, completion: 2 } });
    const r = await run({ text: 'x' });
    expect(r.output).toEqual({ text: 'one shot', finishReason: 'end_turn' });
    expect(r.usage?.llm).toMatchObject({ promptTokens: 4, completionTokens: 2 });
    expect(fake.requests.at(-1)!.body).toMatchObject({ max_tokens: 1024 });
  });

  it('an overloaded error event mid-stream is LLM_PROVIDER_ERROR and is retried', async () => {
    const { run } = await setup({ provider: 'anthropic' });
    fake.script({ kind: 'stream-error', tokens: ['par'], type: 'overloaded_error', message: 'Overloaded' });
    const r = await run({ text: 'x' });
    expect(r.status).toBe('succeeded');
    expect(r.attempts).toBe(2);
  });
});

describe('failure modes end in a clear code, with no hung task and no leaked socket', () => {
  const cases: {
    name: string;
    provider?: 'openai' | 'anthropic';
    step: Parameters<FakeProvider['script']>[0];
    code: string;
    retried: boolean;
  }[] = [
    { name: '500', step: { kind: 'status', status: 500 }, code: 'LLM_PROVIDER_ERROR', retried: true },
    {
      name: '529 overloaded (anthropic)',
      provider: 'anthropic',
      step: {
        kind: 'status',
        status: 529,
        body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      },
      code: 'LLM_PROVIDER_ERROR',
      retried: true,
    },
    {
      name: '400',
      step: { kind: 'status', status: 400, body: { error: { message: 'context_length_exceeded' } } },
      code: 'LLM_REQUEST_REJECTED',
      retried: false,
    },
    {
      name: 'malformed stream',
      step: { kind: 'malformed', tokens: ['a'] },
      code: 'LLM_BAD_RESPONSE',
      retried: true,
    },
    {
      name: 'malformed stream (anthropic)',
      provider: 'anthropic',
      step: { kind: 'malformed', tokens: ['a'] },
      code: 'LLM_BAD_RESPONSE',
      retried: true,
    },
    {
      name: 'stream ended without [DONE]',
      step: { kind: 'truncate', tokens: ['a', 'b'], how: 'end' },
      code: 'LLM_BAD_RESPONSE',
      retried: true,
    },
    {
      name: 'stream ended without message_stop',
      provider: 'anthropic',
      step: { kind: 'truncate', tokens: ['a'], how: 'end' },
      code: 'LLM_BAD_RESPONSE',
      retried: true,
    },
    {
      name: 'connection cut mid-stream',
      step: { kind: 'truncate', tokens: ['a'], how: 'destroy' },
      code: 'LLM_BAD_RESPONSE',
      retried: true,
    },
    { name: 'stalled stream', step: { kind: 'stall', tokens: ['a'] }, code: 'LLM_STALLED', retried: true },
    {
      name: 'stalled stream (anthropic)',
      provider: 'anthropic',
      step: { kind: 'stall', tokens: [] },
      code: 'LLM_STALLED',
      retried: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const { warden, run } = await setup({
        ...(c.provider ? { provider: c.provider } : {}),
        retry: '{ maxAttempts: 1 }',
      });
      void warden;
      fake.script(c.step);
      const r = await run({ text: 'x' });
      expect(r.status).toBe('dead');
      expect(r.error?.code).toBe(c.code);
      expect(r.error?.retryable).toBe(c.retried);
      // A response read to its end may stay pooled for reuse; anything cut short must be closed.
      if (c.step.kind !== 'status' && !(c.step.kind === 'truncate' && c.step.how === 'end'))
        await eventually(() => fake.openSockets() === 0, 3000, 'socket closed');
    });
  }

  it('a slow-loris stream (a byte every 50 ms) is stopped by the task timeout', async () => {
    const { run } = await setup({ retry: '{ maxAttempts: 1 }' });
    fake.script({ kind: 'trickle', intervalMs: 50 });
    const started = Date.now();
    const r = await run({ text: 'x' });
    expect(r.error?.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(6000);
    await eventually(() => fake.openSockets() === 0, 3000, 'socket closed');
  });

  it('an unreachable endpoint is LLM_UNREACHABLE', async () => {
    const port = await freePort();
    const { run } = await setup({
      model: { baseUrl: `http://127.0.0.1:${port}/v1` },
      retry: '{ maxAttempts: 1 }',
    });
    const r = await run({ text: 'x' });
    expect(r.error?.code).toBe('LLM_UNREACHABLE');
    expect(r.error?.message).toContain(`127.0.0.1:${port}`);
  });

  it('cancelling a running task aborts the HTTP request at once', async () => {
    const { warden } = await setup();
    fake.script({ kind: 'complete', tokens: Array.from({ length: 100 }, () => 'x'), delayMs: 50 });
    const task = await warden.submit({ agent: 'chat', input: { text: 'x' } });
    await eventually(() => fake.openSockets() > 0 && fake.requests.length > 0, 3000, 'request sent');
    await eventually(async () => (await warden.getTask(task.id)).state === 'running', 3000, 'running');
    await warden.cancel(task.id);
    const r = await warden.result(task.id, { timeoutMs: 3000 });
    expect(r?.status).toBe('cancelled');
    await eventually(() => fake.openSockets() === 0, 3000, 'socket closed');
  });

  it('generation past maxOutputBytes stops with OUTPUT_LIMIT', async () => {
    const { run } = await setup({
      retry: '{ maxAttempts: 1 }',
      resources: '{ maxOutputBytes: 64 }',
    });
    fake.script({ kind: 'complete', tokens: Array.from({ length: 40 }, () => 'word '), delayMs: 1 });
    const r = await run({ text: 'x' });
    expect(r.error?.code).toBe('OUTPUT_LIMIT');
    await eventually(() => fake.openSockets() === 0, 3000, 'socket closed');
  });

  it('reuses pooled sockets without piling up listeners, and closes them all when Warden closes', async () => {
    const { warden, run } = await setup();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    for (let i = 0; i < 25; i++) await run({ text: `t${i}` });
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    expect(fake.openSockets()).toBeGreaterThan(0); // keep-alive reuse between tasks
    await warden.close();
    await eventually(() => fake.openSockets() === 0, 3000, 'sockets closed');
  });
});

describe('under load', () => {
  it('runs 100 concurrent streamed tasks on a bounded pool of reused connections', async () => {
    const { warden } = await setup({ extra: '  concurrency: 20' });
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, fake.openSockets())), 2);
    const tasks = [];
    for (let i = 0; i < 100; i++)
      tasks.push(await warden.submit({ agent: 'chat', input: { text: `n${i}` } }));
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 20_000 })));
    clearInterval(sample);
    expect(results.filter((r) => r?.status === 'succeeded')).toHaveLength(100);
    results.forEach((r, i) => expect(r?.output).toMatchObject({ text: `Say n${i}` }));
    expect(peak).toBeLessThanOrEqual(20);
    expect(fake.requests).toHaveLength(100);
  });
});

describe('retries honour Retry-After within the retry policy', () => {
  it('429 with Retry-After waits at least that long, then succeeds', async () => {
    const { warden, run } = await setup();
    const retrying: { at: number; retryAt?: number; code?: string }[] = [];
    warden.scheduler.events.on('task', (e) => {
      if (e.state === 'retrying')
        retrying.push({
          at: e.at,
          ...(e.retryAt ? { retryAt: e.retryAt } : {}),
          ...(e.error ? { code: e.error.code } : {}),
        });
    });
    fake.script({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { message: 'Rate limit reached' } },
    });
    const started = Date.now();
    const r = await run({ text: 'x' });
    expect(r.status).toBe('succeeded');
    expect(r.attempts).toBe(2);
    expect(retrying).toHaveLength(1);
    expect(retrying[0]!.code).toBe('LLM_RATE_LIMITED');
    expect(retrying[0]!.retryAt! - retrying[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('a 429 pauses the agent version: its other queued tasks wait for Retry-After too', async () => {
    const { warden } = await setup({ extra: '  concurrency: 1' });
    fake.script({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await warden.submit({ agent: 'chat', input: { text: `t${i}` } }));
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 10_000 })));
    expect(results.map((r) => r?.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const [limited, ...rest] = fake.requests;
    expect(rest).toHaveLength(3);
    // Without the pause the next queued task would be sent at once, into the same rate limit.
    for (const r of rest) expect(r.at - limited!.at).toBeGreaterThanOrEqual(950);
  });

  it('retry-after-ms is honoured, and attempts stop at maxAttempts', async () => {
    const { run } = await setup();
    for (let i = 0; i < 3; i++)
      fake.script({ kind: 'status', status: 429, headers: { 'retry-after-ms': '150' } });
    const started = Date.now();
    const r = await run({ text: 'x' });
    expect(r.status).toBe('dead');
    expect(r.attempts).toBe(3);
    expect(r.error?.code).toBe('LLM_RATE_LIMITED');
    expect(r.error?.details?.['retryAfterMs']).toBe(150);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});

describe('structured output', () => {
  const schema =
    '  outputSchema: { type: object, required: [sentiment, score], additionalProperties: false, properties: { sentiment: { enum: [positive, negative] }, score: { type: number } } }';

  it('parses and validates JSON output, and asks OpenAI for the schema', async () => {
    const { run } = await setup({ extra: schema });
    fake.script({ kind: 'complete', tokens: ['{"sentiment":', ' "positive", "score": 0.9}'] });
    const r = await run({ text: 'great' });
    expect(r.output).toEqual({ sentiment: 'positive', score: 0.9 });
    expect(fake.requests.at(-1)!.body).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object' } } },
    });
  });

  it('accepts JSON in a code fence, and tells Anthropic the schema in the system prompt', async () => {
    const { run } = await setup({ provider: 'anthropic', extra: schema });
    fake.script({ kind: 'complete', tokens: ['```json\n{"sentiment": "negative", "score": -1}\n```'] });
    const r = await run({ text: 'bad' });
    expect(r.output).toEqual({ sentiment: 'negative', score: -1 });
    expect(String(fake.requests.at(-1)!.body?.['system'])).toContain('"required":["sentiment","score"]');
  });

  it('invalid output is INVALID_OUTPUT and is retried per policy', async () => {
    const { warden, run } = await setup({ extra: schema });
    const failures: string[] = [];
    warden.scheduler.events.on('task', (e) => e.state === 'retrying' && failures.push(e.error?.code ?? ''));
    fake.script(
      { kind: 'complete', tokens: ['not json at all'] },
      { kind: 'complete', tokens: ['{"sentiment": "meh", "score": 1}'] },
      { kind: 'complete', tokens: ['{"sentiment": "positive", "score": 1}'] },
    );
    const r = await run({ text: 'x' });
    expect(failures).toEqual(['INVALID_OUTPUT', 'INVALID_OUTPUT']);
    expect(r.status).toBe('succeeded');
    expect(r.attempts).toBe(3);
  });

  it('when every attempt is invalid the task is dead with the schema errors and the tokens spent', async () => {
    const { run } = await setup({ extra: schema, retry: '{ maxAttempts: 1 }' });
    fake.script({
      kind: 'complete',
      tokens: ['{"sentiment": "positive"}'],
      usage: { prompt: 3, completion: 5 },
    });
    const r = await run({ text: 'x' });
    expect(r.error?.code).toBe('INVALID_OUTPUT');
    expect(r.error?.message).toContain('score');
    expect(r.error?.details?.['llm']).toMatchObject({ promptTokens: 3, completionTokens: 5 });
  });
});

describe('prompts and secrets', () => {
  it('a task whose input lacks a template field is refused at submit with INVALID_INPUT', async () => {
    const { warden } = await setup();
    await expect(warden.submit({ agent: 'chat', input: { other: 1 } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('input.text'),
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('renders non-string fields as JSON and {{input}} as the whole input', async () => {
    const { run } = await setup({ prompt: '{ user: "Data {{input}} n={{input.n}} tags={{input.tags}}" }' });
    await run({ n: 3, tags: ['a', 'b'] });
    const messages = fake.requests.at(-1)!.body?.['messages'] as { content: string }[];
    expect(messages).toEqual([{ role: 'user', content: 'Data {"n":3,"tags":["a","b"]} n=3 tags=["a","b"]' }]);
  });

  it('the API key is never stored, logged or exported, even when the provider echoes it', async () => {
    const { warden, run, root } = await setup({ retry: '{ maxAttempts: 1 }' });
    fake.script({
      kind: 'status',
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${KEY}` } },
    });
    const r = await run({ text: 'x' });
    expect(r.error?.code).toBe('LLM_AUTH_FAILED');
    expect(r.error?.retryable).toBe(false);
    expect(r.error?.message).toContain('[REDACTED]');
    expect(JSON.stringify(r)).not.toContain(KEY);
    const ok = await run({ text: 'y' });
    expect(ok.status).toBe('succeeded');
    const bundle = await warden.exportProvenance('default');
    expect(JSON.stringify(bundle)).not.toContain(KEY);
    const logs = await warden.logs(r.taskId);
    expect(JSON.stringify(logs)).not.toContain(KEY);
    await warden.close();
    for (const file of ['warden.db', 'warden.db-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(root, file));
      } catch {
        continue;
      }
      expect(bytes.includes(Buffer.from(KEY))).toBe(false);
    }
  });
});

describe('health checks', () => {
  it('reports a reachable endpoint as healthy and a refusing one with its code', async () => {
    const { warden } = await setup();
    const port = await freePort();
    await warden.registerAgent({
      path: agentYaml({ name: 'down', model: { baseUrl: `http://127.0.0.1:${port}/v1` } }),
    });
    await warden.registerAgent({ path: agentYaml({ name: 'claude', provider: 'anthropic' }) });
    const reports = await warden.agentHealth();
    const by = Object.fromEntries(reports.map((r) => [r.agent, r]));
    expect(by['chat@1.0.0']).toMatchObject({
      ok: true,
      runtime: 'llm',
      provider: 'openai',
      model: 'fake-model',
    });
    expect(by['claude@1.0.0']).toMatchObject({ ok: true, provider: 'anthropic' });
    expect(by['down@1.0.0']).toMatchObject({ ok: false, code: 'LLM_UNREACHABLE' });
    const paths = fake.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain('GET /v1/models');
    fake.script({ kind: 'status', status: 401 });
    const [bad] = await warden.agentHealth({ agent: 'chat' });
    expect(bad).toMatchObject({ ok: false, code: 'LLM_AUTH_FAILED' });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('provenance of LLM answers', () => {
  it('the chain records the model and tokens behind each answer, and the exported bundle verifies offline', async () => {
    const { warden, run } = await setup();
    fake.script({ kind: 'complete', tokens: ['ok'], usage: { prompt: 12, completion: 1 } });
    const r = await run({ text: 'x' });
    const bundle = await warden.exportProvenance('default');
    const record = bundle.records.find((x) => x.type === 'task.succeeded' && x.taskId === r.taskId);
    expect(record?.data).toMatchObject({
      outputDigest: r.outputDigest,
      model: { provider: 'openai', model: 'fake-model', promptTokens: 12, completionTokens: 1 },
    });
    const statement = bundle.statements.find((s) => s.predicate.taskId === r.taskId);
    expect(statement?.predicate.model).toEqual(record?.data?.['model']);
    expect(verifyBundle(bundle).ok).toBe(true);
    // A statement that claims another model no longer matches its record.
    const forged = structuredClone(bundle);
    forged.statements.find((s) => s.predicate.taskId === r.taskId)!.predicate.model = {
      provider: 'openai',
      model: 'gpt-4o',
      promptTokens: 12,
      completionTokens: 1,
    };
    const report = verifyBundle(forged);
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report)).toContain('predicate.model');
  });
});
