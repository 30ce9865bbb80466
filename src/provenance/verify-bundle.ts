import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../core/index.js';
import { verifyReceiptWithRegistration, type ReceiptBody } from '../swarm/index.js';
import { GENESIS_HASH, sha256Hex, type ProvenanceRecord } from './chain.js';
import {
  BUNDLE_FORMAT,
  INCREMENTAL_BUNDLE_FORMAT,
  STATEMENT_TYPE,
  TASK_RESULT_PREDICATE,
  serializeBundle,
  type AnyProvenanceBundle,
} from './bundle.js';
import { MerkleFrontier } from './frontier.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
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
  /** An incremental bundle: the tree size it continues from (its records are since+1..treeSize). */
  since?: number;
  /** With a previous bundle: it verified, and this bundle extends it. */
  extendsPrevious?: boolean;
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
const members = {
  session: z.strictObject({ id: z.string(), name: z.string(), tenant: z.string() }),
  publicKey: z.strictObject({ algorithm: z.literal('Ed25519'), keyId: hex64, pem: z.string() }),
  treeHead: treeHeadSchema,
  previousHead: z.strictObject({ treeHead: treeHeadSchema, consistencyProof: z.array(hex64) }).optional(),
  records: z.array(recordSchema),
  statements: z.array(statementSchema),
};
const bundleSchema = z.discriminatedUnion('format', [
  z.strictObject({ format: z.literal(BUNDLE_FORMAT), ...members }),
  z.strictObject({
    format: z.literal(INCREMENTAL_BUNDLE_FORMAT),
    ...members,
    since: z.strictObject({
      treeSize: z.number().int().positive(),
      rootHash: hex64,
      frontier: z.array(hex64),
      lastRecordHash: hex64,
      consistencyProof: z.array(hex64),
    }),
  }),
]);

const MAX_PROBLEMS = 50;

/**
 * Verifies a bundle file's text offline: JSON, canonical form, and everything verifyBundle checks. With
 * `previous` (the text of the session's earlier bundle), also that the earlier bundle verifies and that
 * this one extends it: for an incremental bundle, that its records continue exactly where the earlier one
 * ends, so that together they are the session's records 1..treeHead.treeSize.
 */
export function verifyBundleText(
  text: string,
  options: VerifyBundleOptions & { previous?: string } = {},
): BundleVerification {
  const { previous, ...rest } = options;
  const own = parseCanonical(text);
  if ('problems' in own) return own;
  if (previous === undefined) return checkCanonical(text, verifyBundle(own.value, rest), own.value);
  const prev = parseCanonical(previous);
  const prevResult =
    'problems' in prev ? prev : checkCanonical(previous, verifyBundle(prev.value, rest), prev.value);
  const result = verifyBundle(own.value, {
    ...rest,
    ...(prevResult.ok ? { previous: prev as { value: unknown } } : {}),
  });
  if (!prevResult.ok) {
    const first = prevResult.problems[0]!;
    result.problems.unshift({
      code: first.code,
      where: 'previous',
      message: `the previous bundle does not verify (${prevResult.problems.length} problem${prevResult.problems.length === 1 ? '' : 's'}; first: ${first.where}: ${first.message})`,
    });
    result.ok = false;
  }
  return checkCanonical(text, result, own.value);
}

function parseCanonical(text: string): { value: unknown } | BundleVerification {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (cause) {
    return invalid('bundle', `not valid JSON: ${(cause as Error).message}`);
  }
}

