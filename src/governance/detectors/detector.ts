import type { AgentManifest } from '../../core/index.js';
import type { FlagFinding } from '../flags.js';
import type { GovernancePolicy } from '../policy.js';

/** What a detector looks at: one task's input (before it runs) or output (after). */
export interface DetectionContext {
  stage: 'input' | 'output';
  taskId: string;
  sessionId: string;
  manifest: AgentManifest;
  policy: GovernancePolicy;
  /** The JSON text of the input or output. */
  json: string;
  /** Its string values (what a model would read), extracted once and shared by the detectors. */
  texts: readonly string[];
}

/** What `applies` is asked about: decided once per policy, agent version and stage, then cached. */
export interface DetectionTarget {
  stage: 'input' | 'output';
  manifest: AgentManifest;
  policy: GovernancePolicy;
}

/**
 * A pluggable detector. `applies` says whether it looks at an agent's inputs or outputs at all; the answer
 * is cached, so agents no detector applies to never have their JSON parsed. `detect` may be async (an
 * external classifier endpoint) and returns the flags it raises, if any.
 */
export interface Detector {
  readonly name: string;
  applies(target: DetectionTarget): boolean;
  detect(ctx: DetectionContext): FlagFinding[] | Promise<FlagFinding[]>;
}

const MAX_TEXT_CHARS = 64 * 1024;

/**
 * The string values of a JSON document, longest first, at most 64 KiB in all. JSON without a string
 * (null, numbers, {"n": 2}) is answered without parsing: that is the hot path of non-text agents.
 */
export function extractTexts(json: string): string[] {
  if (json.indexOf('"') < 0) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return [json];
  }
  const out: string[] = [];
  let total = 0;
  const walk = (v: unknown, depth: number) => {
    if (total >= MAX_TEXT_CHARS || depth > 32) return;
    if (typeof v === 'string') {
      if (v.length >= 8) {
        const s = v.length + total > MAX_TEXT_CHARS ? v.slice(0, MAX_TEXT_CHARS - total) : v;
        out.push(s);
        total += s.length;
      }
    } else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x, depth + 1);
  };
  walk(value, 0);
  return out;
}
