import { z } from 'zod';
import { WardenError } from './errors.js';
import { EDGE_PLACEMENTS, type EdgePlacement } from './manifest.js';

/** A namespace of tasks, for one tenant or project: its own concurrency cap, network switch and policy. */
export interface Session {
  id: string;
  tenant: string;
  name: string;
  maxConcurrency: number;
  allowNetwork: boolean;
  /** The name of the governance policy the session runs under. */
  policy: string;
  /**
   * The policy itself, as resolved when the session was created (src/governance owns its shape): every
   * process applies this one, whatever its own GOVERNANCE_POLICY or files. Absent on sessions created before
   * Warden stored it; their policy name is resolved by each process.
   */
  policyDocument?: Readonly<Record<string, unknown>>;
  /**
   * Where this session's tasks may run: `required` only on edge nodes, `never` never on one; absent
   * (`allowed`): as each agent's placement says (docs/edge.md).
   */
  placement?: EdgePlacement;
  createdAt: number;
}

export const DEFAULT_SESSION = 'default';

/** Session ids are UUIDs: a name of that shape could alias an id, so names may not have it. */
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const sessionOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 characters: letters, digits, . _ -')
      .refine((name) => !UUID_SHAPE.test(name), 'must not have the shape of a session id (a UUID)'),
    maxConcurrency: z.number().int().positive().max(100_000).default(16),
    allowNetwork: z.boolean().default(false),
    // A preset or registered name, or a policy file's path (the API limits what it may name).
    policy: z.string().min(1).max(4096).default('default'),
    tenant: z.string().min(1).max(128).default('default'),
    placement: z
      .enum(EDGE_PLACEMENTS, { message: `must be one of ${EDGE_PLACEMENTS.join(', ')}` })
      .optional(),
  })
  .strict();

export type SessionOptions = z.input<typeof sessionOptionsSchema>;

export function validateSessionOptions(options: SessionOptions) {
  const parsed = sessionOptionsSchema.safeParse(options);
  if (!parsed.success) throw invalid('session', parsed.error);
  return parsed.data;
}

/** Converts a zod error into INVALID_INPUT with one entry per field. */
export function invalid(what: string, error: z.ZodError): WardenError {
  const issues = error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(root)',
    message: i.message,
  }));
  return new WardenError(
    'INVALID_INPUT',
    `Invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { details: { issues } },
  );
}
