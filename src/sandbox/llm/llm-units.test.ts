import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WardenError } from '../../core/index.js';
import { retryAfterMs } from './http.js';
import { maxTokensField } from './openai.js';
import { costUsd, loadPriceTable, type PriceTable } from './prices.js';
import { redactorFor, statusError } from './provider.js';

/** Runs `fn` and returns what it threw (fails the test when it does not throw). */
function thrown(fn: () => unknown): WardenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WardenError);
    return err as WardenError;
  }
  throw new Error('expected a throw');
}

const dirs: string[] = [];

afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-'));
  dirs.push(dir);
  return dir;
}

describe('costUsd', () => {
  const prices: PriceTable = {
    'openai/gpt-4o-mini': { input: 0.15, output: 0.6 },
    'gpt-4o-mini': { input: 100, output: 100 },
    'claude-3-5-haiku-latest': { input: 0.8, output: 4 },
  };

  it('prices per million tokens', () => {
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 1_000_000, 2_000_000)).toBe(1.35);
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 1000, 500)).toBeCloseTo(0.00045, 12);
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 0, 0)).toBe(0);
  });

  it('prefers the provider/model key over the bare model name', () => {
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 1_000_000, 0)).toBe(0.15);
    // Another provider serving the same model name falls back to the bare key.
    expect(costUsd(prices, 'azure', 'gpt-4o-mini', 1_000_000, 0)).toBe(100);
  });

  it('falls back to the bare model name', () => {
    expect(costUsd(prices, 'anthropic', 'claude-3-5-haiku-latest', 1_000_000, 1_000_000)).toBe(4.8);
  });

  it('is null when the model has no price', () => {
    expect(costUsd(prices, 'openai', 'gpt-5', 10, 10)).toBeNull();
    expect(costUsd({}, 'openai', 'gpt-4o-mini', 10, 10)).toBeNull();
  });

  it('is null when the provider reported no token counts', () => {
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', null, 10)).toBeNull();
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 10, null)).toBeNull();
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', null, null)).toBeNull();
  });

  it('rounds to a nano-dollar', () => {
    // 1 token at $0.15 per million is 1.5e-7 USD: 150 nano-dollars exactly.
    expect(costUsd(prices, 'openai', 'gpt-4o-mini', 1, 0)).toBe(1.5e-7);
    expect(costUsd({ m: { input: 0.0001, output: 0 } }, 'p', 'm', 1, 0)).toBe(0);
  });
});

