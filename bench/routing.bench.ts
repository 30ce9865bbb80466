// Semantic routing decision latency (issue 16 target: p50 ≤ 1 ms with the built-in embeddings): the ten
// agents of examples/routing registered in an embedded Warden, then `explainRoute` on varied intents not
// seen before (each embeds the intent, scores every agent, weighs in their KPIs). Also the held-out accuracy.
// Usage: node --import tsx bench/routing.bench.ts
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Warden } from '../src/index.js';
import { HELDOUT_INTENTS } from '../test/routing/heldout-intents.js';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toPrecision(4)), unit, ...extra })}\n`);
}

const examples = new URL('../examples/routing/', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'warden-bench-routing-'));
const warden = await Warden.open({ storage: { root }, workers: false });
try {
  for (const dir of readdirSync(examples, { withFileTypes: true }).filter((d) => d.isDirectory()))
    await warden.registerAgent({ path: join(examples, dir.name, 'agent.yaml') });
  let right = 0;
  for (const [intent, want] of HELDOUT_INTENTS)
    if ((await warden.explainRoute({ intent })).chosen?.name === want) right++;
  emit('routing held-out accuracy (10 agents, 60 intents)', right / HELDOUT_INTENTS.length, 'ratio');

  const times: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const [intent] = HELDOUT_INTENTS[i % HELDOUT_INTENTS.length]!;
    const fresh = `${intent} (request ${i})`; // never cached
    const t0 = performance.now();
    await warden.explainRoute({ intent: fresh });
    if (i >= 300) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  emit('routing decision p50', times[Math.floor(times.length / 2)]!, 'ms', { agents: 10 });
  emit('routing decision p99', times[Math.floor(times.length * 0.99)]!, 'ms', { agents: 10 });
} finally {
  await warden.close();
  rmSync(root, { recursive: true, force: true });
}
