import { afterEach, describe, expect, it } from 'vitest';
import type { AgentManifest, PriorityName, Session } from '../../src/core/index.js';
import {
  agentCodeDigest,
  type ClaimRequest,
  type Finish,
  type NewTask,
  type Store,
  type TraceFlagRecord,
} from '../../src/store/index.js';
import type { TreeHeadSigner } from '../../src/provenance/index.js';

// The backend contract: every Store adapter must pass these, driven through the port alone, with a fixed
// clock and fixed ids (so that the same operations write the same chains on every backend).

export interface Harness {
  /** A fresh, empty store, the node key it signs with, and a way to run SQL behind its back (to tamper). */
  open(): Promise<{ store: Store; signer: TreeHeadSigner; exec(sql: string): Promise<void> }>;
}

export const T0 = Date.UTC(2026, 0, 1);
/** Fixed ids that sort like UUIDv7 (time-ordered): id(3) < id(10). */
export const id = (n: number, kind = 7): string =>
  `00000000-0000-${kind}000-8000-${n.toString().padStart(12, '0')}`;

export function session(n: number, maxConcurrency = 100, name = `s${n}`): Session {
  return {
    id: id(n, 1),
    tenant: 'default',
    name,
    maxConcurrency,
    allowNetwork: false,
    policy: 'default',
    createdAt: T0,
  };
}

export function manifest(name: string, concurrency = 100, version = '1.0.0'): AgentManifest {
  return {
    apiVersion: 'warden/v1',
    name,
    version,
    runtime: 'inline',
    concurrency,
    limits: { cpuMs: 1000, memoryMb: 64, wallMs: 1000, maxOutputBytes: 1000, diskMb: 0 },
    network: { allow: [] },
  } as unknown as AgentManifest;
}

export function task(
  n: number,
  s: Session,
  agent: string,
  opts: Partial<Pick<NewTask, 'maxAttempts' | 'deadline' | 'idempotencyKey' | 'now' | 'flags'>> & {
    priority?: PriorityName;
  } = {},
): NewTask {
  return {
    id: id(n),
    sessionId: s.id,
    agentKey: agent,
    priority: opts.priority ?? 'normal',
    maxAttempts: opts.maxAttempts ?? 3,
    inputJson: JSON.stringify({ n }),
    inputDigest: `digest-${n}`,
    deadline: opts.deadline ?? null,
    timeoutMs: null,
    idempotencyKey: opts.idempotencyKey ?? null,
    metadata: { n },
    now: opts.now ?? T0 + n,
    ...(opts.flags ? { flags: opts.flags } : {}),
  };
}

export const claimReq = (over: Partial<ClaimRequest> & { runnable: string[] }): ClaimRequest => ({
  now: T0 + 1000,
  limit: 10,
  owner: 'w1',
  leaseMs: 10_000,
  held: [],
  probing: [],
  ...over,
});

export function succeeded(
  t: { id: string; sessionId: string; agentKey: string; attempt: number },
  owner: string,
  now: number,
  output: unknown = { ok: true },
): Finish {
  const outputJson = JSON.stringify(output);
  return {
    kind: 'succeeded',
    taskId: t.id,
    sessionId: t.sessionId,
    agentKey: t.agentKey,
    owner,
    attempt: t.attempt,
    now,
    usage: { cpuMs: 1, wallMs: 2, maxRssMb: 3 } as never,
    outputJson,
    outputDigest: sha256(outputJson),
  };
}

import { createHash } from 'node:crypto';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function flag(n: number, s: Session, taskId: string | null, agent: string | null): TraceFlagRecord {
  return {
    id: id(n, 9),
    sessionId: s.id,
    taskId,
    agentKey: agent,
    type: 'pii',
    severity: 2,
    reason: `reason ${n}`,
    autoDetected: true,
    detector: 'regex',
    stage: 'input',
    createdAt: T0 + n,
  };
}

/**
 * A fixed sequence of operations touching every kind of record: run on two backends, it must leave
 * byte-identical chains.
 */
