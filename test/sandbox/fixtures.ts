import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watToWasm } from '../../scripts/build-wasm-examples.js';

export interface AgentFiles {
  /** Manifest path. */
  path: string;
  dir: string;
}

/** Writes agent.yaml for a node/python/process/wasm agent into dir. `spec` lines go under `spec:`. */
export function writeManifest(
  dir: string,
  name: string,
  version: string,
  spec: Record<string, unknown>,
): string {
  const lines = [
    'apiVersion: warden.dev/v1',
    'kind: Agent',
    'metadata:',
    `  name: ${name}`,
    `  version: ${version}`,
    'spec:',
  ];
  for (const [key, value] of Object.entries(spec)) lines.push(`  ${key}: ${JSON.stringify(value)}`);
  const path = join(dir, `${name}-${version}.yaml`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Writes a WAT module compiled to `<name>.wasm` in dir; returns the file name. */
export async function writeWat(dir: string, name: string, wat: string): Promise<string> {
  writeFileSync(join(dir, `${name}.wasm`), await watToWasm(wat, `${name}.wat`));
  return `./${name}.wasm`;
}

/** A WASI module skeleton: imports, one page of memory, a data segment of `json` at 1024, and `body`. */
export function wasiModule(body: string, options: { json?: string; extra?: string } = {}): string {
  const json = options.json ?? '';
  const escaped = json.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "${escaped}")
  ;; write(ptr, len) to fd 1
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; writes {"n":"NN"} for 0 <= n < 100
  (func $outNumber (param $n i32)
    (i64.store (i32.const 512) (i64.const 0x22223a226e227b)) ;; {"n":"
    (i32.store8 (i32.const 518) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.const 519) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
    (i32.store16 (i32.const 520) (i32.const 0x7d22)) ;; "}
    (call $out (i32.const 512) (i32.const 10)))
  ${options.extra ?? ''}
  (func (export "_start") ${body}))`;
}
