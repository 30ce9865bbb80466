import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { WardenError, loadManifest } from '../../src/index.js';
import { RuntimeRegistry } from '../../src/sandbox/index.js';
import { ensureWasmExamples, watToWasm } from '../../scripts/build-wasm-examples.js';
import { openWarden, sandboxWorks, tempDir } from '../helpers.js';
import { wasiModule, writeManifest } from './fixtures.js';

const ctx = (
  limits: { timeoutMs: number; memoryMb: number; maxOutputBytes: number },
  signal = new AbortController().signal,
) => ({
  taskId: 't',
  sessionId: 's',
  attempt: 1,
  allowNetwork: false,
  limits,
  signal,
  log: () => undefined,
});

beforeAll(async () => {
  await ensureWasmExamples();
}, 60_000);

describe('example WASM agents (built from source)', () => {
  it('runs the AssemblyScript and WAT agents end to end through Warden', async () => {
    const warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
    const as = await warden.registerAgent({ path: 'examples/wasm-as/agent.yaml' });
    const wat = await warden.registerAgent({ path: 'examples/wasm-wat/agent.yaml' });
    const input = { text: 'hello wasm world' };
    const [a, w] = await Promise.all([
      warden.submit({ agent: as.key, input }).then((t) => warden.result(t.id, { timeoutMs: 10_000 })),
      warden.submit({ agent: wat.key, input }).then((t) => warden.result(t.id, { timeoutMs: 10_000 })),
    ]);
    expect(a?.output).toEqual({ agent: 'wasm-as', bytes: 27, words: 4, input });
    expect(w?.output).toEqual({ echo: input });
    // The version's digest is the module's SHA-256.
    const sha = createHash('sha256').update(readFileSync('examples/wasm-wat/build/agent.wasm')).digest('hex');
    expect(wat.moduleDigest).toBe(sha);
  });
});

