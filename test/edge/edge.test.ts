import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep } from '../helpers.js';
import { running, waitFor } from '../scale-out/cluster.js';
import { EdgeLab } from './edge-lab.js';

// Issue 15: a control plane and two edge nodes as separate processes. Tasks of an agent with
// `placement: edge: required` run on the edges, come back with signed receipts that the control plane
// verifies and records, and the exported bundle verifies offline; invites are single use; a restarted
// control plane is found again; a revoked edge is cut off.

interface BundleRecord {
  type: string;
  taskId?: string;
  attempt?: number;
  data?: { nodeId?: string; receipt?: { body: Record<string, unknown>; signature: string } };
}

const lab = new EdgeLab();
let edges: { proc: ReturnType<EdgeLab['start']>; nodeId: string; data: string }[] = [];

beforeAll(async () => {
  await lab.registerAgent();
  await lab.serve();
  edges = [await lab.join('edge-1', await lab.invite()), await lab.join('edge-2', await lab.invite())];
  await lab.call('POST', '/sessions', { name: 'edge-work' });
}, 90_000);

afterAll(() => lab.stop(), 30_000);

async function exportBundle(session: string): Promise<{ path: string; records: BundleRecord[] }> {
  const path = join(lab.tempDir(), 'bundle.json');
  await lab.ok(['--data', lab.cpData, 'export', '-s', session, '-o', path]);
  return { path, records: (JSON.parse(readFileSync(path, 'utf8')) as { records: BundleRecord[] }).records };
}

