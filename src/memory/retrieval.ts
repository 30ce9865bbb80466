import { WardenError, canonicalJson } from '../core/index.js';

// How memories meet a task: the query a task input makes, the input an agent gets with its memories, and
// the `remember` items an agent's output asks to store. Pure.

/** A memory as an agent sees it in its input. */
export interface RetrievedMemory {
  id: string;
  text: string;
  score: number;
  metadata: Record<string, unknown>;
  createdAt: number;
}

const QUERY_FIELDS = ['query', 'text', 'prompt', 'question'] as const;

/**
 * The search query for a task input: a string input is the query; an object input its first string field
 * of `query`, `text`, `prompt`, `question`, else its canonical JSON; anything else its canonical JSON.
 */
export function memoryQuery(input: unknown): string {
  if (typeof input === 'string') return input;
  if (isObject(input))
    for (const f of QUERY_FIELDS) {
      const v = input[f];
      if (typeof v === 'string' && v.trim() !== '') return v;
    }
  return canonicalJson(input);
}

/**
 * The input JSON the agent gets: an object input with `memories` added (replacing one it had), any other
 * input wrapped as `{ input, memories }`.
 */
export function inputWithMemories(input: unknown, memories: readonly RetrievedMemory[]): string {
  return JSON.stringify(isObject(input) ? { ...input, memories } : { input, memories });
}

/** One item an agent asks to remember: a string, or `{ text, metadata?, ttlMs? }`. */
export interface RememberItem {
  text: string;
  metadata?: Record<string, unknown>;
  ttlMs?: number;
}

/**
 * The items of an output's `remember` array (none when the output is not an object or has no array).
 * A malformed item is INVALID_INPUT naming its index: the caller logs it, the task stays committed.
 */
export function rememberItems(output: unknown): RememberItem[] {
  if (!isObject(output) || !Array.isArray(output['remember'])) return [];
  return (output['remember'] as unknown[]).map((item, i) => {
    if (typeof item === 'string') return { text: item };
    if (isObject(item) && typeof item['text'] === 'string') {
      const { text, metadata, ttlMs } = item;
      if (metadata !== undefined && !isObject(metadata)) throw invalid(i, 'metadata must be an object');
      if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1))
        throw invalid(i, 'ttlMs must be a positive integer');
      return {
        text: text as string,
        ...(metadata !== undefined ? { metadata: metadata as Record<string, unknown> } : {}),
        ...(ttlMs !== undefined ? { ttlMs: ttlMs as number } : {}),
      };
    }
    throw invalid(i, 'an item is a string or { text, metadata?, ttlMs? }');
  });
}

function invalid(i: number, why: string): WardenError {
  return new WardenError('INVALID_INPUT', `remember[${i}]: ${why}`, { details: { field: `remember.${i}` } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
