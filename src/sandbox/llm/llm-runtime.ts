import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  DEFAULT_API_KEY_ENV,
  WardenError,
  assertTenantSecrets,
  compileJsonSchema,
  compilePrompt,
  describeSchemaErrors,
  normalizePrompt,
  type AgentManifest,
  type LlmModelSpec,
  type LlmUsage,
} from '../../core/index.js';
import type {
  AgentHealth,
  AgentRuntime,
  ModelCallStart,
  ModelCallTrace,
  PreparedAgent,
  RunContext,
  RunOutcome,
} from '../runner.js';
import { AnthropicClient } from './anthropic.js';
import { ProviderHttp } from './http.js';
import { LocalModels, type LocalModelOptions } from './llama.js';
import { OpenAiClient } from './openai.js';
import { costUsd, type PriceTable } from './prices.js';
import { redactorFor, type ClientContext, type Completion, type ModelClient } from './provider.js';

/** Where each provider's key is looked up when the manifest does not name a variable. */

export interface LlmRuntimeOptions {
  /** USD per million tokens, by `provider/model` or `model` (docs/llm.md). @default {} */
  prices?: PriceTable;
  /** Where API keys are read from when a task runs. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Local GGUF models (node-llama-cpp). */
  local?: LocalModelOptions;
}

/**
 * `runtime: llm`: renders the prompt template with the task input, calls the model (OpenAI-compatible,
 * Anthropic, or a local GGUF model), streams the text as token events, validates structured output and
 * records tokens and cost with the result. Runs in the worker process: it executes no agent code.
 */
export class LlmRuntime implements AgentRuntime {
  readonly name = 'llm' as const;
  private readonly http = new ProviderHttp();
  private readonly local: LocalModels;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: LlmRuntimeOptions = {}) {
    this.env = options.env ?? process.env;
    this.local = new LocalModels(options.local);
  }

  async prepare(manifest: AgentManifest): Promise<PreparedAgent> {
    const spec = modelSpec(manifest);
    const prompt = compilePrompt(normalizePrompt(manifest.prompt));
    const schema = manifest.outputSchema;
    const validate = schema ? compileJsonSchema(schema) : undefined;
    const client = await this.client(manifest, spec);
    const prices = this.options.prices ?? {};
    return {
      isolation: 'in-process',
      run: async (inputJson: string, ctx: RunContext): Promise<RunOutcome> => {
        const started = performance.now();
        const rendered = prompt.render(JSON.parse(inputJson));
        let streamedBytes = 0;
        const limit = ctx.limits.maxOutputBytes;
        // Traced: a GenAI span around the call, whose context the provider request carries (traceparent).
        const call = ctx.trace?.modelCall(modelCallStart(client, spec));
        let completion: Completion;
        try {
          completion = await client.complete({
            prompt: rendered,
            ...(schema ? { schema } : {}),
            signal: ctx.signal,
            onText: (text) => {
              streamedBytes += Buffer.byteLength(text);
              if (streamedBytes > limit) throw outputLimit(limit);
              ctx.token?.(text);
            },
            ...(call ? { headers: traceHeaders(call) } : {}),
          });
        } catch (err) {
          call?.end({ error: ctx.signal.aborted ? ctx.signal.reason : err });
          throw err;
        }
        call?.end(completion);
        // Usage goes on the result, not in a log line: a log line per task costs a store transaction.
        const llm = usageOf(client, completion, prices);
        let output: unknown = { text: completion.text, finishReason: completion.finishReason };
        if (validate) {
          output = parseStructured(completion, llm);
          if (!validate(output)) {
            throw new WardenError(
              'INVALID_OUTPUT',
              `The model's output does not satisfy outputSchema: ${describeSchemaErrors(validate).join('; ')}`,
              { details: { errors: describeSchemaErrors(validate), llm } },
            );
          }
        }
        const outputJson = JSON.stringify(output);
        const outputBytes = Buffer.byteLength(outputJson);
        if (outputBytes > limit) throw outputLimit(limit);
        return {
          outputJson,
          usage: { wallMs: performance.now() - started, cpuMs: 0, peakMemoryBytes: 0, outputBytes, llm },
        };
      },
      dispose: async () => {
        await client.dispose?.();
      },
    };
  }

  /** For local models, the SHA-256 of the GGUF file: the weights are the code. Remote models have none. */
  async digest(manifest: AgentManifest): Promise<string | null> {
    const spec = modelSpec(manifest);
    if (spec.provider !== 'llama') return null;
    const path = modelPath(manifest, spec);
    return new Promise((done, fail) => {
      const hash = createHash('sha256');
      createReadStream(path)
        .on('error', (err: NodeJS.ErrnoException) =>
          fail(
            err.code === 'ENOENT'
              ? new WardenError(
                  'FILE_NOT_FOUND',
                  `Model file ${path} does not exist (model.model of ${manifest.name})`,
                  {
                    details: { path },
                  },
                )
              : err,
          ),
        )
        .on('data', (chunk) => hash.update(chunk))
        .on('end', () => done(hash.digest('hex')));
    });
  }

  async health(manifest: AgentManifest, signal: AbortSignal): Promise<AgentHealth> {
    const client = await this.client(manifest, modelSpec(manifest));
    try {
      return await client.health(signal);
    } finally {
      await client.dispose?.();
    }
  }

  /** Closes pooled connections and unloads local models. */
  async close(): Promise<void> {
    this.http.close();
    await this.local.close();
  }

  private async client(manifest: AgentManifest, spec: LlmModelSpec): Promise<ModelClient> {
    if (spec.provider === 'llama') return this.local.client(modelPath(manifest, spec), spec);
    assertTenantSecrets(manifest, this.env);
    const keyEnv = spec.apiKeyEnv ?? DEFAULT_API_KEY_ENV[spec.provider]!;
    const explicit = spec.apiKeyEnv !== undefined;
    const apiKey = () => {
      const key = this.env[keyEnv];
      if (!key && explicit)
        throw new WardenError(
          'LLM_API_KEY_MISSING',
          `Agent ${manifest.name} reads its API key from $${keyEnv}, which is not set in this worker's environment`,
          { details: { env: keyEnv } },
        );
      return key || undefined;
    };
    const ctx: ClientContext = {
      http: this.http,
      apiKey,
      // Built per call: the key may be rotated in the environment between tasks.
      redact: (text) => redactorFor([this.env[keyEnv]])(text),
    };
    return spec.provider === 'anthropic' ? new AnthropicClient(spec, ctx) : new OpenAiClient(spec, ctx);
  }
}

