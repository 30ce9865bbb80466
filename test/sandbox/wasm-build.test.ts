import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileAssemblyScript } from '../../scripts/build-wasm-examples.js';
import { openWarden, tempDir } from '../helpers.js';
import { writeManifest } from './fixtures.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('building an AssemblyScript agent', () => {
  it('works with absolute paths (asc lists the WASI shim with them), and the module runs as an agent', async () => {
    const dir = tempDir();
    const out = join(dir, 'build', 'agent.wasm');
    // Absolute source, config (inside compileAssemblyScript) and output: asc 0.28 alone fails on these.
    await compileAssemblyScript(join(root, 'examples/wasm-as/assembly/index.ts'), out);
    const warden = await openWarden();
    await warden.registerAgent({
      path: writeManifest(dir, 'as-abs', '1.0.0', {
        runtime: 'wasm',
        module: out,
        resources: { timeoutMs: 5000, memoryMb: 16, maxOutputBytes: 65536 },
      }),
    });
    const task = await warden.submit({ agent: 'as-abs', input: { text: 'two words' } });
    const result = await warden.result(task, { timeoutMs: 10_000 });
    expect(result?.status, JSON.stringify(result?.error)).toBe('succeeded');
    expect(result?.output).toMatchObject({ agent: 'wasm-as', input: { text: 'two words' } });
  }, 120_000);
});
