import { ApiError, stream, type StreamEvent } from '../api';

/** How a live view's stream is doing: shown next to the view, so a stale page never looks live. */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'unavailable';

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 15_000];

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/**
 * Keeps a Server-Sent Events stream open until `signal` aborts or `finished()` says the history is all
 * there: after a dropped connection (or a server that ended the stream) it reconnects with backoff,
 * passing the last event id it saw when `resume` is set. A refusal (4xx other than 429) stops it: the
 * error goes to `onError` and the status becomes 'unavailable'.
 */
export async function keepStreaming(options: {
  path: string;
  signal: AbortSignal;
  onEvent: (e: StreamEvent) => void;
  onStatus: (s: LiveStatus) => void;
  onError?: (err: Error) => void;
  resume?: boolean;
  finished?: () => boolean;
}): Promise<void> {
  const { path, signal, onEvent, onStatus } = options;
  let lastId: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    onStatus(failures === 0 && lastId === undefined ? 'connecting' : 'reconnecting');
    let opened = false;
    try {
      await stream(
        path,
        (e) => {
          if (!opened) {
            opened = true;
            failures = 0;
            onStatus('live');
          }
          if (e.id) lastId = e.id;
          onEvent(e);
        },
        signal,
        options.resume ? lastId : undefined,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
        options.onError?.(err);
        onStatus('unavailable');
        return;
      }
    }
    if (signal.aborted) return;
    if (options.finished?.()) {
      onStatus('ended');
      return;
    }
    await pause(BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]! * (0.75 + Math.random() / 2), signal);
    failures++;
  }
}

export function LiveIndicator({ status }: { status: LiveStatus }) {
  const label: Record<LiveStatus, string> = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
    ended: 'finished',
    unavailable: 'not live',
  };
  return (
    <span class={`live-indicator ${status}`} data-testid="live-status" data-status={status} role="status">
      <span class="dot" aria-hidden="true" />
      {label[status]}
    </span>
  );
}
