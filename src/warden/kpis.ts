import { WardenError } from '../core/index.js';
import type { AgentRecord } from './agent-port.js';

// The rules of `Warden.agentKpis` and `Warden.feedback` that need no store: which versions a name means,
// and what a score may be.

/** Longest feedback comment, in characters: a remark, not a document. */
export const MAX_FEEDBACK_COMMENT = 4096;

/**
 * The versions `agent` names among `records`: `name@version` (or a key, `tenant/name@version`) one
 * version; `name` (or `tenant/name`) every version of it.
 */
export function versionsNamed(records: readonly AgentRecord[], agent: string): AgentRecord[] {
  const exact = agent.lastIndexOf('@') > 0;
  return records.filter((r) => {
    const plain = `${r.manifest.name}@${r.manifest.version}`;
    if (exact) return r.key === agent || plain === agent;
    return r.manifest.name === agent || r.key.slice(0, r.key.lastIndexOf('@')) === agent;
  });
}

/** A score in [0, 1] and an optional comment, or INVALID_INPUT. */
export function checkedFeedback(input: { score: number; comment?: string }): {
  score: number;
  comment?: string;
} {
  const { score, comment } = (input ?? {}) as { score?: unknown; comment?: unknown };
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1)
    throw new WardenError(
      'INVALID_INPUT',
      `A feedback score is a number from 0 (worst) to 1 (best), got ${typeof score === 'number' ? String(score) : typeof score}`,
      { details: { score: typeof score === 'number' ? String(score) : typeof score } },
    );
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > MAX_FEEDBACK_COMMENT))
    throw new WardenError(
      'INVALID_INPUT',
      `A feedback comment is a string of at most ${MAX_FEEDBACK_COMMENT} characters`,
    );
  return comment === undefined ? { score } : { score, comment };
}
