import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../core/index.js';
import { GENESIS_HASH, sha256Hex, type ProvenanceRecord } from './chain.js';
import {
  BUNDLE_FORMAT,
  STATEMENT_TYPE,
  TASK_RESULT_PREDICATE,
  serializeBundle,
  type ProvenanceBundle,
} from './bundle.js';
import { MerkleTree, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { publicKeyId, verifyTreeHeadSignature, type SignedTreeHead } from './tree-head.js';

/** One thing wrong with a bundle: where (a JSON path with the record seq or task), what, and its error code. */
export interface BundleProblem {
  code: 'BUNDLE_INVALID' | 'PROVENANCE_BAD_PROOF' | 'PROVENANCE_BAD_SIGNATURE';
  where: string;
  message: string;
}

export interface BundleVerification {
  ok: boolean;
  problems: BundleProblem[];
  session?: string;
  treeSize?: number;
  rootHash?: string;
  keyId?: string;
  statements?: number;
}

export interface VerifyBundleOptions {
  /** Accept only tree heads signed by one of these key ids (SHA-256 of the SPKI DER, hex). */
  trustedKeyIds?: readonly string[];
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-character lowercase hex SHA-256 digest');
const count = z.number().int().nonnegative();
const treeHeadSchema = z.strictObject({
  sessionId: z.string(),
  treeSize: count,
  rootHash: hex64,
  timestamp: count,
  keyId: hex64,
  signature: z.string(),
});
const recordSchema = z.looseObject({
  type: z.string(),
  at: z.number(),
  sessionId: z.string(),
  seq: count,
  prevHash: hex64,
});
const statementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.tuple([z.strictObject({ name: z.string(), digest: z.strictObject({ sha256: hex64 }) })]),
  predicateType: z.literal(TASK_RESULT_PREDICATE),
  predicate: z.strictObject({
    sessionId: z.string(),
    taskId: z.string(),
    agent: z.string(),
    attempt: count,
    inputDigest: hex64,
    finishedAt: z.number(),
    model: z.record(z.string(), z.unknown()).optional(),
    recordSeq: count,
    inclusionProof: z.strictObject({
      leafIndex: count,
      treeSize: count,
      rootHash: hex64,
      hashes: z.array(hex64),
    }),
  }),
});
const bundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  session: z.strictObject({ id: z.string(), name: z.string(), tenant: z.string() }),
  publicKey: z.strictObject({ algorithm: z.literal('Ed25519'), keyId: hex64, pem: z.string() }),
  treeHead: treeHeadSchema,
  previousHead: z.strictObject({ treeHead: treeHeadSchema, consistencyProof: z.array(hex64) }).optional(),
  records: z.array(recordSchema),
  statements: z.array(statementSchema),
});

const MAX_PROBLEMS = 50;

/** Verifies a bundle file's text offline: JSON, canonical form, and everything verifyBundle checks. */
export function verifyBundleText(text: string, options: VerifyBundleOptions = {}): BundleVerification {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return invalid('bundle', `not valid JSON: ${(cause as Error).message}`);
  }
  const result = verifyBundle(value, options);
  if (result.problems.length > 0) return result;
  // Semantics hold; also refuse any other spelling of the same values, so every byte of the file counts.
  const canonical = serializeBundle(value);
  if (canonical !== text) {
    let i = 0;
    while (i < text.length && text[i] === canonical[i]) i++;
    const line = text.slice(0, i).split('\n').length;
    return {
      ...result,
      ok: false,
      problems: [
        {
          code: 'BUNDLE_INVALID',
          where: `byte ${i} (line ${line})`,
          message:
            'bundle is not in canonical form (sorted keys, 2-space indent, final newline): it was edited',
        },
      ],
    };
  }
  return result;
}

/**
 * Verifies a parsed bundle with no database: its shape; the public key and its id; the tree head's
 * signature; every record (session, seq, prev_hash chain, canonical form); the Merkle root over the
 * records; the previous head and the consistency proof to it; and one statement per succeeded task
 * with its subject digest, its fields and its inclusion proof. Lists every problem found.
 */
