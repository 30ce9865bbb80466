import { WardenError } from '../core/index.js';

// Page cursors are opaque to clients (base64url of a small JSON array), so what a page is keyed on can
// change without breaking them. A cursor that does not decode to the expected shape is a 400.

export function encodeCursor(parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Decodes a cursor whose parts have the given types (`'s'` string, `'n'` integer). */
export function decodeCursor(cursor: string, types: readonly ('s' | 'n')[]): (string | number)[] {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parts = undefined;
  }
  const ok =
    Array.isArray(parts) &&
    parts.length === types.length &&
    parts.every((p, i) =>
      types[i] === 's' ? typeof p === 'string' && p.length <= 200 : Number.isSafeInteger(p),
    );
  if (!ok)
    throw new WardenError(
      'INVALID_INPUT',
      'cursor is not one this API returned: pass the nextCursor of the previous page, or omit it for the first page',
      { details: { issues: [{ path: 'query.cursor', message: 'is not a cursor this API returned' }] } },
    );
  return parts as (string | number)[];
}

/** `limit` from the query (validated by the route's schema), or the default. */
export function pageLimit(limit: string | undefined, fallback = 100): number {
  return limit === undefined ? fallback : Number(limit);
}
