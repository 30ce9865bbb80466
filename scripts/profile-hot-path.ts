// Profiles the embedded scheduler's hot path: queues N no-op tasks, then drains them with one worker of
// concurrency 50 (the drain of bench/warden.bench.ts) under --cpu-prof, and prints the functions with the
// most self time per thread. Usage:
//   npx tsx scripts/profile-hot-path.ts [--tasks 20000] [--out DIR] [--top 25]
// Each thread (the scheduler's, and the store's writer thread where there is one) writes its own profile
// into DIR; open them in Chrome DevTools or speedscope for the full picture.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    out: { type: 'string' },
    top: { type: 'string', default: '25' },
    phase: { type: 'string' },
    root: { type: 'string' },
  },
});

const jobs = Number(values.tasks);
if (values.phase === 'submit') {
  // Queued in a process of its own, so that the profile holds the drain alone.
  const { Warden } = await import('../src/index.js');
  const root = values.root!;
  {
    const producer = await Warden.open({ storage: { root }, workers: false });
    await producer.registerHandler('noop', () => null);
    for (let start = 0; start < jobs; start += 1000)
      await Promise.all(
        Array.from({ length: Math.min(1000, jobs - start) }, (_, k) =>
          producer.submit({ agent: 'noop', input: { k: start + k } }),
        ),
      );
    await producer.close();
  }
} else if (values.phase === 'drain') {
  const { Warden } = await import('../src/index.js');
  const root = values.root!;
  {
    // As bench/warden.bench.ts: workers at concurrency 50 from open(); the handler starts the drain.
    const warden = await Warden.open({ storage: { root }, workers: { concurrency: 50 } });
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    warden.scheduler.events.on('task', (e) => {
      if (e.state === 'succeeded' && ++done === jobs) finished();
    });
    const t0 = performance.now();
    await warden.registerHandler('noop', () => null);
    await all;
    const ms = performance.now() - t0;
    await warden.close();
    process.stderr.write(
      `drained ${jobs} tasks in ${ms.toFixed(0)} ms: ${((jobs / ms) * 1000).toFixed(0)} tasks/s\n`,
    );
  }
} else {
  const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'warden-cpuprof-')));
  mkdirSync(out, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'warden-profile-'));
  const script = new URL(import.meta.url).pathname;
  try {
    for (const [phase, flags] of [
      ['submit', []],
      ['drain', ['--cpu-prof', '--cpu-prof-dir', out]],
    ] as const) {
      const run = spawnSync(
        process.execPath,
        [...flags, '--import', 'tsx', script, '--phase', phase, '--root', root, '--tasks', values.tasks!],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      if (run.status !== 0) process.exit(run.status ?? 1);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }
  for (const file of readdirSync(out).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(out, file), 'utf8')) as {
      nodes: Node[];
      startTime: number;
      endTime: number;
    };
    const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const byFunction = new Map<string, number>();
    for (const n of profile.nodes) {
      const { functionName, url, lineNumber } = n.callFrame;
      const where = url ? `${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'} ${where}`.trim();
      byFunction.set(key, (byFunction.get(key) ?? 0) + (n.hitCount ?? 0));
    }
    const idle = byFunction.get('(idle)') ?? 0;
    console.log(`\n${file}: ${total} samples, ${((100 * idle) / total).toFixed(1)} % idle`);
    for (const [key, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
      console.log(`${((100 * hits) / total).toFixed(1).padStart(6)} %  ${key}`);
  }
  console.log(`\nprofiles in ${out}`);
}
