// A mirror of src/core/canonical-json.ts for the browser: the bytes every hash and signature covers must be
// the server's to the byte, so this follows it line for line (RFC 8785, keys sorted by UTF-16 code units).

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** RFC 8785 (JCS) canonical JSON; throws where the server's canonicalJson throws. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      if (LONE_SURROGATE.test(value))
        throw new TypeError('Strings with lone surrogates cannot be canonicalised');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} cannot be represented as JSON`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return canonicalJson(withToJson.toJSON());
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out +=
            item === undefined || typeof item === 'function' || typeof item === 'symbol'
              ? 'null'
              : canonicalJson(item);
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      let out = '{';
      let first = true;
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        out += `${first ? '' : ','}${canonicalJson(key)}:${canonicalJson(item)}`;
        first = false;
      }
      return `${out}}`;
    }
    case 'bigint':
      throw new TypeError('BigInt cannot be represented as JSON');
    default:
      throw new TypeError('Value cannot be represented as JSON');
  }
}

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
