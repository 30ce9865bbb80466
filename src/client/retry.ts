// When WardenClient retries: 429 and 503 only, only for requests that are safe to send twice, waiting
// what the server's Retry-After says, within a bound.

export interface RetryOptions {
  /** Retries after the first attempt (0 turns retrying off). @default 2 */
  maxRetries?: number;
  /** The longest wait before a retry; a Retry-After beyond it is not waited for (the error is thrown). @default 30000 */
  maxDelayMs?: number;
  /** The first wait when the answer has no Retry-After; doubled each retry. @default 500 */
  baseDelayMs?: number;
}

export interface CompiledRetry {
  maxRetries: number;
  maxDelayMs: number;
  baseDelayMs: number;
}

export function compileRetry(options: RetryOptions | false | undefined): CompiledRetry {
  if (options === false) return { maxRetries: 0, maxDelayMs: 0, baseDelayMs: 0 };
  return {
    maxRetries: Math.max(0, Math.floor(options?.maxRetries ?? 2)),
    maxDelayMs: Math.max(0, options?.maxDelayMs ?? 30_000),
    baseDelayMs: Math.max(0, options?.baseDelayMs ?? 500),
  };
}

/** The statuses retried: the server did not do the work (rate limited, or unavailable for a moment). */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * POST routes that may be sent twice with the same effect as once: reads that take a body, and writes that
 * answer the existing resource when it is there already. Other POSTs (execute without an idempotency key,
 * DLQ replay, trace and memory writes, feedback, governance flags) are never retried: the server may have
 * acted before the answer was lost.
 */
const SAFE_POSTS: ReadonlySet<string> = new Set([
  '/sessions', // returns the existing session of that name
  '/agents', // an identical version is success
  '/tasks/{id}/cancel',
  '/sessions/{session}/memory/search',
  '/rd/knee',
  '/rd/fgw',
  '/governance/screen',
  '/governance/validate-merge',
  '/route/explain',
  '/artifacts/export',
]);

/**
 * Whether a request may be retried: GET, HEAD, PUT, DELETE and OPTIONS, the POSTs of SAFE_POSTS, and any
 * request that carries an idempotency key (a body `idempotencyKey` or an Idempotency-Key header).
 */
export function isRetrySafe(
  method: string,
  pathTemplate: string,
  body: unknown,
  headers: Record<string, string>,
): boolean {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE' || m === 'OPTIONS') return true;
  if (SAFE_POSTS.has(pathTemplate)) return true;
  if (Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')) return true;
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { idempotencyKey?: unknown }).idempotencyKey === 'string'
  );
}

/**
 * Retry-After in milliseconds: delay-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`,
 * relative to `now`); undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The wait before retry `attempt` (1-based): Retry-After when given, else exponential from baseDelayMs. */
export function retryDelay(attempt: number, retryAfterMs: number | undefined, policy: CompiledRetry): number {
  return retryAfterMs ?? Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

/** Resolves after ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const done = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
