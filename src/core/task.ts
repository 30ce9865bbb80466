import { z } from 'zod';
import { WardenError, type SerializedError } from './errors.js';
import { PRIORITIES, type PriorityName } from './priority.js';
import { DEFAULT_SESSION, invalid } from './session.js';
import { assertJsonValue } from './json-value.js';
import type { ResourceUsage } from './limits.js';

export const TASK_STATES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'quarantined',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set([
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'quarantined',
]);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

/** 1 MiB of JSON input by default: tasks are messages, large data belongs in artifacts. */
export const DEFAULT_MAX_INPUT_BYTES = 1024 * 1024;

const priorityNames = Object.keys(PRIORITIES) as [PriorityName, ...PriorityName[]];
const metadataValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

export const submitSchema = z
  .object({
    agent: z.string().min(1).max(200).optional(),
    capability: z.string().min(1).max(200).optional(),
    /** What the task is for, in words: semantic routing picks the agent (docs/routing.md). */
    intent: z.string().trim().min(1).max(2000).optional(),
    session: z.string().min(1).max(128).default(DEFAULT_SESSION),
    input: z.unknown().optional(),
    priority: z
      .string()
      .transform((p) => p.toLowerCase())
      .pipe(z.enum(priorityNames, { message: `must be one of ${priorityNames.join(', ')}` }))
      .default('normal'),
    /** Epoch milliseconds, a Date, or an ISO-8601 string. */
    deadline: z.union([z.number().int().positive(), z.date(), z.iso.datetime({ offset: true })]).optional(),
    /** Per-task cap below the manifest's own timeout. */
    timeoutMs: z.number().int().positive().optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    metadata: z.record(z.string().max(128), metadataValue).default({}),
  })
  .strict()
  .refine((t) => [t.agent, t.capability, t.intent].filter((x) => x !== undefined).length === 1, {
    message: 'name exactly one of agent, capability or intent',
    path: ['agent'],
  });

/**
 * A task to submit. Name exactly one of `agent`, `capability` or `intent`.
 * Checked at compile time as far as types go (an unknown priority does not compile) and at run time by
 * `submitSchema` (which also accepts priorities in any letter case, for the CLI and the HTTP API).
 * @example { agent: 'double', input: { n: 21 }, priority: 'high', idempotencyKey: 'req-42' }
 */
export interface SubmitTask<I = unknown> {
  /** `name` (its highest version) or `name@version`. */
  agent?: string;
  /** Any agent offering this capability. */
  capability?: string;
  /**
   * What the task is for, in words ("count the words in this text"): the agent whose description, examples
   * and capabilities match it best runs it, or the submit fails with NO_MATCHING_AGENT (docs/routing.md).
   */
  intent?: string;
  /** Session name or id. @default 'default' */
  session?: string;
  /** JSON-serialisable input; at most `maxInputBytes` of JSON. */
  input?: I;
  /** @default 'normal' */
  priority?: PriorityName;
  /** Epoch milliseconds, a Date, or an ISO-8601 string with an offset: DEADLINE_EXCEEDED if not done by then. */
  deadline?: number | Date | string;
  /** Per-task cap below the manifest's own timeout. */
  timeoutMs?: number;
  /** The same key in the same session returns the same task instead of a new one. */
  idempotencyKey?: string;
  metadata?: Record<string, string | number | boolean>;
}

export interface ValidatedSubmit {
  agent?: string;
  capability?: string;
  intent?: string;
  session: string;
  inputJson: string;
  priority: PriorityName;
  deadline: number | null;
  timeoutMs: number | null;
  idempotencyKey: string | null;
  metadata: Record<string, string | number | boolean>;
}

/** Validates a submit request and serialises its input once (the store keeps the JSON text). */
export function validateSubmit(
  task: SubmitTask | z.input<typeof submitSchema>,
  maxInputBytes = DEFAULT_MAX_INPUT_BYTES,
): ValidatedSubmit {
  const parsed = submitSchema.safeParse(task);
  if (!parsed.success) throw invalid('task', parsed.error);
  const t = parsed.data;
  let inputJson: string;
  try {
    inputJson = JSON.stringify(t.input ?? null);
  } catch (cause) {
    throw new WardenError('INVALID_INPUT', 'Task input must be JSON-serialisable', { cause });
  }
  // Every string (input, metadata, keys, names) must be well-formed Unicode, and the input no deeper than
  // MAX_JSON_DEPTH, before it reaches the store: one lone surrogate would otherwise fail the group commit
  // it shares with other callers' tasks, and deep nesting would overflow the canonical-JSON hashing.
  assertJsonValue(t, 'task');
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only count bytes when the length alone cannot tell.
  if (inputJson.length * 3 > maxInputBytes && Buffer.byteLength(inputJson) > maxInputBytes) {
    throw new WardenError('INPUT_TOO_LARGE', `Task input is larger than ${maxInputBytes} bytes`, {
      details: { maxInputBytes },
    });
  }
  const deadline =
    t.deadline === undefined
      ? null
      : t.deadline instanceof Date
        ? t.deadline.getTime()
        : typeof t.deadline === 'string'
          ? Date.parse(t.deadline)
          : t.deadline;
  return {
    ...(t.agent !== undefined ? { agent: t.agent } : {}),
    ...(t.capability !== undefined ? { capability: t.capability } : {}),
    ...(t.intent !== undefined ? { intent: t.intent } : {}),
    session: t.session,
    inputJson,
    priority: t.priority,
    deadline,
    timeoutMs: t.timeoutMs ?? null,
    idempotencyKey: t.idempotencyKey ?? null,
    metadata: t.metadata,
  };
}

/** A task as Warden reports it. */
export interface Task {
  id: string;
  sessionId: string;
  agent: string;
  priority: PriorityName;
  state: TaskState;
  attempts: number;
  maxAttempts: number;
  input: unknown;
  deadline: number | null;
  idempotencyKey: string | null;
  metadata: Record<string, string | number | boolean>;
  createdAt: number;
  updatedAt: number;
  runAfter: number;
  lastError: SerializedError | null;
}

export type ResultStatus = 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'quarantined';

interface TaskResultFields {
  taskId: string;
  error: SerializedError | null;
  attempts: number;
  usage: ResourceUsage | null;
  /** SHA-256 (hex) of the canonical JSON of the output, as recorded in provenance. */
  outputDigest: string | null;
  finishedAt: number;
}

/**
 * The one terminal outcome of a task. `output` is the agent's output (after a JSON round trip) when the
 * task succeeded, or was quarantined by governance (kept, held back); `null` otherwise. `O` types it:
 * `warden.result<MyOutput>(id)`, or inferred from a typed handler (see `Warden.registerHandler`).
 * @example
 * const r = await warden.result(task);
 * if (r?.status === 'succeeded') console.log(r.output.n); // typed by the handler
 */
export type TaskResult<O = unknown> = TaskResultFields &
  (
    | { status: 'succeeded' | 'quarantined'; output: O }
    | { status: Exclude<ResultStatus, 'succeeded' | 'quarantined'>; output: null }
  );