function modelSpec(manifest: AgentManifest): LlmModelSpec {
  if (!manifest.model)
    throw new WardenError('INVALID_MANIFEST', `Agent ${manifest.name} (runtime llm) has no spec.model`);
  return manifest.model;
}

function modelPath(manifest: AgentManifest, spec: LlmModelSpec): string {
  return isAbsolute(spec.model) ? spec.model : resolve(manifest.baseDir ?? '.', spec.model);
}

function modelCallStart(client: ModelClient, spec: LlmModelSpec): ModelCallStart {
  const start: ModelCallStart = { provider: client.provider, model: client.model };
  if (client.baseUrl) start.url = new URL(client.baseUrl);
  if (spec.maxTokens !== undefined) start.maxTokens = spec.maxTokens;
  if (spec.temperature !== undefined) start.temperature = spec.temperature;
  if (spec.topP !== undefined) start.topP = spec.topP;
  return start;
}

function traceHeaders(call: ModelCallTrace): Record<string, string> {
  return call.tracestate
    ? { traceparent: call.traceparent, tracestate: call.tracestate }
    : { traceparent: call.traceparent };
}

function outputLimit(limit: number): WardenError {
  return new WardenError(
    'OUTPUT_LIMIT',
    `The model generated more than maxOutputBytes (${limit} bytes); generation was stopped`,
    {
      details: { maxOutputBytes: limit },
    },
  );
}

function usageOf(client: ModelClient, c: Completion, prices: PriceTable): LlmUsage {
  return {
    provider: client.provider,
    model: client.model,
    promptTokens: c.promptTokens,
    completionTokens: c.completionTokens,
    costUsd: costUsd(prices, client.provider, client.model, c.promptTokens, c.completionTokens),
    timeToFirstTokenMs: c.timeToFirstTokenMs === null ? null : Math.round(c.timeToFirstTokenMs * 100) / 100,
    finishReason: c.finishReason,
  };
}

/** The completion as JSON: models often wrap it in a ```json fence, which is not part of the value. */
function parseStructured(c: Completion, llm: LlmUsage): unknown {
  const text = c.text.trim();
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/.exec(text);
  try {
    return JSON.parse(fenced ? fenced[1]! : text);
  } catch {
    throw new WardenError(
      'INVALID_OUTPUT',
      `The model's output is not JSON, but the agent declares an outputSchema${c.finishReason === 'length' ? ' (generation hit maxTokens)' : ''}: ${text.slice(0, 120)}`,
      { details: { finishReason: c.finishReason, llm } },
    );
  }
}