export async function scriptedRun(store: Store): Promise<string[]> {
  const s1 = session(1, 2);
  const s2 = session(2);
  await store.createSession(s1);
  await store.createSession(s2);
  const a = await store.putAgent(manifest('alpha', 3), 'a'.repeat(64), T0);
  const b = await store.putAgent(manifest('beta'), null, T0);
  await store.submit([
    task(1, s1, a.key, { priority: 'low', idempotencyKey: 'k1' }),
    task(2, s1, a.key, { priority: 'high', flags: [flag(1, s1, id(2), a.key)] }),
    task(3, s2, b.key, { deadline: T0 + 500 }),
    task(4, s2, b.key, { maxAttempts: 1 }),
    task(5, s2, b.key),
    task(6, s1, a.key, { idempotencyKey: 'k1' }),
  ]);
  const c1 = await store.claim(claimReq({ runnable: [a.key, b.key], limit: 3, owner: 'w1' }));
  const byId = new Map(c1.claimed.map((c) => [c.id, c]));
  const t2 = byId.get(id(2))!;
  const t4 = byId.get(id(4))!;
  const t5 = byId.get(id(5))!;
  await store.finish(
    [
      succeeded(t2, 'w1', T0 + 1100),
      { ...base(t4, 'w1', T0 + 1200), kind: 'dead', error: err('AGENT_FAILED') },
      { ...base(t5, 'w1', T0 + 1300), kind: 'retry', error: err('AGENT_CRASHED'), runAfter: T0 + 5000 },
    ],
    [
      {
        agentKey: b.key,
        policy: { failureThreshold: 2, cooldownMs: 60_000 },
        outcomes: [
          { ok: false, at: T0 + 1200 },
          { ok: false, at: T0 + 1300 },
        ],
      },
    ],
  );
  await store.cancel(id(1), T0 + 1400);
  await store.replayDeadLetter(id(4), T0 + 1500);
  const c2 = await store.claim(claimReq({ now: T0 + 6000, runnable: [b.key], owner: 'w2' }));
  for (const c of c2.claimed) {
    if (c.id === id(4))
      await store.finish(
        [
          {
            ...base(c, 'w2', T0 + 6100),
            kind: 'quarantined',
            outputJson: '"q"',
            outputDigest: sha256('"q"'),
            error: err('GOVERNANCE_BLOCKED'),
          },
        ],
        [],
      );
  }
  // t5 is left running under w2: the reaper takes it back after its lease.
  await store.reapExpiredLeases(T0 + 60_000);
  await store.releaseQuarantined(id(4), T0 + 61_000, { by: 'ops' });
  await store.resetBreaker(b.key, T0 + 62_000, { by: 'ops' });
  await store.recordGovernance({
    type: 'governance.merge_refused',
    sessionId: s1.id,
    at: T0 + 63_000,
    agent: a.key,
    data: { reason: 'policy' },
    flags: [flag(2, s1, null, a.key)],
  });
  const trace = await store.createTrace({
    id: id(1, 5),
    sessionId: s2.id,
    taskId: id(5),
    dataJson: '{"steps":[1,2]}',
    digest: sha256('{"steps":[1,2]}'),
    createdAt: T0 + 64_000,
  });
  await store.appendTraceProvenance(trace.id, { kind: 'review', data: { by: 'bob', score: 3 } }, T0 + 65_000);
  const c3 = await store.claim(claimReq({ now: T0 + 70_000, runnable: [b.key], owner: 'w3' }));
  await store.finish(
    c3.claimed.map((c) => ({
      ...base(c, 'w3', T0 + 71_000),
      kind: 'dead' as const,
      error: err('AGENT_FAILED'),
    })),
    [],
  );
  await store.purgeDeadLetters('all', T0 + 72_000);
  return [s1.id, s2.id];
}

const err = (code: string) =>
  ({ code, message: `${code} happened`, retryable: code !== 'GOVERNANCE_BLOCKED' }) as never;
const fail = (at: number) => ({ ok: false, at });
const ok = (at: number) => ({ ok: true, at });
const base = (
  c: { id: string; sessionId: string; agentKey: string; attempt: number },
  owner: string,
  now: number,
) => ({
  taskId: c.id,
  sessionId: c.sessionId,
  agentKey: c.agentKey,
  owner,
  attempt: c.attempt,
  now,
  usage: null,
});

