import semver from 'semver';
import { z } from 'zod';
import { WardenError } from './errors.js';
import { parseYamlDocument, type DocumentIssue } from './yaml-document.js';
import { DEFAULT_LIMITS, type ResourceLimits } from './limits.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { DEFAULT_BREAKER, type BreakerPolicy } from './circuit-breaker.js';
import { compileJsonSchema } from './json-schema.js';
import {
  compileTemplate,
  llmModelSchema,
  promptSchema,
  type LlmModelSpec,
  type PromptSpec,
} from './llm-spec.js';

export const RUNTIMES = ['wasm', 'python', 'node', 'process', 'llm'] as const;
/** `inline` agents are trusted TypeScript handlers registered in code, never from YAML. */
export type Runtime = (typeof RUNTIMES)[number] | 'inline';

const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62})$/;
const HOST_PORT = /^(?:\*\.)?[A-Za-z0-9.-]+:(?:\d{1,5})$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Exactly what the `semver` package parses (strict): versions are ordered by it (src/warden/version.ts). */
export function isSemver(version: string): boolean {
  const v = semver.parse(version);
  // semver also accepts a leading `v` or `=` and surrounding spaces: compare its own spelling back.
  return v !== null && `${v.version}${v.build.length ? `+${v.build.join('.')}` : ''}` === version;
}

const positiveInt = (max: number) => z.number().int().positive().max(max);

const resourcesSchema = z
  .object({
    timeoutMs: positiveInt(24 * 3600 * 1000).optional(),
    memoryMb: positiveInt(1024 * 1024).optional(),
    maxOutputBytes: positiveInt(1024 ** 3).optional(),
    diskMb: positiveInt(1024 * 1024).optional(),
  })
  .strict();

const retrySchema = z
  .object({
    maxAttempts: positiveInt(100).optional(),
    baseMs: z.number().int().nonnegative().max(3_600_000).optional(),
    maxMs: z.number().int().nonnegative().max(86_400_000).optional(),
  })
  .strict();

const breakerSchema = z
  .object({
    failureThreshold: positiveInt(10_000).optional(),
    cooldownMs: positiveInt(86_400_000).optional(),
  })
  .strict();

/**
 * Cortex memory (docs/memory.md): before a run, Warden can put the top-k memories nearest the task input in
 * the input (`memories`); after it, items the agent returns in `remember` are stored.
 */
const memorySchema = z
  .object({
    retrieve: z
      .object({
        topK: positiveInt(50).default(5),
        /** Cosine similarity below which a memory is not passed. */
        minScore: z.number().min(-1).max(1).default(0),
      })
      .strict()
      .optional(),
    /** Store the `remember: [...]` items of the agent's output. @default false */
    remember: z.boolean().default(false),
    /** Whose memory: the agent's own within the session, or the whole session's. @default 'agent' */
    scope: z.enum(['agent', 'session']).default('agent'),
    /** Remembered items expire after this long. */
    ttlMs: positiveInt(10 * 365 * 86_400_000).optional(),
  })
  .strict();

export type MemoryPolicy = z.infer<typeof memorySchema>;

/** A share such as `10%` or 0.1. */
const shareSchema = z.union([
  z.number().gt(0).lt(1),
  z
    .string()
    .regex(/^(?:\d{1,2}(?:\.\d+)?)%$/, 'must be a percentage below 100%, such as 10%')
    .transform((s) => Number(s.slice(0, -1)) / 100)
    .refine((n) => n > 0, 'must be above 0%'),
]);

/**
 * A canary (docs/routing.md): this version takes `canary` of the tasks that name the agent without a
 * version, the previous version the rest; with strategy `bandit`, Thompson sampling over the two versions'
 * outcomes then moves the traffic, promotes the winner and rolls back a version whose failures or flags rise.
 */
const rolloutSchema = z
  .object({
    canary: shareSchema,
    strategy: z.enum(['fixed', 'bandit']).default('bandit'),
    /** Finished tasks of each version before any promotion or rollback. */
    minSamples: positiveInt(1_000_000).default(20),
    rollback: z
      .object({
        /** Roll back when the canary's failure rate exceeds the stable version's by this much. */
        failureRateMargin: z.number().min(0).max(1).default(0.1),
        /** Roll back when the share of the canary's tasks with governance flags exceeds this. */
        maxFlagRate: z.number().min(0).max(1).default(0.2),
      })
      .strict()
      .default({ failureRateMargin: 0.1, maxFlagRate: 0.2 }),
  })
  .strict();

