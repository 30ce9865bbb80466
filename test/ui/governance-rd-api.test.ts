import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import { INJECTED_OUTPUT } from '../fixtures/prompts.js';

// What the dashboard's Governance and Rate–distortion pages read: GET /governance/flags (added for the
// quarantine list), release, and the FGW and knee answers the pages draw.

const ROOT = new URL('../..', import.meta.url).pathname;

let warden: Warden;
let root: string;
let app: FastifyInstance;
const key = {} as Record<'admin' | 'operator' | 'viewer' | 'otherViewer', string>;
let quarantined: string;
let clean: string;

function call(method: 'GET' | 'POST', url: string, who: keyof typeof key, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key[who]}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-ui-gov-rd-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 2 } });
  // A stand-in for an LLM agent (capability 'text' puts it in the detectors' scope) whose reply, when asked,
  // carries a prompt injection: a strict session quarantines that result.
  await warden.registerHandler(
    'chat',
    (input: { prompt: string }) => ({ reply: input.prompt === 'inject' ? INJECTED_OUTPUT : 'fine' }),
    { capabilities: ['text'], shared: true },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false, rd: { budgetMs: 60_000 } });
  for (const role of ['admin', 'operator', 'viewer'] as const)
    key[role] = (await createApiKey(warden.store, { tenant: 'acme', role, name: role })).key;
  key.otherViewer = (await createApiKey(warden.store, { tenant: 'globex', role: 'viewer', name: 'v' })).key;
  const created = await call('POST', '/sessions', 'operator', { name: 'strict-s', policy: 'strict' });
  expect(created.statusCode, created.body).toBe(201);
  const exec = async (prompt: string) => {
    const res = await call('POST', '/sessions/strict-s/execute?wait=10000', 'operator', {
      agent: 'chat',
      input: { prompt },
    });
    return res.json<{ task: { id: string; state: string } }>().task;
  };
  const q = await exec('inject');
  expect(q.state).toBe('quarantined');
  quarantined = q.id;
  clean = (await exec('hello')).id;
}, 60_000);

afterAll(async () => {
  await app.close();
  await warden.close();
  rmSync(root, { recursive: true, force: true });
});

interface Flag {
  taskId: string;
  type: string;
  severity: number;
  stage: string;
  reason: string;
}

describe('GET /governance/flags', () => {
  it("gives a quarantined task's flags to a viewer: what the Governance page shows beside it", async () => {
    const listed = await call('GET', '/tasks?state=quarantined', 'viewer');
    expect(listed.json<{ tasks: { id: string }[] }>().tasks.map((t) => t.id)).toEqual([quarantined]);
    const res = await call('GET', `/governance/flags?task=${quarantined},${clean}`, 'viewer');
    expect(res.statusCode, res.body).toBe(200);
    const { flags } = res.json<{ flags: Flag[] }>();
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.every((f) => f.taskId === quarantined)).toBe(true);
    expect(flags.some((f) => f.type === 'Jailbreak' && f.stage === 'output' && f.severity >= 5)).toBe(true);
  });

  it('filters by session, and needs a filter', async () => {
    const bySession = await call('GET', '/governance/flags?session=strict-s&limit=1', 'viewer');
    expect(bySession.json<{ flags: Flag[] }>().flags).toHaveLength(1);
    const none = await call('GET', '/governance/flags', 'viewer');
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    const tooMany = Array.from({ length: 101 }, (_, i) => `t${i}`).join(',');
    expect((await call('GET', `/governance/flags?task=${tooMany}`, 'viewer')).statusCode).toBe(400);
    expect((await call('GET', '/governance/flags?task=x&limit=0', 'viewer')).statusCode).toBe(400);
  });

  it("answers another tenant's task or session as missing, without its flags", async () => {
    const byTask = await call('GET', `/governance/flags?task=${quarantined}`, 'otherViewer');
    expect(byTask.statusCode).toBe(404);
    expect(byTask.json()).toMatchObject({ error: { code: 'TASK_NOT_FOUND' } });
    expect(byTask.body).not.toContain('instructions');
    const bySession = await call('GET', '/governance/flags?session=strict-s', 'otherViewer');
    expect(bySession.statusCode).toBe(404);
  });
});

describe('release from the Governance page', () => {
  it('an operator is refused (the page shows the button to admins only); an admin releases', async () => {
    const refused = await call('POST', '/governance/release', 'operator', { taskId: quarantined });
    expect(refused.statusCode).toBe(403);
    const res = await call('POST', '/governance/release', 'admin', { taskId: quarantined, reason: 'ok' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ state: string }>().state).toBe('succeeded');
    const listed = await call('GET', '/tasks?state=quarantined', 'viewer');
    expect(listed.json<{ tasks: unknown[] }>().tasks).toEqual([]);
    // The flags stay: the release does not erase why the task was held.
    const flags = await call('GET', `/governance/flags?task=${quarantined}`, 'viewer');
    expect(flags.json<{ flags: Flag[] }>().flags.length).toBeGreaterThan(0);
  });
});

describe('what the Rate–distortion page draws', () => {
  it('POST /rd/fgw answers the transport plan (coupling) the heat map draws, rows × cols', async () => {
    const a = JSON.parse(readFileSync(join(ROOT, 'examples/rd/plan-a.json'), 'utf8')) as { nodes: number };
    const b = JSON.parse(readFileSync(join(ROOT, 'examples/rd/plan-b.json'), 'utf8')) as { nodes: number };
    const res = await call('POST', '/rd/fgw', 'operator', { a, b });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json<{ distance: number; iterations: number; coupling: number[][] }>();
    expect(r.coupling).toHaveLength(a.nodes);
    expect(r.coupling.every((row) => row.length === b.nodes)).toBe(true);
    const mass = r.coupling.flat().reduce((s, x) => s + x, 0);
    expect(mass).toBeCloseTo(1, 9);
    expect(r.distance).toBeGreaterThan(0);
  });

  it('POST /rd/knee takes (rate, distortion) points once converted to variance = D·4^R', async () => {
    // The page accepts [rate, distortion] pairs; R = ½·log2(σ²/D), so σ² = D·4^R gives back the same rate.
    const pairs = [
      [0.05, 9],
      [0.5, 5],
      [1.1, 2.6],
      [1.6, 1.3],
      [1.9, 0.9],
      [2.1, 0.7],
      [2.2, 0.6],
      [2.25, 0.55],
    ] as const;
    const points = pairs.map(([rate, distortion]) => ({ distortion, variance: distortion * 4 ** rate }));
    const res = await call('POST', '/rd/knee', 'viewer', { points });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ knee: { index: number; rate: number } | null; curve: { rate: number }[] }>();
    body.curve.forEach((p, i) => expect(p.rate).toBeCloseTo(pairs[i]![0], 9));
    expect(body.knee).not.toBeNull();
    expect(body.knee!.index).toBeGreaterThan(0);
    expect(body.knee!.index).toBeLessThan(pairs.length - 1);
  });
});
