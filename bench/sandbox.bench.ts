// Sandbox figures. Issue 3 targets: WASM cold spawn (compile + instantiate of a ~100 KB module) ≤ 5 ms, idle
// pooled instance ≤ 4 MB resident. Issue 19 targets, each measured beside its baseline in the same run and
// reported as min/median/max over repeated runs: WASM warm spawn (instantiate from the cache) ≤ 50 µs, next to
// plain WebAssembly.instantiate of the same module; sandboxed python spawn overhead ≤ 25 ms over a bare
// `python3 -c pass` of the very interpreter the sandbox runs, the two interleaved. The WASM agent's throughput
// through the scheduler against the inline no-op is bench/wasm-e2e.bench.ts. Prints JSON lines
// {"name","value","unit"}.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadManifest } from '../src/index.js';
import { AGENT_PATH, RuntimeRegistry, WasmRuntime } from '../src/sandbox/index.js';
import { ensureWasmExamples, watToWasm } from '../scripts/build-wasm-examples.js';

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** min and max of repeated runs, as extra fields of a figure whose value is their median. */
function spread(xs: number[], digits = 3): { min: number; max: number; runs: number } {
  const round = (x: number) => Number(x.toFixed(digits));
  return { min: round(Math.min(...xs)), max: round(Math.max(...xs)), runs: xs.length };
}
/** The engine's API (the DOM lib that would declare WebAssembly as a value is not loaded). */
interface Engine {
  Instance: new (module: WebAssembly.Module, imports: object) => object;
  compile(bytes: Uint8Array): Promise<WebAssembly.Module>;
  instantiate(module: WebAssembly.Module, imports: object): Promise<object>;
  Module: { imports(module: WebAssembly.Module): { module: string; name: string }[] };
}
const engine = (globalThis as unknown as { WebAssembly: Engine }).WebAssembly;
const Instance = engine.Instance;

/** A WASI command of about 100 KB: many small functions, as a compiled agent with a runtime would have. */
function bigWat(functions: number): string {
  const body: string[] = [];
  for (let i = 0; i < functions; i++) {
    body.push(
      `(func $f${i} (param $x i32) (result i32) (local $i i32)
        (local.set $i (i32.const ${i}))
        (loop $l (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 31)) (local.get $i)))
          (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $l (i32.gt_s (local.get $i) (i32.const 0))))
        (i32.xor (local.get $x) (i32.const ${i * 7919})))`,
    );
  }
  const calls = Array.from({ length: 32 }, (_, i) => `(drop (call $f${i} (i32.const ${i})))`).join(' ');
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ${body.join('\n')}
  (func (export "_start") ${calls}))`;
}

const wasiStub = { wasi_snapshot_preview1: { fd_write: () => 0 } };

/** Appends a unique custom section so the engine cannot reuse an earlier compilation of the same bytes. */
function unique(bytes: Uint8Array, n: number): Uint8Array {
  const name = new TextEncoder().encode(`bench${n}`);
  const section = Uint8Array.from([0, name.length + 1, name.length, ...name]);
  const out = new Uint8Array(bytes.length + section.length);
  out.set(bytes);
  out.set(section, bytes.length);
  return out;
}

async function wasmSpawn(): Promise<void> {
  let functions = 900;
  let bytes = await watToWasm(bigWat(functions));
  functions = Math.round((functions * 100 * 1024) / bytes.length);
  bytes = await watToWasm(bigWat(functions));
  const cold: number[] = [];
  const runtime = new WasmRuntime({ poolSize: 1 });
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const cached = await runtime.cache.fromBytes(unique(bytes, i), 256);
    new Instance(cached.module, wasiStub);
    cold.push(performance.now() - t);
  }
  emit('wasm cold spawn', median(cold), 'ms', {
    moduleBytes: bytes.length,
    runs: cold.length,
    target: '≤ 5 ms',
  });

  // Warm spawn: an instance of the module Warden compiled (memory-capped, from its cache), per instance,
  // over repeated batches; beside it, in alternation, plain WebAssembly.instantiate of the same bytes
  // compiled without Warden.
  const module = (await runtime.cache.fromBytes(bytes, 256)).module;
  const plain = await engine.compile(bytes);
  for (let i = 0; i < 200; i++) {
    new Instance(module, wasiStub);
    await engine.instantiate(plain, wasiStub);
  }
  const BATCH = 1000;
  const warm: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < 15; round++) {
    let t = performance.now();
    for (let i = 0; i < BATCH; i++) new Instance(module, wasiStub);
    warm.push(((performance.now() - t) / BATCH) * 1000);
    t = performance.now();
    for (let i = 0; i < BATCH; i++) await engine.instantiate(plain, wasiStub);
    baseline.push(((performance.now() - t) / BATCH) * 1000);
  }
  emit('wasm warm spawn', median(warm), 'µs', {
    ...spread(warm),
    instancesPerRun: BATCH,
    moduleBytes: bytes.length,
    target: '≤ 50 µs',
  });
  emit('wasm warm spawn baseline (plain WebAssembly.instantiate, same module)', median(baseline), 'µs', {
    ...spread(baseline),
    instancesPerRun: BATCH,
  });

  // The same, measured inside a pooled worker on the real path (fresh instance per task, WASI imports).
  const { wat } = await ensureWasmExamples();
  const m = await loadManifest(join(wat, '../../agent.yaml'));
  const prepared = await runtime.prepare(m);
  const limits = m.resources;
  const ctx = {
    taskId: 't',
    sessionId: 's',
    attempt: 1,
    allowNetwork: false,
    limits,
    signal: new AbortController().signal,
    log: () => undefined,
  };
  for (let i = 0; i < 200; i++) await prepared.run('{"x":1}', ctx);
  const rt: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = performance.now();
    await prepared.run('{"x":1}', ctx);
    rt.push(performance.now() - s);
  }
  emit('wasm task round trip in a pooled worker (p50)', median(rt) * 1000, 'µs', { agent: 'wasm-wat' });
  await runtime.close();
}

async function idleRss(): Promise<void> {
  const { as } = await ensureWasmExamples();
  const runtime = new WasmRuntime({ poolSize: 1 });
  const { module } = await runtime.cache.load(as, 16);
  const imports: Record<string, Record<string, () => number>> = {};
  for (const imp of engine.Module.imports(module)) (imports[imp.module] ??= {})[imp.name] = () => 0;
  global.gc?.();
  const before = process.memoryUsage().rss;
  const keep: object[] = [];
  const N = 500;
  for (let i = 0; i < N; i++) keep.push(new Instance(module, imports));
  const after = process.memoryUsage().rss;
  emit('wasm idle pooled instance RSS', (after - before) / N / 1024 / 1024, 'MB', {
    instances: N,
    agent: 'wasm-as',
    target: '≤ 4 MB',
  });
  keep.length = 0;

  const pool = new WasmRuntime({ poolSize: 4 });
  const b = process.memoryUsage().rss;
  pool.pool.warm();
  await new Promise((r) => setTimeout(r, 500));
  emit('wasm idle pool worker thread RSS', (process.memoryUsage().rss - b) / 4 / 1024 / 1024, 'MB', {
    workers: 4,
  });
  await pool.close();
  await runtime.close();
}

function timeSpawn(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - t));
  });
}

/** The interpreter a python agent without a venv runs: the first python3 on the agents' PATH. */
function agentPython(): string {
  const found = AGENT_PATH.split(':')
    .map((dir) => join(dir, 'python3'))
    .find((path) => existsSync(path));
  if (!found) throw new Error(`no python3 on the agents' PATH (${AGENT_PATH})`);
  return found;
}