describe('loadPriceTable', () => {
  it('reads a YAML price table', () => {
    const file = path.join(tempDir(), 'prices.yaml');
    fs.writeFileSync(
      file,
      [
        '# USD per million tokens',
        'openai/gpt-4o-mini: { input: 0.15, output: 0.6 }',
        'anthropic/claude-3-5-haiku-latest:',
        '  input: 0.8',
        '  output: 4',
        'local-model: { input: 0, output: 0 }',
      ].join('\n'),
    );
    const table = loadPriceTable(file);
    expect(table).toEqual({
      'openai/gpt-4o-mini': { input: 0.15, output: 0.6 },
      'anthropic/claude-3-5-haiku-latest': { input: 0.8, output: 4 },
      'local-model': { input: 0, output: 0 },
    });
    expect(costUsd(table, 'openai', 'gpt-4o-mini', 1_000_000, 2_000_000)).toBe(1.35);
  });

  it('reads a JSON price table', () => {
    const file = path.join(tempDir(), 'prices.json');
    fs.writeFileSync(file, JSON.stringify({ 'gpt-4o': { input: 2.5, output: 10 } }));
    expect(loadPriceTable(file)).toEqual({ 'gpt-4o': { input: 2.5, output: 10 } });
  });

  it('throws FILE_NOT_FOUND for a missing file', () => {
    const file = path.join(tempDir(), 'nope.yaml');
    const err = thrown(() => loadPriceTable(file));
    expect(err.code).toBe('FILE_NOT_FOUND');
    expect(err.message).toContain(file);
    expect(err.details).toEqual({ path: file });
  });

  it.each([
    ['a negative price', 'gpt-4o: { input: -1, output: 1 }', 'gpt-4o.input'],
    ['a missing output price', 'gpt-4o: { input: 1 }', 'gpt-4o.output'],
    ['a price given as text', 'gpt-4o: { input: "1.5", output: 1 }', 'gpt-4o.input'],
    ['an unknown field', 'gpt-4o: { input: 1, output: 1, cached: 0.5 }', 'cached'],
    ['an entry that is not a mapping', 'gpt-4o: 3', 'gpt-4o'],
  ])('throws INVALID_INPUT for %s', (_name, yaml, where) => {
    const file = path.join(tempDir(), 'prices.yaml');
    fs.writeFileSync(file, `ok/model: { input: 1, output: 2 }\n${yaml}\n`);
    const err = thrown(() => loadPriceTable(file));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain(`Price table ${file} is invalid`);
    expect(err.message).toContain(where);
    expect(err.details).toEqual({ path: file });
  });

  it('throws INVALID_INPUT for a file that is not a mapping', () => {
    const file = path.join(tempDir(), 'prices.yaml');
    fs.writeFileSync(file, '- gpt-4o\n- gpt-4o-mini\n');
    expect(thrown(() => loadPriceTable(file)).code).toBe('INVALID_INPUT');
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it('prefers retry-after-ms over retry-after', () => {
    expect(retryAfterMs({ 'retry-after-ms': '250', 'retry-after': '2' }, now)).toBe(250);
    expect(retryAfterMs({ 'retry-after-ms': '12.2' }, now)).toBe(13);
  });

  it('reads retry-after in seconds', () => {
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0' }, now)).toBe(0);
    expect(retryAfterMs({ 'retry-after': '1.5' }, now)).toBe(1500);
  });

  it('falls back to retry-after when retry-after-ms is not a number', () => {
    expect(retryAfterMs({ 'retry-after-ms': 'soon', 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after-ms': '-5', 'retry-after': '2' }, now)).toBe(2000);
  });

  it('reads retry-after as an HTTP date relative to now', () => {
    expect(retryAfterMs({ 'retry-after': new Date(now + 3000).toUTCString() }, now)).toBe(3000);
    // A date in the past means "now".
    expect(retryAfterMs({ 'retry-after': new Date(now - 5000).toUTCString() }, now)).toBe(0);
  });

  it('is null for garbage', () => {
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeNull();
    expect(retryAfterMs({ 'retry-after': '   ' }, now)).toBeNull();
    expect(retryAfterMs({ 'retry-after': '' }, now)).toBeNull();
  });

  it('is null when absent', () => {
    expect(retryAfterMs({}, now)).toBeNull();
    expect(retryAfterMs({ 'content-type': 'application/json' }, now)).toBeNull();
  });

  it('ignores an empty retry-after-ms', () => {
    expect(retryAfterMs({ 'retry-after-ms': '', 'retry-after': '2' }, now)).toBe(2000);
  });

  it('is null for text that only V8 reads as a date, and for negative seconds', () => {
    expect(retryAfterMs({ 'retry-after': 'later 1' }, now)).toBeNull();
    expect(retryAfterMs({ 'retry-after': 'abc 12' }, now)).toBeNull();
    expect(retryAfterMs({ 'retry-after': '-1' }, now)).toBeNull();
  });
});

describe('redactorFor', () => {
  it('redacts a secret that extends another one completely', () => {
    expect(redactorFor(['abcd', 'abcdefgh'])('x abcdefgh y abcd')).toBe('x [REDACTED] y [REDACTED]');
  });

  it('replaces every occurrence of every secret', () => {
    const redact = redactorFor(['sk-secret-123', 'other-key-456']);
    expect(redact('a sk-secret-123 b sk-secret-123 c other-key-456')).toBe(
      'a [REDACTED] b [REDACTED] c [REDACTED]',
    );
    expect(redact('sk-secret-123sk-secret-123')).toBe('[REDACTED][REDACTED]');
  });

  it('treats secrets as text, not as patterns', () => {
    expect(redactorFor(['a.b*c+d'])('x a.b*c+d y aXbbc+d')).toBe('x [REDACTED] y aXbbc+d');
  });

  it('ignores undefined and very short values', () => {
    const redact = redactorFor([undefined, '', 'abc', 'long-secret']);
    expect(redact('abc long-secret abc')).toBe('abc [REDACTED] abc');
    expect(redactorFor([undefined, 'ab'])('ab ab')).toBe('ab ab');
    expect(redactorFor([])('unchanged')).toBe('unchanged');
  });

  it('redacts values of exactly four characters', () => {
    expect(redactorFor(['abcd'])('xabcdx')).toBe('x[REDACTED]x');
  });
});

describe('statusError', () => {
  const none = (t: string) => t;
  const openaiBody = (message: string) =>
    JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } });
  const anthropicBody = (message: string) =>
    JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message } });

  it('maps 429 to LLM_RATE_LIMITED, retryable, with retryAfterMs from the headers', () => {
    const err = statusError(
      'openai',
      429,
      { 'retry-after-ms': '1500', 'retry-after': '2' },
      openaiBody('Rate limit reached for gpt-4o-mini'),
      none,
    );
    expect(err).toBeInstanceOf(WardenError);
    expect(err.code).toBe('LLM_RATE_LIMITED');
    expect(err.retryable).toBe(true);
    expect(err.details).toEqual({
      provider: 'openai',
      status: 429,
      providerMessage: 'Rate limit reached for gpt-4o-mini',
      retryAfterMs: 1500,
    });
    expect(err.message).toContain('1500 ms');
    expect(err.message).toContain('Rate limit reached for gpt-4o-mini');
  });

  it('omits retryAfterMs when the provider sent no Retry-After', () => {
    const err = statusError('anthropic', 429, {}, '', none);
    expect(err.code).toBe('LLM_RATE_LIMITED');
    expect(err.details).toEqual({ provider: 'anthropic', status: 429 });
    expect(err.message).toBe('anthropic rate-limited the request (429)');
  });

  it.each([401, 403])('maps %i to LLM_AUTH_FAILED, not retryable', (status) => {
    const err = statusError('openai', status, {}, openaiBody('Incorrect API key provided'), none);
    expect(err.code).toBe('LLM_AUTH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`(${status})`);
    expect(err.message).toContain('apiKeyEnv');
    expect(err.message).toContain('Incorrect API key provided');
  });

  it.each([500, 503, 529])('maps %i to LLM_PROVIDER_ERROR, retryable', (status) => {
    const err = statusError('anthropic', status, { 'retry-after': '3' }, anthropicBody('Overloaded'), none);
    expect(err.code).toBe('LLM_PROVIDER_ERROR');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(`anthropic failed with ${status}: Overloaded`);
    expect(err.details).toEqual({
      provider: 'anthropic',
      status,
      providerMessage: 'Overloaded',
      retryAfterMs: 3000,
    });
  });

  it.each([400, 404])('maps %i to LLM_REQUEST_REJECTED, not retryable', (status) => {
    const err = statusError('openai', status, {}, openaiBody('The model `gpt-9` does not exist'), none);
    expect(err.code).toBe('LLM_REQUEST_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe(`openai rejected the request (${status}): The model \`gpt-9\` does not exist`);
  });

  it('reads the message from OpenAI, Anthropic, string and top-level error bodies, and plain text', () => {
    const said = (body: string) => statusError('p', 400, {}, body, none).details!['providerMessage'];
    expect(said(openaiBody('from openai'))).toBe('from openai');
    expect(said(anthropicBody('from anthropic'))).toBe('from anthropic');
    expect(said(JSON.stringify({ error: 'a bare string' }))).toBe('a bare string');
    expect(said(JSON.stringify({ message: 'top level' }))).toBe('top level');
    expect(said('  <html>Bad Gateway</html>\n')).toBe('<html>Bad Gateway</html>');
    expect(said('')).toBeUndefined();
  });

  it('keeps at most 500 characters of the provider message', () => {
    const err = statusError('openai', 400, {}, openaiBody('x'.repeat(2000)), none);
    expect(err.details!['providerMessage']).toBe('x'.repeat(500));
  });

  it('redacts an API key the provider echoes back', () => {
    const key = 'sk-proj-abcdefghijklmnop';
    const redact = redactorFor([key]);
    const err = statusError(
      'openai',
      401,
      {},
      openaiBody(`Incorrect API key provided: ${key}. You can find your API key at ...`),
      redact,
    );
    expect(err.message).toContain('Incorrect API key provided: [REDACTED].');
    expect(err.message).not.toContain(key);
    expect(JSON.stringify(err.toJSON())).not.toContain(key);

    const anthropic = statusError('anthropic', 400, {}, anthropicBody(`bad key ${key} here`), redact);
    expect(anthropic.message).toContain('bad key [REDACTED] here');
    expect(anthropic.details!['providerMessage']).toBe('bad key [REDACTED] here');
  });
});

describe('maxTokensField', () => {
  it("uses max_completion_tokens on OpenAI's API and max_tokens on compatible servers", () => {
    expect(maxTokensField('https://api.openai.com/v1')).toBe('max_completion_tokens');
    expect(maxTokensField('http://127.0.0.1:11434/v1')).toBe('max_tokens');
    expect(maxTokensField('https://openrouter.ai/api/v1')).toBe('max_tokens');
  });
});
