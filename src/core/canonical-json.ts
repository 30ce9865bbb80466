import canonicalizeImport from 'canonicalize';

// canonicalize ships CommonJS typings with `export default`; under NodeNext that surfaces as a namespace.
const canonicalize = canonicalizeImport as unknown as (value: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON: the byte string that hashes and signatures are computed over. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('Value cannot be represented as JSON');
  return text;
}
