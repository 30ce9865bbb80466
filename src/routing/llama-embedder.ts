import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Llama, LlamaEmbeddingContext, LlamaModel, Token } from 'node-llama-cpp';
import { WardenError } from '../core/index.js';
import { checkGgufHeader, loadNodeLlamaCpp } from '../sandbox/index.js';
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
    const { llama } = await loadNodeLlamaCpp();
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

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
