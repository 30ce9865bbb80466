import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** The shipped sources: src/ without tests and test fixtures (tsconfig.build.json's selection). */
function shipped(dir = join(root, 'src')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : shipped(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Package names src/ imports at run time (static or dynamic), and those it imports for types only. */
function importedPackages() {
  const runtime = new Set<string>();
  const typesOnly = new Set<string>();
  const name = (spec: string) =>
    spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/');
  for (const file of shipped()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^import (type )?[^'"]*?from '([^'.][^']*)'/gm))
      (m[1] ? typesOnly : runtime).add(name(m[2]!));
    for (const m of text.matchAll(/\bimport\('([^'.][^']*)'\)/g)) runtime.add(name(m[1]!));
  }
  const builtin = (p: string) => p.startsWith('node:') || builtinModules.includes(p);
  return {
    runtime: [...runtime].filter((p) => !builtin(p)).sort(),
    typesOnly: [...typesOnly].filter((p) => !builtin(p) && !runtime.has(p)).sort(),
  };
}

describe('package dependencies', () => {
  const { runtime } = importedPackages();
  const optionalPeers = Object.keys(pkg.peerDependencies ?? {}).filter(
    (p) => pkg.peerDependenciesMeta?.[p]?.optional,
  );

  it('lists as runtime dependencies exactly what src/ imports (tests and benchmarks use devDependencies)', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(runtime.filter((p) => !optionalPeers.includes(p)));
    for (const unused of ['pino', 'canonicalize']) expect(pkg.dependencies).not.toHaveProperty(unused);
  });

  it('makes node-llama-cpp an optional peer, still installed by npm ci for our own tests', () => {
    expect(optionalPeers).toEqual(['node-llama-cpp']);
    expect(pkg.devDependencies).toHaveProperty('node-llama-cpp');
    // Loaded on demand only: a static import would make it required by everyone.
    for (const file of shipped())
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/^import [^t][^']*'node-llama-cpp'/m);
  });

  it('without node-llama-cpp, a local model task fails with LOCAL_MODEL_UNAVAILABLE naming what to install', async () => {
    const hook = join(root, 'test/fixtures/without-node-llama-cpp.mjs');
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [
          '--import',
          hook,
          join(root, 'bin/warden.js'),
          '--data',
          tempDir(),
          '--json',
          'run',
          'examples/llm-local/agent.yaml',
          '--input',
          '{"text":"hi"}',
        ],
        { cwd: root, timeout: 60_000, encoding: 'utf8' },
        (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(run.code, run.stderr).toBe(1);
    const out = JSON.parse(run.stdout) as {
      result: { status: string; attempts: number; error: { code: string; message: string } };
    };
    expect(out.result.status).toBe('dead');
    expect(out.result.attempts).toBe(1); // not retryable: installing is up to the operator
    expect(out.result.error.code).toBe('LOCAL_MODEL_UNAVAILABLE');
    expect(out.result.error.message).toContain('npm install node-llama-cpp');
  }, 90_000);
});
