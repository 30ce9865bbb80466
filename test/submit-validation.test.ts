import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { WardenError, type SubmitTask, type Warden } from '../src/index.js';
import { openWarden, sandboxWorks, tempDir } from './helpers.js';

const MAX_INPUT = 256;

interface Case {
  name: string;
  task: () => SubmitTask;
  code: string;
  /** A fragment of the message: the offending field or value. */
  says?: string;
}

const cases: Case[] = [
  {
    name: 'neither agent nor capability',
    task: () => ({ input: 1 }),
    code: 'INVALID_INPUT',
    says: 'exactly one of agent, capability or intent',
  },
  {
    name: 'both agent and capability',
    task: () => ({ agent: 'adder', capability: 'math' }),
    code: 'INVALID_INPUT',
    says: 'exactly one of agent, capability or intent',
  },
  { name: 'empty agent name', task: () => ({ agent: '' }), code: 'INVALID_INPUT', says: 'agent' },
  { name: 'unknown agent', task: () => ({ agent: 'nobody' }), code: 'AGENT_NOT_FOUND', says: 'nobody' },
  {
    name: 'unknown agent version',
    task: () => ({ agent: 'adder@9.9.9' }),
    code: 'AGENT_NOT_FOUND',
    says: 'adder@9.9.9',
  },
  {
    name: 'unknown capability',
    task: () => ({ capability: 'telepathy' }),
    code: 'AGENT_NOT_FOUND',
    says: 'telepathy',
  },
  {
    name: 'unknown session',
    task: () => ({ agent: 'adder', session: 'ghost-town' }),
    code: 'SESSION_NOT_FOUND',
    says: 'ghost-town',
  },
  {
    name: 'bad priority',
    task: () => ({ agent: 'adder', priority: 'urgent' }),
    code: 'INVALID_INPUT',
    says: 'priority',
  },
  {
    name: 'non-string priority',
    task: () => ({ agent: 'adder', priority: 1 as unknown as string }),
    code: 'INVALID_INPUT',
    says: 'priority',
  },
  {
    name: 'bad deadline string',
    task: () => ({ agent: 'adder', deadline: 'tomorrow at noon' }),
    code: 'INVALID_INPUT',
    says: 'deadline',
  },
  {
    name: 'ISO deadline without offset',
    task: () => ({ agent: 'adder', deadline: '2030-01-01T00:00:00' }),
    code: 'INVALID_INPUT',
    says: 'deadline',
  },
  {
    name: 'negative deadline',
    task: () => ({ agent: 'adder', deadline: -5 }),
    code: 'INVALID_INPUT',
    says: 'deadline',
  },
  {
    name: 'zero timeoutMs',
    task: () => ({ agent: 'adder', timeoutMs: 0 }),
    code: 'INVALID_INPUT',
    says: 'timeoutMs',
  },
  {
    name: 'unknown extra field',
    task: () => ({ agent: 'adder', retries: 3 }) as unknown as SubmitTask,
    code: 'INVALID_INPUT',
    says: 'retries',
  },
  {
    name: 'nested metadata value',
    task: () => ({ agent: 'adder', metadata: { a: {} } }) as unknown as SubmitTask,
    code: 'INVALID_INPUT',
    says: 'metadata.a',
  },
  {
    name: 'empty idempotency key',
    task: () => ({ agent: 'adder', idempotencyKey: '' }),
    code: 'INVALID_INPUT',
    says: 'idempotencyKey',
  },
  {
    name: 'input too large',
    task: () => ({ agent: 'adder', input: { blob: 'x'.repeat(MAX_INPUT) } }),
    code: 'INPUT_TOO_LARGE',
    says: String(MAX_INPUT),
  },
  {
    name: 'BigInt input',
    task: () => ({ agent: 'adder', input: { n: 1n } }),
    code: 'INVALID_INPUT',
    says: 'JSON-serialisable',
  },
  {
    name: 'cyclic input',
    task: () => {
      const input: Record<string, unknown> = {};
      input['self'] = input;
      return { agent: 'adder', input };
    },
    code: 'INVALID_INPUT',
    says: 'JSON-serialisable',
  },
];

