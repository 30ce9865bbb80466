import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `deps` change (and every `pollMs` when set), aborting the previous run. Keeps the last
 * data while reloading, so polled pages do not flicker.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  pollMs?: number,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    loader
      .current(ac.signal)
      .then((d) => {
        if (ac.signal.aborted) return;
        setData(d);
        setError(undefined);
      })
      .catch((err: Error) => {
        if (!ac.signal.aborted && err.name !== 'AbortError') setError(err);
      })
      .finally(() => !ac.signal.aborted && setLoading(false));
    const timer = pollMs ? setTimeout(() => setTick((t) => t + 1), pollMs) : undefined;
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Runs a mutating action, tracking its pending state and error (shown next to the button that ran it). */
export function useAction<A extends unknown[], T>(
  action: (...args: A) => Promise<T>,
): {
  run: (...args: A) => Promise<T | undefined>;
  pending: boolean;
  error: Error | undefined;
  clear: () => void;
} {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const run = async (...args: A) => {
    setPending(true);
    setError(undefined);
    try {
      return await action(...args);
    } catch (err) {
      setError(err as Error);
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, clear: () => setError(undefined) };
}
