// A trivial WASM agent end to end (issue 19 target: ≥ 70 % of the inline no-op rate): the hand-written WAT
// echo agent (examples/wasm-wat) submitted through Warden, against the inline no-op handler in the same run,
// rounds interleaved so that both see the same machine. Embedded (SQLite, durable, provenance chain),
// workers with concurrency 50, submit and run concurrently — as bench/warden.bench.ts measures the no-op.
// Prints JSON lines {"name","value","unit"}; WASM_E2E_JOBS and WASM_E2E_ROUNDS override the defaults.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Warden } from '../src/index.js';
import { ensureWasmExamples, WASM_EXAMPLES } from '../scripts/build-wasm-examples.js';

const JOBS = Number(process.env['WASM_E2E_JOBS'] ?? 5000);
const ROUNDS = Number(process.env['WASM_E2E_ROUNDS'] ?? 3);
const CONCURRENCY = 50;
const SUBMIT_CHUNK = 1000;

type Kind = 'inline no-op' | 'wasm-wat';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;

/** One round: a fresh storage root, JOBS tasks submitted in chunks while the workers run them. */
async function rate(kind: Kind): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  try {
    const warden = await Warden.open({ storage: { root }, workers: { concurrency: CONCURRENCY } });
    const agent =
      kind === 'inline no-op'
        ? (await warden.registerHandler('noop', () => null)).key
        : (await warden.registerAgent({ path: resolve(WASM_EXAMPLES.wat, 'agent.yaml') })).key;
    // The first task prepares the agent (module compile, worker start): not part of the steady rate.
    const first = await warden.submit({ agent, input: { k: -1 } });
    await warden.result(first.id);
    const started = performance.now();
    const ids: string[] = [];
    for (let start = 0; start < JOBS; start += SUBMIT_CHUNK) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(SUBMIT_CHUNK, JOBS - start) }, (_, k) =>
          warden.submit({ agent, input: { k: start + k } }),
        ),
      );
      for (const t of chunk) ids.push(t.id);
    }
    const results = await Promise.all(ids.map((id) => warden.result(id)));
    const ms = performance.now() - started;
    const failed = results.filter((r) => r?.status !== 'succeeded');
    if (failed.length > 0) throw new Error(`${kind}: ${failed.length} tasks did not succeed`);
    await warden.close();
    return (JOBS / ms) * 1000;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await ensureWasmExamples();
const rates: Record<Kind, number[]> = { 'inline no-op': [], 'wasm-wat': [] };
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always runs on a machine the other just warmed (or heated).
  const order: Kind[] = round % 2 === 0 ? ['inline no-op', 'wasm-wat'] : ['wasm-wat', 'inline no-op'];
  const got = {} as Record<Kind, number>;
  for (const kind of order) got[kind] = await rate(kind);
  rates['inline no-op'].push(got['inline no-op']);
  rates['wasm-wat'].push(got['wasm-wat']);
  ratios.push(got['wasm-wat'] / got['inline no-op']);
  process.stderr.write(
    `round ${round + 1}: inline ${got['inline no-op'].toFixed(0)}/s, wasm ${got['wasm-wat'].toFixed(0)}/s\n`,
  );
}
for (const kind of ['inline no-op', 'wasm-wat'] as const) {
  const xs = sorted(rates[kind]);
  emit(`scheduler throughput, ${kind} agent (submit and run concurrently)`, median(xs), 'tasks/s', {
    min: Number(xs[0]!.toFixed(1)),
    max: Number(xs[xs.length - 1]!.toFixed(1)),
    rounds: ROUNDS,
    jobs: JOBS,
    concurrency: CONCURRENCY,
  });
}
const r = sorted(ratios);
emit('wasm agent vs inline no-op throughput', median(r), 'x', {
  min: Number(r[0]!.toFixed(3)),
  max: Number(r[r.length - 1]!.toFixed(3)),
  rounds: ROUNDS,
  target: '≥ 0.7 x',
});
process.exit(0);
