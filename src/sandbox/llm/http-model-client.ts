import type { LlmModelSpec } from '../../core/index.js';
import { timedHealth } from '../health.js';
import type { AgentHealth } from '../runner.js';
import type { ProviderResponse } from './http.js';
import {
  endpoint,
  statusError,
  type ClientContext,
  type Completion,
  type CompletionCall,
  type ModelClient,
} from './provider.js';

/**
 * What the HTTP providers share: the base URL, the idle timeouts, posting a completion and the health probe
 * (a model list). Each provider says how it authenticates, where its model list is and how it reads a reply.
 */
export abstract class HttpModelClient implements ModelClient {
  abstract readonly provider: string;
  readonly model: string;
  readonly baseUrl: string;

  constructor(
    protected readonly spec: LlmModelSpec,
    protected readonly ctx: ClientContext,
    defaultBaseUrl: string,
    /** The provider's model list, relative to the base URL: the cheapest request that proves the key works. */
    private readonly modelsPath: string,
  ) {
    this.model = spec.model;
    this.baseUrl = spec.baseUrl ?? defaultBaseUrl;
  }

  /** Request headers, the API key included (read from the environment per call). */
  protected abstract headers(): Record<string, string>;

  abstract complete(call: CompletionCall): Promise<Completion>;

  /** POSTs a completion request. A non-2xx answer becomes its coded error (the body read for the message). */
  protected async post(
    path: string,
    body: unknown,
    signal: AbortSignal,
    extraHeaders?: Record<string, string>,
  ): Promise<{ res: ProviderResponse; started: number; streamed: boolean }> {
    const started = performance.now();
    const res = await this.ctx.http.send({
      method: 'POST',
      url: endpoint(this.baseUrl, path),
      headers: extraHeaders ? { ...this.headers(), ...extraHeaders } : this.headers(),
      body: JSON.stringify(body),
      signal,
      idleTimeoutMs: this.spec.idleTimeoutMs ?? 30_000,
    });
    if (res.status < 200 || res.status >= 300)
      throw statusError(this.provider, res.status, res.headers, await res.text(), this.ctx.redact);
    const streamed = String(res.headers['content-type'] ?? '').includes('text/event-stream');
    return { res, started, streamed };
  }

  health(signal: AbortSignal): Promise<AgentHealth> {
    const url = endpoint(this.baseUrl, this.modelsPath);
    return timedHealth(`GET ${url.href}`, async () => {
      const res = await this.ctx.http.send({
        method: 'GET',
        url,
        headers: this.headers(),
        signal,
        idleTimeoutMs: this.spec.idleTimeoutMs ?? 10_000,
      });
      const body = await res.text();
      if (res.status < 200 || res.status >= 300)
        throw statusError(this.provider, res.status, res.headers, body, this.ctx.redact);
    });
  }
}