export type RolloutPolicy = z.infer<typeof rolloutSchema>;
/** A rollout as written (agent.yaml, or `registerHandler`'s options): shares as `10%` or 0.1, defaults left out. */
export type RolloutInput = z.input<typeof rolloutSchema>;
export type MemoryInput = z.input<typeof memorySchema>;

/** Validates a rollout written in code (registerHandler); agent.yaml's is validated with the manifest. */
export function parseRollout(input: RolloutInput): RolloutPolicy {
  const parsed = rolloutSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new WardenError('INVALID_INPUT', `rollout.${issue.path.join('.')}: ${issue.message}`, {
    details: { field: ['rollout', ...issue.path].join('.') },
  });
}

/** Validates a memory policy written in code (registerHandler). */
export function parseMemoryPolicy(input: MemoryInput): MemoryPolicy {
  const parsed = memorySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new WardenError('INVALID_INPUT', `memory.${issue.path.join('.')}: ${issue.message}`, {
    details: { field: ['memory', ...issue.path].join('.') },
  });
}

/** Where an agent's tasks may run: only on edge nodes, on an edge when one is free, or never on one. */
export const EDGE_PLACEMENTS = ['required', 'allowed', 'never'] as const;
export type EdgePlacement = (typeof EDGE_PLACEMENTS)[number];

const specSchema = z
  .object({
    runtime: z.enum(RUNTIMES, {
      message: `must be one of ${RUNTIMES.join(', ')} (inline handlers are registered in code)`,
    }),
    module: z.string().min(1).optional(),
    entry: z.string().min(1).optional(),
    /** python: a virtualenv directory (relative to the manifest), mounted read-only in the sandbox. */
    venv: z.string().min(1).optional(),
    command: z.array(z.string().min(1)).min(1).optional(),
    args: z.array(z.string()).optional(),
    capabilities: z.array(z.string().regex(NAME, 'must be a lowercase word (a-z, 0-9, . _ -)')).default([]),
    resources: resourcesSchema.default({}),
    network: z
      .object({ allow: z.array(z.string().regex(HOST_PORT, 'must be host:port')).default([]) })
      .strict()
      .default({ allow: [] }),
    // A NUL cannot pass through execve: such a value would fail every task, far from its cause.
    env: z
      .record(
        z.string().regex(ENV_NAME, 'must be an environment variable name'),
        z.string().refine((v) => !v.includes('\0'), 'must not contain a NUL character'),
      )
      .default({}),
    secrets: z.array(z.string().regex(ENV_NAME, 'must be an environment variable name')).default([]),
    concurrency: positiveInt(10_000).default(4),
    retry: retrySchema.default({}),
    circuitBreaker: breakerSchema.default({}),
    // LLM agents (docs/llm.md).
    model: llmModelSchema.optional(),
    prompt: promptSchema.optional(),
    /** JSON Schema the agent's output must satisfy (llm: structured output). */
    outputSchema: z.record(z.string(), z.unknown()).optional(),
    /** Where tasks may run: on edge nodes (docs/edge.md). Absent: never on an edge. */
    placement: z
      .object({
        edge: z
          .enum(EDGE_PLACEMENTS, { message: `must be one of ${EDGE_PLACEMENTS.join(', ')}` })
          .default('never'),
        capabilities: z
          .array(z.string().regex(NAME, 'must be a lowercase word (a-z, 0-9, . _ -)'))
          .default([]),
      })
      .strict()
      .optional(),
    memory: memorySchema.optional(),
    rollout: rolloutSchema.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const need = (field: 'module' | 'entry' | 'command' | 'model', why: string) => {
      if (spec[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `is required ${why}` });
    };
    if (spec.runtime === 'wasm') need('module', 'for runtime wasm');
    if (spec.runtime === 'python' || spec.runtime === 'node') need('entry', `for runtime ${spec.runtime}`);
    if (spec.runtime === 'process') need('command', 'for runtime process');
    if (spec.runtime === 'llm') need('model', 'for runtime llm');
    if (spec.runtime !== 'llm') {
      for (const field of ['model', 'prompt', 'outputSchema'] as const)
        if (spec[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'is only for runtime llm' });
    }
    const prompt = spec.prompt;
    if (prompt !== undefined) {
      const templates = typeof prompt === 'string' ? { user: prompt } : prompt;
      for (const [role, source] of Object.entries(templates)) {
        if (source === undefined) continue;
        try {
          compileTemplate(source);
        } catch (err) {
          const path = typeof prompt === 'string' ? ['prompt'] : ['prompt', role];
          ctx.addIssue({ code: 'custom', path, message: (err as Error).message });
        }
      }
    }
    if (spec.outputSchema !== undefined) {
      try {
        compileJsonSchema(spec.outputSchema);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['outputSchema'],
          message: `is not a valid JSON Schema: ${(err as Error).message}`,
        });
      }
    }
  });