describe('submit: invalid requests', () => {
  let warden: Warden;
  beforeEach(async () => {
    warden = await openWarden({ workers: false, maxInputBytes: MAX_INPUT });
    await warden.registerHandler('adder', (i: { a: number; b: number }) => i.a + i.b, {
      capabilities: ['math'],
    });
  });

  it('accepts a valid submit (the baseline the cases deviate from)', async () => {
    const receipt = await warden.submit({
      agent: 'adder',
      input: { a: 1, b: 2 },
      // @ts-expect-error the type names lowercase levels; untyped callers (JS, CLI, HTTP) may send any case
      priority: 'HIGH',
      deadline: '2999-01-01T00:00:00Z',
      metadata: { source: 'test', n: 1, ok: true },
    });
    expect(receipt).toMatchObject({ agent: 'adder@1.0.0', state: 'queued', priority: 'high' });
    expect(receipt.deadline).toBe(Date.parse('2999-01-01T00:00:00Z'));
  });

  it.each(cases)('$name → $code', async ({ task, code, says }) => {
    const err = await warden.submit(task()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'submit should have been rejected').toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe(code);
    expect((err as WardenError).retryable).toBe(false);
    if (says) expect((err as WardenError).message).toContain(says);
    // Nothing was enqueued.
    expect(await warden.listTasks()).toEqual([]);
  });

  it('accepts input of exactly maxInputBytes', async () => {
    const input = 'x'.repeat(MAX_INPUT - 2); // two bytes of JSON quotes
    await expect(warden.submit({ agent: 'adder', input })).resolves.toMatchObject({ state: 'queued' });
    await expect(warden.submit({ agent: 'adder', input: `${input}x` })).rejects.toMatchObject({
      code: 'INPUT_TOO_LARGE',
    });
  });

  // BUG: validateSubmit compares the UTF-16 length first (`inputJson.length > max && byteLength > max`), so
  // input of at most maxInputBytes characters but more bytes passes. Remove `.fails` once fixed.
  it('measures the input limit in UTF-8 bytes, not characters', async () => {
    // 202 characters of JSON but 402 bytes of UTF-8.
    await expect(warden.submit({ agent: 'adder', input: 'é'.repeat(200) })).rejects.toMatchObject({
      code: 'INPUT_TOO_LARGE',
    });
  });

  it('lists each invalid field in details.issues', async () => {
    const err = (await warden
      // @ts-expect-error 'urgent' is not a priority: a compile error for typed callers, INVALID_INPUT for others
      .submit({ agent: 'adder', priority: 'urgent', timeoutMs: -1 })
      .catch((e: unknown) => e)) as WardenError;
    expect(err.code).toBe('INVALID_INPUT');
    const paths = (err.details?.['issues'] as { path: string }[]).map((i) => i.path).sort();
    expect(paths).toEqual(['priority', 'timeoutMs']);
  });

  it('rejects submits after close with CLOSED', async () => {
    await warden.close();
    await expect(warden.submit({ agent: 'adder' })).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('submit: agent resolution', () => {
  it('picks the highest semantic version for a bare name (1.10.0 > 1.9.9 > 1.2.0)', async () => {
    const warden = await openWarden({ workers: false });
    for (const version of ['1.2.0', '1.10.0', '1.9.9', '1.10.0-rc.1'])
      await warden.registerHandler('ver', () => version, { version });
    expect((await warden.submit({ agent: 'ver' })).agent).toBe('ver@1.10.0');
    expect((await warden.submit({ agent: 'ver@1.2.0' })).agent).toBe('ver@1.2.0');
    expect((await warden.submit({ agent: 'ver@1.9.9' })).agent).toBe('ver@1.9.9');
    expect((await warden.submit({ agent: 'ver@1.10.0-rc.1' })).agent).toBe('ver@1.10.0-rc.1');
    await expect(warden.submit({ agent: 'ver@1.10' })).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
  });

  it('resolves names registered by another process from the store', async () => {
    const root = tempDir();
    const first = await openWarden({ root, workers: false });
    for (const version of ['1.2.0', '1.10.0', '1.9.9'])
      await first.registerHandler('ver', () => 0, { version });
    await first.close();
    const second = await openWarden({ root, workers: false });
    expect((await second.submit({ agent: 'ver' })).agent).toBe('ver@1.10.0');
    expect((await second.submit({ agent: 'ver@1.9.9' })).agent).toBe('ver@1.9.9');
  });

  // BUG: inline handlers are stored by agent name only (InlineRuntime.handlers is keyed by manifest.name),
  // so every registered version runs the handler registered last. Remove `.fails` once fixed.
  it('runs the handler of the resolved version', async () => {
    const warden = await openWarden({ workers: { pollIntervalMs: 20 } });
    for (const version of ['1.2.0', '1.10.0', '1.9.9'])
      await warden.registerHandler('ver', () => version, { version });
    const outputs: unknown[] = [];
    for (const agent of ['ver', 'ver@1.2.0', 'ver@1.9.9']) {
      const task = await warden.submit({ agent });
      outputs.push((await warden.result(task.id, { timeoutMs: 5000 }))?.output);
    }
    expect(outputs).toEqual(['1.10.0', '1.2.0', '1.9.9']);
  });

  it('routes a capability to the first agent (by name) offering it, at its highest offering version', async () => {
    const warden = await openWarden({ workers: { pollIntervalMs: 20 } });
    await warden.registerHandler('zeta', () => 'zeta', { capabilities: ['sum'] });
    await warden.registerHandler('alpha', () => 'alpha', { version: '1.0.0', capabilities: ['sum', 'text'] });
    await warden.registerHandler('alpha', () => 'alpha', { version: '1.5.0', capabilities: ['sum'] });
    await warden.registerHandler('alpha', () => 'alpha', { version: '2.0.0', capabilities: ['other'] });
    expect((await warden.submit({ capability: 'sum' })).agent).toBe('alpha@1.5.0');
    expect((await warden.submit({ capability: 'text' })).agent).toBe('alpha@1.0.0');
    expect((await warden.submit({ capability: 'other' })).agent).toBe('alpha@2.0.0');
    const only = await warden.registerHandler('solo', (i: { n: number }) => i.n * 3, {
      capabilities: ['triple'],
    });
    expect(only.key).toBe('solo@1.0.0');
    const task = await warden.submit({ capability: 'triple', input: { n: 7 } });
    expect(task.agent).toBe('solo@1.0.0');
    expect(await warden.result(task.id, { timeoutMs: 5000 })).toMatchObject({
      status: 'succeeded',
      output: 21,
    });
  });

  it('rejects re-registering name@version with a different manifest (AGENT_VERSION_CONFLICT)', async () => {
    const warden = await openWarden({ workers: false });
    const first = await warden.registerHandler('dup', () => 1, { description: 'one' });
    // The same manifest again is fine (idempotent) and returns the stored version.
    await expect(warden.registerHandler('dup', () => 1, { description: 'one' })).resolves.toMatchObject({
      key: 'dup@1.0.0',
      createdAt: first.createdAt,
    });
    for (const options of [
      { description: 'two' },
      { description: 'one', capabilities: ['x'] },
      { description: 'one', retry: { maxAttempts: 9 } },
    ]) {
      const err = (await warden
        .registerHandler('dup', () => 1, options)
        .catch((e: unknown) => e)) as WardenError;
      expect(err).toBeInstanceOf(WardenError);
      expect(err.code).toBe('AGENT_VERSION_CONFLICT');
      expect(err.message).toContain('dup@1.0.0');
    }
    // A new version is fine.
    await expect(
      warden.registerHandler('dup', () => 1, { version: '1.0.1', description: 'two' }),
    ).resolves.toMatchObject({
      key: 'dup@1.0.1',
    });
    expect((await warden.listAgents()).filter((a) => a.manifest.name === 'dup')).toHaveLength(2);
  });

  // BUG: registerHandler installs the handler before the store rejects the conflicting version, so the
  // rejected handler replaces the registered one. Remove `.fails` once fixed.
  it('keeps the original handler when a conflicting registration is rejected', async () => {
    const warden = await openWarden({ workers: { pollIntervalMs: 20 } });
    await warden.registerHandler('dup', () => 'first');
    await expect(
      warden.registerHandler('dup', () => 'second', { description: 'changed' }),
    ).rejects.toMatchObject({
      code: 'AGENT_VERSION_CONFLICT',
    });
    const task = await warden.submit({ agent: 'dup' });
    expect((await warden.result(task.id, { timeoutMs: 5000 }))?.output).toBe('first');
  });

  // BUG: once a submit has resolved an inline agent whose handler this process lacks, registering the handler
  // later never makes it runnable here (AgentRegistry.remember returns early for a known key and does not
  // recompute runnableKeys). Remove `.fails` once fixed.
  it('runs tasks of a handler registered after a submit resolved it from the store', async () => {
    const root = tempDir();
    const first = await openWarden({ root, workers: false });
    await first.registerHandler('late', () => 'ran');
    await first.close();
    const worker = await openWarden({ root, workers: { pollIntervalMs: 20 } });
    const task = await worker.submit({ agent: 'late' });
    await worker.registerHandler('late', () => 'ran');
    expect((await worker.result(task.id, { timeoutMs: 2000 }))?.status).toBe('succeeded');
  });

  it.runIf(sandboxWorks('the re-registration test of a node agent'))(
    'rejects re-registering a YAML agent version whose code changed (AGENT_VERSION_CONFLICT)',
    async () => {
      const warden = await openWarden({ workers: false });
      const dir = tempDir();
      const yaml = join(dir, 'agent.yaml');
      writeFileSync(
        yaml,
        'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: coded, version: 1.0.0 }\nspec: { runtime: node, entry: ./a.js }\n',
      );
      writeFileSync(join(dir, 'a.js'), 'process.stdout.write("1")');
      const record = await warden.registerAgent({ path: yaml });
      expect(record.moduleDigest).toMatch(/^[0-9a-f]{64}$/);
      await expect(warden.registerAgent({ path: yaml })).resolves.toMatchObject({ key: 'coded@1.0.0' });
      writeFileSync(join(dir, 'a.js'), 'process.stdout.write("2")');
      await expect(warden.registerAgent({ path: yaml })).rejects.toMatchObject({
        code: 'AGENT_VERSION_CONFLICT',
      });
    },
  );
});
