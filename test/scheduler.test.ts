import { describe, expect, it } from 'vitest';
import { WardenError, backoffCeilingMs, type PriorityName } from '../src/index.js';
import { eventually, fakeClock, openWarden, sleep, tempDir } from './helpers.js';

describe('priority order', () => {
  it('claims by priority, then by age', async () => {
    const root = tempDir();
    const seen: string[] = [];
    const handler = (input: { tag: string }) => void seen.push(input.tag);
    const submitter = await openWarden({ root, workers: false });
    await submitter.registerHandler('rec', handler);
    const plan: [string, string][] = [
      ['low-1', 'low'],
      ['normal-1', 'normal'],
      ['critical-1', 'critical'],
      ['background-1', 'background'],
      ['high-1', 'high'],
      ['normal-2', 'normal'],
      ['critical-2', 'Critical'],
      ['high-2', 'HIGH'],
    ];
    // Any letter case is accepted at run time (CLI and HTTP callers); the type names the lowercase levels.
    for (const [tag, priority] of plan)
      await submitter.submit({ agent: 'rec', input: { tag }, priority: priority as PriorityName });
    await submitter.close();

    const worker = await openWarden({ root, workers: { concurrency: 1 } });
    await worker.registerHandler('rec', handler);
    worker.scheduler.wake();
    await eventually(() => seen.length === plan.length, 5000, 'all tasks to run');
    expect(seen).toEqual([
      'critical-1',
      'critical-2',
      'high-1',
      'high-2',
      'normal-1',
      'normal-2',
      'low-1',
      'background-1',
    ]);
  });
});

describe('per-session concurrency', () => {
  it('never runs more tasks of a session at once than its maxConcurrency', async () => {
    const warden = await openWarden({ workers: { concurrency: 20 } });
    await warden.ensureSession({ name: 'narrow', maxConcurrency: 2 });
    await warden.ensureSession({ name: 'wide', maxConcurrency: 6 });
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    await warden.registerHandler('slow', async (_input: unknown, ctx) => {
      const n = (running.get(ctx.sessionId) ?? 0) + 1;
      running.set(ctx.sessionId, n);
      peak.set(ctx.sessionId, Math.max(peak.get(ctx.sessionId) ?? 0, n));
      await sleep(25);
      running.set(ctx.sessionId, (running.get(ctx.sessionId) ?? 1) - 1);
    });
    const tasks = [];
    for (let i = 0; i < 10; i++) {
      tasks.push(await warden.submit({ agent: 'slow', session: 'narrow' }));
      tasks.push(await warden.submit({ agent: 'slow', session: 'wide' }));
    }
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 10_000 })));
    expect(results.every((r) => r?.status === 'succeeded')).toBe(true);
    const narrow = await warden.getSession('narrow');
    const wide = await warden.getSession('wide');
    expect(peak.get(narrow.id)).toBe(2);
    expect(peak.get(wide.id)).toBeGreaterThan(2);
    expect(peak.get(wide.id)).toBeLessThanOrEqual(6);
  });
});

describe('deadlines', () => {
  it('fails a task whose deadline passed before it ran with DEADLINE_EXCEEDED, without running it', async () => {
    const clock = fakeClock();
    const warden = await openWarden({ workers: false });
    let runs = 0;
    await warden.registerHandler('never', () => void runs++);
    const task = await warden.submit({ agent: 'never', deadline: clock.now() + 1000 });
    await warden.close();
    const worker = await openWarden({ root: undefined, workers: { clock } });
    // Same data directory is not needed: the point is a deadline in the past at claim time.
    await worker.registerHandler('never', () => void runs++);
    const late = await worker.submit({ agent: 'never', deadline: clock.now() - 1 });
    const result = await worker.result(late.id, { timeoutMs: 5000 });
    expect(result?.status).toBe('failed');
    expect(result?.error?.code).toBe('DEADLINE_EXCEEDED');
    expect(runs).toBe(0);
    expect(task.deadline).toBe(clock.now() + 1000);
  });

  it('stops a running task at its deadline with DEADLINE_EXCEEDED and does not retry it', async () => {
    const warden = await openWarden();
    let runs = 0;
    await warden.registerHandler(
      'sleeper',
      async (_i: unknown, ctx) => {
        runs++;
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
      },
      { retry: { maxAttempts: 5, baseMs: 0 } },
    );
    const t = await warden.submit({ agent: 'sleeper', deadline: Date.now() + 150 });
    const result = await warden.result(t.id, { timeoutMs: 5000 });
    expect(result?.status).toBe('failed');
    expect(result?.error?.code).toBe('DEADLINE_EXCEEDED');
    expect(runs).toBe(1);
  });
});