export const manifestSchema = z
  .object({
    apiVersion: z.literal('warden.dev/v1', { message: 'must be warden.dev/v1' }),
    kind: z.literal('Agent', { message: 'must be Agent' }),
    metadata: z
      .object({
        name: z.string().regex(NAME, 'must be a lowercase name (a-z, 0-9, . _ -), at most 63 characters'),
        version: z.string().refine(isSemver, 'must be a semantic version such as 1.2.0'),
        description: z.string().max(2000).optional(),
        /** Requests this agent serves, in users' words: what semantic routing (`intent`) matches against. */
        examples: z.array(z.string().min(1).max(1000)).max(200).optional(),
      })
      .strict(),
    spec: specSchema,
  })
  .strict();

/** A validated agent.yaml, with defaults applied. */
export interface AgentManifest {
  name: string;
  version: string;
  description?: string;
  /** Requests this agent serves, in users' words (semantic routing matches intents against them). */
  examples?: string[];
  runtime: Runtime;
  module?: string;
  entry?: string;
  venv?: string;
  command?: string[];
  args?: string[];
  capabilities: string[];
  resources: ResourceLimits;
  network: { allow: string[] };
  env: Record<string, string>;
  secrets: string[];
  concurrency: number;
  retry: RetryPolicy;
  circuitBreaker: BreakerPolicy;
  model?: LlmModelSpec;
  prompt?: string | PromptSpec;
  outputSchema?: Record<string, unknown>;
  /** Where tasks may run (edge nodes); absent: never on an edge. */
  placement?: { edge: EdgePlacement; capabilities: string[] };
  /** Cortex memory: retrieval before a run and `remember` after it (docs/memory.md). */
  memory?: MemoryPolicy;
  /** A canary rollout of this version against the previous one (docs/routing.md). */
  rollout?: RolloutPolicy;
  /** Directory the manifest was read from; relative paths in it resolve against this. */
  baseDir?: string;
  /**
   * The tenant that registered this version; absent for the default tenant (the library, the CLI and
   * installation-wide agents). Set at registration, never read from agent.yaml.
   */
  tenant?: string;
}

export type ManifestIssue = DocumentIssue;

/** The tenant the library, the CLI and installation-wide (shared) agents belong to. */
export const DEFAULT_TENANT = 'default';

/**
 * An agent version's key: `name@version` in the default tenant, `tenant/name@version` in any other, so
 * that two tenants' versions of one name never share a key, a queue, a breaker or a directory.
 */
export function agentKey(m: Pick<AgentManifest, 'name' | 'version' | 'tenant'>): string {
  return m.tenant && m.tenant !== DEFAULT_TENANT
    ? `${m.tenant}/${m.name}@${m.version}`
    : `${m.name}@${m.version}`;
}

/** Parses and validates agent.yaml text. Errors name the file, the field and its line. */
export function parseManifest(text: string, file = 'agent.yaml'): AgentManifest {
  const { metadata, spec } = parseYamlDocument(
    text,
    file,
    manifestSchema,
    'INVALID_MANIFEST',
    'agent manifest',
  );
  return {
    name: metadata.name,
    version: metadata.version,
    ...(metadata.description !== undefined ? { description: metadata.description } : {}),
    ...(metadata.examples !== undefined ? { examples: metadata.examples } : {}),
    ...spec,
    resources: { ...DEFAULT_LIMITS, ...spec.resources },
    retry: { ...DEFAULT_RETRY, ...spec.retry },
    circuitBreaker: { ...DEFAULT_BREAKER, ...spec.circuitBreaker },
  };
}