export function verifyBundle(value: unknown, options: VerifyBundleOptions = {}): BundleVerification {
  const parsed = bundleSchema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.slice(0, MAX_PROBLEMS).map((i) => ({
        code: 'BUNDLE_INVALID' as const,
        where: pathOf(i.path),
        message: i.message,
      })),
    };
  }
  const b = parsed.data as unknown as ProvenanceBundle;
  const problems: BundleProblem[] = [];
  const add = (code: BundleProblem['code'], where: string, message: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ code, where, message });
  };
  const summary = {
    session: b.session.name,
    treeSize: b.treeHead.treeSize,
    rootHash: b.treeHead.rootHash,
    keyId: b.publicKey.keyId,
    statements: b.statements.length,
  };

  // The key, and the signatures made with it.
  let keyOk = false;
  try {
    const key = createPublicKey(b.publicKey.pem);
    keyOk = key.asymmetricKeyType === 'ed25519';
    if (!keyOk) add('BUNDLE_INVALID', 'publicKey.pem', 'is not an Ed25519 public key');
    else if (publicKeyId(key) !== b.publicKey.keyId)
      add('PROVENANCE_BAD_SIGNATURE', 'publicKey.keyId', 'is not the SHA-256 of the public key');
    if (keyOk && key.export({ type: 'spki', format: 'pem' }).toString() !== b.publicKey.pem)
      add('BUNDLE_INVALID', 'publicKey.pem', 'is not the canonical SPKI PEM of the key');
  } catch {
    add('BUNDLE_INVALID', 'publicKey.pem', 'is not a readable public key');
  }
  if (options.trustedKeyIds && !options.trustedKeyIds.includes(b.publicKey.keyId))
    add('PROVENANCE_BAD_SIGNATURE', 'publicKey.keyId', `${b.publicKey.keyId} is not a trusted key`);
  const checkHead = (head: SignedTreeHead, where: string) => {
    if (head.sessionId !== b.session.id)
      add('BUNDLE_INVALID', `${where}.sessionId`, 'is not the bundle session');
    if (head.keyId !== b.publicKey.keyId)
      add('PROVENANCE_BAD_SIGNATURE', `${where}.keyId`, 'is not the bundle public key');
    else if (keyOk && !verifyTreeHeadSignature(head, b.publicKey.pem))
      add(
        'PROVENANCE_BAD_SIGNATURE',
        `${where}.signature`,
        `does not verify (tree head size ${head.treeSize})`,
      );
  };
  checkHead(b.treeHead, 'treeHead');

  // Records: one chain, in order, each exactly its canonical bytes.
  const head = b.treeHead;
  if (b.records.length !== head.treeSize)
    add(
      'PROVENANCE_BAD_PROOF',
      'records',
      `has ${b.records.length} records but the signed tree head covers ${head.treeSize}: records were ${b.records.length < head.treeSize ? 'removed' : 'added'}`,
    );
  const leaves: string[] = [];
  let prevHash = GENESIS_HASH;
  const submitted = new Map<string, string>();
  b.records.forEach((r: ProvenanceRecord, i) => {
    const where = `records[${i}] (seq ${i + 1})`;
    const bytes = canonicalJson(r);
    leaves.push(leafHash(bytes));
    if (r.seq !== i + 1)
      add('BUNDLE_INVALID', where, `has seq ${r.seq}: records are missing or out of order`);
    if (r.sessionId !== b.session.id) add('BUNDLE_INVALID', where, 'belongs to another session');
    if (r.prevHash !== prevHash)
      add(
        'BUNDLE_INVALID',
        where,
        'prevHash is not the hash of the record before it: the chain is broken here',
      );
    prevHash = sha256Hex(bytes);
    if (r.type === 'task.submitted' && typeof r.taskId === 'string')
      submitted.set(r.taskId, String(r.data?.['inputDigest']));
  });
  const first = b.records[0];
  if (first) {
    const d = first.data ?? {};
    if (first.type !== 'session.created' || d['name'] !== b.session.name || d['tenant'] !== b.session.tenant)
      add('BUNDLE_INVALID', 'session', 'does not match the session.created record (seq 1)');
  }
  const tree = new MerkleTree(leaves);
  if (b.records.length === head.treeSize && tree.root() !== head.rootHash)
    add(
      'PROVENANCE_BAD_PROOF',
      'treeHead.rootHash',
      'is not the Merkle root of the records: a record was changed, added, removed or reordered',
    );

  // The head signed at commit time, and the proof that the exported tree extends it.
  if (b.previousHead) {
    const prev = b.previousHead.treeHead;
    checkHead(prev, 'previousHead.treeHead');
    if (prev.timestamp > head.timestamp)
      add('BUNDLE_INVALID', 'previousHead.treeHead.timestamp', 'is later than the tree head');
    const c = verifyConsistency(
      prev.treeSize,
      head.treeSize,
      prev.rootHash,
      head.rootHash,
      b.previousHead.consistencyProof,
    );
    if (!c.ok) add('PROVENANCE_BAD_PROOF', 'previousHead.consistencyProof', c.reason);
  }

  // One statement per succeeded task, in record order, each proven included.
  const succeeded = b.records.filter((r) => r.type === 'task.succeeded');
  if (succeeded.length !== b.statements.length)
    add(
      'BUNDLE_INVALID',
      'statements',
      `has ${b.statements.length} statements for ${succeeded.length} task.succeeded records`,
    );
  b.statements.forEach((s, i) => {
    const p = s.predicate;
    const where = `statements[${i}] (task ${p.taskId})`;
    const r = b.records[p.recordSeq - 1];
    if (succeeded[i] && succeeded[i] !== r)
      add(
        'BUNDLE_INVALID',
        where,
        `should be the statement of the task.succeeded record seq ${succeeded[i].seq}`,
      );
    if (!r || r.type !== 'task.succeeded') {
      add('BUNDLE_INVALID', where, `recordSeq ${p.recordSeq} is not a task.succeeded record`);
      return;
    }
    const expect: [string, unknown, unknown][] = [
      ['subject[0].name', s.subject[0].name, `task:${r.taskId}`],
      ['subject[0].digest.sha256', s.subject[0].digest.sha256, r.data?.['outputDigest']],
      ['predicate.sessionId', p.sessionId, b.session.id],
      ['predicate.taskId', p.taskId, r.taskId],
      ['predicate.agent', p.agent, r.agent],
      ['predicate.attempt', p.attempt, r.attempt],
      ['predicate.finishedAt', p.finishedAt, r.at],
      ['predicate.inputDigest', p.inputDigest, submitted.get(String(r.taskId))],
    ];
    for (const [field, got, want] of expect)
      if (got !== want) add('BUNDLE_INVALID', `${where}.${field}`, `does not match record seq ${r.seq}`);
    if (canonicalJson(p.model ?? null) !== canonicalJson(r.data?.['model'] ?? null))
      add('BUNDLE_INVALID', `${where}.predicate.model`, `does not match record seq ${r.seq}`);
    const proof = p.inclusionProof;
    if (proof.treeSize !== head.treeSize || proof.rootHash !== head.rootHash)
      add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof`, 'is not against the signed tree head');
    if (proof.leafIndex !== p.recordSeq - 1)
      add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof.leafIndex`, `is not ${p.recordSeq - 1}`);
    const check = verifyInclusion(
      proof.leafIndex,
      proof.treeSize,
      leafHash(canonicalJson(r)),
      proof.hashes,
      proof.rootHash,
    );
    if (!check.ok) add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof`, check.reason);
  });

  return { ok: problems.length === 0, problems, ...summary };
}

function invalid(where: string, message: string): BundleVerification {
  return { ok: false, problems: [{ code: 'BUNDLE_INVALID', where, message }] };
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || 'bundle';
}