describe('retries with exponential backoff and full jitter', () => {
  it('waits a jittered, exponentially growing delay between attempts', async () => {
    const clock = fakeClock();
    const warden = await openWarden({ workers: { clock, random: () => 0.5, pollIntervalMs: 10 } });
    const policy = { maxAttempts: 4, baseMs: 1000, maxMs: 3000 };
    let calls = 0;
    await warden.registerHandler(
      'flaky',
      () => {
        calls++;
        if (calls < 4) throw new Error(`boom ${calls}`);
        return { ok: calls };
      },
      { retry: policy },
    );
    const t = await warden.submit({ agent: 'flaky' });
    let expectedAt = clock.now();
    for (let attempt = 1; attempt <= 3; attempt++) {
      await eventually(
        async () =>
          (await warden.getTask(t.id)).attempts === attempt &&
          (await warden.getTask(t.id)).state === 'queued',
        5000,
        `attempt ${attempt} to fail`,
      );
      const task = await warden.getTask(t.id);
      const delay = Math.floor(0.5 * (backoffCeilingMs(policy, attempt) + 1));
      expect(task.runAfter - expectedAt).toBe(delay);
      expect(task.lastError?.message).toBe(`boom ${attempt}`);
      // Not a moment early: one millisecond before, the task stays queued.
      clock.set(task.runAfter - 1);
      warden.scheduler.wake();
      await sleep(40);
      expect(calls).toBe(attempt);
      clock.set(task.runAfter);
      expectedAt = task.runAfter;
      warden.scheduler.wake();
    }
    const result = await warden.result(t.id, { timeoutMs: 5000 });
    expect(result).toMatchObject({ status: 'succeeded', attempts: 4, output: { ok: 4 } });
    // The ceilings grew 1000 -> 2000 -> 3000 (capped by maxMs).
    expect([1, 2, 3].map((a) => backoffCeilingMs(policy, a))).toEqual([1000, 2000, 3000]);
  });

  it('does not retry errors that say they are not retryable', async () => {
    const warden = await openWarden();
    let calls = 0;
    await warden.registerHandler(
      'fatal',
      () => {
        calls++;
        throw new WardenError('INVALID_INPUT', 'bad input', { retryable: false });
      },
      { retry: { maxAttempts: 5, baseMs: 0 } },
    );
    const t = await warden.submit({ agent: 'fatal' });
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r?.status).toBe('dead');
    expect(r?.error?.code).toBe('INVALID_INPUT');
    expect(calls).toBe(1);
  });
});

