import { randomUUID } from 'node:crypto';
import { WardenError } from '../core/index.js';
import type { TraceFlagRecord } from './governance-port.js';

export const FLAG_TYPES = ['Jailbreak', 'Anomaly', 'HighRisk', 'Unsafe', 'Malicious', 'Unverified'] as const;
/** Jailbreak: prompt injection; Anomaly: off its own history; HighRisk / Malicious: harmful intent (medium / high
 * confidence); Unsafe: dangerous code; Unverified: provenance does not verify. */
export type FlagType = (typeof FLAG_TYPES)[number];

/** Where a flag was raised: on the task's input, on its output, by a person, or when a merge was checked. */
export type FlagStage = 'input' | 'output' | 'manual' | 'merge';

/** A flag as a detector (or a person) raises it, before it is attached to a task. */
export interface FlagFinding {
  type: FlagType;
  /** 1 (note) to 10 (certain and severe). */
  severity: number;
  reason: string;
  detector: string;
}

/** A stored trace flag. */
export interface TraceFlag {
  id: string;
  sessionId: string;
  taskId: string | null;
  agentKey: string | null;
  type: FlagType;
  severity: number;
  reason: string;
  autoDetected: boolean;
  detector: string | null;
  stage: FlagStage;
  /** Epoch milliseconds. */
  timestamp: number;
}

export function isFlagType(value: string): value is FlagType {
  return (FLAG_TYPES as readonly string[]).includes(value);
}

export function parseFlagType(value: string): FlagType {
  const match = FLAG_TYPES.find((t) => t.toLowerCase() === value.toLowerCase());
  if (!match)
    throw new WardenError('INVALID_FLAG', `Unknown flag type ${value}: use one of ${FLAG_TYPES.join(', ')}`, {
      details: { type: value },
    });
  return match;
}

export function checkSeverity(severity: number): number {
  if (!Number.isInteger(severity) || severity < 1 || severity > 10)
    throw new WardenError('INVALID_FLAG', `Flag severity must be an integer from 1 to 10, got ${severity}`, {
      details: { severity },
    });
  return severity;
}

export function clampSeverity(x: number): number {
  return Math.max(1, Math.min(10, Math.round(x)));
}

export function toRecord(
  f: FlagFinding,
  at: { sessionId: string; taskId: string | null; agentKey: string | null; stage: FlagStage; now: number },
  autoDetected = true,
): TraceFlagRecord {
  return {
    id: randomUUID(),
    sessionId: at.sessionId,
    taskId: at.taskId,
    agentKey: at.agentKey,
    type: f.type,
    severity: f.severity,
    reason: f.reason,
    autoDetected,
    detector: f.detector,
    stage: at.stage,
    createdAt: at.now,
  };
}

export function fromRecord(r: TraceFlagRecord): TraceFlag {
  return {
    id: r.id,
    sessionId: r.sessionId,
    taskId: r.taskId,
    agentKey: r.agentKey,
    type: isFlagType(r.type) ? r.type : 'HighRisk',
    severity: r.severity,
    reason: r.reason,
    autoDetected: r.autoDetected,
    detector: r.detector,
    stage: r.stage as FlagStage,
    timestamp: r.createdAt,
  };
}
