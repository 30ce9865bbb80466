import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden, type HandlerOptions } from '../src/index.js';
import { fakeClock, sleep, tempDir } from './helpers.js';

// Circuit breakers live in the store: a process that did not see a breaker open (a restarted worker, the
// CLI, the API) knows its policy from the agent registry, shows its state, and can reset it.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');
const FRAGILE: HandlerOptions = {
  retry: { maxAttempts: 1 },
  circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
};

/** Opens the breaker of fragile@1.0.0 in `root` (two dead tasks) and leaves one task held; Warden closed. */
async function openBreaker(root: string, clock = fakeClock()): Promise<{ held: string; openedAt: number }> {
  const warden = await Warden.open({ storage: { root }, workers: { clock, pollIntervalMs: 10 } });
  try {
    await warden.registerHandler(
      'fragile',
      () => {
        throw new Error('down');
      },
      FRAGILE,
    );
    for (let i = 0; i < 2; i++) {
      const t = await warden.submit({ agent: 'fragile' });
      expect((await warden.result(t.id, { timeoutMs: 5000 }))?.status).toBe('dead');
    }
    const held = await warden.submit({ agent: 'fragile' });
    await sleep(50);
    expect((await warden.getTask(held.id)).state).toBe('queued');
    return { held: held.id, openedAt: clock.now() };
  } finally {
    await warden.close();
  }
}

