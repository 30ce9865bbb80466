import type { IncomingHttpHeaders } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { WardenError, type RenderedPrompt } from '../../core/index.js';
import type { AgentHealth } from '../runner.js';
import { retryAfterMs, type ProviderHttp, type ProviderResponse } from './http.js';

/** What one completion needs beyond the model spec. */
export interface CompletionCall {
  prompt: RenderedPrompt;
  /** JSON Schema the completion must satisfy, passed to providers that can constrain output. */
  schema?: Record<string, unknown>;
  signal: AbortSignal;
  /** Called with each piece of generated text, as it arrives. May throw to stop generation. */
  onText?: (text: string) => void;
  /** Extra request headers (the trace context of the model-call span: traceparent, tracestate). */
  headers?: Record<string, string>;
}

export interface Completion {
  text: string;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** From sending the request to the first generated text; null when nothing was generated. */
  timeToFirstTokenMs: number | null;
}

/** One model endpoint (or loaded local model) that an LLM agent version talks to. */
export interface ModelClient {
  readonly provider: string;
  readonly model: string;
  /** The provider endpoint's base URL (remote providers): the model-call span's server.address. */
  readonly baseUrl?: string;
  complete(call: CompletionCall): Promise<Completion>;
  health(signal: AbortSignal): Promise<AgentHealth>;
  dispose?(): Promise<void>;
}

/** Replaces secret values (API keys) wherever text from a provider could carry them back to us. */
export type Redactor = (text: string) => string;

export function redactorFor(secrets: readonly (string | undefined)[]): Redactor {
  // Longest first: a secret that begins another must not leave the other's tail behind.
  const values = secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (values.length === 0) return (t) => t;
  return (text) => {
    let out = text;
    for (const v of values) out = out.split(v).join('[REDACTED]');
    return out;
  };
}

/**
 * Turns a non-2xx provider answer into a coded error: 429 and 5xx are retryable (429 and 503 carry the
 * provider's Retry-After), 401/403 mean the key is wrong, other 4xx mean the request itself is wrong.
 */
export function statusError(
  provider: string,
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  redact: Redactor,
): WardenError {
  const said = redact(providerMessage(body)).slice(0, 500);
  const wait = retryAfterMs(headers);
  const details = {
    provider,
    status,
    ...(said ? { providerMessage: said } : {}),
    ...(wait !== null ? { retryAfterMs: wait } : {}),
  };
  if (status === 429)
    return new WardenError(
      'LLM_RATE_LIMITED',
      `${provider} rate-limited the request (429)${wait !== null ? `; it asks to retry after ${wait} ms` : ''}${said ? `: ${said}` : ''}`,
      { details },
    );
  if (status === 401 || status === 403)
    return new WardenError(
      'LLM_AUTH_FAILED',
      `${provider} refused the API key (${status}); check the environment variable named by model.apiKeyEnv${said ? `: ${said}` : ''}`,
      { details },
    );
  if (status >= 500)
    return new WardenError(
      'LLM_PROVIDER_ERROR',
      `${provider} failed with ${status}${said ? `: ${said}` : ''}`,
      {
        details,
      },
    );
  return new WardenError(
    'LLM_REQUEST_REJECTED',
    `${provider} rejected the request (${status})${said ? `: ${said}` : ''}`,
    {
      details,
    },
  );
}

/** The human message in a provider error body (OpenAI and Anthropic both nest it under `error`). */
export function providerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
    if (parsed.error && typeof parsed.error.message === 'string') return parsed.error.message;
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim();
}

export function badResponse(provider: string, why: string, redact: Redactor): WardenError {
  return new WardenError(
    'LLM_BAD_RESPONSE',
    `${provider} sent a malformed response: ${redact(why).slice(0, 300)}`,
    {
      details: { provider, reason: redact(why).slice(0, 300) },
    },
  );
}

/** Parses one JSON payload of a stream or body; malformed JSON is LLM_BAD_RESPONSE. */
export function parsePayload<T>(provider: string, text: string, redact: Redactor): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw badResponse(provider, `not JSON: ${text.slice(0, 120)}`, redact);
  }
}

/** Joins a base URL and a path without doubling or losing slashes. */
export function endpoint(baseUrl: string, path: string): URL {
  return new URL(baseUrl.replace(/\/+$/, '') + path);
}

/** What an HTTP model client needs from its runtime. */
export interface ClientContext {
  http: ProviderHttp;
  /** The API key, read from the environment when the task runs; undefined sends none. */
  apiKey(): string | undefined;
  redact: Redactor;
}

/** Adds a piece of generated text: the first one sets the time to first token; each is passed on. */
export function appendText(out: Completion, piece: string, call: CompletionCall, started: number): void {
  out.timeToFirstTokenMs ??= performance.now() - started;
  out.text += piece;
  call.onText?.(piece);
}

export function emptyCompletion(): Completion {
  return {
    text: '',
    finishReason: null,
    promptTokens: null,
    completionTokens: null,
    timeToFirstTokenMs: null,
  };
}

/**
 * Feeds a server-sent-event body to `onEvent` until it ends. `onEvent` returns true at the stream's end
 * marker; a body that ends without one was truncated (LLM_BAD_RESPONSE).
 */
export async function readEvents(
  res: ProviderResponse,
  provider: string,
  redact: Redactor,
  marker: string,
  onEvent: (event: EventSourceMessage) => boolean | void,
): Promise<void> {
  let ended = false;
  const parser = createParser({
    onEvent: (event) => {
      if (!ended && onEvent(event) === true) ended = true;
    },
  });
  await res.read((text) => parser.feed(text));
  if (!ended) throw badResponse(provider, `the stream ended without ${marker} (truncated)`, redact);
}