describe('dead-letter queue', () => {
  it('parks a task after its last attempt, replays it with a fresh retry budget, and purges', async () => {
    const warden = await openWarden();
    let healthy = false;
    let calls = 0;
    await warden.registerHandler(
      'poison',
      (_input, ctx) => {
        calls++;
        ctx.log(`run ${calls}`);
        if (!healthy) throw new Error('poison pill');
        return 'fixed';
      },
      { retry: { maxAttempts: 2, baseMs: 0, maxMs: 0 } },
    );
    const t = await warden.submit({ agent: 'poison' });
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r).toMatchObject({
      status: 'dead',
      attempts: 2,
      error: { code: 'AGENT_FAILED', message: 'poison pill' },
    });
    expect(calls).toBe(2);
    const dead = await warden.dlq.list();
    expect(dead.map((d) => d.taskId)).toEqual([t.id]);

    // Still failing: the replay gets the version's whole budget again (two attempts), numbered on.
    const replayed = await warden.dlq.replay(t.id);
    expect(replayed).toMatchObject({ state: 'queued', attempts: 2, maxAttempts: 4 });
    expect(await warden.result(t.id, { timeoutMs: 5000 })).toMatchObject({ status: 'dead', attempts: 4 });
    expect(calls).toBe(4);
    healthy = true;
    await warden.dlq.replay(t.id);
    await eventually(
      async () => (await warden.getTask(t.id)).state === 'succeeded',
      5000,
      'replayed task to succeed',
    );
    expect(await warden.store.getResult(t.id)).toMatchObject({
      status: 'succeeded',
      output: 'fixed',
      attempts: 5,
    });
    // Every run's log lines are kept: a replayed run's attempts do not reuse (and lose) the old ones' lines.
    await eventually(
      async () => (await warden.logs(t.id)).filter((l) => l.message.startsWith('run ')).length === 5,
      5000,
      "the five runs' log lines",
    );
    expect(
      (await warden.logs(t.id))
        .filter((l) => l.message.startsWith('run '))
        .map((l) => [l.attempt, l.message]),
    ).toEqual([
      [1, 'run 1'],
      [2, 'run 2'],
      [3, 'run 3'],
      [4, 'run 4'],
      [5, 'run 5'],
    ]);
    expect(await warden.dlq.list()).toEqual([]);

    healthy = false;
    const t2 = await warden.submit({ agent: 'poison' });
    await warden.result(t2.id, { timeoutMs: 5000 });
    expect(await warden.dlq.purge('all')).toBe(1);
    expect(await warden.dlq.list()).toEqual([]);
    expect((await warden.getTask(t2.id)).state).toBe('dead');
    await expect(warden.dlq.replay(t2.id)).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    expect((await warden.verify('default')).ok).toBe(true);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures, holds tasks, probes after the cooldown, closes on success', async () => {
    const clock = fakeClock();
    const warden = await openWarden({ workers: { clock, pollIntervalMs: 10 } });
    let healthy = false;
    let calls = 0;
    await warden.registerHandler(
      'fragile',
      () => {
        calls++;
        if (!healthy) throw new Error('down');
        return 'up';
      },
      { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 60_000 } },
    );
    const key = 'fragile@1.0.0';
    for (let i = 0; i < 3; i++) {
      const t = await warden.submit({ agent: 'fragile' });
      expect((await warden.result(t.id, { timeoutMs: 5000 }))?.status).toBe('dead');
    }
    expect(warden.scheduler.breakerSnapshot().get(key)).toMatchObject({
      state: 'open',
      consecutiveFailures: 3,
    });

    const held = await warden.submit({ agent: 'fragile' });
    warden.scheduler.wake();
    await sleep(60);
    expect((await warden.getTask(held.id)).state).toBe('queued');
    expect(calls).toBe(3);

    // Cooldown over: one probe goes through; it fails, so the breaker opens again.
    clock.advance(60_000);
    warden.scheduler.wake();
    expect((await warden.result(held.id, { timeoutMs: 5000 }))?.status).toBe('dead');
    expect(warden.scheduler.breakerSnapshot().get(key)?.state).toBe('open');
    const held2 = await warden.submit({ agent: 'fragile' });
    const held3 = await warden.submit({ agent: 'fragile' });
    warden.scheduler.wake();
    await sleep(60);
    expect(calls).toBe(4);

    // Next probe succeeds: the breaker closes and the rest run.
    healthy = true;
    clock.advance(60_000);
    warden.scheduler.wake();
    expect((await warden.result(held2.id, { timeoutMs: 5000 }))?.status).toBe('succeeded');
    expect((await warden.result(held3.id, { timeoutMs: 5000 }))?.status).toBe('succeeded');
    expect(warden.scheduler.breakerSnapshot().get(key)).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
    });
  });
});

