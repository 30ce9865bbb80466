import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.js';
import { decodeInviteToken } from '../../src/edge/index.js';
import { verifyBundle } from '../../src/provenance/index.js';
import type { Warden } from '../../src/index.js';
import {
  NodeIdentity,
  SwarmChannel,
  TrustRegistry,
  createRegistration,
  digestBytes,
  signReceipt,
} from '../../src/swarm/index.js';
import { eventually, openWarden, tempDir } from '../helpers.js';
import { writeWasmAgent } from './edge-lab.js';
import { freshDatabase, requirePg } from '../store-contract/pg-db.js';

// Issue 15: an edge that lies, and one that reconnects mid-run. The control plane accepts a result only with a receipt that the edge
// signed over that very output (and this task, agent, input and module); a frame that does not open as a
// sealed envelope from the node ends the connection.

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function controlPlane(
  placement = 'required',
  postgres?: string,
): Promise<{ warden: Warden; url: string }> {
  const dir = writeWasmAgent(
    tempDir(),
    'edge-count',
    `  placement: { edge: ${placement} }
  retry: { maxAttempts: 2, baseMs: 10, maxMs: 20 }
`,
  );
  const warden = await openWarden({
    workers: { concurrency: 4 },
    ...(postgres ? { storage: { root: tempDir(), postgres } } : {}),
  });
  await warden.registerAgent({ path: join(dir, 'agent.yaml') });
  const app = await buildServer(warden, { logger: false, rateLimit: false });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => app.close());
  return { warden, url: address.replace(/^http/, 'ws') + '/edge' };
}

/** A hand-made edge speaking the protocol, whose answers the test writes. */
async function rogueEdge(
  warden: Warden,
  url: string,
  again?: { identity: NodeIdentity; swarmId: string; running: { taskId: string; attempt: number }[] },
) {
  const invite = again ? undefined : decodeInviteToken((await warden.edges.invite()).token);
  const identity = again?.identity ?? NodeIdentity.generate();
  const ws = new WebSocket(url);
  closers.push(async () => ws.close());
  await new Promise((r) => ws.once('open', r));
  ws.send(
    JSON.stringify({
      t: 'hello',
      registration: createRegistration(identity, { swarmId: again?.swarmId ?? invite!.grant.swarmId }),
      ...(invite ? { invite: { id: invite.grant.id, secret: invite.secret } } : {}),
      runtimes: ['wasm'],
      concurrency: 1,
      running: again?.running ?? [],
    }),
  );
  const welcome = JSON.parse((await new Promise<Buffer>((r) => ws.once('message', r))).toString()) as {
    controlPlane: { body: { nodeId: string } };
    swarmId: string;
  };
  const registry = await TrustRegistry.open({
    swarmId: welcome.swarmId,
    allowList: [welcome.controlPlane.body.nodeId],
  });
  await registry.register(welcome.controlPlane);
  const channel = new SwarmChannel({ identity, registry });
  const leases: Lease[] = [];
  ws.on('message', (data: Buffer) => {
    const opened = channel.open(data);
    if (opened.header.type === 'warden.edge.lease')
      leases.push(JSON.parse(Buffer.from(opened.payload).toString()) as Lease);
  });
  let closeReason = '';
  const closed = new Promise<number>((r) =>
    ws.once('close', (code: number, reason: Buffer) => {
      closeReason = reason.toString();
      r(code);
    }),
  );
  const seal = (kind: string, message: unknown) =>
    channel.seal(
      { node: welcome.controlPlane.body.nodeId },
      Buffer.from(JSON.stringify(message)),
      `warden.edge.${kind}`,
    );
  const send = (kind: string, message: unknown) => {
    const envelope = seal(kind, message);
    ws.send(envelope);
    return envelope;
  };
  /** A result with a receipt signed over `signedOutput` (by default the output sent). */
  const answer = (lease: Lease, outputJson: string, signedOutput = outputJson) =>
    send('result', {
      taskId: lease.taskId,
      attempt: lease.attempt,
      outputJson,
      usage: {},
      receipt: signReceipt(identity, welcome.swarmId, {
        taskId: lease.taskId,
        agent: lease.agentKey,
        moduleDigest: `sha256:${lease.moduleDigest}`,
        inputDigest: digestBytes(lease.inputJson),
        outputDigest: digestBytes(signedOutput),
        startedAt: Date.now(),
        finishedAt: Date.now(),
      }),
    });
  return {
    identity,
    swarmId: welcome.swarmId,
    ws,
    leases,
    seal,
    send,
    answer,
    closed,
    reason: () => closeReason,
  };
}

interface Lease {
  taskId: string;
  attempt: number;
  agentKey: string;
  inputJson: string;
  moduleDigest: string | null;
}

