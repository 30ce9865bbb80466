import { WardenError } from '../core/index.js';
import { providerMessage } from '../sandbox/index.js';
import type { Embedder } from './embedder.js';

export interface OpenAiEmbedderOptions {
  /** The API root, such as `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`; `/embeddings` is appended. */
  baseUrl: string;
  /** The model name sent with every request, such as `text-embedding-3-small`. */
  model: string;
  /**
   * Name of the environment variable holding the API key, read at every request (so a rotated key is
   * picked up). When named explicitly, an unset variable is an error; the default may be unset (local
   * servers need no key). @default 'OPENAI_API_KEY'
   */
  apiKeyEnv?: string;
  /** The API key itself; wins over `apiKeyEnv`. */
  apiKey?: string;
  /**
   * Vector length to ask for (sent as `dimensions`, which text-embedding-3 models honour by truncating).
   * @default the model's own length, learnt by `connect()`
   */
  dimensions?: number;
  /** Texts per request; larger inputs are split into several requests. @default 128 */
  batchSize?: number;
  /** Longest wait for one request. @default 30000 */
  timeoutMs?: number;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Where `apiKeyEnv` is read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_KEY_ENV = 'OPENAI_API_KEY';
const DEFAULT_BATCH = 128;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Marks a length learnt by `connect()`: checked in answers but never sent, since not every server accepts it. */
const LEARNT = Symbol('learnt dimensions');

interface EmbeddingsResponse {
  data?: { embedding?: unknown; index?: unknown }[];
}

/**
 * Embeddings from an OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI, Azure-style proxies,
 * llama.cpp's server, Ollama, vLLM, LiteLLM). Vectors are re-normalised, since not every server returns
 * unit vectors. Every failure is `EMBEDDINGS_UNAVAILABLE` (retryable), with what to check in the message.
 *
 * @example
 * const embedder = await OpenAiEmbedder.connect({ baseUrl: 'https://api.openai.com/v1', model: 'text-embedding-3-small' });
 * embedder.dimensions; // 1536, learnt from one probe request
 */
export class OpenAiEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly url: string;
  private readonly options: OpenAiEmbedderOptions;
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof globalThis.fetch;
  /** The `dimensions` sent with requests: only a size the caller asked for. */
  private readonly requestDimensions: number | undefined;

  /**
   * Opens the endpoint, probing it with one text: fails fast when it is unreachable or refuses the key,
   * and learns the vector length when `dimensions` is not given.
   */
  static async connect(options: OpenAiEmbedderOptions, signal?: AbortSignal): Promise<OpenAiEmbedder> {
    if (options.dimensions !== undefined) {
      const embedder = new OpenAiEmbedder({ ...options, dimensions: options.dimensions });
      await embedder.request(['warden embeddings probe'], signal);
      return embedder;
    }
    // Length 0 while probing: nothing to check the answer against yet.
    const probe = new OpenAiEmbedder({ ...options, dimensions: 0, [LEARNT]: true });
    const [vector] = await probe.request(['warden embeddings probe'], signal);
    return new OpenAiEmbedder({ ...options, dimensions: vector!.length, [LEARNT]: true });
  }

  /**
   * Use `connect()` unless the vector length is known: here `dimensions` is required and is sent to the
   * server (which must support the `dimensions` parameter).
   */
  constructor(options: OpenAiEmbedderOptions & { dimensions: number; [LEARNT]?: boolean }) {
    this.options = options;
    this.id = `openai:${options.model}`;
    this.dimensions = options.dimensions;
    this.requestDimensions = options[LEARNT] ? undefined : options.dimensions;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
    if (!options.model)
      throw new WardenError('INVALID_INPUT', 'OpenAiEmbedder needs a model name', {
        details: { option: 'model' },
      });
    try {
      new URL(this.url);
    } catch {
      throw new WardenError('INVALID_INPUT', `OpenAiEmbedder baseUrl ${options.baseUrl} is not a URL`, {
        details: { option: 'baseUrl' },
      });
    }
    for (const [name, value] of [
      ['dimensions', options.dimensions],
      ['batchSize', this.batchSize],
      ['timeoutMs', this.timeoutMs],
    ] as const)
      if (!Number.isInteger(value) || value < (name === 'dimensions' && options[LEARNT] ? 0 : 1))
        throw new WardenError(
          'INVALID_INPUT',
          `OpenAiEmbedder ${name} must be a positive integer, got ${value}`,
          {
            details: { option: name },
          },
        );
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    // One batch after another: a provider's rate limit is per key, so parallel batches would only trip it.
    for (let i = 0; i < texts.length; i += this.batchSize)
      out.push(...(await this.request(texts.slice(i, i + this.batchSize), signal)));
    return out;
  }

