import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type * as NodeLlamaCpp from 'node-llama-cpp';
import type { Llama, LlamaEmbeddingContext, LlamaModel, Token } from 'node-llama-cpp';
import { WardenError } from '../core/index.js';
import type { Embedder } from './embedder.js';

export interface LlamaEmbedderOptions {
  /** Path of a GGUF embedding model (nomic-embed, bge, all-MiniLM… in GGUF form). */
  modelPath: string;
  /**
   * Threads llama.cpp uses. @default half the cores (at least 1): llama.cpp spins its threads while it
   * waits, and oversubscribing a small machine slows it by orders of magnitude.
   */
  threads?: number;
  /**
   * Tokens the model sees per text; longer texts are truncated to fit (as routing and memory want a
   * vector rather than an error). @default the model's training context, at most 2048
   */
  contextSize?: number;
}

const MAX_DEFAULT_CONTEXT = 2048;

/**
 * Embeddings from a local GGUF model through node-llama-cpp's CPU build (an optional dependency, loaded
 * on first use). Texts are embedded one after another in one context; vectors are L2-normalised. The id
 * is `llama:` and the first 16 hex digits of the file's SHA-256, so vectors from different weights never
 * share an index, whatever the file is called.
 *
 * A text with no tokens (the empty string) embeds to a fixed unit vector (first component 1), as in
 * HashEmbedder.
 *
 * @example
 * const embedder = await LlamaEmbedder.open({ modelPath: './models/nomic-embed-text-v1.5.Q8_0.gguf' });
 * const [vector] = await embedder.embed(['count the words in this text']);
 * await embedder.close();
 */
export class LlamaEmbedder implements Embedder {
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly id: string,
    readonly dimensions: number,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
    private readonly maxTokens: number,
    private readonly modelPath: string,
  ) {}

  /**
   * Hashes the file (for the id: about a second per GB), loads the model and creates its embedding
   * context. Errors: FILE_NOT_FOUND,
   * MODEL_LOAD_FAILED (not a GGUF file, or a model that cannot compute embeddings),
   * LOCAL_MODEL_UNAVAILABLE (node-llama-cpp not installed or without a binary for this platform).
   */
  static async open(options: LlamaEmbedderOptions): Promise<LlamaEmbedder> {
    const path = options.modelPath;
    await access(path).catch(() => {
      throw new WardenError('FILE_NOT_FOUND', `Embedding model file ${path} does not exist`, {
        details: { path },
      });
    });
    await checkGgufHeader(path);
    const digest = await sha256File(path);
    const llama = await loadLlama();
    let model: LlamaModel | undefined;
    try {
      try {
        model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      } catch (err) {
        throw new WardenError(
          'MODEL_LOAD_FAILED',
          `Cannot load the GGUF model ${path}: ${(err as Error).message}`,
          {
            cause: err,
            details: { path },
          },
        );
      }
      const contextSize =
        options.contextSize ?? Math.min(model.trainContextSize || MAX_DEFAULT_CONTEXT, MAX_DEFAULT_CONTEXT);
      let context: LlamaEmbeddingContext;
      try {
        context = await model.createEmbeddingContext({
          contextSize,
          threads: options.threads ?? Math.max(1, Math.floor(availableParallelism() / 2)),
        });
      } catch (err) {
        throw new WardenError(
          'MODEL_LOAD_FAILED',
          `The GGUF model ${path} cannot compute embeddings: ${(err as Error).message}`,
          { cause: err, details: { path } },
        );
      }
      // Room for the beginning and end tokens node-llama-cpp adds.
      const maxTokens = Math.max(1, contextSize - 3);
      return new LlamaEmbedder(
        `llama:${digest.slice(0, 16)}`,
        model.embeddingVectorSize,
        llama,
        model,
        context,
        maxTokens,
        path,
      );
    } catch (err) {
      await model?.dispose();
      await llama.dispose();
      throw err;
    }
  }

  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    // One text at a time through the one context: calls queue behind each other rather than interleave.
    const run = this.queue.then(() => this.embedAll(texts, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async embedAll(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const text of texts) {
      if (signal?.aborted) throw signal.reason;
      if (this.closed)
        throw new WardenError('EMBEDDINGS_UNAVAILABLE', `Embeddings (${this.id}): the embedder is closed`, {
          retryable: false,
          details: { provider: 'llama', path: this.modelPath },
        });
      out.push(await this.embedOne(text));
    }
    return out;
  }

  private async embedOne(text: string): Promise<Float32Array> {
    const tokens: Token[] = this.model.tokenize(text);
    if (tokens.length === 0) {
      const unit = new Float32Array(this.dimensions);
      unit[0] = 1;
      return unit;
    }
    let vector: readonly number[];
    try {
      vector = (await this.context.getEmbeddingFor(tokens.slice(0, this.maxTokens))).vector;
    } catch (err) {
      throw new WardenError(
        'EMBEDDINGS_UNAVAILABLE',
        `Embeddings (${this.id}) failed: ${(err as Error).message}`,
        {
          cause: err,
          details: { provider: 'llama', path: this.modelPath },
        },
      );
    }
    if (vector.length !== this.dimensions || !vector.every(Number.isFinite))
      throw new WardenError(
        'EMBEDDINGS_UNAVAILABLE',
        `Embeddings (${this.id}): the model returned ${vector.length} values (expected ${this.dimensions} finite numbers); is ${this.modelPath} an embedding model?`,
        { retryable: false, details: { provider: 'llama', path: this.modelPath } },
      );
    const out = Float32Array.from(vector);
    let norm = 0;
    for (let i = 0; i < out.length; i++) norm += out[i]! * out[i]!;
    if (norm > 0) {
      const scale = 1 / Math.sqrt(norm);
      for (let i = 0; i < out.length; i++) out[i]! *= scale;
    }
    return out;
  }

  /** Frees the context, the weights and the llama.cpp binding; later `embed` calls fail. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }

  /** Whether `close()` has freed the model. */
  get disposed(): boolean {
    return this.model.disposed;
  }
}

