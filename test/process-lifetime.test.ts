import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Warden } from '../src/index.js';
import { eventually, sleep, tempDir } from './helpers.js';
import { startFakeProvider, type FakeProvider } from './llm/fake-provider.js';
import { fakeLlmAgentFile } from './llm/fake-agent-file.js';

// Processes that must outlive an idle queue or a retry backoff, run as the real thing: the CLI (bin/warden.js
// on dist/) and a library script in child processes, waiting past the points where they used to quit.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');
const WASM_ECHO = join(ROOT, 'examples/wasm-wat/agent.yaml');

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv['STORAGE_ROOT'];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((done) =>
    proc.on('exit', (code, signal) => done(code ?? signal ?? -1)),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

function cli(data: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  return start([BIN, '--data', data, ...args], env);
}

/** The exit code, failing the test if the process has not ended within timeoutMs. */
async function exitOf(child: Child, timeoutMs: number): Promise<number | string> {
  const timeout = sleep(timeoutMs).then(() => 'still running' as const);
  const code = await Promise.race([child.exited, timeout]);
  if (code === 'still running')
    throw new Error(`process still running after ${timeoutMs} ms; stderr:\n${child.stderr()}`);
  return code;
}

const llmAgent = (baseUrl: string, name = 'limited'): string => fakeLlmAgentFile(baseUrl, name);

let fake: FakeProvider;
beforeEach(async () => {
  fake = await startFakeProvider();
});
afterEach(() => fake.close());

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js')))
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

describe('warden worker', () => {
  it('keeps running past the idle point, runs a task submitted later, and stops on SIGTERM', async () => {
    const data = tempDir();
    const worker = cli(data, ['worker', '--concurrency', '2']);
    await eventually(() => worker.stderr().includes('running'), 10_000, 'the worker to start');
    await sleep(3500); // the queue has been idle well past the poll and refresh intervals
    expect(worker.proc.exitCode, worker.stderr()).toBeNull();

    const submit = cli(data, ['submit', WASM_ECHO, '--input', '{"late":true}']);
    expect(await exitOf(submit, 20_000), submit.stderr()).toBe(0);
    const id = submit.stdout().trim();
    const result = cli(data, ['--json', 'result', id, '--wait']);
    expect(await exitOf(result, 20_000), result.stderr()).toBe(0);
    expect(JSON.parse(result.stdout())).toMatchObject({ result: { status: 'succeeded' } });

    worker.proc.kill('SIGTERM');
    expect(await exitOf(worker, 10_000), worker.stderr()).toBe(0);
    expect(worker.stderr()).toContain('stopping');
  });

  it('on SIGTERM finishes the running task within the grace period', async () => {
    const data = tempDir();
    fake.script({ kind: 'complete', tokens: ['a ', 'b ', 'c ', 'd'], delayMs: 300 });
    const submit = cli(data, ['submit', llmAgent(fake.openaiBase), '--input', '{"text":"x"}']);
    expect(await exitOf(submit, 20_000), submit.stderr()).toBe(0);
    const id = submit.stdout().trim();
    const worker = cli(data, ['worker'], { FAKE_KEY: 'k' });
    await eventually(() => fake.requests.length > 0, 10_000, 'the task to start');
    worker.proc.kill('SIGTERM');
    expect(await exitOf(worker, 15_000), worker.stderr()).toBe(0);
    const shown = cli(data, ['--json', 'result', id]);
    expect(await exitOf(shown, 20_000)).toBe(0);
    expect(JSON.parse(shown.stdout())).toMatchObject({ result: { status: 'succeeded', attempts: 1 } });
  });

  it('on SIGTERM hands a task still running after --grace back to the queue', async () => {
    const data = tempDir();
    fake.script({ kind: 'stall', tokens: ['never ', 'ends'] });
    const submit = cli(data, ['submit', llmAgent(fake.openaiBase), '--input', '{"text":"x"}']);
    expect(await exitOf(submit, 20_000), submit.stderr()).toBe(0);
    const id = submit.stdout().trim();
    const worker = cli(data, ['worker', '--grace', '300'], { FAKE_KEY: 'k' });
    await eventually(() => fake.requests.length > 0, 10_000, 'the task to start');
    const stoppedAt = Date.now();
    worker.proc.kill('SIGTERM');
    expect(await exitOf(worker, 10_000), worker.stderr()).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    const shown = cli(data, ['--json', 'result', id]);
    expect(await exitOf(shown, 20_000)).toBe(0);
    expect(JSON.parse(shown.stdout())).toMatchObject({ task: { state: 'queued' }, result: null });
  });
});

describe('waiting through a retry backoff', () => {
  it('warden run stays until the retry ran, and says when it retries', async () => {
    const data = tempDir();
    fake.script({ kind: 'status', status: 429, headers: { 'retry-after': '3' } });
    const startedAt = Date.now();
    const run = cli(data, ['run', llmAgent(fake.openaiBase), '--input', '{"text":"hello"}'], {
      FAKE_KEY: 'k',
    });
    expect(await exitOf(run, 25_000), run.stderr()).toBe(0);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3000);
    expect(run.stdout()).toMatch(/^status:\s+succeeded$/m);
    expect(run.stdout()).toMatch(/^attempts: 2$/m);
    // No silent waiting: the backoff is announced with the attempt that comes next and when.
    expect(run.stderr()).toMatch(/attempt 1 of 3 failed: \[LLM_RATE_LIMITED\].*retry 2 at \d\d:\d\d:\d\d/);
  });

  it('warden result --wait stays until another process has run the retry', async () => {
    const data = tempDir();
    fake.script({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const submit = cli(data, ['submit', llmAgent(fake.openaiBase), '--input', '{"text":"hello"}']);
    expect(await exitOf(submit, 20_000), submit.stderr()).toBe(0);
    const id = submit.stdout().trim();
    const open = () => Warden.open({ storage: { root: data }, llm: { env: { FAKE_KEY: 'k' } } });
    // A first worker runs attempt 1 (rate-limited) and stops: no retry can run before the waits watch.
    const first = await open();
    try {
      await eventually(
        async () => (await first.getTask(id)).state === 'queued' && fake.requests.length === 1,
        10_000,
        'the first attempt to fail',
      );
    } finally {
      await first.close();
    }
    const waiting = cli(data, ['--json', 'result', id, '--wait']);
    const watching = cli(data, ['result', id, '--wait']);
    // Without --json, the wait says what it waits for: the failed attempt and its error, on stderr.
    await eventually(
      async () => /attempt 1 failed: \[LLM_RATE_LIMITED\]/.test(watching.stderr()),
      20_000,
      'the watching wait to report the failed attempt',
    );
    const worker = await open();
    try {
      expect(await exitOf(waiting, 20_000), waiting.stderr()).toBe(0);
      expect(JSON.parse(waiting.stdout())).toMatchObject({ result: { status: 'succeeded', attempts: 2 } });
      expect(await exitOf(watching, 20_000), watching.stderr()).toBe(0);
      expect(watching.stdout()).toMatch(/^state:\s+succeeded$/m);
      expect(fake.requests.length).toBe(2);
    } finally {
      await worker.close();
    }
  });

  it('warden result --wait --wait-timeout gives up with exit code 3 and leaves the task queued', async () => {
    const data = tempDir();
    const submit = cli(data, ['submit', WASM_ECHO, '--input', '{}']);
    expect(await exitOf(submit, 20_000), submit.stderr()).toBe(0);
    const id = submit.stdout().trim();
    const waiting = cli(data, ['result', id, '--wait', '--wait-timeout', '1500']);
    expect(await exitOf(waiting, 20_000)).toBe(3);
    expect(waiting.stderr()).toContain(`still not finished after 1500 ms: task ${id} keeps its place`);
    const shown = cli(data, ['--json', 'result', id]);
    expect(await exitOf(shown, 20_000)).toBe(0);
    expect(JSON.parse(shown.stdout())).toMatchObject({ task: { state: 'queued' }, result: null });
  });

  it('a library script (ESM) awaiting warden.result() lives until the retried task finishes', async () => {
    const dir = tempDir();
    const script = join(dir, 'wait.mjs');
    writeFileSync(
      script,
      `import { Warden } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/index.js')).href)};
const warden = await Warden.open({ storage: { root: process.argv[2] }, workers: { random: () => 0.999 } });
let calls = 0;
await warden.registerHandler('flaky', () => {
  if (++calls === 1) throw new Error('the first call fails');
  return { calls };
}, { retry: { maxAttempts: 2, baseMs: 2500, maxMs: 2500 } });
const task = await warden.submit({ agent: 'flaky' });
const result = await warden.result(task.id);
process.stdout.write(JSON.stringify(result));
await warden.close();
`,
    );
    const startedAt = Date.now();
    const child = start([script, join(dir, 'data')]);
    expect(await exitOf(child, 20_000), child.stderr()).toBe(0);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2500);
    expect(JSON.parse(child.stdout())).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      output: { calls: 2 },
    });
  });

  it('close() ends a pending result() without a result and lets the process exit at once', async () => {
    const dir = tempDir();
    const script = join(dir, 'close.mjs');
    writeFileSync(
      script,
      `import { Warden } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/index.js')).href)};
const warden = await Warden.open({ storage: { root: process.argv[2] }, workers: false });
await warden.registerHandler('elsewhere', () => 'never runs here');
const task = await warden.submit({ agent: 'elsewhere' });
const pending = warden.result(task.id).then((r) => (r === undefined ? 'no result' : 'settled'), (e) => e.code);
setTimeout(() => void warden.close(), 1500);
process.stdout.write(await pending);
`,
    );
    const child = start([script, join(dir, 'data')]);
    expect(await exitOf(child, 10_000), child.stderr()).toBe(0);
    expect(child.stdout()).toBe('no result');
  });
});
