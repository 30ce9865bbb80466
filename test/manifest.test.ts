import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BREAKER,
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  WardenError,
  loadManifest,
  parseManifest,
} from '../src/index.js';
import { tempDir } from './helpers.js';

interface Issue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** Line numbers below refer to this text (1-based). */
const BASE = [
  'apiVersion: warden.dev/v1', // 1
  'kind: Agent', // 2
  'metadata:', // 3
  '  name: echo', // 4
  '  version: 1.0.0', // 5
  'spec:', // 6
  '  runtime: node', // 7
  '  entry: ./echo.js', // 8
].join('\n');

const replace = (from: string, to: string) => () => {
  if (!BASE.includes(from)) throw new Error(`test bug: ${from} not in BASE`);
  return BASE.replace(from, to);
};
const append =
  (...lines: string[]) =>
  () =>
    `${BASE}\n${lines.join('\n')}`;

interface Case {
  name: string;
  text: () => string;
  path: string;
  line: number;
  /** A fragment the issue message must contain. */
  says?: string | RegExp;
}

const cases: Case[] = [
  {
    name: 'wrong apiVersion',
    text: replace('warden.dev/v1', 'warden.dev/v2'),
    path: 'apiVersion',
    line: 1,
    says: 'warden.dev/v1',
  },
  { name: 'wrong kind', text: replace('kind: Agent', 'kind: Agnet'), path: 'kind', line: 2, says: 'Agent' },
  // A missing field is reported at its parent mapping (which now starts on the version line).
  { name: 'missing metadata.name', text: replace('  name: echo\n', ''), path: 'metadata.name', line: 4 },
  {
    name: 'bad name characters',
    text: replace('name: echo', 'name: Echo_Agent!'),
    path: 'metadata.name',
    line: 4,
    says: 'lowercase',
  },
  {
    name: 'name too long',
    text: replace('name: echo', `name: ${'a'.repeat(64)}`),
    path: 'metadata.name',
    line: 4,
  },
  {
    name: 'non-semver version string',
    text: replace('version: 1.0.0', 'version: latest'),
    path: 'metadata.version',
    line: 5,
    says: 'semantic version',
  },
  {
    // Not semver 2.0.0 (a numeric pre-release identifier has no leading zero), so it could not be ordered.
    name: 'pre-release with a leading zero',
    text: replace('version: 1.0.0', 'version: 1.0.0-rc.01'),
    path: 'metadata.version',
    line: 5,
    says: 'semantic version',
  },
  {
    name: 'version that YAML reads as a number',
    text: replace('version: 1.0.0', 'version: 1.0'),
    path: 'metadata.version',
    line: 5,
  },
  {
    name: 'version with a leading zero',
    text: replace('version: 1.0.0', 'version: 1.02.0'),
    path: 'metadata.version',
    line: 5,
  },
  {
    name: 'unknown runtime',
    text: replace('runtime: node', 'runtime: java'),
    path: 'spec.runtime',
    line: 7,
    says: 'must be one of',
  },
  {
    name: "runtime 'inline' in YAML",
    text: replace('runtime: node', 'runtime: inline'),
    path: 'spec.runtime',
    line: 7,
    says: 'inline handlers are registered in code',
  },
  {
    name: 'wasm without module',
    text: replace('runtime: node\n  entry: ./echo.js', 'runtime: wasm'),
    path: 'spec.module',
    line: 7,
    says: 'required for runtime wasm',
  },
  {
    name: 'node without entry',
    text: replace('\n  entry: ./echo.js', ''),
    path: 'spec.entry',
    line: 7,
    says: 'required for runtime node',
  },
  {
    name: 'python without entry',
    text: replace('runtime: node\n  entry: ./echo.js', 'runtime: python'),
    path: 'spec.entry',
    line: 7,
    says: 'required for runtime python',
  },
  {
    name: 'process without command',
    text: replace('runtime: node\n  entry: ./echo.js', 'runtime: process'),
    path: 'spec.command',
    line: 7,
    says: 'required for runtime process',
  },
  {
    name: 'process with an empty command',
    text: replace('runtime: node\n  entry: ./echo.js', 'runtime: process\n  command: []'),
    path: 'spec.command',
    line: 8,
  },
  {
    name: 'negative timeoutMs',
    text: append('  resources:', '    timeoutMs: -5'),
    path: 'spec.resources.timeoutMs',
    line: 10,
  },
  {
    name: 'fractional memoryMb',
    text: append('  resources: { memoryMb: 1.5 }'),
    path: 'spec.resources.memoryMb',
    line: 9,
  },
  {
    name: 'zero maxAttempts',
    text: append('  retry: { maxAttempts: 0 }'),
    path: 'spec.retry.maxAttempts',
    line: 9,
  },
  {
    name: 'unknown resources field',
    text: append('  resources: { cpus: 2 }'),
    path: 'spec.resources.cpus',
    line: 9,
    says: 'cpus',
  },
  {
    name: 'unknown spec field (strict)',
    text: append('  colour: blue'),
    path: 'spec.colour',
    line: 9,
    says: 'colour',
  },
  {
    name: 'unknown top-level field (strict)',
    text: append('status: {}'),
    path: 'status',
    line: 9,
    says: 'status',
  },
  {
    name: 'bad network.allow entry',
    text: append('  network:', '    allow: [api.example.com:443, example.com]'),
    path: 'spec.network.allow.1',
    line: 10,
    says: 'host:port',
  },
  {
    name: 'bad env var name',
    text: append('  env:', '    MODE: fast', '    1BAD: x'),
    path: 'spec.env.1BAD',
    line: 11,
    says: 'environment variable name',
  },
  {
    name: 'bad secret name',
    text: append('  secrets: [OK_KEY, my-secret]'),
    path: 'spec.secrets.1',
    line: 9,
    says: 'environment variable name',
  },
  { name: 'bad capability', text: append('  capabilities: [Echo]'), path: 'spec.capabilities.0', line: 9 },
  { name: 'concurrency zero', text: append('  concurrency: 0'), path: 'spec.concurrency', line: 9 },
  {
    name: 'YAML syntax error',
    text: append('  capabilities: [echo, text', '  concurrency: 2'),
    path: '(yaml)',
    line: 10,
  },
  {
    name: 'YAML duplicate key',
    text: append('  concurrency: 2', '  concurrency: 3'),
    path: '(yaml)',
    line: 10,
    says: 'unique',
  },
  { name: 'YAML tab indentation', text: append('  env:', '\tMODE: fast'), path: '(yaml)', line: 10 },
];

