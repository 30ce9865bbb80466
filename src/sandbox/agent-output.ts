import { MAX_JSON_DEPTH, WardenError } from '../core/index.js';

/**
 * How deeply an agent's output may nest: as deeply as a task's input, so that one task's output can be
 * another's input. JSON.stringify, and every serialiser after it (the API's, the client's), recurse: a
 * few thousand levels overflow the stack, and the overflow would be thrown in the process that runs
 * every other task, not in the agent.
 */
export const MAX_OUTPUT_DEPTH = MAX_JSON_DEPTH;

/**
 * An agent's stdout as the JSON text Warden stores: empty output is `null`, anything that is not JSON, or
 * nests deeper than MAX_OUTPUT_DEPTH, fails the attempt with INVALID_OUTPUT.
 */
export function agentOutputJson(stdout: string): string {
  const text = stdout.trim();
  if (text === '') return 'null';
  if (nestsDeeperThan(text, MAX_OUTPUT_DEPTH))
    throw new WardenError(
      'INVALID_OUTPUT',
      `The agent's output nests deeper than ${MAX_OUTPUT_DEPTH} levels of arrays and objects`,
      { retryable: false, details: { maxDepth: MAX_OUTPUT_DEPTH } },
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WardenError('INVALID_OUTPUT', `The agent's stdout is not JSON: ${text.slice(0, 200)}`);
  }
  // Re-serialised so that the stored text is compact whatever whitespace the agent wrote.
  return JSON.stringify(value);
}

/** Whether the JSON text opens more than `limit` arrays and objects at once (strings are skipped). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
