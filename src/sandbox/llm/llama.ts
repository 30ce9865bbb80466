import { access, open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { WardenError, type LlmModelSpec } from '../../core/index.js';
import { timedHealth } from '../health.js';
import type { Completion, CompletionCall, ModelClient } from './provider.js';

type NodeLlamaCpp = typeof NodeLlamaCppModule;

export interface LocalModelOptions {
  /**
   * Threads llama.cpp uses per context. @default half the cores (at least 1): llama.cpp spins its threads
   * while waiting, and on a small machine oversubscribing them slows generation by orders of magnitude
   * (measured 1000x with 4 threads on 2 cores).
   */
  threads?: number;
}

/** Default generation cap: a local model without an end-of-text token would otherwise fill its context. */
const DEFAULT_MAX_TOKENS = 512;
const DEFAULT_CONTEXT = 2048;

interface LoadedModel {
  model: Promise<LlamaModel>;
  users: number;
}

/**
 * node-llama-cpp and its CPU binding: an optional peer dependency, loaded on first use (users who never run
 * a local model never install its ~30 MB binary). Coded LOCAL_MODEL_UNAVAILABLE when it is missing or has
 * no prebuilt binary here. Shared by the LLM runtime and the local embeddings (src/routing).
 */
export async function loadNodeLlamaCpp(): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  let lib: NodeLlamaCpp;
  try {
    // An optional peer dependency, loaded on first use: users who never run a local model never
    // install its ~30 MB binary.
    lib = await import('node-llama-cpp');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    throw new WardenError(
      'LOCAL_MODEL_UNAVAILABLE',
      missing
        ? 'Local models (provider llama) need the optional package node-llama-cpp, which is not installed: run `npm install node-llama-cpp@^3.21.1` where Warden runs'
        : `node-llama-cpp is installed but could not be loaded: ${(err as Error).message}; reinstall it with \`npm install node-llama-cpp@^3.21.1\``,
      { cause: err, details: { package: 'node-llama-cpp' } },
    );
  }
  try {
    // CPU only, prebuilt binary only: never compile llama.cpp or download anything at task time.
    const llama = await lib.getLlama({
      gpu: false,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: lib.LlamaLogLevel.error,
      logger: () => undefined,
    });
    return { lib, llama };
  } catch (err) {
    throw new WardenError(
      'LOCAL_MODEL_UNAVAILABLE',
      `node-llama-cpp has no usable prebuilt binary for ${process.platform}-${process.arch}: ${(err as Error).message}`,
      { cause: err, details: { package: 'node-llama-cpp' } },
    );
  }
}

/**
 * Local GGUF models through node-llama-cpp (llama.cpp's CPU build): each model file is loaded once per
 * process and shared by every agent version that names it; every task gets its own context (KV cache).
 */
export class LocalModels {
  private binding: Promise<{ lib: NodeLlamaCpp; llama: Llama }> | undefined;
  private readonly models = new Map<string, LoadedModel>();

  constructor(private readonly options: LocalModelOptions = {}) {}