describe('edge nodes', () => {
  it('run placed tasks on both edges; every result carries a receipt that verifies offline', async () => {
    const inputs = Array.from({ length: 8 }, (_, i) => `edge task number ${i} with some words`);
    const results = await Promise.all(inputs.map((text) => lab.run('edge-work', text)));
    for (const [i, r] of results.entries()) {
      expect(r.state, JSON.stringify(r.error)).toBe('succeeded');
      expect(r.output).toMatchObject({ words: inputs[i]!.split(' ').length });
    }
    const { path, records } = await exportBundle('edge-work');
    const receipts = records.filter((r) => r.type === 'task.receipt');
    expect(receipts).toHaveLength(8);
    // One slot each and eight tasks at once: both edges worked.
    expect(new Set(receipts.map((r) => r.data!.nodeId))).toEqual(new Set(edges.map((e) => e.nodeId)));
    for (const r of receipts) {
      const next = records[records.indexOf(r) + 1]!;
      expect(next).toMatchObject({ type: 'task.succeeded', taskId: r.taskId, attempt: r.attempt });
      expect(r.data!.receipt!.body).toMatchObject({
        nodeId: r.data!.nodeId,
        taskId: r.taskId,
        agent: 'edge-count@1.0.0',
      });
    }
    const verify = await lab.cli(['verify', path]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^ok/m);

    // Offline verification catches a receipt that was changed after the fact.
    const bundle = JSON.parse(readFileSync(path, 'utf8')) as { records: BundleRecord[] };
    const forged = bundle.records.find((r) => r.type === 'task.receipt')!;
    forged.data!.receipt!.body['finishedAt'] = (forged.data!.receipt!.body['finishedAt'] as number) + 1;
    const tampered = join(lab.tempDir(), 'tampered.json');
    writeFileSync(tampered, JSON.stringify(bundle));
    const bad = await lab.cli(['verify', tampered]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/receipt does not verify/);
  }, 120_000);

  it('lists the admitted nodes, connected, over the API (installation admins only)', async () => {
    const out = (await lab.call('GET', '/edge/nodes')) as {
      nodes: { nodeId: string; revoked: boolean; connected: { slots: number } | null }[];
    };
    const ids = out.nodes.map((n) => n.nodeId).sort();
    expect(ids).toEqual(edges.map((e) => e.nodeId).sort());
    for (const n of out.nodes) {
      expect(n.revoked).toBe(false);
      expect(n.connected?.slots).toBe(1);
    }
  });

  it('refuses a used invite and a token that is not one, with a clear error and a non-zero exit', async () => {
    /** A first join with `token` from a fresh data directory, run to its end. */
    const joinWith = (token: string) =>
      lab.cli(['--data', lab.tempDir(), 'edge', 'join', lab.url.replace(/^http/, 'ws'), '--invite', token]);
    const token = await lab.invite();
    const first = await lab.join('edge-3', token);
    const again = await joinWith(token);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/EDGE_INVITE_INVALID.*already used/);
    const garbage = await joinWith('hello');
    expect(garbage.code).not.toBe(0);
    expect(garbage.stderr).toMatch(/not a Warden edge invite/);
    const shortLived = (
      await lab.ok(['--data', lab.cpData, 'edge', 'invite', '--capabilities', 'count', '--expires', '1s'])
    ).trim();
    await sleep(1_500);
    const expired = await joinWith(shortLived);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toMatch(/EDGE_INVITE_INVALID.*expired/);
    // A token whose secret was not issued here (a forgery, or another control plane's).
    const decoded = JSON.parse(Buffer.from(token.slice(5), 'base64url').toString()) as { secret: string };
    decoded.secret = 'A'.repeat(43);
    const forged = `wdn1.${Buffer.from(JSON.stringify(decoded)).toString('base64url')}`;
    const forgedJoin = await joinWith(forged);
    expect(forgedJoin.code).not.toBe(0);
    expect(forgedJoin.stderr).toMatch(/EDGE_INVITE_INVALID.*unknown invite/);
    const expires = await lab.cli(['--data', lab.cpData, 'edge', 'invite', '--expires', 'soon']);
    expect(expires.code).not.toBe(0);
    expect(expires.stderr).toMatch(/--expires takes a duration such as 30m/);
    first.proc.proc.kill('SIGTERM');
    expect(await first.proc.exited).toBe(0);
  }, 60_000);

  it("an agent on an edge cannot read the edge's key (it could sign receipts with it)", async () => {
    const dir = join(lab.tempDir(), 'snoop');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'snoop.js'),
      `let raw = '';
process.stdin.on('data', (c) => (raw += c));
process.stdin.on('end', () => {
  const { path } = JSON.parse(raw);
  let read = false;
  try { read = require('fs').readFileSync(path, 'utf8').length > 0; } catch {}
  process.stdout.write(JSON.stringify({ read }));
});
`,
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: edge-snoop, version: 1.0.0 }
spec:
  runtime: node
  entry: ./snoop.js
  placement: { edge: required }
`,
    );
    await lab.ok(['--data', lab.cpData, 'agents', 'register', join(dir, 'agent.yaml')]);
    const keys = edges.map((e) => join(e.data, 'node.key.json'));
    // Even made readable by everyone (the sandbox's user included), the key stays out of the sandbox: the
    // edge's data directory is hidden from its agents.
    for (const e of edges) chmodSync(e.data, 0o755);
    for (const key of keys) chmodSync(key, 0o644);
    // The server picks up a version registered by another process within a couple of seconds.
    let out: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        out = await lab
          .call('POST', '/sessions/edge-work/execute?wait=20000', {
            agent: 'edge-snoop',
            input: { path: keys[0] },
          })
          .catch(() => undefined);
        return out !== undefined;
      },
      20_000,
      'the snoop agent is known',
    );
    const both = await Promise.all(
      keys.map((path) =>
        lab.call('POST', '/sessions/edge-work/execute?wait=20000', { agent: 'edge-snoop', input: { path } }),
      ),
    );
    for (const key of keys) chmodSync(key, 0o600);
    for (const e of edges) chmodSync(e.data, 0o700);
    for (const r of [out!, ...both]) {
      expect((r['task'] as { state: string }).state).toBe('succeeded');
      expect((r['result'] as { output: unknown }).output).toEqual({ read: false });
    }
  }, 60_000);

  it('edges reconnect by themselves after the control plane is killed and restarted', async () => {
    const serve = lab.procs.find((p) => p.name === 'serve' && running(p))!;
    serve.proc.kill('SIGKILL');
    await serve.exited;
    await sleep(500);
    await lab.serve();
    for (const e of edges)
      await eventually(
        () => (e.proc.stderr().match(/connected to/g) ?? []).length >= 2,
        30_000,
        `${e.nodeId} reconnects`,
      );
    const r = await lab.run('edge-work', 'after the restart');
    expect(r.state).toBe('succeeded');
  }, 90_000);

  it('an edge killed with -9 mid-task: the task runs on the other edge, once, to success; the edge rejoins', async () => {
    const id = await lab.submitSlow('edge-work', 2_000);
    const busy = await lab.busyEdge();
    const victim = edges.find((e) => e.nodeId === busy)!;
    const other = edges.find((e) => e.nodeId !== busy)!;
    victim.proc.proc.kill('SIGKILL');
    await victim.proc.exited;
    const r = await lab.result(id);
    expect(r).toMatchObject({ status: 'succeeded', attempts: 2, output: { slept: 2_000 } });
    const { records } = await exportBundle('edge-work');
    const mine = records.filter((x) => x.taskId === id);
    expect(mine.filter((x) => x.type === 'task.succeeded')).toHaveLength(1);
    expect(mine.filter((x) => x.type === 'task.receipt').map((x) => x.data!.nodeId)).toEqual([other.nodeId]);
    // Restarted from its data directory, it rejoins without an invite.
    const again = lab.start('edge restarted', ['--data', victim.data, 'edge', 'join']);
    await waitFor(again, /connected to/, 20_000);
    victim.proc = again;
  }, 90_000);

  it('a revoked edge is cut off mid-task (the task is retried on the other), stops with an error, gets no more', async () => {
    const id = await lab.submitSlow('edge-work', 2_000);
    const busy = await lab.busyEdge();
    const revoked = edges.find((e) => e.nodeId === busy)!;
    const kept = edges.find((e) => e.nodeId !== busy)!;
    await lab.ok(['--data', lab.cpData, 'edge', 'revoke', revoked.nodeId]);
    expect(await Promise.race([revoked.proc.exited, sleep(15_000).then(() => 'still running')])).not.toBe(0);
    expect(revoked.proc.stderr()).toMatch(/SWARM_REVOKED/);
    expect(await lab.result(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    const results = await Promise.all([1, 2, 3].map((i) => lab.run('edge-work', `after revocation ${i}`)));
    expect(results.map((r) => r.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const { records } = await exportBundle('edge-work');
    const last = records.filter((r) => r.type === 'task.receipt').slice(-3);
    expect(last.map((r) => r.data!.nodeId)).toEqual([kept.nodeId, kept.nodeId, kept.nodeId]);
    // The revoked edge's run of the slow task never made it into the chain.
    expect(
      records.filter((r) => r.taskId === id && r.type === 'task.receipt').map((r) => r.data!.nodeId),
    ).toEqual([kept.nodeId]);
    const list = JSON.parse(await lab.ok(['--data', lab.cpData, '--json', 'edge', 'list'])) as {
      nodes: { nodeId: string; revoked: boolean }[];
    };
    expect(list.nodes.find((n) => n.nodeId === revoked.nodeId)?.revoked).toBe(true);
    // It cannot come back with its old identity either.
    const back = lab.start('edge-2 again', ['--data', revoked.data, 'edge', 'join']);
    expect(
      await Promise.race([back.exited, waitFor(back, /connected to/, 10_000).then(() => 'connected')]),
    ).not.toBe('connected');
  }, 90_000);
});
