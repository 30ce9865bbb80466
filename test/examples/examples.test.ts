import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Warden } from '../../src/index.js';
import { sandboxWorks, tempDir } from '../helpers.js';

// The seeds' examples, run as a user runs them: `node examples/<name>/main.mjs`, a child process importing
// the package by its own name ('warden' → dist/ through package.json's exports). The facts each prints are
// asserted, not just its exit code.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HEX64 = /[0-9a-f]{64}/;
/** federated-orchestration and agent-benchmark run node agents in bubblewrap. */
const itSandboxed = it.runIf(sandboxWorks('the examples that run node agents'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function example(name: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of ['STORAGE_ROOT', 'WARDEN_DATA', 'GOVERNANCE_POLICY', 'STORAGE_BACKEND', 'DATABASE_URL'])
    delete env[v];
  const started = Date.now();
  return new Promise((done) =>
    execFile(
      process.execPath,
      [join('examples', name, 'main.mjs'), ...args],
      { cwd: ROOT, env, timeout: 30_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          stdout,
          stderr,
          ms: Date.now() - started,
        }),
    ),
  );
}

/** The exit code, with the output when it is not 0 (what a failing CI run needs to show). */
function succeeded(run: Run): void {
  expect(run.code, `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
  expect(run.ms).toBeLessThan(15_000);
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(join(ROOT, 'examples', 'wasm-as', 'build', 'agent.wasm')))
    execFileSync('npx', ['tsx', 'scripts/build-wasm-examples.ts'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

describe('examples', () => {
  it('basic-session: three WASM tasks succeed, and the session chain verifies', async () => {
    const run = await example('basic-session');
    succeeded(run);
    expect(run.stdout).toContain('registered wasm-as@1.0.0');
    expect(run.stdout.match(/ succeeded {2}attempts=1 /g)).toHaveLength(3);
    // The agent's answers: its JSON input's size and the words of its strings ("text" counts as one).
    expect(run.stdout).toContain('"words":10,"input":{"text":"the quick brown fox jumps over the lazy dog"}');
    expect(run.stdout).toMatch(
      /provenance \(session basic\): 10 records, chain verified\n {2}head: [0-9a-f]{64}/,
    );
  });

  it('basic-session --data keeps its store: the session and its tasks are there afterwards', async () => {
    const data = tempDir();
    succeeded(await example('basic-session', '--data', data));
    const warden = await Warden.open({ storage: { root: data }, workers: false });
    try {
      const tasks = await warden.listTasks({ session: 'basic' });
      expect(tasks.map((t) => t.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(await warden.verify('basic')).toMatchObject({ ok: true, length: 10 });
    } finally {
      await warden.close();
    }
  });

  itSandboxed(
    'federated-orchestration: fan-out, a refused merge, fan-in, strict blocks, bundles verify',
    async () => {
      const run = await example('federated-orchestration');
      succeeded(run);
      const out = run.stdout;
      expect(out).toContain('research: policy default');
      expect(out).toContain('publish: policy strict');
      // Fan-out: five tasks run; the poisoned one is flagged at input under the default policy.
      expect(out.match(/^ {2}\S.* succeeded {2}top: /gm)).toHaveLength(5);
      expect(out).toMatch(/forwarded page +succeeded .*flagged: Jailbreak \(severity \d+, input\)/);
      // validate_merge accepts the four clean results and refuses the flagged one.
      expect(out.match(/^ {2}.+ accepted$/gm)).toHaveLength(4);
      expect(out).toMatch(/forwarded page +refused: flagged Jailbreak/);
      // Fan-in of the four, then the strict session's headline; the poisoned page is blocked there.
      expect(out).toContain(
        'merge succeeded: {"documents":["grid report","city survey","market note","field memo"],"words":72,"top":["solar","storage","battery","crews","added"]}',
      );
      expect(out).toContain('headline succeeded: Solar, Storage and Battery: what 4 reports agree on');
      expect(out).toContain('refused at submit under strict: [GOVERNANCE_BLOCKED]');
      // Both bundles verify offline.
      expect(out).toMatch(/research +bundle verified: 21 records, 6 task statements, root [0-9a-f]{64}/);
      expect(out).toMatch(/publish +bundle verified: 6 records, 1 task statements, root [0-9a-f]{64}/);
    },
  );

  itSandboxed('federated-orchestration --data: the written bundles verify with the CLI', async () => {
    const data = tempDir();
    succeeded(await example('federated-orchestration', '--data', data));
    for (const session of ['research', 'publish']) {
      const out = execFileSync(
        process.execPath,
        [join(ROOT, 'bin', 'warden.js'), 'verify', join(data, 'bundles', `${session}.bundle.json`)],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(out).toMatch(new RegExp(`^ok .*session ${session}`));
      expect(out).toMatch(HEX64);
    }
  });

  itSandboxed('agent-benchmark: KPIs side by side, and 1.1.0 wins', async () => {
    const run = await example('agent-benchmark');
    succeeded(run);
    const out = run.stdout;
    expect(out).toContain('registered sentiment@1.0.0');
    expect(out).toContain('registered sentiment@1.1.0');
    // 1.0.0 crashes on the two texts without letters; its word list misses most; 1.1.0 misses the sarcasm.
    expect(out).toContain('"???": dead (AGENT_FAILED), expected neutral');
    expect(out).toContain('sentiment@1.0.0: 12 of 19 wrong or failed');
    expect(out).toContain('sentiment@1.1.0: 1 of 19 wrong or failed');
    expect(out).toMatch(/tasks finished +19 +19/);
    expect(out).toMatch(/success rate +89\.5 % +100\.0 %/);
    expect(out).toMatch(/reward \(mean\) +0\.368 +0\.947/);
    expect(out).toMatch(/latency p50 +\d+ ms +\d+ ms/);
    expect(out).toMatch(/latency p95 +\d+ ms +\d+ ms/);
    expect(out).toMatch(/^winner: sentiment@1\.1\.0 \(reward 0\.947 vs 0\.368/m);
  });

  it('advanced-features: governance, a dead letter replayed, a breaker, the RD knee', async () => {
    const run = await example('advanced-features');
    succeeded(run);
    const out = run.stdout;
    expect(out).toMatch(
      /default policy, jailbreak prompt: task succeeded, flags: Jailbreak \(severity \d+, input\)/,
    );
    expect(out).toContain('strict policy, same prompt: refused at submit [GOVERNANCE_BLOCKED]');
    expect(out).toMatch(
      /output pipes a download into sh: task quarantined \[TASK_QUARANTINED\], flags: Unsafe \(severity \d+, output\)/,
    );
    expect(out).toMatch(/validate_merge: refused \(quarantined/);
    expect(out).toContain('released by alice: task succeeded, result succeeded');
    expect(out).toContain(
      'its provenance: task.submitted → task.started → governance.flagged → task.quarantined → task.released',
    );
    expect(out).toMatch(/session guarded: \d+ records, chain verified/);

    expect(out).toContain('task dead after 3 attempts: [AGENT_FAILED] upstream warehouse unreachable');
    expect(out).toContain('dead-letter queue: exporter@1.0.0, 3 attempts');
    expect(out).toContain('replayed: task succeeded on attempt 4, output {"exported":120}');
    expect(out).toContain('dead-letter queue: the task is no longer in it');

    expect(out.match(/^invoice \d: dead \[AGENT_FAILED\]$/gm)).toHaveLength(3);
    expect(out).toContain('breaker open after 3 failures');
    expect(out).toContain('invoice 4 waits while the breaker is open: queued');
    expect(out).toContain('breaker reset: invoice 4 succeeded; breaker closed');

    expect(out.match(/^ +\d+ +\d+ +\d+\.\d{3} +\d+\.\d{3}/gm)).toHaveLength(10);
    expect(out).toMatch(/^ +4 +5 +4\.052 +1\.812 {2}<- knee$/m);
    expect(out).toContain('knee: stop refining after step 4');
  });
});
