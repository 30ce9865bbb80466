// The CLI's remote mode as a process (`node bin/warden.js --server URL --key KEY ...`, after a build)
// against a real server: the same output shape as local mode, and `warden deploy`.
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'warden.js');
const WAT = 'examples/wasm-wat/agent.yaml';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let scratch: string;
let warden: Warden;
let app: FastifyInstance;
let server: string;
let key: string;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of [
    'STORAGE_ROOT',
    'WARDEN_DATA',
    ...(env['WARDEN_SERVER'] ? [] : ['WARDEN_SERVER', 'WARDEN_API_KEY']),
  ])
    if (!(name in env)) delete base[name];
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: base, timeout: 30_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}
const remote = (...args: string[]) => cli(['--server', server, '--key', key, ...args]);
const local = (data: string, ...args: string[]) => cli(['--data', data, ...args]);

/** The labels of a `label:   value` output, in order: the shape both modes must share. */
const labels = (text: string) =>
  text
    .split('\n')
    .map((l) => /^([a-z]+):\s/.exec(l)?.[1])
    .filter(Boolean);

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'deploy.js')))
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  scratch = mkdtempSync(join(tmpdir(), 'warden-remote-cli-'));
  warden = await Warden.open({ storage: { root: join(scratch, 'server') }, workers: { concurrency: 4 } });
  app = await buildServer(warden, { logger: false, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  key = (await createApiKey(warden.store, { tenant: 'default', role: 'admin', name: 'cli' })).key;
}, 120_000);

afterAll(async () => {
  await app?.close();
  await warden?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('warden deploy', () => {
  it('registers the WASM example and a node agent, idempotently; changed code is a conflict', async () => {
    const first = await remote('deploy', WAT);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^deployed wasm-wat@1\.0\.0 \(wasm, 3 files, \d+ B\)/m);
    expect(first.stdout).toMatch(/digest [0-9a-f]{64}/);
    const again = await remote('deploy', WAT);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged wasm-wat@1\.0\.0/m);
    expect(again.stdout.split('\n')[1]).toBe(first.stdout.split('\n')[1]); // the same digest

    const dir = join(scratch, 'word-count');
    cpSync(join(ROOT, 'examples/routing/word-count'), dir, { recursive: true });
    const node = await remote('--json', 'deploy', join(dir, 'agent.yaml'));
    expect(node.code, node.stderr).toBe(0);
    expect(JSON.parse(node.stdout)).toMatchObject({
      key: 'word-count@1.0.0',
      runtime: 'node',
      files: ['agent.yaml', 'main.js'],
      unchanged: false,
    });
    expect((await remote('deploy', join(dir, 'agent.yaml'))).stdout).toMatch(/^unchanged word-count@1\.0\.0/);
    appendFileSync(join(dir, 'main.js'), '\n// changed\n');
    const changed = await remote('deploy', join(dir, 'agent.yaml'));
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/^error \[AGENT_VERSION_CONFLICT\]: .*bump metadata\.version/m);
    // The server has the agents, with the uploaded code.
    expect((await warden.listAgents()).map((a) => a.key).sort()).toEqual([
      'wasm-wat@1.0.0',
      'word-count@1.0.0',
    ]);
  }, 60_000);

  it('without a server it says what to do (exit 2)', async () => {
    const r = await cli(['deploy', WAT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /error \[INVALID_INPUT\]: warden deploy registers an agent on a remote Warden: give --server/,
    );
  });
});

describe('remote mode', () => {
  it('run, tasks and result print what local mode prints', async () => {
    const data = join(scratch, 'local');
    const runLocal = await local(data, 'run', WAT, '-i', '{"text":"hi"}');
    expect(runLocal.code, runLocal.stderr).toBe(0);
    const runRemote = await remote('run', WAT, '-i', '{"text":"hi"}');
    expect(runRemote.code, runRemote.stderr).toBe(0);
    expect(labels(runRemote.stdout)).toEqual(['task', 'agent', 'status', 'attempts', 'output', 'usage']);
    expect(labels(runRemote.stdout)).toEqual(labels(runLocal.stdout));
    expect(runRemote.stdout).toContain('output:   {"echo":{"text":"hi"}}');
    expect(runRemote.stdout).toMatch(/^provenance \(session default\): \d+ records, chain verified$/m);
    const id = /^task:\s+(\S+)$/m.exec(runRemote.stdout)![1]!;

    const tasksRemote = await remote('tasks');
    const tasksLocal = await local(data, 'tasks');
    expect(tasksRemote.stdout.split('\n')[0]).toBe(tasksLocal.stdout.split('\n')[0]);
    expect(tasksRemote.stdout).toMatch(
      new RegExp(`^${id}\\s+succeeded\\s+normal\\s+1/3\\s+wasm-wat@1\\.0\\.0`, 'm'),
    );

    const resultRemote = await remote('result', id);
    const localId = /^task:\s+(\S+)$/m.exec(runLocal.stdout)![1]!;
    const resultLocal = await local(data, 'result', localId);
    expect(resultRemote.code, resultRemote.stderr).toBe(0);
    expect(labels(resultRemote.stdout)).toEqual(labels(resultLocal.stdout));
    const jsonRemote = JSON.parse((await remote('--json', 'result', id)).stdout) as Record<string, unknown>;
    const jsonLocal = JSON.parse((await local(data, '--json', 'result', localId)).stdout) as Record<
      string,
      unknown
    >;
    expect(Object.keys(jsonRemote)).toEqual(Object.keys(jsonLocal));

    const submitted = await remote('submit', 'wasm-wat@1.0.0', '-i', '{"n":2}');
    expect(submitted.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const waited = await remote('result', '--wait', submitted.stdout.trim());
    expect(waited.stdout).toContain('output:   {"echo":{"n":2}}');
    const logs = await remote('logs', submitted.stdout.trim());
    expect(logs.stdout).toMatch(/^-- succeeded$/m);
  }, 60_000);

  it('errors are coded; a command without a remote form exits 2 naming what to do', async () => {
    const missing = await remote('result', 'no-such-task');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error [TASK_NOT_FOUND]');
    const badKey = await cli(['--server', server, '--key', 'wdn_wrong', 'tasks']);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('error [UNAUTHORIZED]');
    const serve = await cli(['serve'], { WARDEN_SERVER: server, WARDEN_API_KEY: key });
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/`warden serve` has no remote form .*unset WARDEN_SERVER/);
    const worker = await remote('worker');
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('`warden worker` has no remote form (--server');
    // An explicit --data beats WARDEN_SERVER from the environment: local mode.
    const explicit = await cli(['--data', join(scratch, 'local'), 'tasks'], { WARDEN_SERVER: server });
    expect(explicit.code, explicit.stderr).toBe(0);
    const unreachable = await cli(['--server', 'http://127.0.0.1:1', '--key', key, 'tasks']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('error [SERVER_UNREACHABLE]');
  }, 60_000);
});
