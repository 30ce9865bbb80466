import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import { eventually, sandboxIfAvailable } from '../helpers.js';

// What the dashboard's Agents and Dead letters pages rely on: registering from pasted agent.yaml text with
// base64 code files as the browser sends them, INVALID_MANIFEST issues with their lines (listed under the
// form), which breakers a tenant may reset (the page offers the button only for its own versions), and the
// dead-letter list, replay and purge staying within the key's tenant.

let warden: Warden;
let root: string;
let app: FastifyInstance;
const key = {} as Record<'admin' | 'operator' | 'viewer' | 'otherOperator', string>;

function call(method: 'GET' | 'POST', url: string, who: keyof typeof key, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key[who]}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

const failingYaml = `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: broken, version: 1.0.0 }
spec:
  runtime: node
  entry: ./main.js
  retry: { maxAttempts: 1 }
  circuitBreaker: { failureThreshold: 1, cooldownMs: 600000 }
`;
// What FileReader-free btoa() of the uploaded main.js gives: plain base64.
const failingJs = Buffer.from("process.stderr.write('no');process.exit(3);").toString('base64');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-ui-agents-dlq-'));
  warden = await Warden.open({
    storage: { root },
    workers: { concurrency: 2 },
    sandbox: sandboxIfAvailable(),
  });
  // The installation's shared handler: its breaker guards every tenant, so no tenant may reset it.
  await warden.registerHandler(
    'shared-poison',
    () => {
      throw new Error('always fails');
    },
    { shared: true, retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 1, cooldownMs: 600_000 } },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
  for (const role of ['admin', 'operator', 'viewer'] as const)
    key[role] = (await createApiKey(warden.store, { tenant: 'acme', role, name: role })).key;
  key.otherOperator = (
    await createApiKey(warden.store, { tenant: 'globex', role: 'operator', name: 'o' })
  ).key;
  for (const who of ['operator', 'otherOperator'] as const)
    expect((await call('POST', '/sessions', who, { name: 'work' })).statusCode).toBe(201);
}, 60_000);

