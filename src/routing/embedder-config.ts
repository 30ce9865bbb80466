import { WardenError } from '../core/index.js';
import type { Embedder } from './embedder.js';
import { HashEmbedder } from './hash-embedder.js';
import { LlamaEmbedder } from './llama-embedder.js';
import { OpenAiEmbedder } from './openai-embedder.js';

/** Which embedding model routing and memory use. @default { provider: 'builtin' } */
export type EmbeddingsOptions =
  | {
      /** The model-free HashEmbedder: deterministic, instant, lexical (no synonyms). */
      provider: 'builtin';
      /** @default 384 */
      dimensions?: number;
    }
  | {
      /** An OpenAI-compatible `/v1/embeddings` endpoint. */
      provider: 'openai';
      /** Such as `https://api.openai.com/v1`. */
      baseUrl: string;
      model: string;
      /** Environment variable holding the API key. @default 'OPENAI_API_KEY' (may be unset for local servers) */
      apiKeyEnv?: string;
      /** Vector length to ask for. @default the model's own, learnt from one probe request */
      dimensions?: number;
    }
  | {
      /** A local GGUF embedding model through node-llama-cpp. */
      provider: 'llama';
      modelPath: string;
    };

export interface OpenEmbedderContext {
  /** Where the OpenAI provider reads its API key. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Aborts the OpenAI provider's probe request. */
  signal?: AbortSignal;
}

/**
 * Opens the embedder the options name: the built-in one by default, an OpenAI-compatible endpoint
 * (probed once, so a wrong URL or key fails here rather than at the first task) or a local GGUF model.
 * The caller owns the result and calls `close?.()` when done.
 *
 * @example
 * const embedder = await openEmbedder(embeddingsOptionsFromEnv(process.env));
 */
export async function openEmbedder(
  options: EmbeddingsOptions = { provider: 'builtin' },
  context: OpenEmbedderContext = {},
): Promise<Embedder> {
  switch (options.provider) {
    case 'builtin':
      return new HashEmbedder(options.dimensions !== undefined ? { dimensions: options.dimensions } : {});
    case 'openai':
      return OpenAiEmbedder.connect(
        {
          baseUrl: options.baseUrl,
          model: options.model,
          ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
          ...(options.dimensions !== undefined ? { dimensions: options.dimensions } : {}),
          ...(context.env ? { env: context.env } : {}),
        },
        context.signal,
      );
    case 'llama':
      return LlamaEmbedder.open({ modelPath: options.modelPath });
    default:
      throw new WardenError(
        'INVALID_INPUT',
        `Unknown embeddings provider ${JSON.stringify((options as { provider?: unknown }).provider)}; expected builtin, openai or llama`,
        { details: { option: 'provider' } },
      );
  }
}

const PROVIDERS = ['builtin', 'openai', 'llama'] as const;

/**
 * Reads the embeddings choice from the environment; undefined when `WARDEN_EMBEDDINGS` is unset (the
 * caller's default applies). Variables:
 * - `WARDEN_EMBEDDINGS`: `builtin` | `openai` | `llama`
 * - `WARDEN_EMBEDDINGS_DIMENSIONS`: vector length (builtin, openai)
 * - `WARDEN_EMBEDDINGS_URL`, `WARDEN_EMBEDDINGS_MODEL` (openai, both required), `WARDEN_EMBEDDINGS_API_KEY_ENV`:
 *   the name of the variable holding the key (default OPENAI_API_KEY)
 * - `WARDEN_EMBEDDINGS_MODEL_PATH` (llama, required)
 *
 * A bad value is INVALID_INPUT naming the variable.
 */
export function embeddingsOptionsFromEnv(env: NodeJS.ProcessEnv): EmbeddingsOptions | undefined {
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const provider = read('WARDEN_EMBEDDINGS');
  if (provider === undefined) return undefined;
  if (!(PROVIDERS as readonly string[]).includes(provider))
    throw invalid(
      'WARDEN_EMBEDDINGS',
      `is ${JSON.stringify(provider)}; expected one of ${PROVIDERS.join(', ')}`,
    );
  const dimensions = positiveInteger(read('WARDEN_EMBEDDINGS_DIMENSIONS'));
  const required = (name: string) => {
    const value = read(name);
    if (value === undefined) throw invalid(name, `must be set when WARDEN_EMBEDDINGS=${provider}`);
    return value;
  };
  switch (provider as (typeof PROVIDERS)[number]) {
    case 'builtin':
      return { provider: 'builtin', ...(dimensions !== undefined ? { dimensions } : {}) };
    case 'openai': {
      const baseUrl = required('WARDEN_EMBEDDINGS_URL');
      if (!/^https?:\/\/[^/]/.test(baseUrl) || !URL.canParse(baseUrl))
        throw invalid(
          'WARDEN_EMBEDDINGS_URL',
          `is ${JSON.stringify(baseUrl)}; expected an http(s) URL such as https://api.openai.com/v1`,
        );
      const apiKeyEnv = read('WARDEN_EMBEDDINGS_API_KEY_ENV');
      if (apiKeyEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv))
        throw invalid(
          'WARDEN_EMBEDDINGS_API_KEY_ENV',
          `must name an environment variable (not hold the key itself)`,
        );
      return {
        provider: 'openai',
        baseUrl,
        model: required('WARDEN_EMBEDDINGS_MODEL'),
        ...(apiKeyEnv !== undefined ? { apiKeyEnv } : {}),
        ...(dimensions !== undefined ? { dimensions } : {}),
      };
    }
    case 'llama':
      if (dimensions !== undefined)
        throw invalid(
          'WARDEN_EMBEDDINGS_DIMENSIONS',
          'does not apply to WARDEN_EMBEDDINGS=llama: the model fixes its length',
        );
      return { provider: 'llama', modelPath: required('WARDEN_EMBEDDINGS_MODEL_PATH') };
  }
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 2 || n > 65_536)
    throw invalid(
      'WARDEN_EMBEDDINGS_DIMENSIONS',
      `is ${JSON.stringify(value)}; expected an integer from 2 to 65536`,
    );
  return n;
}

function invalid(variable: string, why: string): WardenError {
  // The value is quoted only where it cannot be a secret (never the key variable's contents).
  return new WardenError('INVALID_INPUT', `Environment variable ${variable} ${why}`, {
    details: { variable },
  });
}