function cli(data: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['STORAGE_ROOT'];
  return new Promise((done) =>
    execFile(
      process.execPath,
      [BIN, '--data', data, ...args],
      { cwd: ROOT, env, timeout: 30_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

describe('circuit breakers across restarts', () => {
  it('a restarted worker probes an open breaker after its cooldown, and the held task runs', async () => {
    const root = tempDir();
    const clock = fakeClock();
    const { held } = await openBreaker(root, clock);
    clock.advance(60_000);
    // A new process: it has run no task of fragile, so only the store can tell it the breaker's policy.
    const warden = await Warden.open({ storage: { root }, workers: { clock, pollIntervalMs: 10 } });
    try {
      await warden.registerHandler('fragile', () => 'up again', FRAGILE);
      const result = await warden.result(held, { timeoutMs: 3000 });
      expect(result?.status).toBe('succeeded');
      expect((await warden.agentStatus()).find((a) => a.key === 'fragile@1.0.0')?.breaker).toMatchObject({
        state: 'closed',
        consecutiveFailures: 0,
      });
    } finally {
      await warden.close();
    }
  });

  it('status reads the stored breaker: state, failures, when it opened and when it probes', async () => {
    const root = tempDir();
    const { openedAt } = await openBreaker(root, fakeClock(Date.now()));
    const warden = await Warden.open({ storage: { root }, workers: false });
    try {
      const fragile = (await warden.agentStatus()).find((a) => a.key === 'fragile@1.0.0');
      expect(fragile?.breaker).toEqual({
        state: 'open',
        consecutiveFailures: 2,
        openedAt,
        nextProbeAt: openedAt + 60_000,
      });
    } finally {
      await warden.close();
    }
  });

  it('resetBreaker closes it, records why in the provenance of the sessions it held, and runs their tasks', async () => {
    const root = tempDir();
    const { held } = await openBreaker(root, fakeClock(Date.now()));
    const warden = await Warden.open({ storage: { root }, workers: { pollIntervalMs: 10 } });
    try {
      await warden.registerHandler('fragile', () => 'fixed', FRAGILE);
      await sleep(100);
      expect((await warden.getTask(held)).state).toBe('queued'); // the cooldown has not passed
      const reset = await warden.resetBreaker('fragile', { via: 'test' });
      expect(reset).toEqual([
        {
          agent: 'fragile@1.0.0',
          previous: { state: 'open', consecutiveFailures: 2, openedAt: expect.any(Number) as number },
        },
      ]);
      expect((await warden.result(held, { timeoutMs: 3000 }))?.status).toBe('succeeded');
      const chain = await warden.store.readChain((await warden.getSession('default')).id);
      const record = chain
        .map((l) => JSON.parse(l.recordJson) as { type: string })
        .find((r) => r.type === 'agent.breaker_reset');
      expect(record).toMatchObject({
        agent: 'fragile@1.0.0',
        data: { via: 'test', previous: { state: 'open', consecutiveFailures: 2 } },
      });
      expect((await warden.verify('default')).ok).toBe(true);
      // Nothing left to reset: the answer says so rather than inventing a reset.
      expect(await warden.resetBreaker('fragile@1.0.0')).toEqual([
        { agent: 'fragile@1.0.0', previous: null },
      ]);
      await expect(warden.resetBreaker('nobody')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
      await expect(warden.resetBreaker('fragile@9.9.9')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
    } finally {
      await warden.close();
    }
  });
});

describe('the CLI shows and resets breakers', () => {
  it('agents list shows the stored breaker; agents reset-breaker closes it', async () => {
    const data = tempDir();
    await openBreaker(data, fakeClock(Date.now()));
    const list = await cli(data, 'agents', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      /^fragile@1\.0\.0\s+inline\s+active\s+1\s+open \(2 failures, probe at \d\d:\d\d:\d\d\)/m,
    );
    const json = await cli(data, '--json', 'agents', 'list');
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        key: 'fragile@1.0.0',
        breaker: expect.objectContaining({ state: 'open', consecutiveFailures: 2 }) as unknown,
      }),
    ]);

    const reset = await cli(data, 'agents', 'reset-breaker', 'fragile');
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('fragile@1.0.0: breaker reset (was open, 2 consecutive failures)');
    expect((await cli(data, 'agents', 'list')).stdout).toMatch(
      /^fragile@1\.0\.0\s+inline\s+active\s+1\s+closed/m,
    );
    const again = await cli(data, 'agents', 'reset-breaker', 'fragile@1.0.0');
    expect(again.stdout).toContain('fragile@1.0.0: breaker already closed');
    const unknown = await cli(data, 'agents', 'reset-breaker', 'nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('AGENT_NOT_FOUND');
  });
});

describe('a reset made by another process', () => {
  it('reaches a running worker: it runs the held task without waiting for the cooldown', async () => {
    const root = tempDir();
    const { held } = await openBreaker(root, fakeClock(Date.now()));
    const worker = await Warden.open({ storage: { root }, workers: { pollIntervalMs: 20 } });
    try {
      await worker.registerHandler('fragile', () => 'fixed', FRAGILE);
      await sleep(300);
      expect((await worker.getTask(held)).state).toBe('queued');
      const reset = await cli(root, 'agents', 'reset-breaker', 'fragile@1.0.0');
      expect(reset.code, reset.stderr).toBe(0);
      expect((await worker.result(held, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    } finally {
      await worker.close();
    }
  });
});

describe('breakers seen by a server that runs no tasks', () => {
  it('/metrics and /scheduler/stats show a breaker another process opened', async () => {
    const root = tempDir();
    const api = await Warden.open({ storage: { root }, workers: false });
    const app = await buildServer(api, { logger: false, rateLimit: false });
    try {
      const { key } = await createApiKey(api.store, {
        tenant: 'default',
        role: 'admin',
        name: 'ops',
        installation: true,
      });
      const auth = { authorization: `Bearer ${key}` };
      await openBreaker(root);
      const metrics = await app.inject({ url: '/metrics', headers: auth });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toMatch(/warden_circuit_breaker_state\{agent="fragile@[^"]+"\} 2/);
      const stats = await app.inject({ url: '/scheduler/stats', headers: auth });
      expect(stats.json<{ breakers: unknown[] }>().breakers).toEqual([
        expect.objectContaining({ agent: expect.stringMatching(/^fragile@/), state: 'open' }),
      ]);
    } finally {
      await app.close();
      await api.close();
    }
  });
});
