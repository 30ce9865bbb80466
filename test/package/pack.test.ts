import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

// What `npm pack` ships, checked on the file list and on the real tarball: installed into a scratch
// project (its dependencies borrowed from this repository's node_modules, so nothing is downloaded), its
// bin runs, its three entries import and their types resolve with TypeScript's node16 resolution.
// `--ignore-scripts`: the pack uses the dist/ already built (npm test's pretest builds it) instead of
// running `prepare` again.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  types: string;
  exports: Record<string, string | { types: string; default: string }>;
};
/** The package's entries by subpath, and the export that shows each one works. */
const ENTRIES = {
  '.': 'Warden',
  './swarm': 'NodeIdentity',
  './client': 'WardenClient',
  './mcp': 'createMcpServer',
} as const;

interface PackedFile {
  path: string;
  size: number;
}

function npm(args: string[], cwd = ROOT): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

function run(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(file, args, { cwd, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/** Every file an export, the types field and the bin point at, without the leading './'. */
function declaredFiles(): string[] {
  const out = [manifest.types, ...Object.values(manifest.bin)];
  for (const target of Object.values(manifest.exports))
    out.push(...(typeof target === 'string' ? [target] : [target.types, target.default]));
  return [...new Set(out.map((p) => p.replace(/^\.\//, '')))];
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) npm(['run', 'build', '--silent']);
  if (!existsSync(join(ROOT, 'dist', 'ui', 'index.html'))) npm(['run', 'build:ui', '--silent']);
}, 120_000);

describe('npm pack', () => {
  it('declares the three entries, each with types', () => {
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(Object.keys(ENTRIES)));
    for (const subpath of Object.keys(ENTRIES)) {
      const target = manifest.exports[subpath];
      expect(typeof target, subpath).toBe('object');
      const { types, default: js } = target as { types: string; default: string };
      // 'types' must come first: TypeScript takes the first condition that matches.
      expect(Object.keys(target as object)[0], subpath).toBe('types');
      expect(types).toMatch(/^\.\/dist\/.+\.d\.ts$/);
      expect(js).toBe(types.replace(/\.d\.ts$/, '.js'));
    }
  });

  it('lists no tests, data, sources or scratch, and everything the package declares', () => {
    const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'])) as {
      files: PackedFile[];
    }[];
    const files = pack!.files.map((f) => f.path);
    const unwanted = [
      /\.test\.[cm]?[jt]s(\.map)?$/, // tests, compiled or not
      /(^|\/)(test|tests|__tests__|fixtures)\//,
      /^(src|examples|scripts|bench|ui|docs|data|test-results)\//, // sources, examples, the default data dir
      /\.(db|sqlite|db-wal|db-shm|tgz|gguf|tsbuildinfo)$/,
      /(^|\/)(node_modules|\.scratch|\.git)\//,
      /(^|\/)\.env/,
    ];
    for (const pattern of unwanted)
      expect(
        files.filter((f) => pattern.test(f)),
        String(pattern),
      ).toEqual([]);
    const required = [
      'package.json',
      'README.md',
      'bin/warden.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/swarm/index.d.ts',
      'dist/ui/index.html',
      'dist/cli/index.js',
      'dist/governance/model/detector-model.json', // read at run time by the jailbreak detector
      ...declaredFiles(),
    ];
    const missing = required.filter((f) => !files.includes(f));
    expect(missing, 'declared or required files missing from the package').toEqual([]);
  });

  it('the packed tarball installs: its bin runs, its entries import and type-check', async () => {
    const dir = tempDir();
    const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir])) as {
      filename: string;
    }[];
    // A project with the tarball in node_modules/warden, and warden's own dependencies from this repository.
    const project = join(dir, 'project');
    const installed = join(project, 'node_modules', manifest.name);
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, packed!.filename), '-C', installed, '--strip-components=1']);
    symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir');
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );

    const help = await run(
      process.execPath,
      [join('node_modules', 'warden', 'bin', 'warden.js'), '--help'],
      project,
    );
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: warden/);

    // Each entry resolves inside the installed package (not this repository's dist/) and has its main
    // export; the library runs a task and verifies its chain from the packed files alone.
    writeFileSync(
      join(project, 'check.mjs'),
      `const entries = ${JSON.stringify(ENTRIES)};
const out = {};
for (const [subpath, name] of Object.entries(entries)) {
  const specifier = subpath === '.' ? 'warden' : 'warden' + subpath.slice(1);
  const mod = await import(specifier);
  out[specifier] = { resolved: import.meta.resolve(specifier), main: typeof mod[name] };
}
const { Warden } = await import('warden');
const warden = await Warden.open({ storage: { root: process.argv[2] } });
const double = await warden.registerHandler('double', (i) => ({ n: i.n * 2 }));
const result = await warden.result(await warden.submit({ agent: double, input: { n: 21 } }), { timeoutMs: 10000 });
out.task = { status: result.status, output: result.output, verified: (await warden.verify('default')).ok };
await warden.close();
console.log(JSON.stringify(out));
`,
    );
    const check = await run(process.execPath, ['check.mjs', join(dir, 'data')], project);
    expect(check.code, check.stderr).toBe(0);
    const seen = JSON.parse(check.stdout.trim().split('\n').at(-1)!) as Record<
      string,
      { resolved: string; main: string }
    > & { task: unknown };
    for (const [subpath, name] of Object.entries(ENTRIES)) {
      const specifier = subpath === '.' ? 'warden' : `warden${subpath.slice(1)}`;
      const target = (manifest.exports[subpath] as { default: string }).default.slice(2);
      expect(seen[specifier], `${specifier} exports ${name}`).toEqual({
        resolved: `file://${join(installed, target)}`,
        main: 'function',
      });
    }
    expect(seen.task).toEqual({ status: 'succeeded', output: { n: 42 }, verified: true });

    // Types: node16 resolution through the exports' 'types' conditions. The @ts-expect-error lines fail the
    // check if an entry's types do not resolve (everything would be `any`, and the expected errors vanish).
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['check.ts'],
      }),
    );
    writeFileSync(
      join(project, 'check.ts'),
      `import { Warden, type AgentKpi } from 'warden';
import { NodeIdentity, verifyReceipt, type SignedReceipt } from 'warden/swarm';
import { WardenClient, WardenApiError, type WardenClientOptions } from 'warden/client';

export async function library(root: string): Promise<number> {
  const warden: Warden = await Warden.open({ storage: { root } });
  const double = await warden.registerHandler('double', (i: { n: number }) => ({ n: i.n * 2 }));
  const result = await warden.result(await warden.submit({ agent: double, input: { n: 21 } }));
  const kpis: AgentKpi[] = await warden.agentKpis();
  // @ts-expect-error the typed agent's input is checked
  await warden.submit({ agent: double, input: { n: 'twenty-one' } });
  await warden.close();
  return result?.status === 'succeeded' ? result.output.n : kpis.length;
}

export const nodeId: string = NodeIdentity.generate({ postQuantum: false }).nodeId;
// @ts-expect-error a node id is a string
export const notANumber: number = NodeIdentity.generate().nodeId;
export type Receipt = SignedReceipt;
export const verify: typeof verifyReceipt = verifyReceipt;

export function client(options: WardenClientOptions): WardenClient {
  return new WardenClient(options);
}
// @ts-expect-error baseUrl is required
export const noUrl = new WardenClient({ apiKey: 'k' });
export const isApiError = (e: unknown): boolean => e instanceof WardenApiError;
`,
    );
    const tsc = await run(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project],
      project,
    );
    expect(tsc.code, `${tsc.stdout}${tsc.stderr}`).toBe(0);
  }, 60_000);
});
