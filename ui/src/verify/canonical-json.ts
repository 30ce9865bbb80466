// The bytes every hash and signature covers must be the server's to the byte: the browser uses the server's
// own canonical JSON (src/core is pure, no Node API), which Vite bundles.
export { canonicalJson } from '../../../src/core/canonical-json.js';

/** A copy with the keys of every object in sorted order (src/provenance/bundle.ts sortKeys). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.keys(value)
    .sort()
    .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])] as const);
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries);
}

/** A bundle's file form: keys sorted at every level, two-space indent, final newline (serializeBundle). */
export function serializeBundle(bundle: unknown): string {
  return `${JSON.stringify(sortKeys(bundle), null, 2)}\n`;
}
