import { canonicalJson } from '../core/index.js';
import { badEncoding } from './bytes.js';

/**
 * RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value: the only form Warden swarm code signs.
 * Uses core's `canonicalJson` (ECMAScript number serialisation, UTF-16 code-unit key order, lone
 * surrogates and non-finite numbers rejected), which tests check against the `canonicalize` package.
 */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalText(value), 'utf8');
}

export function canonicalText(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch (error: unknown) {
    throw badEncoding(
      `Value cannot be canonicalised: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