afterAll(async () => {
  await app?.close();
  await warden?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('Agents page API', () => {
  it('lists every INVALID_MANIFEST issue with its field and line', async () => {
    const res = await call('POST', '/agents', 'admin', {
      manifest:
        'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: Bad_Name, version: 1.0.0 }\nspec:\n  runtime: nodejs\n',
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json<{
      error: { code: string; details: { issues: { path: string; line?: number }[] } };
    }>();
    expect(error.code).toBe('INVALID_MANIFEST');
    expect(error.details.issues.map((i) => [i.path, i.line])).toEqual([
      ['metadata.name', 3],
      ['spec.runtime', 5],
    ]);
  });

  it('refuses registration to an operator key (the form is admin only)', async () => {
    const res = await call('POST', '/agents', 'operator', {
      manifest: failingYaml,
      files: { 'main.js': failingJs },
    });
    expect(res.statusCode).toBe(403);
  });

  it("registers pasted yaml with its code, and resets only the tenant's own breakers", async () => {
    const res = await call('POST', '/agents', 'admin', {
      manifest: failingYaml,
      files: { 'main.js': failingJs },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ key: 'acme/broken@1.0.0', runtime: 'node', shared: false });
    expect(res.json<{ moduleDigest: string | null }>().moduleDigest).toMatch(/^[0-9a-f]{64}$/);

    for (const agent of ['broken', 'shared-poison']) {
      const run = await call('POST', '/sessions/work/execute?wait=20000', 'operator', { agent, input: {} });
      expect(run.json<{ task: { state: string } }>().task.state).toBe('dead');
    }
    type Status = { key: string; tenant: string; circuitBreaker: { state: string } };
    const breakers = async () =>
      Object.fromEntries(
        (await call('GET', '/agents/status', 'viewer'))
          .json<Status[]>()
          .map((s) => [s.key, `${s.tenant}:${s.circuitBreaker.state}`]),
      );
    await eventually(async () => (await breakers())['acme/broken@1.0.0'] === 'acme:open', 10_000, 'open');
    expect((await breakers())['shared-poison@1.0.0']).toBe('default:open');

    // What the page hides: a shared version's breaker (tenant differs from the key's) cannot be reset.
    const shared = await call('POST', '/agents/shared-poison@1.0.0/breaker/reset', 'operator');
    expect(shared.json<{ error: { code: string } }>().error.code).toBe('AGENT_NOT_FOUND');
    expect((await call('POST', '/agents/broken@1.0.0/breaker/reset', 'viewer')).statusCode).toBe(403);
    const own = await call('POST', '/agents/broken@1.0.0/breaker/reset', 'operator');
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({
      reset: [{ agent: 'acme/broken@1.0.0', previous: { state: 'open' } }],
    });
    expect((await breakers())['acme/broken@1.0.0']).toBe('acme:closed');
  }, 60_000);
});

describe('Dead letters page API', () => {
  it("lists, replays and purges only the key's tenant's dead letters", async () => {
    const dead = async (who: 'operator' | 'otherOperator') => {
      // The shared breaker opens on each failure: close it as the installation would, then run.
      await warden.resetBreaker('shared-poison@1.0.0');
      const run = await call('POST', '/sessions/work/execute?wait=20000', who, {
        agent: 'shared-poison@1.0.0',
      });
      return run.json<{ task: { id: string } }>().task.id;
    };
    const ours = await dead('operator');
    const theirs = await dead('otherOperator');
    type Letter = { taskId: string; agentKey: string; attempts: number; error: { code: string } };
    const list = async (who: 'viewer' | 'otherOperator') => (await call('GET', '/dlq', who)).json<Letter[]>();
    await eventually(
      async () => (await list('viewer')).some((l) => l.taskId === ours),
      10_000,
      'dead letter',
    );
    const mine = await list('viewer');
    expect(mine.map((l) => l.taskId)).toContain(ours);
    expect(mine.map((l) => l.taskId)).not.toContain(theirs);
    expect(mine.find((l) => l.taskId === ours)).toMatchObject({
      agentKey: 'shared-poison@1.0.0',
      attempts: 1,
      error: { code: 'AGENT_FAILED' },
    });

    // Another tenant's operator: not found, and purging by id touches nothing.
    const foreign = await call('POST', `/dlq/${ours}/replay`, 'otherOperator');
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json<{ error: { code: string } }>().error.code).toBe('TASK_NOT_FOUND');
    expect((await call('POST', '/dlq/purge', 'otherOperator', { ids: [ours] })).json()).toEqual({
      purged: 0,
    });
    expect((await list('viewer')).map((l) => l.taskId)).toContain(ours);

    // The viewer sees but may not act (the page renders no buttons for it).
    expect((await call('POST', `/dlq/${ours}/replay`, 'viewer')).statusCode).toBe(403);
    expect((await call('POST', '/dlq/purge', 'viewer', { ids: [ours] })).statusCode).toBe(403);

    // Replay puts it back in the queue with fresh attempts; this agent fails again, so it dies again.
    await warden.resetBreaker('shared-poison@1.0.0');
    const replayed = await call('POST', `/dlq/${ours}/replay`, 'operator');
    expect(replayed.statusCode, replayed.body).toBe(200);
    expect(replayed.json()).toMatchObject({ id: ours, state: 'queued', maxAttempts: 2 });
    await eventually(async () => (await list('viewer')).some((l) => l.taskId === ours), 10_000, 'dead again');

    // The page's "purge selected" sends the ids it shows.
    const purged = await call('POST', '/dlq/purge', 'operator', { ids: mine.map((l) => l.taskId) });
    expect(purged.json()).toEqual({ purged: mine.length });
    expect(await list('viewer')).toEqual([]);
    expect((await list('otherOperator')).map((l) => l.taskId)).toEqual([theirs]);
  }, 60_000);
});