  private async request(input: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (signal?.aborted) throw signal.reason;
    const key = this.apiKey();
    const body = {
      model: this.options.model,
      input,
      encoding_format: 'float',
      ...(this.requestDimensions !== undefined ? { dimensions: this.requestDimensions } : {}),
    };
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const redact = (text: string) => (key && key.length >= 4 ? text.split(key).join('[REDACTED]') : text);
    let status: number;
    let text: string;
    try {
      const res = await this.fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify(body),
        signal: combined,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted)
        throw this.unavailable(
          `${this.url} did not answer within ${this.timeoutMs} ms; check that the server is up, or raise timeoutMs`,
          err,
        );
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw this.unavailable(
        `cannot reach ${this.url} (${why}); check the URL and that the server is running`,
        err,
      );
    }
    if (status < 200 || status >= 300) {
      const said = redact(providerMessage(text)).slice(0, 300);
      const check =
        status === 401 || status === 403
          ? `the API key was refused; check ${this.options.apiKey !== undefined ? 'the apiKey option' : `the environment variable ${this.keyEnv()}`}`
          : status === 404
            ? `check the base URL (it should end in /v1) and the model name ${this.options.model}`
            : status === 429
              ? 'the provider rate-limited the request; retry later'
              : status >= 500
                ? 'the server failed; retry later or check its logs'
                : 'the server rejected the request; check the model name and dimensions';
      // Only time can fix a 408, a 429 or a server error; a refused key or request needs a person.
      const retryable = status === 408 || status === 429 || status >= 500;
      throw this.unavailable(
        `${this.url} answered ${status}${said ? ` (${said})` : ''}: ${check}`,
        undefined,
        {
          status,
        },
        retryable,
      );
    }
    return this.parse(text, input.length);
  }

  private parse(text: string, expected: number): Float32Array[] {
    let parsed: EmbeddingsResponse;
    try {
      parsed = JSON.parse(text) as EmbeddingsResponse;
    } catch {
      throw this.malformed(`the body is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
    if (!parsed || !Array.isArray(parsed.data)) throw this.malformed('the body has no data array');
    if (parsed.data.length !== expected)
      throw this.malformed(`it returned ${parsed.data.length} embeddings for ${expected} inputs`);
    const out = new Array<Float32Array | undefined>(expected);
    parsed.data.forEach((item, position) => {
      // Ordered by `index` when given: the API does not promise the response order.
      const index = item?.index ?? position;
      if (
        !Number.isInteger(index) ||
        (index as number) < 0 ||
        (index as number) >= expected ||
        out[index as number]
      )
        throw this.malformed(`embedding ${position} has an invalid or repeated index ${String(index)}`);
      const embedding = item.embedding;
      if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((x) => Number.isFinite(x)))
        throw this.malformed(
          `embedding ${position} is not an array of finite numbers (a base64 encoding_format is not supported)`,
        );
      if (this.dimensions > 0 && embedding.length !== this.dimensions)
        throw this.malformed(
          `embedding ${position} has ${embedding.length} dimensions, expected ${this.dimensions}; check the model name and the dimensions option`,
          false,
        );
      out[index as number] = normalize(Float32Array.from(embedding as number[]));
    });
    return out as Float32Array[];
  }

  private apiKey(): string | undefined {
    if (this.options.apiKey) return this.options.apiKey;
    const name = this.keyEnv();
    const key = (this.options.env ?? process.env)[name];
    if (!key && this.options.apiKeyEnv !== undefined)
      throw this.unavailable(
        `the API key variable ${name} is not set in this process's environment`,
        undefined,
        { env: name },
        false,
      );
    return key || undefined;
  }

  private keyEnv(): string {
    return this.options.apiKeyEnv ?? DEFAULT_KEY_ENV;
  }

  private malformed(why: string, retryable = true): WardenError {
    return this.unavailable(
      `${this.url} sent a malformed embeddings response: ${why}`,
      undefined,
      {},
      retryable,
    );
  }

  private unavailable(
    message: string,
    cause?: unknown,
    details: Record<string, unknown> = {},
    retryable = true,
  ): WardenError {
    return new WardenError('EMBEDDINGS_UNAVAILABLE', `Embeddings (${this.id}): ${message}`, {
      details: { provider: 'openai', model: this.options.model, url: this.url, ...details },
      retryable,
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  // A zero vector stays zero: there is no direction to keep.
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
  }
  return vector;
}
