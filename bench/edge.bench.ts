// Edge-node figures: a task of a WASM agent run on an edge node (a real WebSocket over loopback, sealed
// envelopes both ways, a signed receipt verified and recorded) against the same agent run here, in one
// process so that machine noise hits both alike. JSON lines: {"name", "value", "unit", ...}.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildServer } from '../src/api/index.js';
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
const { token } = await warden.edges.invite({ maxConcurrency: 16 });
const edge = await EdgeNode.start({
  url: address.replace(/^http/, 'ws'),
  dataDir: join(root, 'edge'),
  invite: token,
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

await latency('count-required', 50); // warm up: code shipped, module compiled on the edge
await latency('count-never', 50);
for (const [label, agent] of [
  ['edge', 'count-required'],
  ['local', 'count-never'],
] as const) {
  const t = await latency(agent, 300);
  emit(`wasm task submit→result p50, ${label}`, quantile(t, 0.5), 'ms', { rounds: t.length });
  emit(`wasm task submit→result p99, ${label}`, quantile(t, 0.99), 'ms', { rounds: t.length });
}
for (const [label, agent] of [
  ['edge (16 slots)', 'count-required'],
  ['local', 'count-never'],
] as const)
  emit(`wasm task throughput, ${label}`, await throughput(agent, 1000), 'tasks/s', { tasks: 1000 });

await edge.stop();
await app.close();
await warden.close();
rmSync(root, { recursive: true, force: true });
