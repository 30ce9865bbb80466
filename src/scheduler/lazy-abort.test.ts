import { describe, expect, it } from 'vitest';
import { LazyAbortController } from './lazy-abort.js';

describe('LazyAbortController', () => {
  it('is not aborted and has no reason until aborted', () => {
    const c = new LazyAbortController();
    expect(c.aborted).toBe(false);
    expect(c.reason).toBeUndefined();
    expect(c.signal.aborted).toBe(false);
    expect(c.signal).toBe(c.signal);
  });

  it('hands out an already aborted signal when aborted before anyone read it', () => {
    const c = new LazyAbortController();
    const reason = new Error('timed out');
    c.abort(reason);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe(reason);
    expect(c.signal.aborted).toBe(true);
    expect(c.signal.reason).toBe(reason);
  });

  it('fires the abort event on a signal read before the abort, once', () => {
    const c = new LazyAbortController();
    const seen: unknown[] = [];
    c.signal.addEventListener('abort', () => seen.push(c.signal.reason));
    c.abort('first');
    c.abort('second');
    expect(seen).toEqual(['first']);
    expect(c.reason).toBe('first');
  });
});
