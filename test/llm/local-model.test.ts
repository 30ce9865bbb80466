import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../scripts/build-tiny-gguf.js';
import type { TaskResult } from '../../src/index.js';
import { eventually, openWarden } from '../helpers.js';

// The real path: a GGUF file built by scripts/build-tiny-gguf.ts, loaded by node-llama-cpp's CPU binary,
// tokenized and generated through the scheduler. Random weights: the text is gibberish, but deterministic.
let modelDir: string;

beforeAll(() => {
  modelDir = mkdtempSync(join(tmpdir(), 'warden-gguf-'));
  buildTinyGguf(join(modelDir, 'tiny.gguf'));
});
afterAll(() => rmSync(modelDir, { recursive: true, force: true }));

function agentYaml(name: string, model: Record<string, unknown>, extra = ''): string {
  const path = join(modelDir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'apiVersion: warden.dev/v1',
      'kind: Agent',
      `metadata: { name: ${name}, version: 1.0.0 }`,
      'spec:',
      '  runtime: llm',
      `  model: ${JSON.stringify({ provider: 'llama', model: './tiny.gguf', contextSize: 256, temperature: 0, ...model })}`,
      '  prompt: { system: "You are tiny.", user: "Continue: {{input.text}}" }',
      '  retry: { maxAttempts: 1 }',
      extra,
    ].join('\n'),
  );
  return path;
}

async function run(
  warden: Awaited<ReturnType<typeof openWarden>>,
  agent: string,
  input: unknown,
): Promise<TaskResult> {
  const task = await warden.submit({ agent, input });
  const result = await warden.result(task.id, { timeoutMs: 30_000 });
  if (!result) throw new Error('no result');
  return result;
}

describe('local GGUF models (node-llama-cpp)', () => {
  it('loads, generates and streams tokens deterministically, with token counts', async () => {
    const warden = await openWarden({ llm: { prices: { 'llama/./tiny.gguf': { input: 0, output: 0 } } } });
    const record = await warden.registerAgent({ path: agentYaml('tiny', { maxTokens: 12 }) });
    // The weights are the agent's code: their digest is recorded with the version.
    expect(record.moduleDigest).toBe(
      createHash('sha256')
        .update(readFileSync(join(modelDir, 'tiny.gguf')))
        .digest('hex'),
    );
    const pieces: string[] = [];
    warden.scheduler.events.on('token', (e) => pieces.push(e.text));
    const first = await run(warden, 'tiny', { text: 'the cat sat on' });
    expect(first.status).toBe('succeeded');
    const output = first.output as { text: string; finishReason: string };
    expect(output.text.length).toBeGreaterThan(0);
    expect(pieces.join('')).toBe(output.text);
    expect(first.usage?.llm).toMatchObject({
      provider: 'llama',
      model: './tiny.gguf',
      completionTokens: 12,
      finishReason: 'length',
      costUsd: 0,
    });
    expect(first.usage?.llm?.promptTokens).toBeGreaterThan(5);
    const second = await run(warden, 'tiny', { text: 'the cat sat on' });
    expect(second.output).toEqual(first.output);
    const [health] = await warden.agentHealth({ agent: 'tiny' });
    expect(health).toMatchObject({ ok: true, provider: 'llama' });
  });

  it('runs concurrent tasks on one shared model, each in its own context', async () => {
    const warden = await openWarden();
    await warden.registerAgent({ path: agentYaml('shared', { maxTokens: 16 }, '  concurrency: 4') });
    const tasks = [];
    for (const text of ['alpha', 'beta', 'alpha', 'beta'])
      tasks.push(await warden.submit({ agent: 'shared', input: { text } }));
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 30_000 })));
    expect(results.map((r) => r?.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // Same prompt, same greedy output: no context saw another task's tokens.
    expect(results[2]?.output).toEqual(results[0]?.output);
    expect(results[3]?.output).toEqual(results[1]?.output);
    expect(results[0]?.output).not.toEqual(results[1]?.output);
  });

  it('structured output: a JSON-schema grammar makes even random weights emit valid JSON', async () => {
    const warden = await openWarden();
    await warden.registerAgent({
      path: agentYaml(
        'mood',
        { maxTokens: 40 },
        '  outputSchema: { type: object, required: [mood], additionalProperties: false, properties: { mood: { enum: [happy, sad] } } }',
      ),
    });
    const r = await run(warden, 'mood', { text: 'hello' });
    expect(r.status).toBe('succeeded');
    expect(['happy', 'sad']).toContain((r.output as { mood: string }).mood);
  });

  it('a prompt longer than the context is LLM_CONTEXT_OVERFLOW, not a crash', async () => {
    const warden = await openWarden();
    await warden.registerAgent({ path: agentYaml('small', { contextSize: 32, maxTokens: 4 }) });
    const r = await run(warden, 'small', { text: 'word '.repeat(200) });
    expect(r.status).toBe('dead');
    expect(r.error?.code).toBe('LLM_CONTEXT_OVERFLOW');
  });

  it('cancelling stops generation', async () => {
    const warden = await openWarden();
    await warden.registerAgent({ path: agentYaml('long', { maxTokens: 100_000, contextSize: 256 }) });
    let streamed = 0;
    warden.scheduler.events.on('token', () => streamed++);
    const task = await warden.submit({ agent: 'long', input: { text: 'go' } });
    await eventually(() => streamed > 3, 20_000, 'tokens streamed');
    await warden.cancel(task.id);
    const r = await warden.result(task.id, { timeoutMs: 10_000 });
    expect(r?.status).toBe('cancelled');
  });

  it('a missing model file is refused at registration; a corrupt one fails with MODEL_LOAD_FAILED', async () => {
    const warden = await openWarden();
    await expect(
      warden.registerAgent({ path: agentYaml('ghost', { model: './nope.gguf' }) }),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    writeFileSync(join(modelDir, 'corrupt.gguf'), Buffer.from('GGUF this is not a model'));
    await warden.registerAgent({ path: agentYaml('corrupt', { model: './corrupt.gguf' }) });
    const r = await run(warden, 'corrupt', { text: 'x' });
    expect(r.error?.code).toBe('MODEL_LOAD_FAILED');
    const [health] = await warden.agentHealth({ agent: 'corrupt' });
    expect(health).toMatchObject({ ok: false, code: 'MODEL_LOAD_FAILED' });
  });
});
