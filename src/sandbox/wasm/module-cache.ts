import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { capMemory, resettable } from './memory-cap.js';

export interface CachedModule {
  /** SHA-256 of the module file as written by its author (before the memory cap is applied). */
  digest: string;
  module: WebAssembly.Module;
  /** The memory cap compiled into this copy, in 64 KiB pages. */
  capPages: number;
  /** Whether one instance may serve many tasks, its memory restored after each (see `resettable`). */
  reusable: boolean;
  compileMs: number;
}

/**
 * Compiled modules keyed by content digest (and memory cap): a module is compiled once per process however
 * many agent versions, tasks or workers use it. A WebAssembly.Module is shared with workers by reference.
 */
export class ModuleCache {
  private readonly modules = new Map<string, Promise<CachedModule>>();

  constructor(private readonly maxEntries = 64) {}

  get size(): number {
    return this.modules.size;
  }

  async load(path: string, memoryMb: number): Promise<CachedModule> {
    const bytes = new Uint8Array(await readFile(path));
    return this.fromBytes(bytes, memoryMb);
  }

  fromBytes(bytes: Uint8Array, memoryMb: number): Promise<CachedModule> {
    const digest = sha256(bytes);
    const key = `${digest}:${memoryMb}`;
    let entry = this.modules.get(key);
    if (!entry) {
      entry = compile(bytes, digest, memoryMb);
      entry.catch(() => this.modules.delete(key));
      if (this.modules.size >= this.maxEntries) this.modules.delete(this.modules.keys().next().value!);
      this.modules.set(key, entry);
    }
    return entry;
  }
}

/** The engine's compiler; the DOM lib (not loaded: this is Node) is what would declare it as a value. */
const engine = (
  globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }
).WebAssembly;

async function compile(bytes: Uint8Array, digest: string, memoryMb: number): Promise<CachedModule> {
  const started = performance.now();
  const capped = capMemory(bytes, memoryMb);
  const module = await engine.compile(capped);
  const capPages = Math.max(1, Math.floor((memoryMb * 1024 * 1024) / 65536));
  return { digest, module, capPages, reusable: resettable(capped), compileMs: performance.now() - started };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
