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

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
const API_VERSION = '2023-06-01';
/** Anthropic requires max_tokens; this is used when the manifest does not set model.maxTokens. */
const DEFAULT_MAX_TOKENS = 1024;

interface StreamEvent {
  type?: string;
  message?: { usage?: { input_tokens?: number; output_tokens?: number } };
  delta?: { type?: string; text?: string; stop_reason?: string | null };
  usage?: { output_tokens?: number; input_tokens?: number };
  error?: { type?: string; message?: string };
}

interface MessageResponse {
  content?: { type?: string; text?: string }[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

/** Anthropic Messages API (`POST /v1/messages`), streamed as its typed server-sent events. */
export class AnthropicClient extends HttpModelClient {
  readonly provider = 'anthropic';

  constructor(spec: LlmModelSpec, ctx: ClientContext) {
    super(spec, ctx, ANTHROPIC_DEFAULT_BASE_URL, '/v1/models');
  }

  protected headers(): Record<string, string> {
    const key = this.ctx.apiKey();
    return {
      'content-type': 'application/json',
      'anthropic-version': API_VERSION,
      ...(key ? { 'x-api-key': key } : {}),
    };
  }

  async complete(call: CompletionCall): Promise<Completion> {
    const { spec } = this;
    const stream = spec.stream ?? true;
    // The Messages API has no schema-constrained decoding: the schema goes into the system prompt and the
    // runtime validates what comes back.
    const system = [
      call.prompt.system,
      call.schema
        ? `Respond with only a JSON value (no prose, no code fence) that satisfies this JSON Schema:\n${JSON.stringify(call.schema)}`
        : undefined,
    ]
      .filter((s) => s !== undefined)
      .join('\n\n');
    const { res, started, streamed } = await this.post(
      '/v1/messages',
      {
        model: spec.model,
        max_tokens: spec.maxTokens ?? DEFAULT_MAX_TOKENS,
        ...(system ? { system } : {}),
        messages: [{ role: 'user', content: call.prompt.user }],
        ...(spec.temperature !== undefined ? { temperature: Math.min(1, spec.temperature) } : {}),
        ...(spec.topP !== undefined ? { top_p: spec.topP } : {}),
        ...(spec.stop ? { stop_sequences: spec.stop } : {}),
        ...(stream ? { stream: true } : {}),
      },
      call.signal,
      call.headers,
    );
    return streamed ? this.readStream(res, call, started) : this.readJson(res, call, started);
  }

  private async readJson(res: ProviderResponse, call: CompletionCall, started: number): Promise<Completion> {
    const { redact } = this.ctx;
    const parsed = parsePayload<MessageResponse>(this.provider, await res.text(64 * 1024 * 1024), redact);
    if (!Array.isArray(parsed.content)) throw badResponse(this.provider, 'no content array', redact);
    const text = parsed.content
      .map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
      .join('');
    const out = emptyCompletion();
    if (text) appendText(out, text, call, started);
    return {
      ...out,
      finishReason: parsed.stop_reason ?? null,
      promptTokens: parsed.usage?.input_tokens ?? null,
      completionTokens: parsed.usage?.output_tokens ?? null,
    };
  }

  private async readStream(
    res: ProviderResponse,
    call: CompletionCall,
    started: number,
  ): Promise<Completion> {
    const out = emptyCompletion();
    const { redact } = this.ctx;
    await readEvents(res, this.provider, redact, 'message_stop', (event) => {
      const data = parsePayload<StreamEvent>(this.provider, event.data, redact);
      switch (event.event ?? data.type) {
        case 'message_start':
          out.promptTokens = data.message?.usage?.input_tokens ?? null;
          out.completionTokens = data.message?.usage?.output_tokens ?? null;
          return;
        case 'content_block_delta': {
          const piece = data.delta?.type === 'text_delta' ? data.delta.text : undefined;
          if (piece) appendText(out, piece, call, started);
          return;
        }
        case 'message_delta':
          if (data.delta?.stop_reason) out.finishReason = data.delta.stop_reason;
          if (data.usage?.output_tokens !== undefined) out.completionTokens = data.usage.output_tokens;
          if (data.usage?.input_tokens !== undefined) out.promptTokens = data.usage.input_tokens;
          return;
        case 'message_stop':
          return true;
        case 'error': {
          const message = redact(data.error?.message ?? 'error');
          throw new WardenError(
            'LLM_PROVIDER_ERROR',
            `${this.provider} reported ${data.error?.type ?? 'an error'} mid-stream: ${message}`,
            {
              details: {
                provider: this.provider,
                type: data.error?.type ?? null,
                providerMessage: message.slice(0, 500),
              },
            },
          );
        }
        default: // ping, content_block_start/stop and future event types carry nothing we need
      }
    });
    return out;
  }
}
