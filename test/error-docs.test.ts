import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, WardenError } from '../src/index.js';
import { renderErrorDocs } from '../scripts/gen-error-docs.js';

describe('error registry', () => {
  it('docs/errors.md is up to date with src/core/errors.ts (regenerate with npx tsx scripts/gen-error-docs.ts)', () => {
    expect(readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')).toBe(renderErrorDocs());
  });

  it('every code has an HTTP status in the 4xx/5xx range and a description', () => {
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      expect(e.status, code).toBeGreaterThanOrEqual(400);
      expect(e.status, code).toBeLessThan(600);
      expect(e.doc.length, code).toBeGreaterThan(10);
    }
  });

  it('a WardenError carries its code, status, retryability and cause', () => {
    const cause = new Error('disk full');
    const err = new WardenError('STORAGE_ERROR', 'write failed', { cause, details: { table: 'tasks' } });
    expect(err).toMatchObject({ code: 'STORAGE_ERROR', status: 500, retryable: true, cause });
    expect(err.toJSON()).toEqual({
      code: 'STORAGE_ERROR',
      message: 'write failed',
      retryable: true,
      details: { table: 'tasks' },
    });
    expect(new WardenError('AGENT_FAILED', 'x', { retryable: false }).retryable).toBe(false);
  });
});
