// Every route of the OpenAPI document is callable through WardenClient.request with typed inputs: the
// table below is type-checked against the generated paths, and the test fails when the document has an
// operation the table does not call (a new route must come with its client call).
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { WardenClient, isWardenApiError, type OperationId } from '../../src/client/index.js';
import { Warden } from '../../src/index.js';

let root: string;
let warden: Warden;
let app: FastifyInstance;
let client: WardenClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  // Not tempDir(): that one is removed after each test, and this Warden serves the whole file.
  root = mkdtempSync(join(tmpdir(), 'warden-client-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 4 } });
  await warden.registerHandler('echo', (input: unknown) => ({ got: input }), { shared: true });
  await warden.registerHandler(
    'poison',
    () => {
      throw new Error('always fails');
    },
    { retry: { maxAttempts: 1 }, shared: true },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { key } = await createApiKey(warden.store, {
    tenant: 'default',
    role: 'admin',
    name: 'routes',
    installation: true,
  });
  client = new WardenClient({
    baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    apiKey: key,
  });
  const ok = await client.execute('default', { agent: 'echo', input: { n: 1 } }, { wait: 5000 });
  ids['task'] = ok.task.id!;
  const dead = await client.execute('default', { agent: 'poison' }, { wait: 5000 });
  ids['dead'] = dead.task.id!;
  ids['trace'] = (await client.createTrace({ session: 'default', data: { note: 'x' } })).id!;
}, 30_000);

afterAll(async () => {
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

/** One typed call per operationId of the document. */
const calls: Record<OperationId, () => Promise<unknown>> = {
  whoami: () => client.request('get', '/whoami'),
  getHealth: () => client.request('get', '/health'),
  createSession: () => client.request('post', '/sessions', { body: { name: 'routes' } }),
  listSessions: () => client.request('get', '/sessions'),
  getSession: () => client.request('get', '/sessions/{id}', { params: { id: 'default' } }),
  executeTask: () =>
    client.request('post', '/sessions/{id}/execute', {
      params: { id: 'default' },
      query: { wait: '5000' },
      body: { agent: 'echo', input: 1 },
    }),
  listTasks: () => client.request('get', '/tasks', { query: { limit: '5' } }),
  getTask: () => client.request('get', '/tasks/{id}', { params: { id: ids['task']! } }),
  cancelTask: () => client.request('post', '/tasks/{id}/cancel', { params: { id: ids['task']! } }),
  // A finished task's stream sends the snapshot, its logs and the result, then ends.
  streamTaskEvents: () => client.request('get', '/tasks/{id}/events', { params: { id: ids['task']! } }),
  streamEvents: async () => {
    const stop = new AbortController();
    for await (const e of client.events({ session: 'default' }, { signal: stop.signal })) {
      stop.abort();
      return e;
    }
  },
  getTaskHistory: () => client.request('get', '/tasks/{id}/history', { params: { id: ids['task']! } }),
  listAgents: () => client.request('get', '/agents'),
  registerAgent: () =>
    client.request('post', '/agents', {
      body: {
        manifest:
          'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: up, version: 1.0.0 }\nspec:\n  runtime: node\n  entry: ./main.js\n',
        files: { 'main.js': btoa('process.stdin.pipe(process.stdout)') },
      },
    }),
  getAgentHealth: () =>
    client.request('get', '/agents/health', { query: { agent: 'echo', timeoutMs: '1000' } }),
  getAgentStatus: () => client.request('get', '/agents/status'),
  resetAgentBreaker: () =>
    client.request('post', '/agents/{agent}/breaker/reset', { params: { agent: 'echo' } }),
  getAgentKpi: () => client.request('get', '/agents/{agent}/kpi', { params: { agent: 'echo' } }),
  putTaskFeedback: () =>
    client.request('post', '/tasks/{id}/feedback', { params: { id: ids['task']! }, body: { score: 1 } }),
  listTraces: () => client.request('get', '/traces', { query: { session: 'default' } }),
  createTrace: () => client.request('post', '/traces', { body: { session: 'default', data: { a: 1 } } }),
  getTrace: () => client.request('get', '/traces/{id}', { params: { id: ids['trace']! } }),
  listTraceProvenance: () =>
    client.request('get', '/traces/{id}/provenance', { params: { id: ids['trace']! } }),
  appendTraceProvenance: () =>
    client.request('post', '/traces/{id}/provenance', {
      params: { id: ids['trace']! },
      body: { kind: 'review' },
    }),
  putMemory: () =>
    client.request('post', '/sessions/{session}/memory', {
      params: { session: 'default' },
      body: { text: 'hi' },
    }),
  listMemory: () => client.request('get', '/sessions/{session}/memory', { params: { session: 'default' } }),
  searchMemory: () =>
    client.request('post', '/sessions/{session}/memory/search', {
      params: { session: 'default' },
      body: { query: 'hi' },
    }),
  getMemory: () => client.request('get', '/memory/{id}', { params: { id: 'no-such-memory' } }),
  forgetMemory: () => client.request('delete', '/memory/{id}', { params: { id: 'no-such-memory' } }),
  getSchedulerStats: () => client.request('get', '/scheduler/stats'),
  listDeadLetters: () => client.request('get', '/dlq', { query: { limit: '10' } }),
  replayDeadLetter: () => client.request('post', '/dlq/{id}/replay', { params: { id: 'no-such-task' } }),
  purgeDeadLetters: () => client.request('post', '/dlq/purge', { body: { ids: ['no-such-task'] } }),
  getMetrics: () => client.request('get', '/metrics'),
  findKnee: () =>
    client.request('post', '/rd/knee', {
      body: {
        points: [
          { distortion: 1, variance: 0.1 },
          { distortion: 0.3, variance: 0.2 },
          { distortion: 0.2, variance: 0.4 },
        ],
      },
    }),
  findKneeByQuery: () =>
    client.request('get', '/rd/knee', {
      query: {
        points: JSON.stringify([
          { distortion: 1, variance: 0.1 },
          { distortion: 0.3, variance: 0.2 },
          { distortion: 0.2, variance: 0.4 },
        ]),
      },
    }),
  measureFgw: () =>
    client.request('post', '/rd/fgw', {
      body: { a: { nodes: 2, edges: [[0, 1]] }, b: { nodes: 2, edges: [[0, 1]] } },
    }),
  getGovernanceStats: () => client.request('get', '/governance/stats'),
  listFlags: () => client.request('get', '/governance/flags'),
  flagTask: () =>
    client.request('post', '/governance/flag', {
      body: { taskId: ids['task']!, type: 'other', severity: 1, reason: 'checking the route' },
    }),
  screenText: () => client.request('post', '/governance/screen', { body: { text: 'hello' } }),
  validateMerge: () =>
    client.request('post', '/governance/validate-merge', {
      body: { session: 'default', ids: [ids['trace']!] },
    }),
  releaseTask: () => client.request('post', '/governance/release', { body: { taskId: ids['task']! } }),
  exportProvenance: () => client.exportProvenance({ session: 'default' }),
  createEdgeInvite: () => client.request('post', '/edge/invites', { body: {} }),
  listEdgeNodes: () => client.request('get', '/edge/nodes'),
  revokeEdgeNode: () =>
    client.request('delete', '/edge/nodes/{nodeId}', { params: { nodeId: 'no-such-node' } }),
  explainRoute: () => client.request('post', '/route/explain', { body: { intent: 'echo this text back' } }),
  listRollouts: () => client.request('get', '/rollouts'),
  getOverview: () => client.request('get', '/stats/overview'),
};

describe('every operation of the OpenAPI document', () => {
  it('has a typed client call, and each reaches its route', async () => {
    const doc = app.swagger() as unknown as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const documented = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops).map((o) => o.operationId),
    );
    expect(new Set(Object.keys(calls))).toEqual(new Set(documented));
    const outcomes: Record<string, string> = {};
    for (const [op, call] of Object.entries(calls)) {
      try {
        await call();
        outcomes[op] = 'ok';
      } catch (err) {
        if (!isWardenApiError(err)) throw err;
        // A coded answer of the route (a bad id, a state that does not apply) is fine; "No route" is not.
        expect(err.message, op).not.toMatch(/^No route/);
        expect(err.httpStatus, op).toBeGreaterThanOrEqual(400);
        outcomes[op] = err.code;
      }
    }
    // The ones with real data succeed.
    for (const op of [
      'whoami',
      'executeTask',
      'getTask',
      'streamTaskEvents',
      'streamEvents',
      'registerAgent',
      'findKnee',
      'findKneeByQuery',
      'exportProvenance',
      'getMetrics',
    ])
      expect(outcomes[op], op).toBe('ok');
    expect(outcomes['getMemory']).toBe('MEMORY_NOT_FOUND');
    expect(outcomes['revokeEdgeNode']).toBe('EDGE_NODE_NOT_FOUND');
  }, 60_000);
});
