import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../src/index.js';
import { WasmRuntime } from '../../src/sandbox/index.js';
import { resettable } from '../../src/sandbox/wasm/memory-cap.js';
import { watToWasm } from '../../scripts/build-wasm-examples.js';
import { tempDir } from '../helpers.js';
import { wasiModule, writeManifest } from './fixtures.js';

// A module whose only mutable state is its memory may run many tasks on one instance, its memory restored
// after each: every task must still see exactly what a fresh instance would.

const runtime = new WasmRuntime({ poolSize: 1 });
afterAll(() => runtime.close());

const ctx = (limits: { timeoutMs: number; memoryMb: number; maxOutputBytes: number }) => ({
  taskId: 't',
  sessionId: 's',
  attempt: 1,
  allowNetwork: false,
  limits,
  signal: new AbortController().signal,
  log: () => undefined,
});

async function agent(name: string, wat: string) {
  const dir = tempDir();
  const bytes = await watToWasm(wat);
  writeFileSync(join(dir, `${name}.wasm`), bytes);
  const manifest = await loadManifest(
    writeManifest(dir, name, '1.0.0', { runtime: 'wasm', module: `./${name}.wasm` }),
  );
  const prepared = await runtime.prepare(manifest);
  const cached = await runtime.cache.load(join(dir, `${name}.wasm`), manifest.resources.memoryMb);
  /** Runs `n` tasks at once (batched into the one worker) and returns their outputs. */
  const runMany = async (n: number) =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const out = await prepared.run('{}', ctx(manifest.resources));
        return JSON.parse(out.outputJson) as { n: string };
      }),
    );
  return { bytes, cached, runMany };
}

/** Outputs the byte at 2048 (as {"n":"NN"}), then writes 7 there: a fresh instance always sees 0. */
const MARKS_MEMORY = wasiModule(
  '(call $outNumber (i32.load8_u (i32.const 2048))) (i32.store8 (i32.const 2048) (i32.const 7))',
);

describe('WASM instance reuse', () => {
  it('restores the memory of a reused instance: no task sees what an earlier one wrote', async () => {
    const { cached, runMany } = await agent('marks', MARKS_MEMORY);
    expect(cached.reusable).toBe(true);
    // The first run teaches the pool the module is quick; the next ones go in batches, on one instance.
    for (let round = 0; round < 3; round++) {
      const outputs = await runMany(40);
      expect(outputs.every((o) => o.n === '00')).toBe(true);
    }
  });

  it('drops an instance whose memory grew: the next task starts with the initial size', async () => {
    const { cached, runMany } = await agent(
      'grows',
      wasiModule('(call $outNumber (memory.size)) (drop (memory.grow (i32.const 1)))'),
    );
    expect(cached.reusable).toBe(true);
    const outputs = [...(await runMany(20)), ...(await runMany(20))];
    expect(outputs.every((o) => o.n === '01')).toBe(true);
  });

  it('gives a module with a mutable global a fresh instance for every task', async () => {
    const { cached, runMany } = await agent(
      'counts',
      wasiModule('(call $outNumber (global.get $count)) (global.set $count (i32.const 9))', {
        extra: '(global $count (mut i32) (i32.const 0))',
      }),
    );
    expect(cached.reusable).toBe(false);
    const outputs = [...(await runMany(20)), ...(await runMany(20))];
    expect(outputs.every((o) => o.n === '00')).toBe(true);
  });

  it('reuses only modules whose only mutable state is one small, unshared memory', async () => {
    const ok = await watToWasm(MARKS_MEMORY);
    expect(resettable(ok)).toBe(true);
    const not = async (wat: string) => expect(resettable(await watToWasm(wat))).toBe(false);
    // A start function runs (and may call the host) once per fresh instance.
    await not(
      MARKS_MEMORY.replace(
        '(memory (export "memory") 1)',
        '(memory (export "memory") 1) (start $noop) (func $noop)',
      ),
    );
    // A table can be changed by table.set/grow; passive data by data.drop (which needs a data count section).
    await not(
      MARKS_MEMORY.replace('(memory (export "memory") 1)', '(memory (export "memory") 1) (table 1 funcref)'),
    );
    await not(
      MARKS_MEMORY.replace(
        '(memory (export "memory") 1)',
        '(memory (export "memory") 1) (data $p "x") (func $d (data.drop $p))',
      ),
    );
    // Any global disqualifies: the check does not tell mutable ones from immutable ones.
    await not(
      MARKS_MEMORY.replace(
        '(memory (export "memory") 1)',
        '(memory (export "memory") 1) (global i32 (i32.const 1))',
      ),
    );
    // A large initial memory costs more to copy back than a fresh instance.
    await not(MARKS_MEMORY.replace('(memory (export "memory") 1)', '(memory (export "memory") 16)'));
  });
});
