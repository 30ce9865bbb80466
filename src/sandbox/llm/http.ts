import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { WardenError } from '../../core/index.js';

/** One HTTP exchange with a model provider. */
export interface ProviderRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** The task's signal: aborting it destroys the socket, so no request outlives its task. */
  signal: AbortSignal;
  /** Longest silence (before the headers, or between body chunks) before LLM_STALLED. */
  idleTimeoutMs: number;
}

export interface ProviderResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /**
   * Reads the body as text, chunk by chunk (UTF-8 boundaries respected). Resolves when the body ends;
   * rejects with LLM_STALLED, LLM_BAD_RESPONSE (connection cut mid-body) or the abort reason.
   * `onChunk` may throw to stop reading: the socket is destroyed and the error rethrown.
   */
  read(onChunk: (text: string) => void): Promise<void>;
  /** Reads at most `limit` bytes of body (error bodies), then closes. */
  text(limit?: number): Promise<string>;
}

/**
 * Connection pools per protocol, owned by one LLM runtime: keep-alive saves a TCP (and TLS) handshake
 * per task, and `close()` destroys every socket so nothing outlives the runtime.
 */
export class ProviderHttp {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  /** Sends the request and resolves when the response headers arrive. */
  send(req: ProviderRequest): Promise<ProviderResponse> {
    const { signal } = req;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    const isHttps = req.url.protocol === 'https:';
    const transport = isHttps ? https : http;
    return new Promise<ProviderResponse>((resolve, reject) => {
      let settled = false;
      const outgoing = transport.request(req.url, {
        method: req.method,
        headers: {
          ...req.headers,
          ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}),
        },
        agent: isHttps ? this.agents['https:'] : this.agents['http:'],
      });
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        outgoing.destroy();
        reject(err);
      };
      const onAbort = () => fail(signal.reason as Error);
      const idle = setTimeout(() => fail(stalled(req, 'before the response headers')), req.idleTimeoutMs);
      const cleanup = () => {
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      outgoing.on('error', (err) => fail(unreachable(req, err)));
      outgoing.on('response', (res) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        res.setEncoding('utf8');
        resolve(this.response(req, res, outgoing));
      });
      outgoing.end(req.body);
    });
  }

  private response(
    req: ProviderRequest,
    res: IncomingMessage,
    outgoing: http.ClientRequest,
  ): ProviderResponse {
    const read = (onChunk: (text: string) => void): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const { signal } = req;
        let done = false;
        const finish = (err?: Error) => {
          if (done) return;
          done = true;
          clearTimeout(idle);
          signal.removeEventListener('abort', onAbort);
          res.removeAllListeners('data');
          if (err) {
            // A half-read response cannot go back to the pool: destroy the socket with it.
            outgoing.destroy();
            res.destroy();
            reject(err);
          } else resolve();
        };
        const onAbort = () => finish(signal.reason as Error);
        const arm = () =>
          setTimeout(() => finish(stalled(req, 'in the middle of the response')), req.idleTimeoutMs);
        let idle = arm();
        if (signal.aborted) return finish(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        res.on('data', (chunk: string) => {
          if (done) return;
          clearTimeout(idle);
          idle = arm();
          try {
            onChunk(chunk);
          } catch (err) {
            finish(err as Error);
          }
        });
        res.once('end', () => finish());
        res.once('aborted', () => finish(cut(req)));
        // After the headers, any socket failure means the response was cut short.
        res.once('error', () => finish(cut(req)));
        res.once('close', () => {
          if (!res.complete) finish(cut(req));
        });
      });
    return {
      status: res.statusCode ?? 0,
      headers: res.headers,
      read,
      text: async (limit = 64 * 1024) => {
        let body = '';
        let truncated = false;
        await read((chunk) => {
          if (truncated) return;
          body += chunk;
          if (body.length > limit) {
            body = body.slice(0, limit);
            truncated = true;
          }
        }).catch((err: unknown) => {
          // An error body cut short still says what went wrong; the abort reason still wins.
          if (req.signal.aborted) throw err;
        });
        return body;
      },
    };
  }

  /** Destroys pooled sockets (idle keep-alive connections). */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}

const where = (req: ProviderRequest) => `${req.url.origin}${req.url.pathname}`;

function stalled(req: ProviderRequest, when: string): WardenError {
  return new WardenError(
    'LLM_STALLED',
    `${where(req)} sent nothing for ${req.idleTimeoutMs} ms ${when}; the connection was closed (raise model.idleTimeoutMs for slow models)`,
    { details: { url: where(req), idleTimeoutMs: req.idleTimeoutMs } },
  );
}

function cut(req: ProviderRequest): WardenError {
  return new WardenError(
    'LLM_BAD_RESPONSE',
    `${where(req)} closed the connection in the middle of the response`,
    {
      details: { url: where(req), reason: 'truncated' },
    },
  );
}

function unreachable(req: ProviderRequest, err: Error & { code?: string }): WardenError {
  return new WardenError(
    'LLM_UNREACHABLE',
    `Cannot reach ${where(req)}: ${err.code ?? err.message}. Check model.baseUrl and that the server is running`,
    { cause: err, details: { url: where(req), errno: err.code ?? null } },
  );
}

/** Milliseconds a 429/503 asks us to wait: `retry-after-ms` (OpenAI), else `retry-after` (seconds or a date). */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | null {
  const rawMs = headers['retry-after-ms'];
  if (typeof rawMs === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(rawMs)) return Math.ceil(Number(rawMs));
  const raw = headers['retry-after'];
  if (typeof raw !== 'string') return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) return Math.ceil(Number(raw) * 1000);
  // RFC 9110 HTTP-date (IMF-fixdate): Date.parse alone accepts junk such as "later 1".
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(raw.trim())) return null;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
