// Runs every bench/*.bench.ts (and bench/peers/*.bench.ts) in its own process, one after the other,
// so that one benchmark's heap and threads never skew the next. Each prints JSON lines:
//   {"name": "...", "value": 1.23, "unit": "ms"}
// Usage: npm run bench [-- <substring filter>]
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const filter = process.argv[2];
const here = new URL('.', import.meta.url).pathname;
const files = [
  ...readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => join(here, f)),
  ...readdirSync(join(here, 'peers'))
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => join(here, 'peers', f)),
].filter((f) => !filter || f.includes(filter));

let failed = 0;
for (const file of files) {
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (run.status !== 0) {
    failed++;
    console.error(`bench failed: ${file} (exit ${run.status ?? run.signal})`);
  } else {
    console.error(`bench done: ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
process.exitCode = failed ? 1 : 0;