describe('idempotency keys', () => {
  it('returns the same task for the same key and runs it once', async () => {
    const warden = await openWarden();
    let calls = 0;
    await warden.registerHandler('once', async () => {
      calls++;
      await sleep(20);
      return calls;
    });
    const [a, b] = await Promise.all([
      warden.submit({ agent: 'once', idempotencyKey: 'order-42', input: { n: 1 } }),
      warden.submit({ agent: 'once', idempotencyKey: 'order-42', input: { n: 1 } }),
    ]);
    expect(b.id).toBe(a.id);
    expect([a.deduplicated, b.deduplicated].sort()).toEqual([false, true]);
    await warden.result(a.id, { timeoutMs: 5000 });
    const c = await warden.submit({ agent: 'once', idempotencyKey: 'order-42' });
    expect(c).toMatchObject({ id: a.id, deduplicated: true, state: 'succeeded' });
    expect(calls).toBe(1);
    // Keys are scoped by session.
    await warden.ensureSession({ name: 'other' });
    const d = await warden.submit({ agent: 'once', session: 'other', idempotencyKey: 'order-42' });
    expect(d.id).not.toBe(a.id);
  });
});

describe('cancel', () => {
  it('cancels a queued task at once and a running one through its signal', async () => {
    const root = tempDir();
    const idle = await openWarden({ root, workers: false });
    await idle.registerHandler('wait', () => 'never');
    const queued = await idle.submit({ agent: 'wait' });
    expect(await idle.cancel(queued.id)).toEqual({ state: 'cancelled', cancelledNow: true });
    expect(await idle.store.getResult(queued.id)).toMatchObject({
      status: 'cancelled',
      error: { code: 'CANCELLED' },
    });
    await idle.close();

    const warden = await openWarden({ root });
    let sawAbort = false;
    await warden.registerHandler('wait', async (_i: unknown, ctx) => {
      // The store says running once the task is claimed, possibly before the handler starts: a cancel
      // in between reaches the handler as an already aborted signal.
      if (!ctx.signal.aborted) await new Promise((r) => ctx.signal.addEventListener('abort', r));
      sawAbort = true;
    });
    const running = await warden.submit({ agent: 'wait' });
    await eventually(
      async () => (await warden.getTask(running.id)).state === 'running',
      5000,
      'task to start',
    );
    const out = await warden.cancel(running.id);
    expect(out.state).toBe('running');
    const r = await warden.result(running.id, { timeoutMs: 5000 });
    expect(r?.status).toBe('cancelled');
    expect(sawAbort).toBe(true);
    await expect(warden.cancel('no-such-task')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    expect((await warden.verify('default')).ok).toBe(true);
  });
});

describe('leases', () => {
  it("returns a dead worker's task to the queue when its lease runs out", async () => {
    const warden = await openWarden({ workers: { leaseMs: 300 } });
    await warden.registerHandler('resilient', (_i: unknown, ctx) => ({ attempt: ctx.attempt }));
    // A worker that claims the task and then dies: nobody renews its lease.
    await warden.scheduler.stop();
    const t = await warden.submit({ agent: 'resilient' });
    const ghost = await warden.store.claim({
      now: Date.now(),
      limit: 1,
      owner: 'ghost',
      leaseMs: 100,
      runnable: ['resilient@1.0.0'],
      held: [],
      probing: [],
    });
    expect(ghost.claimed.map((c) => c.id)).toEqual([t.id]);
    await warden.scheduler.start();
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r).toMatchObject({ status: 'succeeded', output: { attempt: 2 } });
    const chain = await warden.store.readChain((await warden.getSession('default')).id);
    expect(chain.map((l) => JSON.parse(l.recordJson).type)).toContain('task.lease_expired');
  });
});