describe('WASM runtime', () => {
  it('compiles a module once per digest and replaces a worker stopped mid-loop', async () => {
    const dir = tempDir();
    const registry = new RuntimeRegistry({ wasm: { poolSize: 1 } });
    try {
      writeFileSync(join(dir, 'loop.wasm'), await watToWasm(wasiModule('(loop $l (br $l))')));
      writeFileSync(
        join(dir, 'ok.wasm'),
        await watToWasm(wasiModule('(call $out (i32.const 1024) (i32.const 2))', { json: '{}' })),
      );
      const loop = await loadManifest(
        writeManifest(dir, 'loop', '1.0.0', { runtime: 'wasm', module: './loop.wasm' }),
      );
      const ok = await loadManifest(
        writeManifest(dir, 'ok', '1.0.0', { runtime: 'wasm', module: './ok.wasm' }),
      );
      const okAgain = { ...ok, version: '2.0.0' };
      const wasm = registry.wasm;
      const prepared = await wasm.prepare(ok);
      await wasm.prepare(okAgain);
      expect(wasm.cache.size).toBe(1); // same bytes, same cap: compiled once
      const controller = new AbortController();
      const run = (await wasm.prepare(loop)).run('{}', ctx(loop.resources, controller.signal));
      setTimeout(() => controller.abort(new WardenError('TIMEOUT', 'stop')), 200);
      await expect(run).rejects.toMatchObject({ code: 'TIMEOUT' });
      // The pool's only worker was terminated; its replacement runs the next task.
      const out = await prepared.run('{}', ctx(ok.resources));
      expect(out.outputJson).toBe('{}');
      expect(wasm.pool.workers).toBe(1);
    } finally {
      await registry.close();
    }
  });

  it('refuses a module whose initial memory exceeds memoryMb', async () => {
    const dir = tempDir();
    const registry = new RuntimeRegistry();
    try {
      const wat = wasiModule('nop').replace('(memory (export "memory") 1)', '(memory (export "memory") 100)');
      writeFileSync(join(dir, 'big.wasm'), await watToWasm(wat));
      const m = await loadManifest(
        writeManifest(dir, 'big', '1.0.0', {
          runtime: 'wasm',
          module: './big.wasm',
          resources: { memoryMb: 4 },
        }),
      );
      await expect(registry.wasm.prepare(m)).rejects.toMatchObject({ code: 'MEMORY_LIMIT' });
    } finally {
      await registry.close();
    }
  });

  it('rejects a missing module with FILE_NOT_FOUND at registration', async () => {
    const dir = tempDir();
    const warden = await openWarden({ workers: false });
    const path = writeManifest(dir, 'ghost', '1.0.0', { runtime: 'wasm', module: './nope.wasm' });
    await expect(warden.registerAgent({ path })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});

describe('process sandbox availability', () => {
  const itSandboxed = it.runIf(sandboxWorks('the process sandbox tests of this file'));

  it('refuses node/python/process agents with SANDBOX_UNAVAILABLE when bubblewrap is missing', () => {
    const registry = new RuntimeRegistry({
      sandbox: { bwrapPath: '/nonexistent/bwrap' },
      unsafeNoSandbox: false,
    });
    let err: unknown;
    try {
      registry.get({ runtime: 'python', name: 'py' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('SANDBOX_UNAVAILABLE');
    expect((err as WardenError).message).toContain('apt-get install -y bubblewrap');
    expect((err as WardenError).message).toContain('--unsafe-no-sandbox');
    // WASM needs no bubblewrap.
    expect(registry.get({ runtime: 'wasm', name: 'w' }).name).toBe('wasm');
  });

  it('runs unsandboxed with a loud warning when unsafeNoSandbox is set', () => {
    const warnings: string[] = [];
    const registry = new RuntimeRegistry({
      sandbox: { bwrapPath: '/nonexistent/bwrap' },
      unsafeNoSandbox: true,
      warn: (m) => warnings.push(m),
    });
    expect(registry.get({ runtime: 'node', name: 'n' }).name).toBe('node');
    expect(registry.sandboxed).toBe(false);
    expect(warnings.join('\n')).toMatch(/WITHOUT a sandbox/);
  });

  itSandboxed('runs a python agent in its virtualenv (spec.venv), mounted read-only', async () => {
    const dir = tempDir();
    spawnSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', join(dir, 'venv')]);
    writeFileSync(
      join(dir, 'main.py'),
      `import json, sys
try:
    open(sys.prefix + "/poison", "w")
    wrote = True
except OSError as e:
    wrote = e.strerror
json.dump({"prefix": sys.prefix, "wrote": wrote}, sys.stdout)
`,
    );
    const m = await loadManifest(
      writeManifest(dir, 'venv', '1.0.0', { runtime: 'python', entry: './main.py' }),
    );
    const registry = new RuntimeRegistry();
    const prepared = await registry.get(m).prepare({ ...m, venv: './venv' } as typeof m);
    const out = JSON.parse((await prepared.run('null', ctx(m.resources))).outputJson) as Record<
      string,
      unknown
    >;
    expect(out).toEqual({ prefix: join(dir, 'venv'), wrote: 'Read-only file system' });
  });

  it('refuses a virtualenv whose pyvenv.cfg points its home at a host directory or at no interpreter', async () => {
    const dir = tempDir();
    spawnSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', join(dir, 'venv')]);
    writeFileSync(join(dir, 'main.py'), 'print("null")\n');
    const cfg = join(dir, 'venv', 'pyvenv.cfg');
    const original = readFileSync(cfg, 'utf8');
    const m = await loadManifest(
      writeManifest(dir, 'venv-home', '1.0.0', { runtime: 'python', entry: './main.py' }),
    );
    const decoy = tempDir();
    mkdirSync(join(decoy, 'bin'));
    // An outside audit: `home = /etc/ssl` mounted the host's whole /etc into the sandbox.
    for (const home of ['/etc/ssl', join(decoy, 'bin'), '/usr']) {
      writeFileSync(cfg, original.replace(/^home = .*$/m, `home = ${home}`));
      await expect(
        new RuntimeRegistry().get(m).prepare({ ...m, venv: './venv' } as typeof m),
        home,
      ).rejects.toMatchObject({ code: 'INVALID_MANIFEST' });
    }
    writeFileSync(cfg, original);
    await expect(
      new RuntimeRegistry().get(m).prepare({ ...m, venv: './venv' } as typeof m),
    ).resolves.toBeDefined();
  });

  itSandboxed(
    'runs a python agent in a virtualenv built on an interpreter outside the system directories (pyenv)',
    async () => {
      const pyenv = join(process.env['PYENV_ROOT'] ?? join(homedir(), '.pyenv'), 'versions');
      const version = existsSync(pyenv)
        ? readdirSync(pyenv)
            .filter((v) => /^3\.\d+\.\d+$/.test(v) && existsSync(join(pyenv, v, 'bin/python3')))
            .sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]))[0]
        : undefined;
      if (!version) {
        console.warn(`SKIPPED: no pyenv interpreter under ${pyenv} to build a virtualenv from`);
        return;
      }
      const prefix = join(pyenv, version);
      const dir = tempDir();
      const made = spawnSync(join(prefix, 'bin/python3'), ['-m', 'venv', '--without-pip', join(dir, 'venv')]);
      expect(made.status, String(made.stderr)).toBe(0);
      writeFileSync(
        join(dir, 'main.py'),
        'import json, sys\njson.dump({"base": sys.base_prefix, "version": sys.version.split()[0]}, sys.stdout)\n',
      );
      const m = await loadManifest(
        writeManifest(dir, 'pyenv-venv', '1.0.0', { runtime: 'python', entry: './main.py' }),
      );
      const prepared = await new RuntimeRegistry().get(m).prepare({ ...m, venv: './venv' } as typeof m);
      const out = JSON.parse((await prepared.run('null', ctx(m.resources))).outputJson) as Record<
        string,
        unknown
      >;
      expect(out).toEqual({ base: prefix, version });
    },
  );

  itSandboxed('sandboxes by default when bubblewrap works', () => {
    expect(new RuntimeRegistry().sandboxed).toBe(true);
  });
});
