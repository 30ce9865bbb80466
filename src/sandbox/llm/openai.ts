import { WardenError, type LlmModelSpec } from '../../core/index.js';
import type { ProviderResponse } from './http.js';
import { HttpModelClient } from './http-model-client.js';
import {
  appendText,
  badResponse,
  emptyCompletion,
  parsePayload,
  readEvents,
  type ClientContext,
  type Completion,
  type CompletionCall,
} from './provider.js';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/**
 * OpenAI's own API deprecated `max_tokens` and refuses it for reasoning models; compatible servers (vLLM,
 * llama.cpp, Ollama, gateways) still read `max_tokens`.
 */
export function maxTokensField(baseUrl: string): 'max_tokens' | 'max_completion_tokens' {
  return new URL(baseUrl).hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens';
}

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

interface ChatResponse {
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/**
 * OpenAI Chat Completions, which vLLM, llama.cpp's server, Ollama, LM Studio and most gateways also speak.
 * Streams with `stream_options.include_usage` so token counts arrive in the last chunk.
 */
export class OpenAiClient extends HttpModelClient {
  readonly provider = 'openai';

  constructor(spec: LlmModelSpec, ctx: ClientContext) {
    super(spec, ctx, OPENAI_DEFAULT_BASE_URL, '/models');
  }

  protected headers(): Record<string, string> {
    const key = this.ctx.apiKey();
    return {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    };
  }

  async complete(call: CompletionCall): Promise<Completion> {
    const { spec } = this;
    const stream = spec.stream ?? true;
    const messages = [
      ...(call.prompt.system !== undefined ? [{ role: 'system', content: call.prompt.system }] : []),
      { role: 'user', content: call.prompt.user },
    ];
    const { res, started, streamed } = await this.post(
      '/chat/completions',
      {
        model: spec.model,
        messages,
        ...(spec.temperature !== undefined ? { temperature: spec.temperature } : {}),
        ...(spec.maxTokens !== undefined ? { [maxTokensField(this.baseUrl)]: spec.maxTokens } : {}),
        ...(spec.topP !== undefined ? { top_p: spec.topP } : {}),
        ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        ...(spec.stop ? { stop: spec.stop } : {}),
        ...(call.schema
          ? { response_format: { type: 'json_schema', json_schema: { name: 'output', schema: call.schema } } }
          : {}),
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      },
      call.signal,
      call.headers,
    );
    return streamed ? this.readStream(res, call, started) : this.readJson(res, call, started);
  }

  private async readJson(res: ProviderResponse, call: CompletionCall, started: number): Promise<Completion> {
    const raw = await res.text(64 * 1024 * 1024);
    const parsed = parsePayload<ChatResponse>(this.provider, raw, this.ctx.redact);
    const choice = parsed.choices?.[0];
    const text = choice?.message?.content;
    if (typeof text !== 'string')
      throw badResponse(this.provider, 'no choices[0].message.content', this.ctx.redact);
    const out = emptyCompletion();
    if (text) appendText(out, text, call, started);
    return {
      ...out,
      finishReason: choice?.finish_reason ?? null,
      promptTokens: parsed.usage?.prompt_tokens ?? null,
      completionTokens: parsed.usage?.completion_tokens ?? null,
    };
  }

  private async readStream(
    res: ProviderResponse,
    call: CompletionCall,
    started: number,
  ): Promise<Completion> {
    const out = emptyCompletion();
    const { redact } = this.ctx;
    await readEvents(res, this.provider, redact, 'data: [DONE]', (event) => {
      if (event.data === '[DONE]') return true;
      const chunk = parsePayload<ChatChunk>(this.provider, event.data, redact);
      if (chunk.error) {
        const message = redact(
          typeof chunk.error === 'string' ? chunk.error : (chunk.error.message ?? 'error'),
        );
        throw new WardenError(
          'LLM_PROVIDER_ERROR',
          `${this.provider} reported an error mid-stream: ${message}`,
          {
            details: { provider: this.provider, providerMessage: message.slice(0, 500) },
          },
        );
      }
      const choice = chunk.choices?.[0];
      const piece = choice?.delta?.content;
      if (piece) appendText(out, piece, call, started);
      if (choice?.finish_reason) out.finishReason = choice.finish_reason;
      if (chunk.usage) {
        out.promptTokens = chunk.usage.prompt_tokens ?? null;
        out.completionTokens = chunk.usage.completion_tokens ?? null;
      }
    });
    return out;
  }
}
