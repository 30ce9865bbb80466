import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { WardenError, secretValues, type AgentManifest } from '../../core/index.js';
import {
  traceEnv,
  type AgentRuntime,
  type PreparedAgent,
  type RunContext,
  type RunOutcome,
} from '../runner.js';
import { agentOutputJson } from '../agent-output.js';
import { ModuleCache, sha256 } from './module-cache.js';
import { WorkerPool, type WasmJob, type WasmJobResult } from './worker-pool.js';

/** Every WebAssembly binary starts with `\0asm`. */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export interface WasmRuntimeOptions {
  /** Worker threads kept ready; each runs one task at a time. @default min(4, availableParallelism()) */
  poolSize?: number;
}

/**
 * Runs WASI preview1 command modules (`runtime: wasm`, `spec.module`): JSON input on stdin, JSON output on
 * stdout, logs on stderr. Each task gets a fresh instance in a pooled worker thread, with no files,
 * sockets or preopened directories, and an environment of only the manifest's `env` and named `secrets`.
 * Memory is capped by rewriting the module's memory maximum to `memoryMb`; a runaway module is stopped by
 * terminating its worker.
 */
export class WasmRuntime implements AgentRuntime {
  readonly name = 'wasm' as const;
  readonly cache = new ModuleCache();
  readonly pool: WorkerPool;

  constructor(options: WasmRuntimeOptions = {}) {
    this.pool = new WorkerPool(options.poolSize ?? Math.max(1, Math.min(4, availableParallelism())));
  }

  async prepare(manifest: AgentManifest): Promise<PreparedAgent> {
    const path = modulePath(manifest);
    const cached = await this.cache.load(path, manifest.resources.memoryMb).catch((cause: unknown) => {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
      throw new WardenError('FILE_NOT_FOUND', `spec.module of ${manifest.name}: ${path} does not exist`, {
        cause,
        details: { field: 'spec.module', path },
      });
    });
    const env = [...Object.entries(manifest.env), ...secretValues(manifest, process.env)].map(
      ([k, v]) => `${k}=${v}`,
    );
    const program = this.pool.program({
      module: cached.module,
      capPages: cached.capPages,
      reusable: cached.reusable,
      env,
      args: [manifest.name, ...(manifest.args ?? [])],
    });
    this.pool.warm();
    return {
      isolation: 'wasm',
      run: (inputJson, ctx) => {
        const trace = traceEnv(ctx);
        return this.runOnce(
          {
            program,
            input: inputJson,
            // Traced: TRACEPARENT (and TRACESTATE) join the WASI environment, for the module's own spans.
            ...(trace ? { extraEnv: Object.entries(trace).map(([k, v]) => `${k}=${v}`) } : {}),
            maxOutputBytes: ctx.limits.maxOutputBytes,
          },
          ctx,
        );
      },
    };
  }

  /** The SHA-256 of the module file, recorded with the agent version (and the module cache's key). */
  async digest(manifest: AgentManifest): Promise<string> {
    const path = modulePath(manifest);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (cause) {
      throw new WardenError('FILE_NOT_FOUND', `spec.module of ${manifest.name}: ${path} does not exist`, {
        cause,
        details: { field: 'spec.module', path },
      });
    }
    // Refused at registration: an immutable version whose every task fails "bad magic number" helps nobody.
    if (!WASM_MAGIC.every((b, i) => bytes[i] === b))
      throw new WardenError(
        'INVALID_MANIFEST',
        `spec.module of ${manifest.name} is not a WebAssembly binary (it does not start with \\0asm): compile it first (wat2wasm, asc, cargo build --target wasm32-wasip1)`,
        { details: { field: 'spec.module', path } },
      );
    return sha256(bytes);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async runOnce(job: WasmJob, ctx: RunContext): Promise<RunOutcome> {
    const started = performance.now();
    let result: WasmJobResult;
    try {
      result = await this.pool.run(job, ctx.signal, (line) => ctx.log('stderr', line));
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason as Error;
      const code =
        (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'MEMORY_LIMIT' : 'AGENT_CRASHED';
      throw new WardenError(code, `The WASM worker failed: ${(err as Error).message}`, { cause: err });
    }
    const usage = {
      wallMs: performance.now() - started,
      cpuMs: result.runMs, // one thread, busy while the module runs
      peakMemoryBytes: result.memoryBytes,
      outputBytes: result.stdoutBytes ?? 0,
    };
    const capBytes = job.program.capPages * 65536;
    if (!result.ok) {
      if (result.error === 'output') {
        throw new WardenError(
          'OUTPUT_LIMIT',
          `The agent wrote more than ${job.maxOutputBytes} bytes to stdout`,
        );
      }
      if (result.error === 'link') {
        throw new WardenError('AGENT_CRASHED', `Cannot instantiate the module: ${result.message}`, {
          retryable: false,
        });
      }
      throw failure(`The module trapped: ${result.message}`, result, capBytes);
    }
    if (result.exitCode !== 0)
      throw failure(`The module exited with code ${result.exitCode}`, result, capBytes);
    return { outputJson: agentOutputJson(result.stdout ?? ''), usage };
  }
}

/**
 * A module that fails after growing to at least half its cap most likely failed because `memory.grow` was
 * refused at the cap (allocators grow by doubling or by the size of the request), so it is a MEMORY_LIMIT.
 */
function failure(message: string, result: WasmJobResult, capBytes: number): WardenError {
  if (result.memoryBytes * 2 >= capBytes) {
    return new WardenError(
      'MEMORY_LIMIT',
      `The module hit its memory cap of ${capBytes / 1024 / 1024} MB (${message.toLowerCase()})`,
      { details: { memoryBytes: result.memoryBytes } },
    );
  }
  return new WardenError(result.error === 'trap' ? 'AGENT_CRASHED' : 'AGENT_FAILED', message, {
    details: { exitCode: result.exitCode ?? null },
  });
}

function modulePath(manifest: AgentManifest): string {
  if (!manifest.module) throw new WardenError('INVALID_MANIFEST', 'spec.module is required for runtime wasm');
  const base = manifest.baseDir ?? process.cwd();
  return isAbsolute(manifest.module) ? manifest.module : resolve(base, manifest.module);
}
