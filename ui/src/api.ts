import { createParser, type EventSourceMessage } from 'eventsource-parser';

// The dashboard talks to the API on its own origin with the key the user entered: kept in sessionStorage,
// so it lasts as long as the tab and is never written to disk by the page.

const KEY_STORAGE = 'warden.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

/** An error the API answered with (its stable `code`), or NETWORK when no answer came. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const key = storedKey();
  return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (body.error?.code)
      return new ApiError(
        res.status,
        body.error.code,
        body.error.message ?? res.statusText,
        body.error.details,
      );
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 300) || res.statusText);
}

async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body === undefined ? undefined : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', `Cannot reach the Warden server: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

/** Query string from an object, leaving out empty values. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return (await send('GET', path, undefined, signal)).json() as Promise<T>;
  },
  async text(path: string, signal?: AbortSignal): Promise<string> {
    return (await send('GET', path, undefined, signal)).text();
  },
  /** A POST whose answer is kept as text (a provenance bundle, verified and saved byte for byte). */
  async postText(path: string, body: unknown = {}, signal?: AbortSignal): Promise<string> {
    return (await send('POST', path, body, signal)).text();
  },
  async post<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
    const res = await send('POST', path, body, signal);
    return (res.status === 204 ? undefined : await res.json()) as T;
  },
  async del<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await send('DELETE', path, undefined, signal);
    return (res.status === 204 ? undefined : await res.json()) as T;
  },
};

export interface StreamEvent {
  event: string;
  id: string | undefined;
  data: unknown;
}

/**
 * Reads a Server-Sent Events stream with the key in the Authorization header (EventSource cannot send
 * one). Resolves when the server ends the stream; rejects with ApiError on an error answer. Abort with
 * `signal` to stop.
 */
export async function stream(
  path: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  lastEventId?: string,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: headers({
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      }),
      signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') return;
    throw new ApiError(0, 'NETWORK', `Cannot reach the Warden server: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failure(res);
  if (!res.body) return;
  const parser = createParser({
    onEvent(m: EventSourceMessage) {
      let data: unknown = m.data;
      try {
        data = JSON.parse(m.data);
      } catch {
        // plain text data stays a string
      }
      onEvent({ event: m.event ?? 'message', id: m.id, data });
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  } catch (err) {
    if ((err as Error).name === 'AbortError' || signal.aborted) return;
    throw err;
  } finally {
    reader.releaseLock();
  }
}

/** Saves `content` as a file through the browser's download. */
export function saveFile(filename: string, content: string | Blob, type = 'application/json'): void {
  const blob = typeof content === 'string' ? new Blob([content], { type }) : content;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
