import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import type { Warden } from '../src/index.js';
import { openWarden, sandboxIfAvailable, tempDir } from './helpers.js';

// A registered agent version is immutable: uploads are content-addressed and written only after the
// conflict check, edited code never runs under the old version's name, and every provenance record of a
// task carries the digest of the code that ran.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');

const nodeYaml = (name: string, version = '1.0.0') => `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: ${version} }
spec:
  runtime: node
  entry: ./main.js
  retry: { maxAttempts: 1 }
`;
const processYaml = (name: string) => `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: 1.0.0 }
spec:
  runtime: process
  command: [sh, ./run.sh]
  retry: { maxAttempts: 1 }
`;
const nodeAnswer = (answer: string) => `process.stdout.write(JSON.stringify(${JSON.stringify(answer)}));`;
const shAnswer = (answer: string) => `cat >/dev/null; printf '"%s"' ${JSON.stringify(answer)}\n`;
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('uploaded agent versions (POST /agents)', () => {
  let warden: Warden;
  let app: FastifyInstance;
  let admin: string;

  beforeEach(async () => {
    warden = await openWarden({ sandbox: sandboxIfAvailable() });
    app = await buildServer(warden, { logger: false, rateLimit: false });
    admin = (await createApiKey(warden.store, { tenant: 'default', role: 'admin', name: 'a' })).key;
  });
  afterEach(async () => app.close());

  const upload = (manifest: string, files: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/agents',
      headers: { authorization: `Bearer ${admin}` },
      payload: { manifest, files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)])) },
    });
  const run = async (agent: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/sessions/default/execute?wait=15000',
      headers: { authorization: `Bearer ${admin}` },
      payload: { agent },
    });
    return res.json<{ task: { id: string }; result: { output: unknown } }>();
  };
  /** Every file under the storage root's agents/ directory, with its content. */
  const filesOnDisk = () => {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else out[path] = readFileSync(path, 'utf8');
      }
    };
    walk(join(warden.storageRoot, 'agents'));
    return out;
  };

  it.each([
    ['node', nodeYaml('imm'), 'main.js', nodeAnswer],
    ['process', processYaml('imm-sh'), 'run.sh', shAnswer],
  ] as const)(
    'refuses new code for a registered %s version with 409 and changes no file',
    async (_runtime, manifest, file, answer) => {
      const first = await upload(manifest, { [file]: answer('original') });
      expect(first.statusCode, first.body).toBe(201);
      const before = filesOnDisk();
      const second = await upload(manifest, { [file]: answer('replaced') });
      expect(second.statusCode, second.body).toBe(409);
      expect(second.json()).toMatchObject({ error: { code: 'AGENT_VERSION_CONFLICT' } });
      expect(second.json<{ error: { message: string } }>().error.message).toMatch(/bump metadata\.version/);
      expect(filesOnDisk()).toEqual(before);
      const name = manifest.match(/name: ([\w-]+)/)![1]!;
      expect((await run(name)).result.output).toBe('original');
      // The same files again are a no-op.
      expect((await upload(manifest, { [file]: answer('original') })).statusCode).toBe(201);
    },
    30_000,
  );

  it('stores uploads in a directory named by their digest', async () => {
    const res = await upload(nodeYaml('addressed'), { 'main.js': nodeAnswer('x') });
    expect(res.statusCode, res.body).toBe(201);
    const record = await warden.store.getAgent('addressed@1.0.0');
    expect(record?.manifest.baseDir).toMatch(/\/agents\/sha256-[0-9a-f]{64}$/);
    expect(existsSync(join(record!.manifest.baseDir!, 'main.js'))).toBe(true);
    expect(readdirSync(join(warden.storageRoot, 'agents')).filter((d) => d.startsWith('.upload-'))).toEqual(
      [],
    );
  });
});

describe('code edited after registration', () => {
  it('never runs under the old version: the task fails with AGENT_VERSION_CONFLICT, restoring the code heals it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.yaml'), nodeYaml('edited'));
    writeFileSync(join(dir, 'main.js'), nodeAnswer('v1'));
    const warden = await openWarden({ sandbox: sandboxIfAvailable() });
    const record = await warden.registerAgent({ path: join(dir, 'agent.yaml') });
    const first = await warden.submit({ agent: 'edited' });
    expect((await warden.result(first.id, { timeoutMs: 15_000 }))?.output).toBe('v1');

    writeFileSync(join(dir, 'main.js'), nodeAnswer('v1 edited in place'));
    const second = await warden.submit({ agent: 'edited' });
    const result = await warden.result(second.id, { timeoutMs: 15_000 });
    expect(result?.status).toBe('dead');
    expect(result?.error).toMatchObject({ code: 'AGENT_VERSION_CONFLICT' });
    expect(result?.error?.message).toMatch(/changed after it was registered.*bump metadata\.version/);
    await expect(warden.registerAgent({ path: join(dir, 'agent.yaml') })).rejects.toMatchObject({
      code: 'AGENT_VERSION_CONFLICT',
    });

    writeFileSync(join(dir, 'main.js'), nodeAnswer('v1'));
    const third = await warden.submit({ agent: 'edited' });
    expect((await warden.result(third.id, { timeoutMs: 15_000 }))?.output).toBe('v1');

    // Every provenance record that names the version carries the digest of its registered code.
    const records = (await warden.store.readChain((await warden.getSession('default')).id)).map(
      (l) => JSON.parse(l.recordJson) as { taskId?: string; agent?: string; data?: { agentDigest?: string } },
    );
    const ofTask = records.filter((r) => r.taskId === first.id);
    expect(ofTask.length).toBeGreaterThanOrEqual(3);
    for (const r of ofTask) expect(r.data?.agentDigest).toBe(record.moduleDigest);
    expect(record.moduleDigest).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it('`warden run agent.yaml` after editing the code says to bump the version and exits non-zero', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    writeFileSync(join(dir, 'agent.yaml'), processYaml('cli-edited'));
    writeFileSync(join(dir, 'run.sh'), shAnswer('v1'));
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        const env: NodeJS.ProcessEnv = { ...process.env };
        delete env['STORAGE_ROOT'];
        if (sandboxIfAvailable().unsafeNoSandbox) env['WARDEN_UNSAFE_NO_SANDBOX'] = '1';
        execFile(
          process.execPath,
          [BIN, '--data', data, ...args],
          { cwd: dir, env, timeout: 30_000, encoding: 'utf8' },
          (err, stdout, stderr) =>
            done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
        );
      });
    const first = await cli('run', 'agent.yaml');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('v1');
    writeFileSync(join(dir, 'run.sh'), shAnswer('v2 without a new version'));
    const second = await cli('run', 'agent.yaml');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/AGENT_VERSION_CONFLICT/);
    expect(second.stderr).toMatch(/bump metadata\.version/);
    expect(second.stdout).not.toContain('v2');
  }, 60_000);
});
