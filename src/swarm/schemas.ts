import { z } from 'zod';
import { badEncoding } from './bytes.js';

const NODE_ID = /^wn1_[0-9a-f]{40}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

export const nodeIdSchema = z.string().regex(NODE_ID, 'not a node id');
export const timestampSchema = z.number().int().nonnegative();
export const swarmIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
export const capabilitySchema = z.string().min(1).max(128);
const encodedKey = z.string().regex(B64URL).max(4096);

export const registrationBodySchema = z.strictObject({
  kind: z.literal('warden.swarm.registration'),
  v: z.literal(1),
  swarmId: swarmIdSchema,
  nodeId: nodeIdSchema,
  signingKey: encodedKey,
  agreementKey: encodedKey,
  pqKey: encodedKey.optional(),
  capabilities: z.array(capabilitySchema).max(256),
  issuedAt: timestampSchema,
});

export const inviteBodySchema = z.strictObject({
  kind: z.literal('warden.swarm.invite'),
  v: z.literal(1),
  swarmId: swarmIdSchema,
  adminId: nodeIdSchema,
  nodeId: nodeIdSchema,
  capabilities: z.array(capabilitySchema).max(256).optional(),
  issuedAt: timestampSchema,
  expiresAt: timestampSchema,
});

export const receiptBodySchema = z.strictObject({
  kind: z.literal('warden.swarm.receipt'),
  v: z.literal(1),
  swarmId: swarmIdSchema,
  nodeId: nodeIdSchema,
  taskId: z.string().min(1).max(256).optional(),
  agent: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+$/, 'agent must be name@version')
    .max(256),
  moduleDigest: z.string().regex(DIGEST),
  inputDigest: z.string().regex(DIGEST),
  outputDigest: z.string().regex(DIGEST),
  startedAt: timestampSchema,
  finishedAt: timestampSchema,
});

const signatureText = z.string().regex(B64URL).max(8192);

export const signedSchema = <T extends z.ZodType>(body: T) =>
  z.strictObject({ body, signature: signatureText });

export const publicKeysSchema = z.strictObject({
  signingKey: encodedKey,
  agreementKey: encodedKey,
  pqKey: encodedKey.optional(),
});

export const rotationBodySchema = z.strictObject({
  kind: z.literal('warden.swarm.rotation'),
  v: z.literal(1),
  nodeId: nodeIdSchema,
  /** The keys being retired: the node's registered keys when the rotation is applied. */
  previous: publicKeysSchema,
  /** The node's new registration (new keys, same node id), self-signed by the new keys. */
  registration: signedSchema(registrationBodySchema),
});

export const signedRotationSchema = z.strictObject({
  body: rotationBodySchema,
  signatures: z.strictObject({ previous: signatureText, next: signatureText }),
});

/** Parses with a zod schema, turning failures into SWARM_BAD_ENCODING with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw badEncoding(`Malformed ${what}: ${issues.join('; ')}`, { issues });
  }
  return result.data;
}
