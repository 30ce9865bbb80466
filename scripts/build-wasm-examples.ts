/**
 * Builds the example WASM agents from source (nothing opaque is committed):
 *   examples/wasm-as/assembly/index.ts → examples/wasm-as/build/agent.wasm   (AssemblyScript + WASI shim)
 *   examples/wasm-wat/agent.wat        → examples/wasm-wat/build/agent.wasm  (wabt)
 * Run: npx tsx scripts/build-wasm-examples.ts [--force]. Tests and benchmarks call ensureWasmExamples(),
 * which rebuilds only what is missing or older than its source.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const WASM_EXAMPLES = {
  as: join(root, 'examples/wasm-as'),
  wat: join(root, 'examples/wasm-wat'),
} as const;

function stale(output: string, source: string): boolean {
  return !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs;
}

/** Compiles WAT text to a wasm binary with wabt. */
export async function watToWasm(text: string, name = 'module.wat'): Promise<Uint8Array> {
  const wabt = (await import('wabt')).default;
  const module = (await wabt()).parseWat(name, text, { bulk_memory: true, mutable_globals: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

async function buildWat(force: boolean): Promise<string> {
  const source = join(WASM_EXAMPLES.wat, 'agent.wat');
  const output = join(WASM_EXAMPLES.wat, 'build/agent.wasm');
  if (!force && !stale(output, source)) return output;
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, await watToWasm(readFileSync(source, 'utf8'), 'agent.wat'));
  return output;
}

async function buildAs(force: boolean): Promise<string> {
  const source = join(WASM_EXAMPLES.as, 'assembly/index.ts');
  const output = join(WASM_EXAMPLES.as, 'build/agent.wasm');
  if (!force && !stale(output, source)) return output;
  await compileAssemblyScript(source, output);
  return output;
}

/**
 * Compiles an AssemblyScript WASI command agent (`source` → `outFile`) with @assemblyscript/wasi-shim,
 * from any working directory and with absolute paths. asc 0.28 lists a config's `lib` folder with
 * path.join(baseDir, dir), which turns the absolute folder an absolute `--config` yields into a path under
 * the working directory ("Element 'wasi_abort' not found"); the listFiles given here resolves it instead.
 */
export async function compileAssemblyScript(source: string, outFile: string): Promise<void> {
  mkdirSync(dirname(resolve(outFile)), { recursive: true });
  const asc = await import('assemblyscript/asc');
  const shim = join(root, 'node_modules/@assemblyscript/wasi-shim/asconfig.json');
  const stderr: string[] = [];
  const { error } = await asc.main(
    [
      resolve(source),
      '--config',
      shim,
      '--outFile',
      resolve(outFile),
      '--optimizeLevel',
      '3',
      '--shrinkLevel',
      '1',
      '--runtime',
      'incremental',
    ],
    {
      stderr: { write: (s: string | Uint8Array) => (stderr.push(String(s)), true) } as never,
      listFiles: (dir: string, baseDir: string) => {
        try {
          return readdirSync(resolve(baseDir, dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
        } catch {
          return null;
        }
      },
    } as never,
  );
  if (error) throw new Error(`asc failed for ${source}: ${error.message}\n${stderr.join('')}`);
}

let pending: Promise<{ as: string; wat: string }> | undefined;

/** Builds the example modules if missing or stale; returns their paths. */
export function ensureWasmExamples(force = false): Promise<{ as: string; wat: string }> {
  pending ??= (async () => ({ wat: await buildWat(force), as: await buildAs(force) }))();
  return pending;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await ensureWasmExamples(process.argv.includes('--force'));
  for (const path of Object.values(built)) process.stdout.write(`${path} (${statSync(path).size} bytes)\n`);
}