  private load(): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
    this.binding ??= loadNodeLlamaCpp();
    this.binding.catch(() => (this.binding = undefined));
    return this.binding;
  }

  private acquire(path: string): Promise<LlamaModel> {
    let entry = this.models.get(path);
    if (!entry) {
      const model = (async () => {
        await access(path).catch(() => {
          throw new WardenError('FILE_NOT_FOUND', `Model file ${path} does not exist`, { details: { path } });
        });
        await checkGgufHeader(path);
        const { llama } = await this.load();
        try {
          return await llama.loadModel({ modelPath: path, gpuLayers: 0 });
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
      })();
      entry = { model, users: 0 };
      this.models.set(path, entry);
      // A failed load is forgotten, so a fixed file is picked up by the next attempt.
      model.catch(() => this.models.delete(path));
    }
    entry.users++;
    return entry.model;
  }

  private async release(path: string): Promise<void> {
    const entry = this.models.get(path);
    if (!entry || --entry.users > 0) return;
    this.models.delete(path);
    const model = await entry.model.catch(() => undefined);
    await model?.dispose();
  }

  async client(path: string, spec: LlmModelSpec): Promise<ModelClient> {
    const model = await this.acquire(path);
    const { lib } = await this.load();
    let disposed = false;
    return {
      provider: 'llama',
      model: spec.model,
      complete: (call) => this.complete(lib, model, spec, call),
      health: (signal) =>
        timedHealth(`load ${path} and evaluate one token`, async () => {
          const context = await model.createContext({
            contextSize: 64,
            sequences: 1,
            threads: this.threads(),
          });
          try {
            const completion = new lib.LlamaCompletion({ contextSequence: context.getSequence() });
            await completion.generateCompletion('ok', { maxTokens: 1, signal });
          } finally {
            await context.dispose();
          }
        }),
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        await this.release(path);
      },
    };
  }

  private async complete(
    lib: NodeLlamaCpp,
    model: LlamaModel,
    spec: LlmModelSpec,
    call: CompletionCall,
  ): Promise<Completion> {
    const contextSize = Math.min(
      spec.contextSize ?? DEFAULT_CONTEXT,
      model.trainContextSize || DEFAULT_CONTEXT,
    );
    const promptText =
      call.prompt.system !== undefined ? `${call.prompt.system}\n\n${call.prompt.user}` : call.prompt.user;
    const promptTokens = model.tokenize(promptText).length;
    const maxTokens = spec.maxTokens ?? DEFAULT_MAX_TOKENS;
    if (promptTokens >= contextSize)
      throw new WardenError(
        'LLM_CONTEXT_OVERFLOW',
        `The prompt is ${promptTokens} tokens, which does not fit the model's context of ${contextSize}; raise model.contextSize or shorten the input`,
        { details: { promptTokens, contextSize } },
      );
    if (call.signal.aborted) throw call.signal.reason;
    const generationLimit = Math.min(maxTokens, contextSize - promptTokens);
    const context = await model.createContext({ contextSize, sequences: 1, threads: this.threads() });
    // A callback that throws (output limit) stops generation through this controller.
    const stop = new AbortController();
    let stopReason: unknown;
    const onAbort = () => stop.abort(call.signal.reason);
    call.signal.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    let firstTokenMs: number | null = null;
    let completionTokens = 0;
    try {
      const sequence = context.getSequence();
      const session = new lib.LlamaChatSession({
        contextSequence: sequence,
        ...(call.prompt.system !== undefined ? { systemPrompt: call.prompt.system } : {}),
      });
      const grammar = call.schema ? await jsonGrammar(model, call.schema) : undefined;
      const text = await session.prompt(call.prompt.user, {
        maxTokens: generationLimit,
        ...(spec.temperature !== undefined ? { temperature: spec.temperature } : {}),
        ...(spec.topP !== undefined ? { topP: spec.topP } : {}),
        ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        ...(spec.stop ? { customStopTriggers: spec.stop } : {}),
        ...(grammar ? { grammar } : {}),
        signal: stop.signal,
        onToken: (tokens) => {
          completionTokens += tokens.length;
        },
        onTextChunk: (piece) => {
          if (stop.signal.aborted || !piece) return;
          firstTokenMs ??= performance.now() - started;
          try {
            call.onText?.(piece);
          } catch (err) {
            stopReason = err;
            stop.abort(err);
          }
        },
      });
      // The context holds the templated prompt and every generated token but the last (never fed back).
      const templatedPrompt = sequence.contextTokens.length + 1 - completionTokens;
      return {
        text,
        finishReason: completionTokens >= generationLimit ? 'length' : 'stop',
        promptTokens: Math.max(promptTokens, templatedPrompt),
        completionTokens,
        timeToFirstTokenMs: firstTokenMs,
      };
    } catch (err) {
      if (stopReason !== undefined) throw stopReason;
      if (call.signal.aborted) throw call.signal.reason;
      if (err instanceof WardenError) throw err;
      throw new WardenError('AGENT_FAILED', `Local model generation failed: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      call.signal.removeEventListener('abort', onAbort);
      await context.dispose();
    }
  }

  private threads(): number {
    return this.options.threads ?? Math.max(1, Math.floor(availableParallelism() / 2));
  }

  /** Unloads every model. */
  async close(): Promise<void> {
    const entries = [...this.models.values()];
    this.models.clear();
    for (const e of entries) await (await e.model.catch(() => undefined))?.dispose();
    const binding = this.binding;
    this.binding = undefined;
    await (await binding?.catch(() => undefined))?.llama.dispose();
  }
}

/** A grammar that makes the model emit JSON of the schema, where llama.cpp's GBNF subset can express it. */
async function jsonGrammar(model: LlamaModel, schema: Record<string, unknown>) {
  try {
    return await model.llama.createGrammarForJsonSchema(schema as never);
  } catch {
    return undefined; // outside the GBNF subset: the output is still validated against the schema
  }
}

/**
 * Refuses files that are not GGUF v2/v3 or whose header counts cannot fit the file. node-llama-cpp's own
 * reader never settles on some corrupt headers (it keeps reading an absurd entry count), which would hang
 * the task and the worker's shutdown.
 */
export async function checkGgufHeader(path: string): Promise<void> {
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
    // Each tensor description and metadata entry takes well over 8 bytes: larger counts are corruption.
    if ((tensors + entries) * 8n > BigInt(size))
      throw fail(`its header claims ${tensors} tensors and ${entries} metadata entries`);
  } finally {
    await file.close();
  }
}