function parseError(text: string, file: string): WardenError {
  try {
    parseManifest(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(WardenError);
    return err as WardenError;
  }
  throw new Error('parseManifest accepted an invalid manifest');
}

describe('parseManifest: invalid manifests', () => {
  it('accepts the base manifest the cases start from', () => {
    expect(parseManifest(BASE, 'base.yaml')).toMatchObject({ name: 'echo', runtime: 'node' });
  });

  it.each(cases)('$name → INVALID_MANIFEST at $path, line $line', ({ text, path, line, says }) => {
    const file = 'agents/bad-agent.yaml';
    const err = parseError(text(), file);
    expect(err.code).toBe('INVALID_MANIFEST');
    expect(err.retryable).toBe(false);
    expect(err.details?.['file']).toBe(file);
    const issues = err.details?.['issues'] as Issue[];
    expect(Array.isArray(issues)).toBe(true);
    const issue = issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue!.line).toBe(line);
    expect(issue!.column).toBeGreaterThan(0);
    if (says !== undefined) {
      if (typeof says === 'string') expect(issue!.message).toContain(says);
      else expect(issue!.message).toMatch(says);
    }
    // The human message names the file, the line and the field together.
    expect(err.message).toContain(`Invalid agent manifest ${file}`);
    expect(err.message).toContain(`${file}:${line}:${issue!.column}: ${path}: `);
  });

  it('reports every issue at once, each with its own line', () => {
    const text = BASE.replace('name: echo', 'name: Bad!').replace('version: 1.0.0', 'version: one');
    const issues = parseError(text, 'multi.yaml').details?.['issues'] as Issue[];
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['metadata.name', 4],
      ['metadata.version', 5],
    ]);
  });

  it('names agent.yaml when no file is given', () => {
    let err: unknown;
    try {
      parseManifest(BASE.replace('runtime: node', 'runtime: cobol'));
    } catch (e) {
      err = e;
    }
    expect((err as WardenError).message).toContain('agent.yaml:7:');
  });

  it('rejects a document that is not a mapping', () => {
    for (const text of ['', '- a\n- b\n', 'just text']) {
      const err = parseError(text, 'odd.yaml');
      expect(err.code).toBe('INVALID_MANIFEST');
      expect(err.message).toContain('odd.yaml');
    }
  });
});

