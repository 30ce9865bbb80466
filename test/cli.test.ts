import { execFile, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Task, TaskResult } from '../src/index.js';
import { sandboxWorks, tempDir } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');
const ECHO = 'examples/echo/agent.yaml';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** Tests that run a process agent (the echo example) need bubblewrap. */
const itSandboxed = it.runIf(sandboxWorks('the CLI tests that run process agents'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/warden.js, which imports dist/) with --data pointing at `data`. */
function cli(data: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['STORAGE_ROOT'];
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, '--data', data, ...args],
      { cwd: ROOT, env, timeout: 20_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

function json<T>(run: Run): T {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  }
}, 120_000);

describe('warden run', () => {
  itSandboxed('runs the echo example and prints the output and the verified chain', async () => {
    const data = tempDir();
    const r = await cli(data, 'run', ECHO, '--input', '{"text":"hello"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^task:\\s+${UUID.source}$`, 'm'));
    expect(r.stdout).toMatch(/^agent:\s+echo@1\.0\.0$/m);
    expect(r.stdout).toMatch(/^status:\s+succeeded$/m);
    expect(r.stdout).toContain('{"echo":"hello","words":1}');
    expect(r.stdout).toContain('4 records, chain verified');
    expect(r.stdout).toMatch(/output sha256: [0-9a-f]{64}/);
    expect(existsSync(join(data, 'warden.db'))).toBe(true);
  });

  itSandboxed('prints machine-readable JSON with --json', async () => {
    const data = tempDir();
    const out = json<{
      task: Task & { state: string };
      result: TaskResult;
      provenance: { ok: boolean; length: number };
    }>(await cli(data, '--json', 'run', ECHO, '--input', '{"text":"two words"}', '--priority', 'high'));
    expect(out.result.status).toBe('succeeded');
    expect(out.result.output).toEqual({ echo: 'two words', words: 2 });
    expect(out.result.attempts).toBe(1);
    expect(out.task).toMatchObject({ agent: 'echo@1.0.0', priority: 'high', state: 'succeeded' });
    expect(out.result.taskId).toBe(out.task.id);
    expect(out.provenance).toMatchObject({ ok: true, length: 4 });
  });

  itSandboxed('rejects invalid JSON input with exit 2 and INVALID_JSON, and submits nothing', async () => {
    const data = tempDir();
    const r = await cli(data, 'run', ECHO, '--input', '{text: hello}');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error [INVALID_JSON]');
    expect(r.stdout).toBe('');
    expect(json<Task[]>(await cli(data, '--json', 'tasks'))).toEqual([]);
  });

  it('reports a missing manifest file with FILE_NOT_FOUND', async () => {
    const data = tempDir();
    const r = await cli(data, 'run', join(data, 'no-such-agent.yaml'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('error [FILE_NOT_FOUND]');
    expect(r.stderr).toContain('no-such-agent.yaml');
  });

  it('reports an invalid manifest with its file, line and field', async () => {
    const data = tempDir();
    const bad = join(data, 'bad.yaml');
    writeFileSync(
      bad,
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata:',
        '  name: bad',
        '  version: 1.0.0',
        'spec:',
        '  runtime: node',
        '  entry: ./bad.js',
        '  resources:',
        '    timeoutMs: -5',
        '',
      ].join('\n'),
    );
    const r = await cli(data, 'run', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [INVALID_MANIFEST]');
    expect(r.stderr).toMatch(/bad\.yaml:10:\d+: spec\.resources\.timeoutMs: /);
  });

  itSandboxed('fails with exit 1 and the error code when the task fails', async () => {
    const data = tempDir();
    // The agent's own directory: a data directory is never mounted into a sandbox.
    const agent = tempDir();
    writeFileSync(join(agent, 'boom.js'), 'console.error("boom happened"); process.exit(4);');
    writeFileSync(
      join(agent, 'boom.yaml'),
      'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: boom, version: 1.0.0 }\nspec:\n  runtime: node\n  entry: ./boom.js\n  retry: { maxAttempts: 1 }\n',
    );
    const r = await cli(data, 'run', join(agent, 'boom.yaml'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^status:\s+dead$/m);
    expect(r.stdout).toContain('[AGENT_FAILED]');
    expect(r.stdout).toContain('boom happened');
    const dlq = await cli(data, 'dlq', 'list');
    expect(dlq.code).toBe(0);
    expect(dlq.stdout).toContain('boom@1.0.0');
    expect(dlq.stdout).toContain('[AGENT_FAILED]');
  });
});

describe('queue commands on one data directory', () => {
  itSandboxed(
    'submit enqueues, tasks lists, run processes the backlog, result and logs show it',
    async () => {
      const data = tempDir();
      const ids: string[] = [];
      for (const text of ['hello', 'queued twice']) {
        const r = await cli(data, 'submit', ECHO, '--input', JSON.stringify({ text }));
        expect(r.code, r.stderr).toBe(0);
        const id = r.stdout.trim();
        expect(id).toMatch(new RegExp(`^${UUID.source}$`));
        ids.push(id);
      }
      const queued = json<Task[]>(await cli(data, '--json', 'tasks'));
      expect(queued.map((t) => t.id).sort()).toEqual([...ids].sort());
      expect(queued.every((t) => t.state === 'queued' && t.agent === 'echo@1.0.0')).toBe(true);
      const table = await cli(data, 'tasks', '--state', 'queued');
      expect(table.stdout).toContain(ids[0]);
      expect(table.stdout).toMatch(/queued\s+normal\s+0\/3/);

      // No worker was running, so nothing ran; `run` in the same data directory works the backlog too.
      const run = await cli(data, 'run', 'echo', '--input', '{"text":"third"}');
      expect(run.code, run.stderr).toBe(0);
      const all = json<Task[]>(await cli(data, '--json', 'tasks'));
      expect(all).toHaveLength(3);
      expect(all.map((t) => t.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);

      const result = await cli(data, 'result', ids[1]!);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^state:\s+succeeded$/m);
      expect(result.stdout).toContain('{"echo":"queued twice","words":2}');
      const resultJson = json<{ task: Task; result: TaskResult }>(
        await cli(data, '--json', 'result', ids[0]!),
      );
      expect(resultJson.result).toMatchObject({ status: 'succeeded', output: { echo: 'hello', words: 1 } });

      const logs = await cli(data, 'logs', ids[0]!);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toMatch(/\[attempt 1\] stderr: echo: received 5 characters/);
      expect(logs.stdout).toContain('-- succeeded');
    },
  );

  itSandboxed('cancel cancels a queued task; result then reports it', async () => {
    const data = tempDir();
    const id = (await cli(data, 'submit', ECHO, '--input', '{"text":"never"}')).stdout.trim();
    const cancel = await cli(data, 'cancel', id);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`cancelled ${id}`);
    const again = await cli(data, 'cancel', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already cancelled');
    const result = await cli(data, 'result', id);
    expect(result.code).toBe(1); // a result that is not a success
    expect(result.stdout).toMatch(/^status:\s+cancelled$/m);
    expect(json<Task[]>(await cli(data, '--json', 'tasks'))[0]?.state).toBe('cancelled');
    const missing = await cli(data, 'result', '01a20f06-7c25-776c-8631-8137509375a0');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('TASK_NOT_FOUND');
  });

  it('dlq list reports an empty queue', async () => {
    const data = tempDir();
    const r = await cli(data, 'dlq', 'list');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the dead-letter queue is empty');
    expect(json<unknown[]>(await cli(data, '--json', 'dlq', 'list'))).toEqual([]);
  });

  itSandboxed('verify reports ok, and BROKEN with the seq after a provenance record is changed', async () => {
    const data = tempDir();
    expect((await cli(data, 'run', ECHO, '--input', '{"text":"hello"}')).code).toBe(0);
    const ok = await cli(data, 'verify');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok\s+default: 4 records, all signed, 1 task checked, head [0-9a-f]{64}$/m);

    const db = new Database(join(data, 'warden.db'));
    let seq: number;
    try {
      // seq 1 is session.created and seq 2 task.submitted, so task.started is seq 3: look it up.
      const row = db
        .prepare(
          'SELECT seq FROM provenance WHERE record LIKE \'%"type":"task.started"%\' ORDER BY seq LIMIT 1',
        )
        .get() as { seq: number } | undefined;
      expect(row).toBeDefined();
      seq = row!.seq;
      const changed = db
        .prepare(
          "UPDATE provenance SET record = replace(record, 'task.started', 'task.startex') WHERE seq = ?",
        )
        .run(seq);
      expect(changed.changes).toBe(1);
    } finally {
      db.close();
    }
    const broken = await cli(data, 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('BROKEN');
    expect(broken.stdout).toMatch(new RegExp(`BROKEN\\s+default: record ${seq}: `));
    const report = json<{ ok: boolean; broken?: { seq: number } }[]>({
      ...(await cli(data, '--json', 'verify')),
      code: 0,
    });
    expect(report[0]).toMatchObject({ ok: false, broken: { seq } });
  });

  itSandboxed('agents register and list', async () => {
    const data = tempDir();
    const reg = await cli(data, 'agents', 'register', ECHO);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toContain('registered echo@1.0.0 (node)');
    const list = await cli(data, 'agents', 'list');
    expect(list.stdout).toMatch(/^echo@1\.0\.0\s+node\s+active\s+0\s+closed\s+echo,text$/m);
  });
});

describe('usage errors', () => {
  it('exits 2 on an unknown command', async () => {
    const r = await cli(tempDir(), 'frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it.each([
    { name: 'a bad option choice', args: ['run', ECHO, '--priority', 'urgent'], says: 'urgent' },
    { name: 'neither an agent nor an intent', args: ['run'], says: 'INVALID_INPUT' },
    { name: 'a missing argument', args: ['result'], says: 'missing required argument' },
    { name: 'an unknown option of a nested command', args: ['dlq', 'list', '--bogus'], says: '--bogus' },
    { name: 'a bad integer option', args: ['tasks', '--limit', 'many'], says: 'INVALID_INPUT' },
  ])('exits 2 on $name', async ({ args, says }) => {
    const data = tempDir();
    const r = await cli(data, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(says);
    expect(r.stdout).toBe('');
  });

  it('exits 0 for --help of a subcommand', async () => {
    const r = await cli(tempDir(), 'run', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: warden run');
  });
});
