// Runs every bench/*.bench.ts (and bench/peers/*.bench.ts) in its own process, one after the other, so that
// one benchmark's heap and threads never skew the next. Each prints JSON lines:
//   {"name": "...", "value": 1.23, "unit": "ms"}
// At the end, Warden's scheduler figures are printed again as ratios to the peers that ran.
// Usage: npm run bench [-- <substring filter>]
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const filter = process.argv[2];
const here = new URL('.', import.meta.url).pathname;
const list = (dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .map((f) => join(dir, f));
const files = [...list(here), ...list(join(here, 'peers'))].filter((f) => !filter || f.includes(filter));

const figures = new Map();
let failed = 0;
for (const file of files) {
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    process.stdout.write(`${line}\n`);
    try {
      const figure = JSON.parse(line);
      figures.set(figure.name, figure.value);
    } catch {
      // not a figure
    }
  }
  if (run.status !== 0) {
    failed++;
    console.error(`bench failed: ${file} (exit ${run.status ?? run.signal})`);
  } else {
    console.error(`bench done: ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

const ratio = (name, ours, theirs, higherIsBetter) => {
  const a = figures.get(ours);
  const b = figures.get(theirs);
  if (a === undefined || b === undefined) return;
  const value = higherIsBetter ? a / b : b / a;
  process.stdout.write(
    `${JSON.stringify({ name, value: Number(value.toFixed(3)), unit: 'x', ours: a, theirs: b })}\n`,
  );
};
for (const peer of ['bullmq', 'graphile-worker']) {
  ratio(
    `warden vs ${peer} no-op throughput`,
    'warden no-op throughput',
    `peer ${peer} no-op throughput`,
    true,
  );
  ratio(
    `warden vs ${peer} latency p50 (speedup)`,
    'warden submit-to-result latency p50',
    `peer ${peer} submit-to-result latency p50`,
    false,
  );
  ratio(
    `warden vs ${peer} latency p99 (speedup)`,
    'warden submit-to-result latency p99',
    `peer ${peer} submit-to-result latency p99`,
    false,
  );
}
process.exitCode = failed ? 1 : 0;