async function loadLlama(): Promise<Llama> {
  let lib: typeof NodeLlamaCpp;
  try {
    // Optional dependency, loaded on first use: users who never embed locally never install its binary.
    lib = await import('node-llama-cpp');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    throw new WardenError(
      'LOCAL_MODEL_UNAVAILABLE',
      missing
        ? 'Local embeddings (provider llama) need the optional package node-llama-cpp, which is not installed: run `npm install node-llama-cpp@^3.21.1` where Warden runs'
        : `node-llama-cpp is installed but could not be loaded: ${(err as Error).message}; reinstall it with \`npm install node-llama-cpp@^3.21.1\``,
      { cause: err, details: { package: 'node-llama-cpp' } },
    );
  }
  try {
    // CPU only, prebuilt binary only: never compile llama.cpp or download anything at run time.
    return await lib.getLlama({
      gpu: false,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: lib.LlamaLogLevel.error,
      logger: () => undefined,
    });
  } catch (err) {
    throw new WardenError(
      'LOCAL_MODEL_UNAVAILABLE',
      `node-llama-cpp has no usable prebuilt binary for ${process.platform}-${process.arch}: ${(err as Error).message}`,
      { cause: err, details: { package: 'node-llama-cpp' } },
    );
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Refuses files that are not GGUF v2/v3 or whose header counts cannot fit the file: node-llama-cpp's own
 * reader never settles on some corrupt headers. (The same check as the LLM runtime's.)
 */
async function checkGgufHeader(path: string): Promise<void> {
  const fail = (why: string) =>
    new WardenError('MODEL_LOAD_FAILED', `${path} is not a loadable GGUF model: ${why}`, {
      details: { path },
    });
  const size = (await stat(path)).size;
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(24);
    const { bytesRead } = await file.read(head, 0, 24, 0);
    if (bytesRead < 24) throw fail('the file is shorter than a GGUF header');
    if (head.toString('latin1', 0, 4) !== 'GGUF') throw fail('it does not start with the GGUF magic');
    const version = head.readUInt32LE(4);
    if (version !== 2 && version !== 3) throw fail(`unsupported GGUF version ${version} (expected 2 or 3)`);
    const tensors = head.readBigUInt64LE(8);
    const entries = head.readBigUInt64LE(16);
    if ((tensors + entries) * 8n > BigInt(size))
      throw fail(`its header claims ${tensors} tensors and ${entries} metadata entries`);
  } finally {
    await file.close();
  }
}
