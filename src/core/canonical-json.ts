// A string with an unpaired UTF-16 surrogate cannot be represented in I-JSON (RFC 7493), which JCS requires.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 (JCS) canonical JSON: the byte string that hashes and signatures are computed over.
 * Object keys are sorted by UTF-16 code units (JavaScript's default string order); strings and numbers
 * are serialised as ECMAScript's JSON.stringify does, which is what JCS specifies. Written here rather
 * than taken from a package because it runs several times per task on the scheduler's hot path; it is
 * tested against the RFC's examples and, property-based, against the `canonicalize` package.
 */
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
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
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
