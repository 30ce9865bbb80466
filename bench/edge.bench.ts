// Edge-node figures: a task of a WASM agent run on an edge node (a real WebSocket over loopback, sealed
// envelopes both ways, a signed receipt verified and recorded) against the same agent run here, in one
// process so that machine noise hits both alike. JSON lines: {"name", "value", "unit", ...}.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildServer } from '../src/api/index.js';
import { WebSocket, WebSocketServer } from 'ws';
import { EdgeNode } from '../src/edge/index.js';
import { Warden } from '../src/index.js';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

const root = mkdtempSync(join(tmpdir(), 'warden-edge-bench-'));
const agentDir = join(root, 'agent');
mkdirSync(join(agentDir, 'build'), { recursive: true });
copyFileSync(
  new URL('../examples/wasm-as/build/agent.wasm', import.meta.url).pathname,
  join(agentDir, 'build/agent.wasm'),
);
for (const placement of ['required', 'never'])
  writeFileSync(
    join(agentDir, `${placement}.yaml`),
    `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: count-${placement}, version: 1.0.0 }
spec:
  runtime: wasm
  module: ./build/agent.wasm
  placement: { edge: ${placement} }
  concurrency: 64
`,
  );

const warden = await Warden.open({ storage: { root: join(root, 'cp') }, workers: { concurrency: 32 } });
await warden.registerAgent({ path: join(agentDir, 'required.yaml') });
await warden.registerAgent({ path: join(agentDir, 'never.yaml') });
const app = await buildServer(warden, { logger: false, rateLimit: false });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
const url = address.replace(/^http/, 'ws');
const hybrid = await EdgeNode.start({
  url,
  dataDir: join(root, 'edge-pq'),
  invite: (await warden.edges.invite({ maxConcurrency: 50 })).token,
});

async function latency(agent: string, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await warden.result(await warden.submit({ agent, input: `round ${i} of the latency loop` }), {
      timeoutMs: 30_000,
    });
    if (r?.status !== 'succeeded') throw new Error(`${agent}: ${JSON.stringify(r?.error)}`);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function throughput(agent: string, tasks: number): Promise<number> {
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: tasks }, (_, i) => warden.submit({ agent, input: `task ${i}` })),
  );
  for (const id of ids)
    if ((await warden.result(id, { timeoutMs: 60_000 }))?.status !== 'succeeded') throw new Error('failed');
  return tasks / ((performance.now() - t0) / 1000);
}

async function edgeFigures(label: string): Promise<void> {
  await latency('count-required', 50); // warm up: code shipped, module compiled on the edge
  const t = await latency('count-required', 300);
  emit(`wasm task submit→result p50, edge (${label})`, quantile(t, 0.5), 'ms', { rounds: t.length });
  emit(`wasm task submit→result p99, edge (${label})`, quantile(t, 0.99), 'ms', { rounds: t.length });
  emit(
    `wasm task throughput, edge (${label}, concurrency 50)`,
    await throughput('count-required', 1000),
    'tasks/s',
    { tasks: 1000 },
  );
}

await latency('count-never', 50);
const local = await latency('count-never', 300);
emit('wasm task submit→result p50, local', quantile(local, 0.5), 'ms', { rounds: local.length });
emit('wasm task submit→result p99, local', quantile(local, 0.99), 'ms', { rounds: local.length });
emit('wasm task throughput, local', await throughput('count-never', 1000), 'tasks/s', { tasks: 1000 });

await edgeFigures('hybrid receipts');
await hybrid.stop();
// Only the classical edge is connected now: the same tasks, with Ed25519-only receipts.
const classical = await EdgeNode.start({
  url,
  dataDir: join(root, 'edge-classical'),
  invite: (await warden.edges.invite({ maxConcurrency: 50 })).token,
  postQuantum: false,
});
await edgeFigures('Ed25519 receipts');
await classical.stop();

// Sealed frames over one WebSocket, without the scheduler: what the transport itself costs.
await sealedFrames();

await app.close();
await warden.close();
rmSync(root, { recursive: true, force: true });

async function sealedFrames(): Promise<void> {
  const { NodeIdentity, SwarmChannel, TrustRegistry, createRegistration } =
    await import('../src/swarm/index.js');
  const a = NodeIdentity.generate();
  const b = NodeIdentity.generate();
  const registry = await TrustRegistry.open({ swarmId: 'bench', allowList: [a.nodeId, b.nodeId] });
  await registry.register(createRegistration(a, { swarmId: 'bench' }));
  await registry.register(createRegistration(b, { swarmId: 'bench' }));
  const sender = new SwarmChannel({ identity: a, registry });
  const receiver = new SwarmChannel({ identity: b, registry, replay: { windowSize: 1 << 16 } });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 26 });
  const port = await new Promise<number>((r) =>
    wss.on('listening', () => r((wss.address() as { port: number }).port)),
  );
  const server = new Promise<WebSocket>((r) => wss.on('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: 1 << 26 });
  await new Promise((r) => client.on('open', r));
  const peer = await server;
  // Echo: the receiver opens each frame and answers with a sealed acknowledgement.
  peer.on('message', (data: Buffer) => {
    const opened = receiver.open(data);
    peer.send(receiver.seal({ node: a.nodeId }, Buffer.from(String(opened.payload.length)), 'ack'));
  });
  const back = new SwarmChannel({ identity: a, registry });
  for (const size of [1024, 65_536]) {
    const payload = Buffer.alloc(size, 7);
    const frames = size === 1024 ? 20_000 : 2_000;
    let acked = 0;
    const done = new Promise<void>((resolve) => {
      const onAck = (data: Buffer) => {
        back.open(data);
        if (++acked === frames) {
          client.off('message', onAck);
          resolve();
        }
      };
      client.on('message', onAck);
    });
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) client.send(sender.seal({ node: b.nodeId }, payload, 'data'));
    await done;
    const seconds = (performance.now() - t0) / 1000;
    emit(`sealed frame throughput, ${size / 1024} KB payload`, frames / seconds, 'frames/s', {
      mbPerSecond: Number(((frames * size) / seconds / 1e6).toFixed(1)),
    });
  }
  // Round trip of one sealed frame and its sealed answer.
  const rt: number[] = [];
  const small = Buffer.alloc(256, 1);
  for (let i = 0; i < 2_000; i++) {
    const t0 = performance.now();
    const answered = new Promise<void>((r) => client.once('message', (d: Buffer) => (back.open(d), r())));
    client.send(sender.seal({ node: b.nodeId }, small, 'data'));
    await answered;
    rt.push(performance.now() - t0);
  }
  rt.sort((x, y) => x - y);
  emit('sealed frame round trip p50, 256 B', quantile(rt, 0.5), 'ms', { rounds: rt.length });
  emit('sealed frame round trip p99, 256 B', quantile(rt, 0.99), 'ms', { rounds: rt.length });
  client.close();
  wss.close();
}
