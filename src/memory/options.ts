import { WardenError } from '../core/index.js';
import { embeddingsOptionsFromEnv, type Embedder, type EmbeddingsOptions } from '../routing/index.js';

/** Cortex memory limits and embeddings (WardenOptions.memory). */
export interface MemoryOptions {
  /**
   * Items one scope (a session, or one agent in it) holds; beyond it the oldest are evicted.
   * @default process.env.WARDEN_MEMORY_MAX_ITEMS, else 10000
   */
  maxItemsPerScope?: number;
  /** Largest item text, in UTF-8 bytes; longer is INVALID_INPUT. @default process.env.WARDEN_MEMORY_MAX_TEXT_BYTES, else 8192 */
  maxTextBytes?: number;
  /** The embedding model. @default from the environment (embeddingsOptionsFromEnv), else the builtin hash embedder */
  embeddings?: EmbeddingsOptions;
  /** An embedder to use as is (instead of opening one from `embeddings`): tests, benchmarks, custom models. */
  embedder?: Embedder;
  /** How long after a change a scope's vector index is saved to disk (it is also saved on close). @default 2000 */
  saveDelayMs?: number;
}

export interface CompiledMemoryOptions {
  maxItemsPerScope: number;
  maxTextBytes: number;
  embeddings: EmbeddingsOptions | undefined;
  embedder: Embedder | undefined;
  saveDelayMs: number;
}

function positive(value: number | string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new WardenError(
      'INVALID_INPUT',
      `memory.${name} must be a positive integer, got ${String(value)}`,
      {
        details: { field: `memory.${name}` },
      },
    );
  return n;
}

/** Applies defaults and environment fallbacks once; the service sees only the compiled object. */
export function compileMemoryOptions(
  o: MemoryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledMemoryOptions {
  return {
    maxItemsPerScope: positive(
      o.maxItemsPerScope ?? env['WARDEN_MEMORY_MAX_ITEMS'],
      'maxItemsPerScope',
      10_000,
    ),
    maxTextBytes: positive(o.maxTextBytes ?? env['WARDEN_MEMORY_MAX_TEXT_BYTES'], 'maxTextBytes', 8192),
    embeddings: o.embeddings ?? embeddingsOptionsFromEnv(env),
    embedder: o.embedder,
    saveDelayMs: o.saveDelayMs ?? 2000,
  };
}
