import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { agentMatches } from '../src/api/routes/events.js';
import { Warden } from '../src/index.js';
import type { ChangeFeed } from '../src/store/index.js';
import { eventually, sleep, tempDir } from './helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './scale-out/pg.js';

// GET /events: the tenant-wide stream of task changes the dashboard's Tasks page follows. Over real HTTP
// (SSE needs a real connection), with a real Warden on SQLite, and across two Wardens on PostgreSQL.

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

interface Stream {
  status: number;
  contentType: string | null;
  events: SseEvent[];
  /** Everything received, comments included. */
  raw(): string;
  close(): Promise<void>;
}

/** Opens GET /events with `key` and parses its events as they arrive, until close(). */
async function openStream(address: string, key: string, query = ''): Promise<Stream> {
  const controller = new AbortController();
  const res = await fetch(`${address}/events${query}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let raw = '';
  let buffer = '';
  const reading = (async () => {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    raw: () => raw,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

const tasksOf = (s: Stream, id?: string) =>
  s.events.filter((e) => e.event === 'task' && (id === undefined || e.data['id'] === id));
const statesOf = (s: Stream, id: string) => tasksOf(s, id).map((e) => e.data['state']);

/** Counts the live subscriptions to a feed's onTask and onResync (a stream that leaks one shows here). */
function countFollowers(feed: ChangeFeed): () => number {
  let live = 0;
  for (const method of ['onTask', 'onResync'] as const) {
    const original = feed[method].bind(feed) as (l: never) => () => void;
    (feed as unknown as Record<string, unknown>)[method] = (listener: never) => {
      const off = original(listener);
      live++;
      let on = true;
      return () => {
        if (on) live--;
        on = false;
        off();
      };
    };
  }
  return () => live;
}

describe('GET /events on SQLite', () => {
  let warden: Warden;
  let app: FastifyInstance;
  let address: string;
  let followers: () => number;
  const key: Record<string, string> = {};
  const session: Record<string, string> = {};
  /** Gates the `gate` agent's tasks wait on, by input.gate. */
  const gates = new Map<string, () => void>();
  const gate = (name: string) => new Promise<void>((resolve) => gates.set(name, resolve));
  const open = (who: string, query = '') => openStream(address, key[who]!, query);
  const streams: Stream[] = [];
  /** Opens a stream and waits for its `ready` (closed after the file). */
  async function follow(who: string, query = ''): Promise<Stream> {
    const s = await open(who, query);
    streams.push(s);
    await eventually(() => s.events.length > 0, 5000, 'ready');
    return s;
  }

  beforeAll(async () => {
    warden = await Warden.open({ storage: { root: tempDir() }, workers: { concurrency: 8 } });
    followers = countFollowers(warden.changes);
    // One at a time per session: a second task waits, queued, behind the first.
    const waiting = new Map<string, Promise<void>>();
    await warden.registerHandler(
      'gate',
      async (input: { gate: string }) => {
        if (!waiting.has(input.gate)) waiting.set(input.gate, gate(input.gate));
        await waiting.get(input.gate);
        return { opened: input.gate };
      },
      { tenant: 'acme', concurrency: 1 },
    );
    for (const name of ['waiting', 'held']) waiting.set(name, gate(name));
    await warden.registerHandler('quick', (input: unknown) => input, { tenant: 'acme' });
    await warden.registerHandler('other', () => 'done', { tenant: 'acme' });
    await warden.registerHandler('globex-quick', () => 'mine', { tenant: 'globex' });
    app = await buildServer(warden, { logger: false, rateLimit: false });
    address = await app.listen({ port: 0, host: '127.0.0.1' });
    for (const [name, tenant, role] of [
      ['viewerA', 'acme', 'viewer'],
      ['viewerB', 'globex', 'viewer'],
    ] as const)
      key[name] = (await createApiKey(warden.apiKeys, { tenant, role, name })).key;
    session['research'] = (await warden.ensureSession({ name: 'research', tenant: 'acme' })).id;
    session['ops'] = (await warden.ensureSession({ name: 'ops', tenant: 'acme' })).id;
    session['globex'] = (await warden.ensureSession({ name: 'research', tenant: 'globex' })).id;
  });
  afterAll(async () => {
    for (const s of streams) await s.close();
    for (const open of gates.values()) open();
    await app?.close();
    await warden?.close();
  });

  it('streams a task queued → running → succeeded to its tenant, and nothing of it to another tenant', async () => {
    const a = await follow('viewerA');
    const b = await follow('viewerB');
    expect(a.status).toBe(200);
    expect(a.contentType).toMatch(/^text\/event-stream/);
    expect(a.events[0]).toMatchObject({ event: 'ready', data: { tenant: 'acme', at: expect.any(Number) } });
    expect(b.events[0]).toMatchObject({ event: 'ready', data: { tenant: 'globex' } });

    // The first task holds the session's only slot for `gate`: the second waits, queued.
    const first = await warden.submit({
      agent: 'gate',
      session: session['research'],
      input: { gate: 'held' },
    });
    await eventually(() => statesOf(a, first.id).includes('running'), 5000, 'the first task running');
    const task = await warden.submit({
      agent: 'gate',
      session: session['research'],
      input: { gate: 'waiting' },
      priority: 'high',
      metadata: { ticket: 7 },
    });
    await eventually(() => statesOf(a, task.id).includes('queued'), 5000, 'queued');
    gates.get('held')!();
    await eventually(() => statesOf(a, task.id).includes('running'), 5000, 'running');
    gates.get('waiting')!();
    await eventually(() => statesOf(a, task.id).includes('succeeded'), 5000, 'succeeded');

    expect(statesOf(a, task.id)).toEqual(['queued', 'running', 'succeeded']);
    const done = tasksOf(a, task.id).at(-1)!.data;
    // The task as GET /tasks lists it: the stored fields, without the input.
    const listed = await app.inject({
      method: 'GET',
      url: `/tasks?session=research`,
      headers: { authorization: `Bearer ${key['viewerA']}` },
    });
    expect(listed.json<{ tasks: unknown[] }>().tasks).toContainEqual(done);
    expect(done).toMatchObject({
      id: task.id,
      sessionId: session['research'],
      agent: 'acme/gate@1.0.0',
      priority: 'high',
      state: 'succeeded',
      attempts: 1,
      metadata: { ticket: 7 },
    });
    expect(done).not.toHaveProperty('input');

    // Tenant isolation: globex's stream never carried a task, nor any of acme's ids.
    await sleep(300);
    expect(tasksOf(b)).toEqual([]);
    expect(b.raw()).not.toContain(task.id);
    expect(b.raw()).not.toContain(first.id);
  });

  it('applies the session, agent, state and priority filters to each event', async () => {
    const all = await follow('viewerA');
    const filtered = {
      bySession: await follow('viewerA', '?session=ops'),
      bySessionId: await follow('viewerA', `?session=${session['ops']}`),
      byAgentName: await follow('viewerA', '?agent=quick'),
      byAgentVersion: await follow('viewerA', `?agent=${encodeURIComponent('acme/other@1.0.0')}`),
      byState: await follow('viewerA', '?state=succeeded'),
      byPriority: await follow('viewerA', '?priority=low'),
      combined: await follow('viewerA', '?session=research&agent=quick&state=succeeded&priority=low'),
    };
    const quickResearch = await warden.submit({
      agent: 'quick',
      session: session['research'],
      priority: 'low',
    });
    const otherOps = await warden.submit({ agent: 'other', session: session['ops'] });
    const quickOps = await warden.submit({ agent: 'quick', session: session['ops'], priority: 'critical' });
    const ids = [quickResearch.id, otherOps.id, quickOps.id];
    for (const id of ids) await warden.result(id, { timeoutMs: 5000 });
    await eventually(
      () => ids.every((id) => statesOf(all, id).includes('succeeded')),
      5000,
      'every task succeeded on the unfiltered stream',
    );
    await sleep(300); // a flush or two more: a late event would show

    const seen = (s: Stream) =>
      new Set(
        tasksOf(s)
          .map((e) => e.data['id'])
          .filter((id) => ids.includes(id as string)),
      );
    expect(seen(filtered.bySession)).toEqual(new Set([otherOps.id, quickOps.id]));
    expect(seen(filtered.bySessionId)).toEqual(new Set([otherOps.id, quickOps.id]));
    expect(seen(filtered.byAgentName)).toEqual(new Set([quickResearch.id, quickOps.id]));
    expect(seen(filtered.byAgentVersion)).toEqual(new Set([otherOps.id]));
    expect(seen(filtered.byState)).toEqual(new Set(ids));
    expect(tasksOf(filtered.byState).every((e) => e.data['state'] === 'succeeded')).toBe(true);
    expect(seen(filtered.byPriority)).toEqual(new Set([quickResearch.id]));
    expect(tasksOf(filtered.byPriority).every((e) => e.data['priority'] === 'low')).toBe(true);
    expect(tasksOf(filtered.combined).map((e) => [e.data['id'], e.data['state']])).toEqual([
      [quickResearch.id, 'succeeded'],
    ]);
  });

  it("coalesces a task's changes within one flush into one event with its stored state", async () => {
    const done = await warden.submit({ agent: 'quick', session: session['research'] });
    await warden.result(done.id, { timeoutMs: 5000 });
    const a = await follow('viewerA');
    for (const state of ['queued', 'running', 'succeeded'])
      warden.changes.publishTask({ taskId: done.id, state, sessionId: session['research']! });
    await eventually(() => tasksOf(a, done.id).length > 0, 5000, 'the event');
    await sleep(300);
    expect(statesOf(a, done.id)).toEqual(['succeeded']);
    // The same stored version is not sent again when another change about it comes in.
    warden.changes.publishTask({ taskId: done.id, state: 'succeeded', sessionId: session['research']! });
    await sleep(300);
    expect(statesOf(a, done.id)).toEqual(['succeeded']);
  });

  it('matches agents as GET /tasks does: a name is every version, name@version exactly', () => {
    expect(agentMatches('acme/quick@1.0.0', 'quick')).toBe(true);
    expect(agentMatches('quick@2.0.0', 'quick')).toBe(true);
    expect(agentMatches('acme/quicker@1.0.0', 'quick')).toBe(false);
    expect(agentMatches('acme/quick@1.0.0', 'acme/quick@1.0.0')).toBe(true);
    expect(agentMatches('acme/quick@1.0.0', 'quick@1.0.0')).toBe(false);
    expect(agentMatches('acme/quick@1.0.1', 'acme/quick@1.0.0')).toBe(false);
  });

  it("never sends another tenant's task, even when a change names one of the tenant's sessions", async () => {
    const a = await follow('viewerA');
    const theirs = await warden.submit({ agent: 'globex-quick', session: session['globex'] });
    await warden.result(theirs.id, { timeoutMs: 5000 });
    // A change that claims globex's task is in acme's session: the stored task's session decides.
    warden.changes.publishTask({ taskId: theirs.id, state: 'succeeded', sessionId: session['research']! });
    await sleep(400);
    expect(a.raw()).not.toContain(theirs.id);
  });

  it("answers 400 for a bad filter, 404 for a session that is not the tenant's, 401 without a key", async () => {
    const get = (url: string, who?: string) =>
      app.inject({ method: 'GET', url, headers: who ? { authorization: `Bearer ${key[who]}` } : {} });
    for (const query of ['state=sleeping', 'priority=urgent', 'priority=HIGH', 'agent=', 'colour=red']) {
      const res = await get(`/events?${query}`, 'viewerA');
      expect(res.statusCode, query).toBe(400);
      expect(res.json(), query).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    for (const query of ['session=nope', `session=${session['globex']}`]) {
      const res = await get(`/events?${query}`, 'viewerA');
      expect(res.statusCode, query).toBe(404);
      expect(res.json(), query).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });
    }
    expect((await get('/events')).statusCode).toBe(401);
    expect((await get('/events', undefined)).json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('sends resync when too many tasks changed at once, when the feed resyncs, and when a read fails', async () => {
    const a = await follow('viewerA');
    const resyncs = () => a.events.filter((e) => e.event === 'resync');
    for (let i = 0; i < 501; i++)
      warden.changes.publishTask({ taskId: `burst-${i}`, state: 'queued', sessionId: session['research']! });
    await eventually(() => resyncs().length === 1, 5000, 'a resync after a burst');
    expect(resyncs()[0]!.data).toEqual({ reason: expect.stringMatching(/more than 500/) });
    expect(tasksOf(a)).toEqual([]);

    // The feed reconnected (what PostgreSQL's does after a dropped connection): changes may be lost.
    (warden.changes as unknown as { deliver(event: 'resync'): void }).deliver('resync');
    await eventually(() => resyncs().length === 2, 5000, 'a resync after the feed resynced');

    // The store fails reads: the stream says resync and goes on, the process too.
    const findTask = vi.spyOn(warden, 'findTask').mockRejectedValue(new Error('disk on fire'));
    try {
      const lost = await warden.submit({ agent: 'quick', session: session['research'] });
      await warden.result(lost.id, { timeoutMs: 5000 });
      await eventually(() => resyncs().length === 3, 5000, 'a resync after a failed read');
      expect(resyncs()[2]!.data['reason']).toMatch(/could not read/);
      expect(a.raw()).not.toContain(lost.id);
    } finally {
      findTask.mockRestore();
    }
    const next = await warden.submit({ agent: 'quick', session: session['research'] });
    await eventually(() => statesOf(a, next.id).includes('succeeded'), 5000, 'the stream going on');
  });

  it('leaves no listener behind when the client disconnects', async () => {
    const before = followers();
    const taskListeners = warden.events.listenerCount('task');
    const s = await open('viewerA', '?state=running');
    await eventually(() => s.events.length > 0, 5000, 'ready');
    expect(followers()).toBe(before + 2);
    await s.close();
    await eventually(() => followers() === before, 5000, 'the stream to unsubscribe');
    expect(warden.events.listenerCount('task')).toBe(taskListeners);
    // Changes after the close go nowhere (and write nothing to the closed response).
    const after = await warden.submit({ agent: 'quick', session: session['research'] });
    await warden.result(after.id, { timeoutMs: 5000 });
    await sleep(200);
    expect(followers()).toBe(before);
  });

  it('publishes the route in the OpenAPI document as an event stream', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get: Record<string, unknown> }>;
    }>();
    const op = doc.paths['/events']!.get;
    expect(op).toMatchObject({ operationId: 'streamEvents', tags: ['tasks'] });
    expect(op['responses']).toHaveProperty(['200', 'content', 'text/event-stream']);
  });
});

const pgOk = await requirePostgres('the GET /events test across two Wardens on PostgreSQL');

describe.skipIf(!pgOk)('GET /events on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('shows a task that another Warden instance submitted and ran', async () => {
    const a = await Warden.open({ storage: { postgres: db.url, root: tempDir() }, workers: false });
    const b = await Warden.open({ storage: { postgres: db.url, root: tempDir() } });
    const app = await buildServer(a, { logger: false, rateLimit: false });
    let stream: Stream | undefined;
    try {
      expect(a.changes.reach).toBe('shared');
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      await b.registerHandler(
        'remote',
        async () => {
          await released;
          return 'ran on b';
        },
        { tenant: 'acme' },
      );
      const { key } = await createApiKey(a.apiKeys, { tenant: 'acme', role: 'viewer', name: 'v' });
      const { key: otherKey } = await createApiKey(a.apiKeys, {
        tenant: 'globex',
        role: 'viewer',
        name: 'g',
      });
      const sessionId = (await b.ensureSession({ name: 'shared', tenant: 'acme' })).id;
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      stream = await openStream(address, key);
      const other = await openStream(address, otherKey);
      await eventually(() => stream!.events.length > 0 && other.events.length > 0, 5000, 'ready');

      const task = await b.submit({ agent: 'remote', session: sessionId });
      await eventually(() => statesOf(stream!, task.id).includes('running'), 10_000, 'running, seen on A');
      release();
      await eventually(
        () => statesOf(stream!, task.id).includes('succeeded'),
        10_000,
        'succeeded, seen on A',
      );
      expect(statesOf(stream, task.id).at(-1)).toBe('succeeded');
      expect(tasksOf(stream, task.id).at(-1)!.data).toMatchObject({ sessionId, agent: 'acme/remote@1.0.0' });
      await other.close();
      expect(other.raw()).not.toContain(task.id);
    } finally {
      await stream?.close();
      await app.close();
      await b.close();
      await a.close();
    }
  });
});
