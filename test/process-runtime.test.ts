import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WardenError, type Warden } from '../src/index.js';
import { eventually, openWarden, sandboxWorks, tempDir } from './helpers.js';

const SANDBOX = sandboxWorks('the process runtime tests');

/**
 * Whether a process still runs. The PID 1 of some containers and micro-VMs does not reap orphans, so a
 * killed grandchild may linger as a zombie: a zombie is dead (it runs no code), so it counts as gone.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Host pids whose command line has exactly this argument (works for sandboxed agents too). */
function pidsWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.includes(arg) && isAlive(Number(name))) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

interface AgentSpec {
  name: string;
  runtime?: 'node' | 'python' | 'process';
  /** Script body written to the entry file (node/python). */
  script?: string;
  /** For runtime process. */
  command?: string[];
  /** Extra lines inside `spec:` (already indented by two spaces). */
  extra?: string[];
  retry?: string;
  resources?: string;
}

/** Writes agent.yaml (and its script) into dir; returns the manifest path. */
function writeAgent(dir: string, a: AgentSpec): string {
  const runtime = a.runtime ?? 'node';
  const lines = [
    'apiVersion: warden.dev/v1',
    'kind: Agent',
    'metadata:',
    `  name: ${a.name}`,
    '  version: 1.0.0',
    'spec:',
    `  runtime: ${runtime}`,
  ];
  if (runtime === 'process') {
    lines.push(`  command: ${JSON.stringify(a.command ?? [])}`);
  } else {
    const file = `${a.name}.${runtime === 'python' ? 'py' : 'mjs'}`;
    writeFileSync(join(dir, file), a.script ?? '');
    lines.push(`  entry: ./${file}`);
  }
  lines.push(`  resources: ${a.resources ?? '{ timeoutMs: 10000 }'}`);
  lines.push(`  retry: ${a.retry ?? '{ maxAttempts: 1, baseMs: 0, maxMs: 0 }'}`);
  lines.push(...(a.extra ?? []));
  const path = join(dir, `${a.name}.yaml`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Node prelude: reads all of stdin as JSON, then calls main(input). */
const READ_STDIN = `
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => (raw += c));
process.stdin.on('end', () => main(JSON.parse(raw || 'null')));
`;

let dir: string;
let warden: Warden;

beforeEach(async () => {
  dir = tempDir();
  warden = await openWarden({ workers: { concurrency: 4, pollIntervalMs: 20 } });
});

async function runAgent(manifestPath: string, input: unknown = null, opts: { wait?: number } = {}) {
  const record = await warden.registerAgent({ path: manifestPath });
  const task = await warden.submit({ agent: record.key, input });
  const result = await warden.result(task.id, { timeoutMs: opts.wait ?? 15_000 });
  if (!result) throw new Error(`task ${task.id} did not finish`);
  return { task, result };
}

describe.runIf(SANDBOX)('process runtime: node agents', () => {
  it('round-trips JSON through stdin/stdout and stores stderr lines as logs', async () => {
    const path = writeAgent(dir, {
      name: 'echo',
      script: `${READ_STDIN}
function main(input) {
  console.error('got ' + JSON.stringify(input));
  console.error('second line');
  process.stdout.write(JSON.stringify({ echo: input, n: input.n * 2 }));
}`,
    });
    const { task, result } = await runAgent(path, { n: 21, text: 'héllo' });
    expect(result.status).toBe('succeeded');
    expect(result.attempts).toBe(1);
    expect(result.output).toEqual({ echo: { n: 21, text: 'héllo' }, n: 42 });
    expect(result.outputDigest).toMatch(/^[0-9a-f]{64}$/);

    await eventually(
      async () => (await warden.logs(task.id)).filter((l) => l.stream === 'stderr').length >= 2,
      5000,
      'stderr logs',
    );
    const stderr = (await warden.logs(task.id)).filter((l) => l.stream === 'stderr');
    expect(stderr.map((l) => l.message)).toEqual(['got {"n":21,"text":"héllo"}', 'second line']);
    expect(stderr.every((l) => l.attempt === 1 && l.taskId === task.id)).toBe(true);
  });

  it('kills the whole process group on TIMEOUT, grandchildren included', async () => {
    // The agent runs sandboxed (its own pid namespace, read-only code dir), so the test finds the
    // grandchild on the host by a unique argument instead of a pid file the agent would write.
    const marker = `${30 + Math.floor(Math.random() * 1e6) / 1e7}`;
    const path = writeAgent(dir, {
      name: 'hang',
      resources: '{ timeoutMs: 700 }',
      script: `
import { spawn } from 'node:child_process';
spawn('sleep', [${JSON.stringify(marker)}], { stdio: 'ignore' });
setInterval(() => {}, 1000);
`,
    });
    const record = await warden.registerAgent({ path });
    const task = await warden.submit({ agent: record.key });
    await eventually(() => pidsWithArg(marker).length > 0, 5000, 'grandchild');
    const [grandchild] = pidsWithArg(marker);
    expect(grandchild).toBeGreaterThan(1);
    expect(isAlive(grandchild!)).toBe(true); // control: it was running before the timeout

    const result = await warden.result(task.id, { timeoutMs: 10_000 });
    expect(result?.status).toBe('dead'); // maxAttempts 1
    expect(result?.error?.code).toBe('TIMEOUT');
    expect(result?.error?.message).toContain('700 ms');
    await eventually(() => !isAlive(grandchild!), 3000, `grandchild ${grandchild} to be killed`);
  });

  it('fails with OUTPUT_LIMIT, without retrying, when stdout exceeds maxOutputBytes', async () => {
    const path = writeAgent(dir, {
      name: 'chatty',
      resources: '{ timeoutMs: 10000, maxOutputBytes: 1000 }',
      retry: '{ maxAttempts: 3, baseMs: 0, maxMs: 0 }',
      script: `process.stdout.write(JSON.stringify({ blob: 'x'.repeat(5000) }));`,
    });
    const { result } = await runAgent(path);
    expect(result.status).toBe('dead');
    expect(result.error?.code).toBe('OUTPUT_LIMIT');
    expect(result.error?.message).toContain('1000 bytes');
    expect(result.attempts).toBe(1); // OUTPUT_LIMIT is not retryable
    expect(result.output).toBeNull();
  });

  it('accepts output just under maxOutputBytes', async () => {
    const path = writeAgent(dir, {
      name: 'fits',
      resources: '{ timeoutMs: 10000, maxOutputBytes: 1000 }',
      script: `process.stdout.write(JSON.stringify({ blob: 'x'.repeat(900) }));`,
    });
    const { result } = await runAgent(path);
    expect(result.status).toBe('succeeded');
    expect((result.output as { blob: string }).blob).toHaveLength(900);
    expect(result.usage?.outputBytes).toBe(911);
  });

  describe('scrubbed environment', () => {
    const saved: Record<string, string | undefined> = {};
    const set = (name: string, value: string | undefined) => {
      if (!(name in saved)) saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    };
    afterEach(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
        delete saved[name];
      }
    });

    it('passes only PATH, LANG, WARDEN_TASK_ID, WARDEN_ATTEMPT, manifest env and listed secrets', async () => {
      set('WARDEN_TEST_SECRET', 'x');
      set('WARDEN_TEST_UNLISTED', 'must-not-leak');
      set('WARDEN_TEST_MISSING', undefined);
      set('HOME', process.env['HOME'] ?? '/root');
      const path = writeAgent(dir, {
        name: 'env',
        script: `process.stdout.write(JSON.stringify(process.env));`,
        extra: [
          '  env: { MODE: fast, OTHER_SETTING: "2" }',
          '  secrets: [WARDEN_TEST_SECRET, WARDEN_TEST_MISSING]',
        ],
      });
      const { task, result } = await runAgent(path);
      expect(result.status).toBe('succeeded');
      const env = result.output as Record<string, string>;
      expect(Object.keys(env).sort()).toEqual(
        [
          'LANG',
          'MODE',
          'OTHER_SETTING',
          'PATH',
          'WARDEN_ATTEMPT',
          'WARDEN_TASK_ID',
          'WARDEN_TEST_SECRET',
        ].sort(),
      );
      expect(env).toMatchObject({
        MODE: 'fast',
        OTHER_SETTING: '2',
        WARDEN_TEST_SECRET: 'x',
        WARDEN_TASK_ID: task.id,
        WARDEN_ATTEMPT: '1',
      });
      expect(env['PATH']).toBeTruthy();
      expect(env['LANG']).toBeTruthy();
      // Secrets are read at run time and never stored with the agent version.
      const [agent] = (await warden.listAgents()).filter((a) => a.manifest.name === 'env');
      expect(JSON.stringify(agent?.manifest)).not.toContain('"x"');
    });
  });

  it('reports a non-zero exit as AGENT_FAILED with the stderr tail, retried up to maxAttempts', async () => {
    const path = writeAgent(dir, {
      name: 'fails',
      retry: '{ maxAttempts: 3, baseMs: 0, maxMs: 0 }',
      script: `
console.error('line one');
console.error('failing on attempt ' + process.env.WARDEN_ATTEMPT);
process.exit(3);
`,
    });
    const { task, result } = await runAgent(path);
    expect(result.status).toBe('dead');
    expect(result.attempts).toBe(3);
    expect(result.error?.code).toBe('AGENT_FAILED');
    expect(result.error?.message).toContain('code 3');
    expect(result.error?.message).toContain('failing on attempt 3');
    expect(result.error?.details).toMatchObject({ exitCode: 3 });
    const dead = await warden.dlq.list();
    expect(dead.map((d) => d.taskId)).toContain(task.id);
    await eventually(
      async () => new Set((await warden.logs(task.id)).map((l) => l.attempt)).size === 3,
      5000,
      'logs of all 3 attempts',
    );
    const attempts = (await warden.logs(task.id))
      .filter((l) => l.stream === 'stderr' && l.message.startsWith('failing'))
      .map((l) => [l.attempt, l.message]);
    expect(attempts).toEqual([
      [1, 'failing on attempt 1'],
      [2, 'failing on attempt 2'],
      [3, 'failing on attempt 3'],
    ]);
  });

  it('succeeds on a retry after a failed first attempt', async () => {
    const path = writeAgent(dir, {
      name: 'flaky',
      retry: '{ maxAttempts: 3, baseMs: 0, maxMs: 0 }',
      script: `
if (process.env.WARDEN_ATTEMPT === '1') { console.error('first try fails'); process.exit(1); }
process.stdout.write(JSON.stringify({ attempt: Number(process.env.WARDEN_ATTEMPT) }));
`,
    });
    const { result } = await runAgent(path);
    expect(result).toMatchObject({ status: 'succeeded', attempts: 2, output: { attempt: 2 } });
  });

  it('reports non-JSON stdout as INVALID_OUTPUT (retryable)', async () => {
    const path = writeAgent(dir, {
      name: 'garbage',
      retry: '{ maxAttempts: 2, baseMs: 0, maxMs: 0 }',
      script: `process.stdout.write('this is { not json');`,
    });
    const { result } = await runAgent(path);
    expect(result.status).toBe('dead');
    expect(result.error?.code).toBe('INVALID_OUTPUT');
    expect(result.error?.message).toContain('this is { not json');
    expect(result.attempts).toBe(2);
  });

  it('cancels a running agent and kills its process', async () => {
    const path = writeAgent(dir, { name: 'forever', script: `setInterval(() => {}, 1000);` });
    const script = join(dir, 'forever.mjs');
    const record = await warden.registerAgent({ path });
    const task = await warden.submit({ agent: record.key });
    // Found by its script path on the host: the sandboxed agent has its own pid namespace.
    await eventually(() => pidsWithArg(script).length > 0, 5000, 'agent process');
    const [pid] = pidsWithArg(script);
    expect(isAlive(pid!)).toBe(true);
    const started = Date.now();
    await warden.cancel(task.id);
    const result = await warden.result(task.id, { timeoutMs: 5000 });
    expect(result?.status).toBe('cancelled');
    expect(result?.error?.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(5000); // well before the 10 s timeout
    await eventually(() => !isAlive(pid!), 3000, `agent ${pid} to be killed`);
    expect((await warden.getTask(task.id)).state).toBe('cancelled');
  });

  it('reports wall time and peak memory for an agent that lives at least 100 ms', async () => {
    const path = writeAgent(dir, {
      name: 'slowpoke',
      script: `setTimeout(() => process.stdout.write(JSON.stringify({ done: true })), 250);`,
    });
    const { result } = await runAgent(path);
    expect(result.status).toBe('succeeded');
    const usage = result.usage!;
    expect(usage.wallMs).toBeGreaterThanOrEqual(200);
    expect(usage.peakMemoryBytes).toBeGreaterThan(1024 * 1024); // a node process uses megabytes
    expect(usage.cpuMs).toBeGreaterThanOrEqual(0);
    expect(usage.outputBytes).toBe(JSON.stringify({ done: true }).length);
  });
});

describe.runIf(SANDBOX)('process runtime: python and plain commands', () => {
  it('runs a python agent', async () => {
    const path = writeAgent(dir, {
      name: 'py',
      runtime: 'python',
      script: `import json, sys
data = json.load(sys.stdin)
print("python got", data["n"], file=sys.stderr)
json.dump({"doubled": data["n"] * 2, "major": sys.version_info[0]}, sys.stdout)
`,
    });
    const { task, result } = await runAgent(path, { n: 5 });
    expect(result).toMatchObject({ status: 'succeeded', output: { doubled: 10, major: 3 } });
    await eventually(async () => (await warden.logs(task.id)).length > 0, 5000, 'python logs');
    const lines = (await warden.logs(task.id)).filter((l) => l.stream === 'stderr').map((l) => l.message);
    expect(lines).toContain('python got 5');
  });

  it('runs a process agent from its command', async () => {
    const path = writeAgent(dir, {
      name: 'cat',
      runtime: 'process',
      command: ['/bin/sh', '-c', 'echo "from sh" >&2; cat'],
    });
    const { task, result } = await runAgent(path, { a: [1, 2, 3] });
    expect(result).toMatchObject({ status: 'succeeded', output: { a: [1, 2, 3] } });
    await eventually(async () => (await warden.logs(task.id)).length > 0, 5000, 'sh logs');
    expect((await warden.logs(task.id)).map((l) => l.message)).toContain('from sh');
  });

  it('rejects a missing entry file with FILE_NOT_FOUND at registration', async () => {
    const path = writeAgent(dir, { name: 'ghost', script: '' });
    writeFileSync(path, readFileSync(path, 'utf8').replace('./ghost.mjs', './does-not-exist.mjs'));
    const err = await warden.registerAgent({ path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('FILE_NOT_FOUND');
    expect((err as WardenError).message).toContain('does-not-exist.mjs');
    expect((await warden.listAgents()).some((a) => a.manifest.name === 'ghost')).toBe(false);
  });

  it('rejects a missing command file with FILE_NOT_FOUND at registration', async () => {
    const path = writeAgent(dir, { name: 'nobin', runtime: 'process', command: ['./bin/missing-agent'] });
    await expect(warden.registerAgent({ path })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
