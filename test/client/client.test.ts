// WardenClient against a real server (a real Warden, listening on a port): friendly methods with real
// results, the two event streams, and coded errors as classes.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import {
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
  WardenApiError,
  WardenClient,
  isWardenApiError,
  type TaskStreamEvent,
} from '../../src/client/index.js';
import { Warden, isWardenError } from '../../src/index.js';
import { rejectionOf } from '../helpers.js';

let root: string;
let warden: Warden;
let app: FastifyInstance;
let base: string;
let admin: WardenClient;
const keys: Record<string, string> = {};
/** Gates the `gated` handler: a task with input { gate: name } runs until open(name), before or after it starts. */
const waiting = new Map<string, () => void>();
const opened = new Set<string>();
const gate = (name: string) =>
  opened.has(name) ? Promise.resolve() : new Promise<void>((r) => waiting.set(name, r));
const open = (name: string) => {
  opened.add(name);
  waiting.get(name)?.();
};

beforeAll(async () => {
  // Not tempDir(): that one is removed after each test, and this Warden serves the whole file.
  root = mkdtempSync(join(tmpdir(), 'warden-client-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 4 } });
  await warden.registerHandler('echo', (input: unknown, ctx) => {
    ctx.log('echoing');
    ctx.log('done');
    return { got: input };
  });
  await warden.registerHandler('gated', async (input: { gate: string }, ctx) => {
    ctx.log(`waiting for ${input.gate}`);
    await gate(input.gate);
    return input.gate;
  });
  await warden.registerHandler(
    'poison',
    () => {
      throw new Error('always fails');
    },
    { retry: { maxAttempts: 1 } },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  for (const [name, tenant, role] of [
    ['admin', 'default', 'admin'],
    ['viewer', 'default', 'viewer'],
    ['other', 'globex', 'admin'],
  ] as const)
    keys[name] = (await createApiKey(warden.store, { tenant, role, name })).key;
  admin = new WardenClient({ baseUrl: base, apiKey: keys['admin']! });
}, 30_000);

afterAll(async () => {
  for (const release of waiting.values()) release();
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('friendly methods', () => {
  it('execute with wait returns the finished result; getTask and run agree', async () => {
    const { task, result, finished } = await admin.execute(
      'default',
      { agent: 'echo', input: { n: 7 } },
      { wait: 5000 },
    );
    expect(finished).toBe(true);
    expect(result).toMatchObject({ status: 'succeeded', output: { got: { n: 7 } } });
    const got = await admin.getTask(task.id!);
    expect(got.task?.state).toBe('succeeded');
    expect(got.result?.outputDigest).toBe(result!.outputDigest);
    const ran = await admin.run('default', { agent: 'echo', input: 'again' });
    expect(ran.result?.output).toEqual({ got: 'again' });
  });

  it('submit returns at once; result() polls until the task is done', async () => {
    const task = await admin.submit('default', { agent: 'gated', input: { gate: 'poll' } });
    expect(['queued', 'running']).toContain(task.state);
    expect(await admin.result(task.id!, { waitMs: 200, pollMs: 50 })).toBeUndefined();
    setTimeout(() => open('poll'), 100);
    const result = await admin.result(task.id!, { waitMs: 5000, pollMs: 50 });
    expect(result).toMatchObject({ status: 'succeeded', output: 'poll' });
  });

  it('lists tasks, sessions and agents of the key’s tenant', async () => {
    const { tasks } = await admin.listTasks({ session: 'default', limit: '100' });
    expect(tasks!.length).toBeGreaterThan(0);
    expect((await admin.listSessions()).sessions!.map((s) => s.name)).toContain('default');
    expect((await admin.agentStatus()).map((a) => a.name)).toEqual(expect.arrayContaining(['echo', 'gated']));
    expect(await admin.whoami()).toMatchObject({ tenant: 'default', role: 'admin' });
  });

  it('a dead task is listed in the DLQ and replayed', async () => {
    const { task, result } = await admin.execute('default', { agent: 'poison' }, { wait: 5000 });
    expect(result?.status).toBe('dead');
    const dead = await admin.listDeadLetters();
    expect(dead.map((d) => d.taskId)).toContain(task.id);
    const replayed = await admin.replayDeadLetter(task.id!);
    expect(replayed.id).toBe(task.id);
    expect(['queued', 'running', 'dead']).toContain(replayed.state);
    const again = await admin.result(task.id!, { waitMs: 5000, pollMs: 50 });
    expect(again?.status).toBe('dead');
    expect(again?.attempts).toBeGreaterThanOrEqual(1);
  });

  it('exports a provenance bundle with its tree size', async () => {
    const bundle = await admin.exportProvenance({ session: 'default' });
    expect(bundle.treeSize).toBeGreaterThan(0);
    expect(bundle.since).toBe(0);
    expect(JSON.parse(bundle.text)).toHaveProperty('treeHead');
  });
});

describe('event streams', () => {
  it('events() yields queued → running → succeeded for a task', async () => {
    await admin.createSession({ name: 'serial', maxConcurrency: 1 });
    const stop = new AbortController();
    const seen: string[] = [];
    let target: string | undefined;
    const reading = (async () => {
      for await (const e of admin.events({ session: 'serial' }, { signal: stop.signal })) {
        if (e.event === 'ready') {
          // The stream is live: hold the session's one slot, then queue the task behind it.
          await admin.submit('serial', { agent: 'gated', input: { gate: 'blocker' } });
          target = (await admin.submit('serial', { agent: 'gated', input: { gate: 'target' } })).id;
          continue;
        }
        if (e.event !== 'task' || e.data.id !== target) continue;
        seen.push(e.data.state);
        if (e.data.state === 'queued') open('blocker');
        if (e.data.state === 'running') open('target');
        if (e.data.state === 'succeeded') break;
      }
    })().catch((err: unknown) => {
      if (!stop.signal.aborted) throw err;
    });
    const timer = setTimeout(() => stop.abort(), 10_000);
    await reading;
    clearTimeout(timer);
    expect(seen).toEqual(['queued', 'running', 'succeeded']);
  });

  it('taskEvents() yields the snapshot, log lines and the result, then ends', async () => {
    const task = await admin.submit('default', { agent: 'gated', input: { gate: 'stream' } });
    const events: TaskStreamEvent[] = [];
    for await (const e of admin.taskEvents(task.id!)) {
      events.push(e);
      if (e.event === 'log') open('stream');
    }
    expect(events[0]!.snapshot).toBe(true);
    const logs = events.filter((e) => e.event === 'log');
    expect(logs.map((e) => e.data.message)).toContain('waiting for stream');
    const last = events.at(-1)!;
    expect(last.event).toBe('result');
    expect(last.id).toBe('end');
    // Resuming after the last log line sends nothing already seen: just the result (and its snapshot).
    const resumed: TaskStreamEvent[] = [];
    for await (const e of admin.taskEvents(task.id!, { lastEventId: logs.at(-1)!.id! })) resumed.push(e);
    expect(resumed.filter((e) => e.event === 'log')).toEqual([]);
    expect(resumed.at(-1)!.event).toBe('result');
  });

  it('taskEvents() reconnects with Last-Event-ID when the stream drops', async () => {
    // A fetch that cuts the first response after its first log line, as a flaky proxy would.
    let cuts = 0;
    const lastIds: (string | null)[] = [];
    const flaky: typeof fetch = async (input, init) => {
      lastIds.push(new Headers(init?.headers).get('last-event-id'));
      const res = await fetch(input, init);
      if (cuts > 0 || !res.body) return res;
      cuts++;
      const reader = res.body.getReader();
      let text = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          text += new TextDecoder().decode(value);
          controller.enqueue(value);
          if (/event: log/.test(text)) {
            await reader.cancel();
            controller.error(new TypeError('terminated'));
          }
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const client = new WardenClient({ baseUrl: base, apiKey: keys['admin']!, fetch: flaky });
    const task = await admin.submit('default', { agent: 'gated', input: { gate: 'flaky' } });
    const logs: string[] = [];
    let result: TaskStreamEvent | undefined;
    for await (const e of client.taskEvents(task.id!)) {
      if (e.event === 'log') {
        logs.push(e.data.message);
        open('flaky');
      }
      if (e.event === 'result') result = e;
    }
    expect(cuts).toBe(1);
    expect(lastIds[0]).toBeNull();
    expect(lastIds[1]).toMatch(/^1:l\d+$/);
    expect(logs).toEqual(['waiting for flaky']); // not repeated after the reconnect
    expect(result?.data).toMatchObject({ status: 'succeeded' });
  });
});

describe('coded errors', () => {
  it('404, 401, 403 and 400 are classes with the code and the request id', async () => {
    const missing = await rejectionOf(admin.getTask('no-such-task'));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toBeInstanceOf(WardenApiError);
    expect(isWardenApiError(missing)).toBe(true);
    expect(isWardenError(missing)).toBe(true);
    expect(missing).toMatchObject({ code: 'TASK_NOT_FOUND', status: 404 });
    expect((missing as WardenApiError).requestId).toMatch(/.+/);

    const anonymous = new WardenClient({ baseUrl: base });
    const unauthorized = await rejectionOf(anonymous.listTasks());
    expect(unauthorized).toBeInstanceOf(UnauthorizedError);
    expect(unauthorized).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });

    const viewer = new WardenClient({ baseUrl: base, apiKey: keys['viewer']! });
    const forbidden = await rejectionOf(viewer.submit('default', { agent: 'echo' }));
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect(forbidden.code).toBe('FORBIDDEN');

    const invalid = await rejectionOf(admin.submit('default', { agent: 'echo', timeoutMs: -1 }));
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid.code).toBe('INVALID_INPUT');
    expect(invalid.details?.['issues']).toBeDefined();

    // Another tenant's task is reported exactly as a missing one.
    const { task } = await admin.execute('default', { agent: 'echo' }, { wait: 5000 });
    const other = new WardenClient({ baseUrl: base, apiKey: keys['other']! });
    expect((await rejectionOf(other.getTask(task.id!))).code).toBe('TASK_NOT_FOUND');
  });

  it('an unreachable server and a bad URL are coded too', async () => {
    const nowhere = new WardenClient({ baseUrl: 'http://127.0.0.1:1', retry: false });
    const down = await rejectionOf(nowhere.health());
    expect(down).toMatchObject({ code: 'SERVER_UNREACHABLE', status: 0 });
    const bad = await rejectionOf(Promise.resolve().then(() => new WardenClient({ baseUrl: 'ftp://x' })));
    expect(bad.code).toBe('INVALID_INPUT');
  });
});