describe('parseManifest: valid manifests', () => {
  it('applies defaults', () => {
    const m = parseManifest(BASE, 'agent.yaml');
    expect(m).toEqual({
      name: 'echo',
      version: '1.0.0',
      runtime: 'node',
      entry: './echo.js',
      capabilities: [],
      resources: { timeoutMs: 30_000, memoryMb: 256, maxOutputBytes: 1024 * 1024 },
      network: { allow: [] },
      env: {},
      secrets: [],
      concurrency: 4,
      retry: { maxAttempts: 3, baseMs: 1000, maxMs: 60_000 },
      circuitBreaker: { failureThreshold: 5, cooldownMs: 30_000 },
    });
    expect(m.resources).toEqual(DEFAULT_LIMITS);
    expect(m.retry).toEqual(DEFAULT_RETRY);
    expect(m.circuitBreaker).toEqual(DEFAULT_BREAKER);
    // Defaults are copies: changing one manifest does not change the next.
    m.resources.timeoutMs = 1;
    expect(parseManifest(BASE).resources.timeoutMs).toBe(30_000);
    expect(DEFAULT_LIMITS.timeoutMs).toBe(30_000);
  });

  it('merges partial resources, retry and circuitBreaker with the defaults', () => {
    const m = parseManifest(
      append(
        '  resources: { timeoutMs: 5000 }',
        '  retry: { maxAttempts: 7 }',
        '  circuitBreaker: { cooldownMs: 10 }',
        '  capabilities: [echo, text.v2]',
        '  network: { allow: ["api.example.com:443", "*.example.org:80", "[::1]:8080"] }',
        '  env: { MODE: fast, _X1: "1" }',
        '  secrets: [OPENAI_API_KEY]',
        '  concurrency: 16',
        '  args: [--flag]',
      )(),
    );
    expect(m.resources).toEqual({ ...DEFAULT_LIMITS, timeoutMs: 5000 });
    expect(m.retry).toEqual({ ...DEFAULT_RETRY, maxAttempts: 7 });
    expect(m.circuitBreaker).toEqual({ ...DEFAULT_BREAKER, cooldownMs: 10 });
    expect(m.capabilities).toEqual(['echo', 'text.v2']);
    expect(m.network.allow).toEqual(['api.example.com:443', '*.example.org:80', '[::1]:8080']);
    expect(m.env).toEqual({ MODE: 'fast', _X1: '1' });
    expect(m.secrets).toEqual(['OPENAI_API_KEY']);
    expect(m.concurrency).toBe(16);
    expect(m.args).toEqual(['--flag']);
  });

  it('accepts other runtimes with their required field, and semver pre-releases', () => {
    const wasm = parseManifest(
      BASE.replace('runtime: node\n  entry: ./echo.js', 'runtime: wasm\n  module: a.wasm'),
    );
    expect(wasm).toMatchObject({ runtime: 'wasm', module: 'a.wasm' });
    const proc = parseManifest(
      BASE.replace('runtime: node\n  entry: ./echo.js', 'runtime: process\n  command: [./bin/agent, --x]'),
    );
    expect(proc.command).toEqual(['./bin/agent', '--x']);
    const pre = parseManifest(BASE.replace('version: 1.0.0', 'version: 2.1.0-rc.1+build.5'));
    expect(pre.version).toBe('2.1.0-rc.1+build.5');
    const described = parseManifest(
      BASE.replace('  version: 1.0.0', '  version: 1.0.0\n  description: Echoes'),
    );
    expect(described.description).toBe('Echoes');
  });
});

describe('loadManifest', () => {
  it('reads a file and sets baseDir to its directory', async () => {
    const dir = tempDir();
    const path = join(dir, 'agent.yaml');
    writeFileSync(path, BASE);
    const m = await loadManifest(path);
    expect(m).toMatchObject({ name: 'echo', version: '1.0.0', entry: './echo.js', baseDir: dir });
  });

  it('names the file path in validation errors', async () => {
    const dir = tempDir();
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, BASE.replace('version: 1.0.0', 'version: x'));
    const err = (await loadManifest(path).catch((e: unknown) => e)) as WardenError;
    expect(err).toBeInstanceOf(WardenError);
    expect(err.code).toBe('INVALID_MANIFEST');
    expect(err.message).toContain(`${path}:5:`);
    expect(err.message).toContain('metadata.version');
    expect(err.details?.['file']).toBe(path);
  });

  it('reports a missing file as FILE_NOT_FOUND with its path', async () => {
    const path = join(tempDir(), 'nope', 'agent.yaml');
    const err = (await loadManifest(path).catch((e: unknown) => e)) as WardenError;
    expect(err).toBeInstanceOf(WardenError);
    expect(err.code).toBe('FILE_NOT_FOUND');
    expect(err.message).toContain(path);
    expect(err.message).toContain('ENOENT');
    expect(err.details).toMatchObject({ path });
  });

  it('reports a directory as FILE_NOT_FOUND', async () => {
    const dir = tempDir();
    await expect(loadManifest(dir)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});

describe('manifest size', () => {
  // An outside audit: an 830 KB manifest of 60,000 env keys held the server's event loop for 100 s
  // (yaml's duplicate-key check is quadratic).
  it('refuses tens of thousands of keys in bounded time, and still finds a duplicate among many', () => {
    const head =
      'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: big, version: 1.0.0 }\nspec:\n  runtime: node\n  entry: ./main.js\n  env:\n';
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `    K${i}: v${i}`).join('\n');
    const started = performance.now();
    expect(() => parseManifest(`${head}${keys(60_000)}\n`)).toThrow(
      expect.objectContaining({
        code: 'INVALID_MANIFEST',
        message: expect.stringMatching(/more than 10000 keys/),
      }),
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(() => parseManifest(`${head}${keys(5_000)}\n    K17: again\n`)).toThrow(
      expect.objectContaining({ code: 'INVALID_MANIFEST', message: expect.stringMatching(/unique: K17/) }),
    );
    expect(parseManifest(`${head}${keys(500)}\n`).env['K499']).toBe('v499');
  });
});