export function storeContract(name: string, harness: Harness, skip = false): void {
  describe.skipIf(skip)(`Store contract: ${name}`, () => {
    const open: Store[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    const fresh = async () => {
      const h = await harness.open();
      open.push(h.store);
      return h;
    };

    it('creates sessions once per name, finds them by id or name within a tenant, lists them', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const again = await store.createSession({ ...session(2), name: s.name });
      expect(again.id).toBe(s.id);
      expect((await store.getSession(s.name))?.id).toBe(s.id);
      expect((await store.getSession(s.id))?.maxConcurrency).toBe(100);
      expect(await store.getSession(s.id, 'other')).toBeUndefined();
      await store.createSession({ ...session(3), tenant: 'acme', name: s.name });
      expect((await store.getSession(s.name, 'acme'))?.id).toBe(id(3, 1));
      expect((await store.listSessions('acme')).map((x) => x.id)).toEqual([id(3, 1)]);
      expect(await store.listSessions()).toHaveLength(2);
    });

    it('registers agent versions immutably, per tenant, sharing on request', async () => {
      const { store } = await fresh();
      const a = await store.putAgent(manifest('alpha'), 'd1', T0);
      expect(await store.putAgent(manifest('alpha'), 'd1', T0 + 5)).toMatchObject({
        key: a.key,
        createdAt: T0,
      });
      await expect(store.putAgent(manifest('alpha'), 'd2', T0)).rejects.toMatchObject({
        code: 'AGENT_VERSION_CONFLICT',
      });
      await store.putAgent({ ...manifest('beta'), tenant: 'acme' } as AgentManifest, null, T0);
      expect((await store.listAgents({ tenant: 'acme' })).map((x) => x.key)).toEqual(['acme/beta@1.0.0']);
      await store.putAgent(manifest('alpha'), 'd1', T0, { shared: true });
      expect((await store.listAgents({ tenant: 'acme' })).map((x) => x.key).sort()).toEqual([
        'acme/beta@1.0.0',
        'alpha@1.0.0',
      ]);
      expect((await store.getAgent(a.key))?.shared).toBe(true);
    });

    it('stores agent code content-addressed, byte for byte, and links versions to it', async () => {
      const { store, exec } = await fresh();
      const bin = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13]);
      const files = [
        { path: 'agent.yaml', bytes: Buffer.from('name: a\n') },
        { path: 'lib/β.js', bytes: Buffer.from('export {}\n') },
        { path: 'build/agent.wasm', bytes: bin },
        { path: 'empty', bytes: Buffer.alloc(0) },
      ];
      const digest = agentCodeDigest(files);
      expect(await store.getAgentCode(digest)).toBeUndefined();
      expect(await store.agentCodeFor({ agentKey: 'a@1.0.0', moduleDigest: 'm1' })).toBeUndefined();
      await store.putAgentCode(digest, files, T0, { agentKey: 'a@1.0.0', moduleDigest: 'm1' });
      // Idempotent: the same code again, and for a second version.
      await store.putAgentCode(digest, [...files].reverse(), T0 + 1, {
        agentKey: 'a@1.0.1',
        moduleDigest: 'm1',
      });
      const back = (await store.getAgentCode(digest))!;
      expect(back.map((f) => f.path)).toEqual(['agent.yaml', 'build/agent.wasm', 'empty', 'lib/β.js']);
      expect(back.find((f) => f.path === 'build/agent.wasm')!.bytes.equals(bin)).toBe(true);
      expect(agentCodeDigest(back)).toBe(digest);
      expect(await store.agentCodeFor({ agentKey: 'a@1.0.0', moduleDigest: 'm1' })).toBe(digest);
      expect(await store.agentCodeFor({ agentKey: 'a@1.0.1', moduleDigest: 'm1' })).toBe(digest);
      expect(await store.agentCodeFor({ agentKey: 'a@1.0.0', moduleDigest: 'm2' })).toBeUndefined();
      // A version's first code is kept: another put cannot repoint it.
      const other = [{ path: 'x', bytes: Buffer.from('x') }];
      await store.putAgentCode(agentCodeDigest(other), other, T0 + 2, {
        agentKey: 'a@1.0.0',
        moduleDigest: 'm1',
      });
      expect(await store.agentCodeFor({ agentKey: 'a@1.0.0', moduleDigest: 'm1' })).toBe(digest);
      // Files that do not have the digest they are put under are refused, and nothing is stored.
      await expect(
        store.putAgentCode('0'.repeat(64), files, T0, { agentKey: 'b@1.0.0', moduleDigest: 'm3' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await store.getAgentCode('0'.repeat(64))).toBeUndefined();
      expect(await store.agentCodeFor({ agentKey: 'b@1.0.0', moduleDigest: 'm3' })).toBeUndefined();
      // Changed behind the store's back: served as stored (the worker checks the digest before running).
      await exec(
        `UPDATE agent_code SET archive = (SELECT archive FROM agent_code WHERE digest = '${agentCodeDigest(other)}') WHERE digest = '${digest}'`,
      );
      expect(agentCodeDigest((await store.getAgentCode(digest))!)).not.toBe(digest);
    });

    it('submits with idempotency keys: a key seen before (in this batch or earlier) returns the first task', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      const first = await store.submit([
        task(1, s, a.key, { idempotencyKey: 'k' }),
        task(2, s, a.key, { idempotencyKey: 'k' }),
      ]);
      expect(first.map((o) => [o.task.id, o.deduplicated])).toEqual([
        [id(1), false],
        [id(1), true],
      ]);
      const later = await store.submit([task(3, s, a.key, { idempotencyKey: 'k' }), task(4, s, a.key)]);
      expect(later.map((o) => [o.task.id, o.deduplicated])).toEqual([
        [id(1), true],
        [id(4), false],
      ]);
      expect((await store.listTasks({ sessionId: s.id })).map((t) => t.id)).toEqual([id(4), id(1)]);
      expect((await store.getTask(id(1)))?.metadata).toEqual({ n: 1 });
    });

    it('claims by priority, then age, and only runnable, unheld versions', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      const b = await store.putAgent(manifest('beta'), null, T0);
      await store.submit([
        task(1, s, a.key, { priority: 'low' }),
        task(2, s, a.key, { priority: 'high' }),
        task(3, s, a.key),
        task(4, s, a.key, { priority: 'high' }),
        task(5, s, b.key, { priority: 'critical' }),
        task(6, s, a.key, { priority: 'critical', now: T0 + 5000 }),
      ]);
      expect(
        (await store.claim(claimReq({ runnable: [a.key, b.key], held: [b.key] }))).claimed.map((c) => c.id),
      ).toEqual([id(2), id(4), id(3), id(1)]);
      const next = await store.claim(claimReq({ runnable: [a.key] }));
      expect(next.claimed).toEqual([]);
      expect(next.nextRunAfter).toBe(T0 + 5000);
      const c = await store.claim(claimReq({ now: T0 + 5000, runnable: [a.key, b.key], owner: 'w9' }));
      expect(c.claimed.map((x) => [x.id, x.attempt])).toEqual([
        [id(5), 1],
        [id(6), 1],
      ]);
      expect((await store.getTask(id(5)))?.state).toBe('running');
    });

    it('submits and claims in one transaction: what is due goes in order, and a drained queue is reported', async () => {
      const { store } = await fresh();
      const s = session(1);
      const capped = session(2, 1);
      await store.createSession(s);
      await store.createSession(capped);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key, { priority: 'high' })]);
      // The older high-priority task goes before the one submitted now.
      const first = await store.submitAndClaim(
        [task(2, s, a.key)],
        claimReq({ runnable: [a.key], limit: 1 }),
      );
      expect(first.outcomes.map((o) => [o.task.id, o.deduplicated])).toEqual([[id(2), false]]);
      expect(first.next.claimed.map((c) => c.id)).toEqual([id(1)]);
      const second = await store.submitAndClaim(
        [task(3, s, a.key)],
        claimReq({ runnable: [a.key], limit: 5 }),
      );
      expect(second.next.claimed.map((c) => [c.id, c.attempt])).toEqual([
        [id(2), 1],
        [id(3), 1],
      ]);
      // A session at its cap holds a task back: the queue is not drained, though nothing more can be claimed.
      const held = await store.submitAndClaim(
        [task(4, capped, a.key), task(5, capped, a.key)],
        claimReq({ runnable: [a.key], limit: 5 }),
      );
      expect(held.next.claimed.map((c) => c.id)).toEqual([id(4)]);
      if (store.dialect === 'postgres') {
        expect(first.next.drained).toBe(false);
        expect(second.next.drained).toBe(true);
        expect(held.next.drained).toBe(false);
        expect((await store.claim(claimReq({ runnable: [a.key] }))).drained).toBe(false);
      }
      expect((await store.getTask(id(5)))?.state).toBe('queued');
      // The chain says the task was submitted before it started, in the one transaction.
      const types = (await store.readChain(s.id)).map((l) => {
        const r = JSON.parse(l.recordJson) as { type: string; taskId?: string };
        return `${r.type}:${r.taskId ?? ''}`;
      });
      expect(types.indexOf(`task.submitted:${id(3)}`)).toBeLessThan(types.indexOf(`task.started:${id(3)}`));
    });

    it('holds session maxConcurrency and agent concurrency, and one probe of a probing version', async () => {
      const { store } = await fresh();
      const s1 = session(1, 2);
      const s2 = session(2);
      await store.createSession(s1);
      await store.createSession(s2);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      const b = await store.putAgent(manifest('beta', 1), null, T0);
      const p = await store.putAgent(manifest('probe'), null, T0);
      await store.submit([1, 2, 3, 4].map((n) => task(n, s1, a.key)));
      await store.submit([5, 6, 7].map((n) => task(n, s2, b.key)));
      await store.submit([8, 9].map((n) => task(n, s2, p.key)));
      const first = await store.claim(claimReq({ runnable: [a.key, b.key, p.key], probing: [p.key] }));
      expect(first.claimed.map((c) => c.id).sort()).toEqual([id(1), id(2), id(5), id(8)]);
      const none = await store.claim(
        claimReq({ runnable: [a.key, b.key, p.key], probing: [p.key], owner: 'w2' }),
      );
      expect(none.claimed).toEqual([]);
      const c1 = first.claimed.find((c) => c.id === id(1))!;
      await store.finish([succeeded(c1, 'w1', T0 + 1500)], []);
      const more = await store.claim(
        claimReq({ now: T0 + 1600, runnable: [a.key, b.key, p.key], probing: [p.key], owner: 'w2' }),
      );
      expect(more.claimed.map((c) => c.id)).toEqual([id(3)]);
      expect(await store.inFlightByAgent()).toEqual(
        new Map([
          [a.key, 3],
          [b.key, 3],
          [p.key, 2],
        ]),
      );
      expect((await store.stats({ light: true })).byState).toMatchObject({ running: 4, queued: 4 });
    });

    it('fences finishes: a worker whose lease was reaped and re-claimed cannot finish, and writes nothing', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key)]);
      const [mine] = (await store.claim(claimReq({ runnable: [a.key], owner: 'w1', leaseMs: 1000 }))).claimed;
      await store.renewLeases('w1', [mine!.id], T0 + 3000);
      expect(await store.reapExpiredLeases(T0 + 2500)).toBe(0);
      expect(await store.reapExpiredLeases(T0 + 3001)).toBe(1);
      const [theirs] = (await store.claim(claimReq({ now: T0 + 3100, runnable: [a.key], owner: 'w2' })))
        .claimed;
      expect(theirs!.attempt).toBe(2);
      // The late worker renews and finishes: neither touches the task now run by w2.
      await store.renewLeases('w1', [mine!.id], T0 + 99_999);
      const late = await store.finish([succeeded(mine!, 'w1', T0 + 3200, 'late')], []);
      expect(late.applied).toEqual([false]);
      expect(await store.getResult(mine!.id)).toBeUndefined();
      // The same owner with a stale attempt is refused too.
      expect(
        (await store.finish([succeeded({ ...theirs!, attempt: 1 }, 'w2', T0 + 3300)], [])).applied,
      ).toEqual([false]);
      expect((await store.finish([succeeded(theirs!, 'w2', T0 + 3400, 'real')], [])).applied).toEqual([true]);
      expect((await store.getResult(mine!.id))?.output).toBe('real');
      const types = (await store.readChain(s.id)).map((l) => JSON.parse(l.recordJson).type);
      expect(types).toEqual([
        'session.created',
        'task.submitted',
        'task.started',
        'task.lease_expired',
        'task.started',
        'task.succeeded',
      ]);
    });

    it('reaps: the last attempt goes to the DLQ, a cancel-requested task is cancelled', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key, { maxAttempts: 1 }), task(2, s, a.key)]);
      await store.claim(claimReq({ runnable: [a.key], leaseMs: 100 }));
      const cancel = await store.cancel(id(2), T0 + 1050);
      expect(cancel).toEqual({ state: 'running', cancelledNow: false });
      expect(await store.cancelRequested([id(1), id(2)])).toEqual([id(2)]);
      expect(await store.reapExpiredLeases(T0 + 2000)).toBe(2);
      expect((await store.getTask(id(1)))?.state).toBe('dead');
      expect((await store.getTask(id(2)))?.state).toBe('cancelled');
      expect((await store.getResult(id(1)))?.error?.code).toBe('LEASE_EXPIRED');
      expect((await store.getResult(id(2)))?.error?.code).toBe('CANCELLED');
      expect((await store.listDeadLetters({})).map((d) => d.taskId)).toEqual([id(1)]);
    });

    it('retries after runAfter, expires past-deadline tasks, and keeps the DLQ (replay, purge)', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key), task(2, s, a.key, { deadline: T0 + 500 }), task(3, s, a.key)]);
      const c = await store.claim(claimReq({ runnable: [a.key] }));
      expect(c.expired).toEqual([id(2)]);
      expect((await store.getResult(id(2)))?.error?.code).toBe('DEADLINE_EXCEEDED');
      const [t1, t3] = c.claimed;
      await store.finish(
        [
          { ...base(t1!, 'w1', T0 + 1100), kind: 'retry', error: err('AGENT_FAILED'), runAfter: T0 + 4000 },
          { ...base(t3!, 'w1', T0 + 1100), kind: 'dead', error: err('AGENT_FAILED') },
        ],
        [],
      );
      expect((await store.claim(claimReq({ now: T0 + 2000, runnable: [a.key] }))).nextRunAfter).toBe(
        T0 + 4000,
      );
      const again = await store.claim(claimReq({ now: T0 + 4000, runnable: [a.key] }));
      expect(again.claimed.map((x) => [x.id, x.attempt])).toEqual([[id(1), 2]]);
      expect((await store.listDeadLetters({ sessionId: s.id }))[0]).toMatchObject({
        taskId: id(3),
        attempts: 1,
      });
      // A fresh budget of two attempts; the numbers go on from the dead run's, so nothing of it can collide.
      const replayed = await store.replayDeadLetter(id(3), T0 + 5000, 2);
      expect(replayed).toMatchObject({ state: 'queued', attempts: 1, maxAttempts: 3 });
      expect(await store.getResult(id(3))).toBeUndefined();
      await expect(store.replayDeadLetter(id(3), T0 + 5000)).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      const [r3] = (await store.claim(claimReq({ now: T0 + 5000, runnable: [a.key] }))).claimed;
      expect([r3!.attempt, r3!.maxAttempts]).toEqual([2, 3]);
      await store.finish([{ ...base(r3!, 'w1', T0 + 5100), kind: 'dead', error: err('AGENT_FAILED') }], []);
      expect(await store.purgeDeadLetters([id(3)], T0 + 6000, 'other-tenant')).toBe(0);
      expect(await store.purgeDeadLetters('all', T0 + 6000)).toBe(1);
      expect((await store.stats()).deadLetters).toBe(0);
    });

    it('cancels a queued task at once, with its result', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key)]);
      expect(await store.cancel(id(1), T0 + 10)).toEqual({ state: 'cancelled', cancelledNow: true });
      expect(await store.cancel(id(1), T0 + 20)).toEqual({ state: 'cancelled', cancelledNow: false });
      expect((await store.getResults([id(1)]))[0]).toMatchObject({
        status: 'cancelled',
        error: { code: 'CANCELLED' },
      });
      await expect(store.cancel('nope', T0)).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    });

    it('serves results only while they match their provenance records', async () => {
      const { store, exec } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key), task(2, s, a.key)]);
      const { claimed } = await store.claim(claimReq({ runnable: [a.key] }));
      await store.finish(
        claimed.map((c) => succeeded(c, 'w1', T0 + 1100, { n: c.id })),
        [],
      );
      expect((await store.getResult(id(1)))?.output).toEqual({ n: id(1) });
      await exec(`UPDATE results SET output = '{"n":"forged"}' WHERE task_id = '${id(1)}'`);
      await expect(store.getResult(id(1))).rejects.toMatchObject({ code: 'PROVENANCE_RESULT_MISMATCH' });
      const batch = await store.getResults([id(1), id(2)]);
      expect(batch.find((r) => r.taskId === id(1))).toMatchObject({
        status: 'failed',
        error: { code: 'PROVENANCE_RESULT_MISMATCH' },
      });
      expect(batch.find((r) => r.taskId === id(2))?.status).toBe('succeeded');
      const v = await store.verifyChain(s.id);
      expect(v.ok).toBe(false);
      expect(v.broken?.reason).toMatch(/stored result/);
    });

    it('keeps logs, API keys and traces', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      await store.appendLogs([
        { taskId: 't', attempt: 1, line: 1, stream: 'stdout', message: 'a', at: T0 },
        { taskId: 't', attempt: 1, line: 2, stream: 'stderr', message: 'b', at: T0 + 1 },
        { taskId: 't', attempt: 2, line: 1, stream: 'event', message: 'c', at: T0 + 2 },
      ]);
      await store.appendLogs([
        { taskId: 't', attempt: 1, line: 1, stream: 'stdout', message: 'dup', at: T0 },
      ]);
      expect((await store.readLogs('t')).map((l) => l.message)).toEqual(['a', 'b', 'c']);
      expect((await store.readLogs('t', { attempt: 1, line: 1 })).map((l) => l.message)).toEqual(['b', 'c']);

      const key = {
        id: 'k1',
        tenant: 'acme',
        role: 'operator' as const,
        name: 'ci',
        createdAt: T0,
        revokedAt: null,
        installation: false,
      };
      await store.createApiKey(key, 'hash1');
      expect(await store.findApiKey('hash1')).toEqual(key);
      expect((await store.listApiKeys('acme')).map((k) => k.id)).toEqual(['k1']);
      expect(await store.listApiKeys('other')).toEqual([]);
      expect(await store.revokeApiKey('k1', T0 + 1)).toBe(true);
      expect(await store.revokeApiKey('k1', T0 + 2)).toBe(false);
      expect(await store.findApiKey('hash1')).toBeUndefined();

      for (const n of [1, 2, 3])
        await store.createTrace({
          id: id(n, 5),
          sessionId: s.id,
          taskId: null,
          dataJson: `{"n":${n}}`,
          digest: `d${n}`,
          createdAt: T0 + n,
        });
      expect((await store.getTrace(id(2, 5)))?.data).toEqual({ n: 2 });
      const page = await store.listTraces({ sessionId: s.id, limit: 2 });
      expect(page.map((t) => t.id)).toEqual([id(3, 5), id(2, 5)]);
      expect(
        (
          await store.listTraces({ sessionId: s.id, limit: 5, before: { createdAt: T0 + 2, id: id(2, 5) } })
        ).map((t) => t.id),
      ).toEqual([id(1, 5)]);
      const head = await store.appendTraceProvenance(
        id(2, 5),
        { kind: 'review', data: { ok: true } },
        T0 + 10,
      );
      const chain = await store.readChain(s.id);
      expect(head).toEqual({ seq: chain.length, hash: chain[chain.length - 1]!.hash });
      expect(
        (await store.readTraceProvenance(s.id, id(2, 5))).map((l) => JSON.parse(l.recordJson).type),
      ).toEqual(['trace.created', 'trace.provenance']);
      await expect(store.appendTraceProvenance('nope', { kind: 'x', data: {} }, T0)).rejects.toMatchObject({
        code: 'TRACE_NOT_FOUND',
      });
    });

    it('records governance: flags, counts, quarantine and release, agent history', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key, { flags: [flag(1, s, id(1), a.key)] })]);
      const [c] = (await store.claim(claimReq({ runnable: [a.key] }))).claimed;
      await store.finish(
        [
          {
            ...base(c!, 'w1', T0 + 1100),
            kind: 'quarantined',
            outputJson: '"x"',
            outputDigest: sha256('"x"'),
            error: err('GOVERNANCE_BLOCKED'),
            flags: [flag(2, s, id(1), a.key)],
          },
        ],
        [],
      );
      await store.recordGovernance({
        type: 'governance.blocked',
        sessionId: s.id,
        at: T0 + 1200,
        taskId: id(1),
        data: { rule: 'r' },
        flags: [],
      });
      expect((await store.listFlags({ sessionId: s.id })).map((f) => f.id)).toEqual([id(1, 9), id(2, 9)]);
      expect((await store.listFlags({ taskIds: [id(1)], limit: 1 })).length).toBe(1);
      expect(await store.flagCounts(s.id)).toEqual([{ type: 'pii', severity: 2, agentKey: a.key, count: 2 }]);
      await expect(store.releaseQuarantined('nope', T0, {})).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      const released = await store.releaseQuarantined(id(1), T0 + 1300, { by: 'ops' });
      expect(released.state).toBe('succeeded');
      expect((await store.getResult(id(1)))?.output).toBe('x');
      await expect(store.releaseQuarantined(id(1), T0, {})).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(await store.agentHistory(a.key, 5)).toEqual([
        { status: 'succeeded', wallMs: null, outputBytes: 3, finishedAt: T0 + 1100 },
      ]);
      expect((await store.verifyChain(s.id)).ok).toBe(true);
    });

    it('persists circuit breakers and records a reset where the version has queued tasks', async () => {
      const { store } = await fresh();
      const s = session(1);
      await store.createSession(s);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      await store.submit([task(1, s, a.key), task(2, s, a.key)]);
      const [c] = (await store.claim(claimReq({ runnable: [a.key], limit: 1 }))).claimed;
      const open = { state: 'open' as const, consecutiveFailures: 1, openedAt: T0 + 1100 };
      const out = await store.finish(
        [{ ...base(c!, 'w1', T0 + 1100), kind: 'failed', error: err('AGENT_FAILED') }],
        [{ agentKey: a.key, policy: { failureThreshold: 1, cooldownMs: 1000 }, outcomes: [fail(T0 + 1100)] }],
      );
      expect(out.breakers).toEqual([{ agentKey: a.key, snapshot: open }]);
      expect((await store.getBreakers()).get(a.key)).toEqual(open);
      expect(await store.resetBreaker(a.key, T0 + 2000, { by: 'ops' })).toEqual(open);
      expect(await store.resetBreaker(a.key, T0 + 2001, { by: 'ops' })).toBeUndefined();
      expect((await store.getBreakers()).has(a.key)).toBe(false);
      const last = (await store.readChain(s.id)).at(-1)!;
      expect(JSON.parse(last.recordJson)).toMatchObject({
        type: 'agent.breaker_reset',
        data: { by: 'ops', previous: open },
      });
    });

    it('applies breaker outcomes to the stored breaker, so callers with stale views add up', async () => {
      const { store } = await fresh();
      const a = (await store.putAgent(manifest('alpha'), null, T0)).key;
      const b = (await store.putAgent(manifest('beta'), null, T0)).key;
      const policy = { failureThreshold: 4, cooldownMs: 1000 };
      const report = async (key: string, ...outcomes: { ok: boolean; at: number }[]) =>
        (await store.finish([], [{ agentKey: key, policy, outcomes }])).breakers;
      const closed = (n: number) => ({ state: 'closed', consecutiveFailures: n, openedAt: null });
      const open = (n: number, at: number) => ({ state: 'open', consecutiveFailures: n, openedAt: at });

      // Two callers that each saw two failures (and neither the other's): four in all open it.
      expect(await report(a, fail(T0 + 1), fail(T0 + 2))).toEqual([{ agentKey: a, snapshot: closed(2) }]);
      expect(await report(a, fail(T0 + 3), fail(T0 + 4))).toEqual([
        { agentKey: a, snapshot: open(4, T0 + 4) },
      ]);
      // A later failure (a failed probe, or a run that was in flight) keeps it open from its time.
      expect(await report(a, fail(T0 + 9))).toEqual([{ agentKey: a, snapshot: open(5, T0 + 9) }]);
      expect((await store.getBreakers()).get(a)).toEqual(open(5, T0 + 9));
      // In the order the runs finished: a success between failures resets the count.
      expect(await report(a, ok(T0 + 10), fail(T0 + 11), ok(T0 + 12), fail(T0 + 13))).toEqual([
        { agentKey: a, snapshot: closed(1) },
      ]);
      // Several versions in one batch, each on its own row; a version without a row gets one.
      const out = await store.finish(
        [],
        [
          { agentKey: b, policy, outcomes: [ok(T0 + 20)] },
          { agentKey: a, policy, outcomes: [ok(T0 + 21)] },
        ],
      );
      expect(new Map(out.breakers.map((u) => [u.agentKey, u.snapshot]))).toEqual(
        new Map([
          [a, closed(0)],
          [b, closed(0)],
        ]),
      );
      expect(await store.getBreakers()).toEqual(
        new Map([
          [a, closed(0)],
          [b, closed(0)],
        ]),
      );
      expect((await store.finish([], [])).breakers).toEqual([]);
    });

    it('counts breaker outcomes of concurrent finishes exactly once, from a version with no row yet', async () => {
      const { store } = await fresh();
      const a = (await store.putAgent(manifest('alpha'), null, T0)).key;
      const n = 12;
      const policy = { failureThreshold: n, cooldownMs: 1000 };
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.finish([], [{ agentKey: a, policy, outcomes: [fail(T0 + i)] }]),
        ),
      );
      expect((await store.getBreakers()).get(a)).toMatchObject({ state: 'open', consecutiveFailures: n });
    });

    it('verifies chains with signed tree heads, and sees a changed record', async () => {
      const { store, signer, exec } = await fresh();
      const [s1, s2] = await scriptedRun(store);
      for (const s of [s1!, s2!]) {
        const v = await store.verifyChain(s);
        expect(v).toMatchObject({ ok: true, unsigned: 0 });
        const head = await store.latestTreeHead(s);
        expect(head?.treeSize).toBe(v.length);
      }
      expect((await store.signTreeHead(s1!))?.keyId).toBe(signer.keyId);
      await exec(
        `UPDATE provenance SET record = replace(record, '"low"', '"critical"') WHERE session_id = '${s1}' AND seq = 2`,
      );
      expect((await store.verifyChain(s1!)).broken?.reason).toMatch(/does not match its hash/);
    });
  });
}
