import type { z } from 'zod';
import { WardenError } from '../core/index.js';
import { sha256 } from './bytes.js';
import { canonicalBytes } from './canonical.js';
import { signDocument, verifyDocument, type SignedDocument } from './document.js';
import type { NodeIdentity } from './identity.js';
import { parseWith, receiptBodySchema, signedSchema } from './schemas.js';
import { verifyRegistration } from './registration.js';
import type { TrustRegistry } from './trust-registry.js';

export type ReceiptBody = z.infer<typeof receiptBodySchema>;
/** A task receipt signed by the node that executed the task. */
export type SignedReceipt = SignedDocument<ReceiptBody>;

export interface ReceiptFields {
  /** `name@version` of the agent that ran. */
  agent: string;
  moduleDigest: string;
  inputDigest: string;
  outputDigest: string;
  startedAt: number;
  finishedAt: number;
  taskId?: string;
}

/** `sha256:<hex>` of raw bytes (or a UTF-8 string). */
export function digestBytes(data: Uint8Array | string): string {
  return `sha256:${sha256(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('hex')}`;
}

/** `sha256:<hex>` of a JSON value's RFC 8785 canonical bytes. */
export function digestJson(value: unknown): string {
  return `sha256:${sha256(canonicalBytes(value)).toString('hex')}`;
}

/**
 * Signs a receipt as the executing node (hybrid when the node has an ML-DSA key).
 *
 * @example
 * const receipt = signReceipt(node, 'prod', { agent: 'summarise@1.2.0', moduleDigest, inputDigest,
 *   outputDigest, startedAt, finishedAt });
 */
export function signReceipt(identity: NodeIdentity, swarmId: string, fields: ReceiptFields): SignedReceipt {
  const body: ReceiptBody = {
    kind: 'warden.swarm.receipt',
    v: 1,
    swarmId,
    nodeId: identity.nodeId,
    ...(fields.taskId !== undefined ? { taskId: fields.taskId } : {}),
    agent: fields.agent,
    moduleDigest: fields.moduleDigest,
    inputDigest: fields.inputDigest,
    outputDigest: fields.outputDigest,
    startedAt: fields.startedAt,
    finishedAt: fields.finishedAt,
  };
  checkBody(parseWith(receiptBodySchema, body, 'receipt'));
  return signDocument(identity.signingKeys(), body, identity.random);
}

/**
 * Verifies a receipt with keys from the registry (never from the receipt) and returns its body.
 * @throws WardenError SWARM_BAD_ENCODING, SWARM_MISDIRECTED, SWARM_UNKNOWN_SENDER, SWARM_REVOKED, SWARM_BAD_SIGNATURE
 */
export function verifyReceipt(registry: TrustRegistry, receipt: unknown): ReceiptBody {
  const parsed = parseWith(signedSchema(receiptBodySchema), receipt, 'receipt');
  checkBody(parsed.body);
  if (parsed.body.swarmId !== registry.swarmId) {
    throw new WardenError('SWARM_MISDIRECTED', `Receipt is from swarm ${parsed.body.swarmId}`);
  }
  verifyDocument(registry.resolve(parsed.body.nodeId).keys, parsed);
  return parsed.body;
}

/**
 * Verifies a receipt offline, with the keys of the node's self-signed registration carried beside it (a
 * provenance record holds both; whoever admitted the node vouched for that registration by recording it).
 * @throws WardenError SWARM_BAD_ENCODING, SWARM_MISDIRECTED, SWARM_BAD_SIGNATURE
 */
export function verifyReceiptWithRegistration(registration: unknown, receipt: unknown): ReceiptBody {
  const node = verifyRegistration(registration);
  const parsed = parseWith(signedSchema(receiptBodySchema), receipt, 'receipt');
  checkBody(parsed.body);
  if (parsed.body.nodeId !== node.body.nodeId)
    throw new WardenError(
      'SWARM_MISDIRECTED',
      `Receipt is from node ${parsed.body.nodeId}, not ${node.body.nodeId}`,
    );
  if (parsed.body.swarmId !== node.body.swarmId)
    throw new WardenError('SWARM_MISDIRECTED', `Receipt is from swarm ${parsed.body.swarmId}`);
  verifyDocument(node.keys, parsed);
  return parsed.body;
}

function checkBody(body: ReceiptBody): void {
  if (body.finishedAt < body.startedAt) {
    throw new WardenError('SWARM_BAD_ENCODING', 'Receipt finishes before it starts', {
      details: { ...body },
    });
  }
}