const PYTHON_RUNS = Number(process.env['SANDBOX_BENCH_PYTHON_RUNS'] ?? 20);

async function pythonOverhead(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  // Readable by others, as a project directory is: as root, Warden runs agents as nobody.
  chmodSync(dir, 0o755);
  // Not `python3` from the shell's PATH (a pyenv shim is a bash script, and slow): the interpreter the
  // sandbox itself runs, bare.
  const python = agentPython();
  const bareRun = () => timeSpawn(python, ['-c', 'pass']);
  try {
    writeFileSync(join(dir, 'pass.py'), 'pass\n');
    writeFileSync(
      join(dir, 'agent.yaml'),
      'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: pass, version: 1.0.0 }\nspec: { runtime: python, entry: ./pass.py }\n',
    );
    const m = await loadManifest(join(dir, 'agent.yaml'));
    const sandboxed = await new RuntimeRegistry().get(m).prepare(m);
    const ctx = {
      taskId: 't',
      sessionId: 's',
      attempt: 1,
      allowNetwork: false,
      limits: m.resources,
      signal: new AbortController().signal,
      log: () => undefined,
    };
    const boxedRun = async (agent = sandboxed) => {
      const t = performance.now();
      await agent.run('null', ctx);
      return performance.now() - t;
    };
    for (let i = 0; i < 3; i++) {
      await bareRun();
      await boxedRun();
    }
    // Interleaved (and alternating which goes first) so that both see the same machine.
    const bare: number[] = [];
    const boxed: number[] = [];
    for (let i = 0; i < PYTHON_RUNS; i++) {
      if (i % 2 === 0) {
        bare.push(await bareRun());
        boxed.push(await boxedRun());
      } else {
        boxed.push(await boxedRun());
        bare.push(await bareRun());
      }
    }
    const paired = bare.map((b, i) => boxed[i]! - b);
    emit('bare python3 -c pass', median(bare), 'ms', { ...spread(bare), interpreter: python });
    emit(
      'sandboxed python agent (bwrap, rlimits, work dir, stdin/stdout)',
      median(boxed),
      'ms',
      spread(boxed),
    );
    emit('sandboxed python spawn overhead', median(boxed) - median(bare), 'ms', {
      // Each run's sandboxed time less the bare time beside it.
      pairedMedian: Number(median(paired).toFixed(3)),
      pairedMin: Number(Math.min(...paired).toFixed(3)),
      pairedMax: Number(Math.max(...paired).toFixed(3)),
      target: '≤ 25 ms',
    });
    emit('sandboxed python spawn overhead (min)', Math.min(...boxed) - Math.min(...bare), 'ms');

    // As root, an agent under a directory only root may enter (as /root is) has its mounts staged first.
    if (process.geteuid?.() === 0) {
      const locked = join(dir, 'root-only');
      mkdirSync(join(locked, 'agent'), { recursive: true, mode: 0o755 });
      chmodSync(locked, 0o700);
      writeFileSync(join(locked, 'agent', 'pass.py'), 'pass\n');
      const staged = await new RuntimeRegistry().get(m).prepare({ ...m, baseDir: join(locked, 'agent') });
      for (let i = 0; i < 3; i++) await boxedRun(staged);
      const stagedBare: number[] = [];
      const times: number[] = [];
      for (let i = 0; i < PYTHON_RUNS; i++) {
        stagedBare.push(await bareRun());
        times.push(await boxedRun(staged));
      }
      emit(
        'sandboxed python spawn overhead, agent under a root-only directory (staged)',
        median(times) - median(stagedBare),
        'ms',
        { sandboxed: spread(times), bare: spread(stagedBare) },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await wasmSpawn();
await idleRss();
await pythonOverhead();
process.exit(0);
