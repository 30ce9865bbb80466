import { z } from 'zod';
import { WardenError } from '../core/index.js';

/**
 * The edge protocol. The first frame each way is plain JSON (the edge proves possession of its keys with a
 * fresh self-signed registration; the control plane answers with its own); every frame after it is a sealed
 * swarm envelope (AES-256-GCM, X25519 + HKDF keys, counters and a replay window, sender resolved from the
 * registry) whose `type` is `warden.edge.<kind>` and whose payload is one of the messages below.
 */
export const EDGE_PATH = '/edge';
export const EDGE_TYPE_PREFIX = 'warden.edge.';

const signed = z.object({ body: z.record(z.string(), z.unknown()), signature: z.string() });

export const helloSchema = z
  .object({
    t: z.literal('hello'),
    registration: signed,
    /** First join only: the invite's id and secret (single use). */
    invite: z
      .object({ id: z.string().min(1), secret: z.string().min(16) })
      .strict()
      .optional(),
    runtimes: z.array(z.string()).max(16),
    concurrency: z.number().int().min(1).max(1024),
    /** Tasks the edge still runs from before a reconnect: their leases carry on. */
    running: z.array(z.object({ taskId: z.string(), attempt: z.number().int() }).strict()).max(1024),
  })
  .strict();
export type Hello = z.infer<typeof helloSchema>;

export const welcomeSchema = z
  .object({
    t: z.literal('welcome'),
    swarmId: z.string(),
    controlPlane: signed,
    heartbeatMs: z.number().int().positive(),
  })
  .strict();
export type Welcome = z.infer<typeof welcomeSchema>;

export const refusedSchema = z
  .object({ t: z.literal('refused'), code: z.string(), message: z.string() })
  .strict();

const codeFile = z.object({ path: z.string().min(1), bytes: z.string() }).strict();

/** Control plane → edge. */
export const leaseSchema = z
  .object({
    taskId: z.string(),
    sessionId: z.string(),
    attempt: z.number().int().positive(),
    agentKey: z.string(),
    manifest: z.record(z.string(), z.unknown()),
    moduleDigest: z.string().nullable(),
    codeDigest: z.string().nullable(),
    /** The agent's files (base64), sent the first time this connection leases that code. */
    code: z.array(codeFile).optional(),
    inputJson: z.string(),
    timeoutMs: z.number().int().positive(),
    allowNetwork: z.boolean(),
  })
  .strict();
export type Lease = z.infer<typeof leaseSchema>;

export const cancelSchema = z
  .object({ taskId: z.string(), attempt: z.number().int(), reason: z.string() })
  .strict();

/** Edge → control plane. */
export const resultSchema = z
  .object({
    taskId: z.string(),
    attempt: z.number().int(),
    outputJson: z.string(),
    usage: z.record(z.string(), z.unknown()),
    receipt: signed,
  })
  .strict();
export type LeaseResult = z.infer<typeof resultSchema>;

export const failureSchema = z
  .object({
    taskId: z.string(),
    attempt: z.number().int(),
    error: z.object({ code: z.string(), message: z.string() }).passthrough(),
  })
  .strict();

export const heartbeatSchema = z
  .object({
    running: z.array(z.object({ taskId: z.string(), attempt: z.number().int() }).strict()).max(1024),
  })
  .strict();

export const logSchema = z
  .object({ taskId: z.string(), attempt: z.number().int(), stream: z.string(), message: z.string() })
  .strict();

/** Parses a message or throws EDGE_PROTOCOL: a peer that sends garbage is disconnected, never trusted. */
export function parseMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new WardenError(
      'EDGE_PROTOCOL',
      `Malformed ${what} message: ${parsed.error.issues[0]?.message ?? ''}`,
      {
        details: { what },
      },
    );
  return parsed.data;
}

export function parseJsonFrame(data: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as unknown;
  } catch {
    throw new WardenError('EDGE_PROTOCOL', `The ${what} frame is not JSON`);
  }
}
