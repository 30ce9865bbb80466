import { WardenError, type ErrorCode } from './errors.js';

/**
 * Deepest nesting accepted in any JSON value that crosses the edge (task input, metadata, traces, manifests).
 * Deeper values are refused up front: canonical JSON, YAML and schema validation recurse, and a value
 * 10,000 levels deep would exhaust the stack in one of them (a 500, or a crash in a worker).
 */
export const MAX_JSON_DEPTH = 128;

export interface JsonValueProblem {
  path: string;
  message: string;
}

/**
 * The first problem in a JSON-like value, or undefined: a string (or object key) that is not well-formed
 * Unicode (a lone surrogate such as "\ud800" cannot be encoded as UTF-8, hashed canonically or stored), a
 * number that is not finite, or nesting deeper than `maxDepth`. Iterative, so the check itself cannot overflow the stack.
 */
export function jsonValueProblem(
  value: unknown,
  maxDepth = MAX_JSON_DEPTH,
  root = '(root)',
): JsonValueProblem | undefined {
  const stack: [unknown, string, number][] = [[value, root, 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return { path, message: 'is not well-formed Unicode (it has a lone surrogate)' };
      continue;
    }
    // JSON has no Infinity or NaN (`1e999` parses to Infinity): stored, it would silently become null.
    if (typeof v === 'number' && !Number.isFinite(v))
      return { path, message: `is ${v}, which JSON cannot represent (numbers must be finite)` };
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { path, message: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (!k.isWellFormed())
        return { path: `${path}.${k.toWellFormed()}`, message: 'has a key that is not well-formed Unicode' };
      stack.push([child, `${path}.${k}`, depth + 1]);
    }
  }
  return undefined;
}

/** Throws `code` (400) naming the field when `value` has a malformed string or nests too deeply. */
export function assertJsonValue(
  value: unknown,
  what: string,
  code: ErrorCode = 'INVALID_INPUT',
  maxDepth = MAX_JSON_DEPTH,
): void {
  const problem = jsonValueProblem(value, maxDepth, what);
  if (!problem) return;
  throw new WardenError(code, `${problem.path} ${problem.message}`, {
    details: { issues: [problem] },
  });
}