/** Semantics hold; also refuse any other spelling of the same values, so every byte of the file counts. */
function checkCanonical(text: string, result: BundleVerification, value: unknown): BundleVerification {
  if (result.problems.length > 0) return result;
  let canonical: string;
  try {
    canonical = serializeBundle(value);
  } catch (cause) {
    return invalid('bundle', `has no canonical form: ${(cause as Error).message}`);
  }
  if (canonical === text) return result;
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

/**
 * Verifies a parsed bundle with no database: its shape; the public key and its id; the tree head's
 * signature; every record (session, seq, prev_hash chain, canonical form); the Merkle root over the
 * records (for an incremental bundle: over the frontier it starts from and its records); the previous
 * head and the consistency proofs; and one statement per succeeded task with its subject digest, its
 * fields and its inclusion proof. With `previous` (a parsed bundle that verified), also that this bundle
 * extends it. Lists every problem found.
 */
export function verifyBundle(
  value: unknown,
  options: VerifyBundleOptions & { previous?: { value: unknown } } = {},
): BundleVerification {
  try {
    return checkBundle(value, options);
  } catch (cause) {
    // A hostile or damaged bundle is a failed verification, never an exception: a changed digit can make a
    // number that JSON parses to Infinity, which has no canonical form (found by the byte-flip property test).
    return invalid('bundle', `cannot be verified: ${(cause as Error).message}`);
  }
}

function checkBundle(
  value: unknown,
  options: VerifyBundleOptions & { previous?: { value: unknown } },
): BundleVerification {
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
  // The checks below read the value itself, not zod's copy of it: zod rebuilds objects by assignment, which
  // turns a "__proto__" member into a prototype and so drops it, and every hash must cover what is there.
  const b = value as AnyProvenanceBundle;
  const base = b.format === INCREMENTAL_BUNDLE_FORMAT ? b.since : undefined;
  const from = base?.treeSize ?? 0;
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
    ...(base ? { since: from } : {}),
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

  // Where an incremental bundle starts: a tree of `from` leaves, given by its frontier.
  const head = b.treeHead;
  let tree = MerkleFrontier.empty();
  if (base) {
    const frontier =
      base.treeSize <= head.treeSize ? MerkleFrontier.parse(from, base.frontier.join('')) : undefined;
    if (base.treeSize > head.treeSize)
      add('BUNDLE_INVALID', 'since.treeSize', `is beyond the tree head (size ${head.treeSize})`);
    else if (!frontier)
      add('BUNDLE_INVALID', 'since.frontier', `is not the frontier of a tree of size ${from}`);
    else if (frontier.root() !== base.rootHash)
      add('PROVENANCE_BAD_PROOF', 'since.frontier', `does not lead to since.rootHash`);
    else tree = frontier;
    if (base.treeSize <= head.treeSize) {
      const c = verifyConsistency(from, head.treeSize, base.rootHash, head.rootHash, base.consistencyProof);
      if (!c.ok) add('PROVENANCE_BAD_PROOF', 'since.consistencyProof', c.reason);
    }
  }

  // Records: one chain, in order, each exactly its canonical bytes.
  if (b.records.length !== head.treeSize - from)
    add(
      'PROVENANCE_BAD_PROOF',
      'records',
      `has ${b.records.length} records but the signed tree head covers ${base ? `${head.treeSize - from} after size ${from}` : head.treeSize}: records were ${b.records.length < head.treeSize - from ? 'removed' : 'added'}`,
    );
  let prevHash = base?.lastRecordHash ?? GENESIS_HASH;
  const submitted = new Map<string, string>();
  const prev = options.previous?.value as AnyProvenanceBundle | undefined;
  for (const r of prev?.records ?? [])
    if (r.type === 'task.submitted' && typeof r.taskId === 'string')
      submitted.set(r.taskId, String(r.data?.['inputDigest']));
  b.records.forEach((r: ProvenanceRecord, i) => {
    const seq = from + i + 1;
    const where = `records[${i}] (seq ${seq})`;
    const bytes = canonicalJson(r);
    tree.append(bytes);
    if (r.seq !== seq) add('BUNDLE_INVALID', where, `has seq ${r.seq}: records are missing or out of order`);
    if (r.sessionId !== b.session.id) add('BUNDLE_INVALID', where, 'belongs to another session');
    if (r.prevHash !== prevHash)
      add(
        'BUNDLE_INVALID',
        where,
        i === 0 && base
          ? 'prevHash is not since.lastRecordHash: the bundle does not continue the chain where its base ends'
          : 'prevHash is not the hash of the record before it: the chain is broken here',
      );
    prevHash = sha256Hex(bytes);
    if (r.type === 'task.submitted' && typeof r.taskId === 'string')
      submitted.set(r.taskId, String(r.data?.['inputDigest']));
  });
  const first = b.records[0];
  if (first && !base) {
    const d = first.data ?? {};
    if (first.type !== 'session.created' || d['name'] !== b.session.name || d['tenant'] !== b.session.tenant)
      add('BUNDLE_INVALID', 'session', 'does not match the session.created record (seq 1)');
  }
  if (
    b.records.length === head.treeSize - from &&
    tree.size === head.treeSize &&
    tree.root() !== head.rootHash
  )
    add(
      'PROVENANCE_BAD_PROOF',
      'treeHead.rootHash',
      `is not the Merkle root of the ${base ? 'base and the ' : ''}records: a record was changed, added, removed or reordered`,
    );

  // The head signed at commit time, and the proof that the exported tree extends it.
  if (b.previousHead) {
    const p = b.previousHead.treeHead;
    checkHead(p, 'previousHead.treeHead');
    if (p.timestamp > head.timestamp)
      add('BUNDLE_INVALID', 'previousHead.treeHead.timestamp', 'is later than the tree head');
    const c = verifyConsistency(
      p.treeSize,
      head.treeSize,
      p.rootHash,
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
    const r = p.recordSeq > from ? b.records[p.recordSeq - from - 1] : undefined;
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
    // An incremental bundle may not hold a task's task.submitted record: it is then in an earlier bundle.
    const inputDigest = submitted.get(String(r.taskId));
    const expect: [string, unknown, unknown][] = [
      ['subject[0].name', s.subject[0].name, `task:${r.taskId}`],
      ['subject[0].digest.sha256', s.subject[0].digest.sha256, r.data?.['outputDigest']],
      ['predicate.sessionId', p.sessionId, b.session.id],
      ['predicate.taskId', p.taskId, r.taskId],
      ['predicate.agent', p.agent, r.agent],
      ['predicate.attempt', p.attempt, r.attempt],
      ['predicate.finishedAt', p.finishedAt, r.at],
      ...(inputDigest !== undefined || !base
        ? [['predicate.inputDigest', p.inputDigest, inputDigest] as [string, unknown, unknown]]
        : []),
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

  checkReceipts(b, submitted, add);
  if (prev) extendsPrevious(b, prev, add);
  return {
    ok: problems.length === 0,
    problems,
    ...summary,
    ...(prev ? { extendsPrevious: problems.length === 0 } : {}),
  };
}

/**
 * Every `task.receipt` record: the edge node's receipt verifies with the keys of the registration recorded
 * beside it, and names this task, its agent, the input that was submitted and the output that the next
 * record stores.
 */
function checkReceipts(
  b: AnyProvenanceBundle,
  submitted: ReadonlyMap<string, string>,
  add: (code: BundleProblem['code'], where: string, message: string) => void,
): void {
  b.records.forEach((r, i) => {
    if (r.type !== 'task.receipt') return;
    const where = `records[${i}] (task.receipt seq ${r.seq})`;
    let body: ReceiptBody;
    try {
      body = verifyReceiptWithRegistration(r.data?.['registration'], r.data?.['receipt']);
    } catch (err) {
      return add('PROVENANCE_BAD_SIGNATURE', where, `receipt does not verify: ${(err as Error).message}`);
    }
    const result = b.records[i + 1];
    const inputDigest = submitted.get(String(r.taskId));
    const expect: [string, unknown, unknown][] = [
      ['nodeId', body.nodeId, r.data?.['nodeId']],
      ['taskId', body.taskId, r.taskId],
      ['agent', body.agent, r.agent],
      ['outputDigest', body.outputDigest, `sha256:${String(result?.data?.['outputDigest'])}`],
      ...(inputDigest !== undefined
        ? [['inputDigest', body.inputDigest, `sha256:${inputDigest}`] as [string, unknown, unknown]]
        : []),
    ];
    if (!result || result.taskId !== r.taskId || result.attempt !== r.attempt)
      add('BUNDLE_INVALID', where, 'is not followed by the result of the same attempt');
    for (const [field, got, want] of expect)
      if (got !== want)
        add('BUNDLE_INVALID', `${where}.receipt.${field}`, `does not match the chain (${String(want)})`);
  });
}

/**
 * This bundle continues `prev` (which verified): same session and key, and the tree `prev` signed is the
 * first part of this one. For an incremental bundle its base is exactly prev's signed head and last record;
 * for a full bundle the records it holds give prev's root at prev's size.
 */
function extendsPrevious(
  b: AnyProvenanceBundle,
  prev: AnyProvenanceBundle,
  add: (code: BundleProblem['code'], where: string, message: string) => void,
): void {
  const ph = prev.treeHead;
  if (prev.session.id !== b.session.id)
    return add('BUNDLE_INVALID', 'previous', 'is a bundle of another session');
  if (prev.publicKey.keyId !== b.publicKey.keyId)
    return add('PROVENANCE_BAD_SIGNATURE', 'previous', 'is signed by another key');
  if (ph.treeSize > b.treeHead.treeSize)
    return add('BUNDLE_INVALID', 'previous', `is larger (size ${ph.treeSize}) than this bundle's tree`);
  if (b.format === INCREMENTAL_BUNDLE_FORMAT) {
    if (b.since.treeSize !== ph.treeSize || b.since.rootHash !== ph.rootHash)
      return add(
        'PROVENANCE_BAD_PROOF',
        'since',
        `does not start where the previous bundle ends (its signed head: size ${ph.treeSize}, root ${ph.rootHash}): export again with --since ${ph.treeSize}`,
      );
    const last = prev.records.at(-1);
    const lastHash = last
      ? sha256Hex(canonicalJson(last))
      : prev.format === INCREMENTAL_BUNDLE_FORMAT
        ? prev.since.lastRecordHash
        : GENESIS_HASH;
    if (b.since.lastRecordHash !== lastHash)
      add(
        'PROVENANCE_BAD_PROOF',
        'since.lastRecordHash',
        "is not the hash of the previous bundle's last record",
      );
    return;
  }
  // A full bundle holds every record: the first ph.treeSize of them must be the tree prev signed.
  const tree = MerkleFrontier.empty();
  for (const r of b.records.slice(0, ph.treeSize)) tree.append(canonicalJson(r));
  if (tree.size !== ph.treeSize || tree.root() !== ph.rootHash)
    add(
      'PROVENANCE_BAD_PROOF',
      'records',
      `records 1..${ph.treeSize} are not the tree the previous bundle signed`,
    );
}

function invalid(where: string, message: string): BundleVerification {
  return { ok: false, problems: [{ code: 'BUNDLE_INVALID', where, message }] };
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || 'bundle';
}