async function nextLease(leases: unknown[], count: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (leases.length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(leases.length).toBeGreaterThanOrEqual(count);
}

describe('the edge protocol, with a hand-made edge', () => {
  it('cannot pass off an output its receipt does not sign: the result is refused, never stored', async () => {
    const { warden, url } = await controlPlane();
    const edge = await rogueEdge(warden, url);
    const task = await warden.submit({ agent: 'edge-count', input: 'two words' });
    for (const attempt of [1, 2]) {
      await nextLease(edge.leases, attempt);
      edge.answer(edge.leases[attempt - 1]!, '{"words":999}', JSON.stringify({ words: 2 }));
    }
    const result = await warden.result(task, { timeoutMs: 10_000 });
    expect(result?.status).toBe('dead');
    expect(result?.error?.code).toBe('EDGE_RECEIPT_INVALID');
    expect(result?.output ?? null).toBeNull();
  }, 30_000);

  it('is disconnected when it sends a frame that is not a sealed envelope from it', async () => {
    const { warden, url } = await controlPlane();
    const edge = await rogueEdge(warden, url);
    edge.ws.send(Buffer.from('not an envelope at all'));
    expect(await edge.closed).toBe(4002);
    await eventually(() => warden.edges.connected().length === 0, 5_000, 'the hub drops the node');
  }, 30_000);

  it('an edge that reconnects mid-run keeps its lease: the result sent on the new connection counts, in one attempt', async () => {
    const { warden, url } = await controlPlane();
    const edge = await rogueEdge(warden, url);
    const task = await warden.submit({ agent: 'edge-count', input: 'two words' });
    await nextLease(edge.leases, 1);
    const lease = edge.leases[0]!;
    edge.ws.close();
    await edge.closed;
    const back = await rogueEdge(warden, url, {
      identity: edge.identity,
      swarmId: edge.swarmId,
      running: [{ taskId: lease.taskId, attempt: lease.attempt }],
    });
    back.answer(lease, JSON.stringify({ words: 2 }));
    const result = await warden.result(task, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ status: 'succeeded', attempts: 1, output: { words: 2 } });
  }, 30_000);

  it("a session's placement overrides an agent that allows edges: required sends it there, never keeps it here", async () => {
    const { warden, url } = await controlPlane('allowed');
    const edge = await rogueEdge(warden, url);
    await warden.ensureSession({ name: 'local-only', placement: 'never' });
    await warden.ensureSession({ name: 'edge-only', placement: 'required' });
    const here = await warden.submit({ agent: 'edge-count', input: 'stays here', session: 'local-only' });
    expect((await warden.result(here, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    expect(edge.leases).toHaveLength(0);
    const there = await warden.submit({ agent: 'edge-count', input: 'goes there', session: 'edge-only' });
    await nextLease(edge.leases, 1);
    expect(edge.leases[0]!.taskId).toBe(there.id);
    edge.answer(edge.leases[0]!, JSON.stringify({ words: 2 }));
    expect((await warden.result(there, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
  }, 30_000);

  it('refuses at submit a task that could run nowhere (edge-only agent in a session that forbids edges)', async () => {
    const { warden } = await controlPlane('required');
    await warden.ensureSession({ name: 'local-only', placement: 'never' });
    await expect(
      warden.submit({ agent: 'edge-count', input: 'x', session: 'local-only' }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/could run nowhere/),
    });
  }, 30_000);

  it('on PostgreSQL, the receipt is recorded in the same transaction as the result and the bundle verifies', async () => {
    if (!(await requirePg())) return;
    const db = await freshDatabase();
    closers.push(() => db.drop());
    const { warden, url } = await controlPlane('required', db.url);
    const edge = await rogueEdge(warden, url);
    const task = await warden.submit({ agent: 'edge-count', input: 'on postgres' });
    await nextLease(edge.leases, 1);
    edge.answer(edge.leases[0]!, JSON.stringify({ words: 2 }));
    expect((await warden.result(task, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    const bundle = await warden.exportProvenance('default');
    const types = bundle.records.map((r) => r.type);
    expect(types.slice(-2)).toEqual(['task.receipt', 'task.succeeded']);
    expect(verifyBundle(bundle)).toMatchObject({ ok: true });
    await warden.close();
  }, 30_000);

  it.each([
    ['replayed', 'SWARM_REPLAY'],
    ['tampered', /SWARM_BAD_SIGNATURE|SWARM_DECRYPT_FAILED/],
  ] as const)(
    'a %s frame is refused: the connection is closed with its code',
    async (how, code) => {
      const { warden, url } = await controlPlane();
      const edge = await rogueEdge(warden, url);
      if (how === 'replayed') {
        const envelope = edge.send('heartbeat', { running: [] });
        await new Promise((r) => setTimeout(r, 50));
        edge.ws.send(envelope);
      } else {
        const envelope = Buffer.from(edge.seal('heartbeat', { running: [] }));
        envelope[envelope.length - 80]! ^= 0x01;
        edge.ws.send(envelope);
      }
      expect(await edge.closed).toBe(4002);
      expect(edge.reason()).toMatch(code);
    },
    30_000,
  );
});