describe('timeouts', () => {
  it('stops an inline handler at its timeout with TIMEOUT and retries it', async () => {
    const warden = await openWarden();
    let calls = 0;
    await warden.registerHandler(
      'hang',
      async (_i: unknown, ctx) => {
        calls++;
        if (calls === 1) await new Promise((r) => ctx.signal.addEventListener('abort', r));
        return 'second time lucky';
      },
      { resources: { timeoutMs: 100 }, retry: { maxAttempts: 2, baseMs: 0 } },
    );
    const t = await warden.submit({ agent: 'hang' });
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect((await warden.getTask(t.id)).lastError?.code).toBe('TIMEOUT');
  });
});

describe('handler context', () => {
  it('gives a synchronous handler its ids, a live signal and a log it can take out of the context', async () => {
    const warden = await openWarden();
    await warden.registerHandler('introspect', (_i: unknown, ctx) => {
      const { taskId, sessionId, attempt, signal, log } = ctx;
      log('hello from the handler');
      return { taskId, sessionId, attempt, isSignal: signal instanceof AbortSignal, aborted: signal.aborted };
    });
    const t = await warden.submit({ agent: 'introspect' });
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r).toMatchObject({
      status: 'succeeded',
      output: { taskId: t.id, sessionId: t.sessionId, attempt: 1, isSignal: true, aborted: false },
    });
    expect((await warden.logs(t.id)).map((l) => l.message)).toContain('hello from the handler');
  });

  it('runs the handler registered last for an agent version that already ran', async () => {
    const warden = await openWarden();
    await warden.registerHandler('swap', () => 'first');
    const a = await warden.submit({ agent: 'swap' });
    expect((await warden.result(a.id, { timeoutMs: 5000 }))?.output).toBe('first');
    await warden.registerHandler('swap', () => 'second');
    const b = await warden.submit({ agent: 'swap' });
    expect((await warden.result(b.id, { timeoutMs: 5000 }))?.output).toBe('second');
  });

  it('hands a handler that reads its signal only after the timeout an aborted one', async () => {
    const warden = await openWarden();
    let seen: { aborted: boolean; code: unknown } | undefined;
    await warden.registerHandler(
      'late-reader',
      async (_i: unknown, ctx) => {
        await new Promise((r) => setTimeout(r, 300));
        const reason = ctx.signal.reason as { code?: unknown } | undefined;
        seen = { aborted: ctx.signal.aborted, code: reason?.code };
        return null;
      },
      { resources: { timeoutMs: 50 }, retry: { maxAttempts: 1 } },
    );
    const t = await warden.submit({ agent: 'late-reader' });
    const r = await warden.result(t.id, { timeoutMs: 5000 });
    expect(r?.status).not.toBe('succeeded');
    await eventually(() => seen !== undefined, 5000, 'the handler to read its signal');
    expect(seen).toEqual({ aborted: true, code: 'TIMEOUT' });
  });
});

describe('close', () => {
  it('lets a running task finish within the grace period and answers its waiters', async () => {
    const warden = await openWarden({ workers: { shutdownGraceMs: 5000 } });
    await warden.registerHandler('slow', async () => {
      await sleep(300);
      return 'done';
    });
    const running = await warden.submit({ agent: 'slow' });
    await eventually(async () => (await warden.getTask(running.id)).state === 'running', 5000, 'running');
    const finished = warden.result(running.id);
    await warden.close();
    expect((await finished)?.status).toBe('succeeded');
  });

  it('ends the waits still pending without a result, as a timeout does', async () => {
    const warden = await openWarden({ workers: false });
    await warden.registerHandler('elsewhere', () => 'never');
    const task = await warden.submit({ agent: 'elsewhere' });
    const pending = warden.result(task.id);
    await warden.close();
    expect(await pending).toBeUndefined();
  });
});
