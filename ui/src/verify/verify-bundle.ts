import { canonicalJson, serializeBundle } from './canonical-json.js';
import { UnsupportedError, leafHash, sha256Hex, toHex } from './hash.js';
import { Frontier, merkleRoot, verifyConsistency, verifyInclusion, type NodeMemo } from './merkle.js';
import { INCREMENTAL_BUNDLE_FORMAT, shapeIssues } from './shape.js';
import { readPublicKey, verifyTreeHeadSignature, type SignedTreeHead } from './tree-head.js';

// The browser's verifier of a provenance bundle: the checks of src/provenance/verify-bundle.ts, in the same
// order and with the same problem codes, computed with WebCrypto. What it does not check is said in `notes`.

/** prevHash of the first record of every session's chain. */
export const GENESIS_HASH = '0'.repeat(64);
const MAX_PROBLEMS = 50;

export interface BundleProblem {
  /** The server verifier's codes; BROWSER_UNSUPPORTED: this browser cannot verify (no verdict on the bundle). */
  code: 'BUNDLE_INVALID' | 'PROVENANCE_BAD_PROOF' | 'PROVENANCE_BAD_SIGNATURE' | 'BROWSER_UNSUPPORTED';
  where: string;
  message: string;
}

export interface BrowserVerification {
  ok: boolean;
  problems: BundleProblem[];
  /** Records in the bundle. */
  records: number;
  treeSize?: number;
  rootHash?: string;
  /** SHA-256 of the public key's SPKI DER as computed here (the bundle's own claim when unreadable). */
  keyId?: string;
  /** The session's name and id. */
  session?: string;
  sessionId?: string;
  statements?: number;
  /** An incremental bundle: the tree size it continues from. */
  since?: number;
  /** Each record's chain hash (SHA-256 of its canonical JSON) as computed here, when the shape allowed it. */
  hashes?: string[];
  /** What the browser leaves to `warden verify` (edge-node receipt signatures). */
  notes: string[];
  elapsedMs: number;
}

interface Record_ {
  type: string;
  at: number;
  sessionId: string;
  seq: number;
  prevHash: string;
  taskId?: string;
  agent?: string;
  attempt?: number;
  data?: Record<string, unknown>;
}

interface Statement {
  subject: [{ name: string; digest: { sha256: string } }];
  predicate: {
    sessionId: string;
    taskId: string;
    agent: string;
    attempt: number;
    inputDigest: string;
    finishedAt: number;
    model?: Record<string, unknown>;
    recordSeq: number;
    inclusionProof: { leafIndex: number; treeSize: number; rootHash: string; hashes: string[] };
  };
}

interface Bundle {
  format: string;
  session: { id: string; name: string; tenant: string };
  publicKey: { algorithm: 'Ed25519'; keyId: string; pem: string };
  treeHead: SignedTreeHead;
  previousHead?: { treeHead: SignedTreeHead; consistencyProof: string[] };
  records: Record_[];
  statements: Statement[];
  since?: {
    treeSize: number;
    rootHash: string;
    frontier: string[];
    lastRecordHash: string;
    consistencyProof: string[];
  };
}

const now = () => globalThis.performance?.now() ?? Date.now();

/**
 * Verifies a bundle file's text: JSON, everything verifyBundle checks, and (when that holds) that the text
 * is the bundle's canonical form, so that every byte of the file counts (as `warden verify` insists).
 */
export async function verifyBundleText(text: string): Promise<BrowserVerification> {
  const started = now();
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (cause) {
    return invalid('bundle', `not valid JSON: ${(cause as Error).message}`, started);
  }
  const result = await verifyBundle(value);
  if (result.problems.length > 0) return result;
  let canonical: string;
  try {
    canonical = serializeBundle(value);
  } catch (cause) {
    return invalid('bundle', `has no canonical form: ${(cause as Error).message}`, started);
  }
  if (canonical === text) return { ...result, elapsedMs: now() - started };
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
    elapsedMs: now() - started,
  };
}

/**
 * Verifies a parsed bundle: its shape; the public key and its id; the tree heads' signatures; every
 * record's session, seq and prevHash link; the Merkle root over the records; the previous head's
 * consistency proof; one statement per succeeded task, matching its record, with its inclusion proof.
 * Lists every problem found (up to 50); never throws.
 */
export async function verifyBundle(value: unknown): Promise<BrowserVerification> {
  const started = now();
  try {
    return await checkBundle(value, started);
  } catch (cause) {
    if (cause instanceof UnsupportedError)
      return {
        ...invalid('browser', cause.message, started),
        problems: [{ code: 'BROWSER_UNSUPPORTED', where: 'browser', message: cause.message }],
      };
    return invalid('bundle', `cannot be verified: ${(cause as Error).message}`, started);
  }
}

async function checkBundle(value: unknown, started: number): Promise<BrowserVerification> {
  const issues = shapeIssues(value);
  if (issues.length > 0) {
    const records = (value as { records?: unknown } | null)?.records;
    return {
      ok: false,
      problems: issues.slice(0, MAX_PROBLEMS).map((i) => ({ code: 'BUNDLE_INVALID' as const, ...i })),
      records: Array.isArray(records) ? records.length : 0,
      notes: [],
      elapsedMs: now() - started,
    };
  }
  const b = value as Bundle;
  const base = b.format === INCREMENTAL_BUNDLE_FORMAT ? b.since : undefined;
  const from = base?.treeSize ?? 0;
  const head = b.treeHead;
  const problems: BundleProblem[] = [];
  const add = (code: BundleProblem['code'], where: string, message: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ code, where, message });
  };

  // The key, and the signatures made with it.
  const read = await readPublicKey(b.publicKey.pem);
  const key = read.ok ? read.key : undefined;
  if (!read.ok)
    add(
      'BUNDLE_INVALID',
      'publicKey.pem',
      read.problem === 'not-ed25519' ? 'is not an Ed25519 public key' : 'is not a readable public key',
    );
  else {
    if (read.keyId !== b.publicKey.keyId)
      add('PROVENANCE_BAD_SIGNATURE', 'publicKey.keyId', 'is not the SHA-256 of the public key');
    if (!read.canonical) add('BUNDLE_INVALID', 'publicKey.pem', 'is not the canonical SPKI PEM of the key');
  }
  const checkHead = async (h: SignedTreeHead, where: string) => {
    if (h.sessionId !== b.session.id)
      add('BUNDLE_INVALID', `${where}.sessionId`, 'is not the bundle session');
    if (h.keyId !== b.publicKey.keyId)
      add('PROVENANCE_BAD_SIGNATURE', `${where}.keyId`, 'is not the bundle public key');
    else if (key && !(await verifyTreeHeadSignature(h, key)))
      add('PROVENANCE_BAD_SIGNATURE', `${where}.signature`, `does not verify (tree head size ${h.treeSize})`);
  };
  await checkHead(head, 'treeHead');

  // Where an incremental bundle starts: a tree of `from` leaves, given by its frontier.
  let frontier: Frontier | undefined;
  if (base) {
    const parsed = base.treeSize <= head.treeSize ? Frontier.parse(from, base.frontier) : undefined;
    if (base.treeSize > head.treeSize)
      add('BUNDLE_INVALID', 'since.treeSize', `is beyond the tree head (size ${head.treeSize})`);
    else if (!parsed)
      add('BUNDLE_INVALID', 'since.frontier', `is not the frontier of a tree of size ${from}`);
    else if ((await parsed.root()) !== base.rootHash)
      add('PROVENANCE_BAD_PROOF', 'since.frontier', `does not lead to since.rootHash`);
    else frontier = parsed;
    if (base.treeSize <= head.treeSize) {
      const c = await verifyConsistency(
        from,
        head.treeSize,
        base.rootHash,
        head.rootHash,
        base.consistencyProof,
      );
      if (!c.ok) add('PROVENANCE_BAD_PROOF', 'since.consistencyProof', c.reason);
    }
  }

  // Records: one chain, in order, each exactly its canonical bytes. Hashed all at once, checked in order.
  const n = b.records.length;
  if (n !== head.treeSize - from)
    add(
      'PROVENANCE_BAD_PROOF',
      'records',
      `has ${n} records but the signed tree head covers ${base ? `${head.treeSize - from} after size ${from}` : head.treeSize}: records were ${n < head.treeSize - from ? 'removed' : 'added'}`,
    );
  const bytes = b.records.map((r) => canonicalJson(r));
  const [chainHashes, leaves] = await Promise.all([
    Promise.all(bytes.map((text) => sha256Hex(text))),
    Promise.all(bytes.map((text) => leafHash(text))),
  ]);
  let prevHash = base?.lastRecordHash ?? GENESIS_HASH;
  const submitted = new Map<string, string>();
  b.records.forEach((r, i) => {
    const seq = from + i + 1;
    const where = `records[${i}] (seq ${seq})`;
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
    prevHash = chainHashes[i]!;
    if (r.type === 'task.submitted' && typeof r.taskId === 'string')
      submitted.set(r.taskId, String(r.data?.['inputDigest']));
  });
  const first = b.records[0];
  if (first && !base) {
    const d = first.data ?? {};
    if (first.type !== 'session.created' || d['name'] !== b.session.name || d['tenant'] !== b.session.tenant)
      add('BUNDLE_INVALID', 'session', 'does not match the session.created record (seq 1)');
  }
  // The server builds on the base's frontier, or on an empty tree when the base did not check out.
  let treeSize = n;
  let root: string;
  const memo: NodeMemo = new Map();
  if (frontier) {
    for (const leaf of leaves) await frontier.append(leaf);
    treeSize = frontier.size;
    root = await frontier.root();
  } else root = await merkleRoot(leaves, memo);
  if (n === head.treeSize - from && treeSize === head.treeSize && root !== head.rootHash)
    add(
      'PROVENANCE_BAD_PROOF',
      'treeHead.rootHash',
      `is not the Merkle root of the ${base ? 'base and the ' : ''}records: a record was changed, added, removed or reordered`,
    );

  // The head signed at commit time, and the proof that the exported tree extends it.
  if (b.previousHead) {
    const p = b.previousHead.treeHead;
    await checkHead(p, 'previousHead.treeHead');
    if (p.timestamp > head.timestamp)
      add('BUNDLE_INVALID', 'previousHead.treeHead.timestamp', 'is later than the tree head');
    const c = await verifyConsistency(
      p.treeSize,
      head.treeSize,
      p.rootHash,
      head.rootHash,
      b.previousHead.consistencyProof,
    );
    if (!c.ok) add('PROVENANCE_BAD_PROOF', 'previousHead.consistencyProof', c.reason);
  }

  // One statement per succeeded task, in record order, each proven included (the proofs all at once).
  const succeeded = b.records.filter((r) => r.type === 'task.succeeded');
  if (succeeded.length !== b.statements.length)
    add(
      'BUNDLE_INVALID',
      'statements',
      `has ${b.statements.length} statements for ${succeeded.length} task.succeeded records`,
    );
  const perStatement = await Promise.all(
    b.statements.map((s, i) =>
      checkStatement(b, s, i, { from, base: !!base, succeeded, submitted, leaves, memo }),
    ),
  );
  for (const list of perStatement) for (const p of list) add(p.code, p.where, p.message);

  const notes: string[] = [];
  const receipts = b.records.filter((r) => r.type === 'task.receipt').length;
  if (receipts > 0)
    notes.push(
      `${receipts} edge-node receipt${receipts === 1 ? '' : 's'} (task.receipt) are covered by the chain and the signed root, but their own signatures are checked by \`warden verify\` only`,
    );
  return {
    ok: problems.length === 0,
    problems,
    records: n,
    treeSize: head.treeSize,
    rootHash: head.rootHash,
    keyId: read.ok ? read.keyId : b.publicKey.keyId,
    session: b.session.name,
    sessionId: b.session.id,
    statements: b.statements.length,
    ...(base ? { since: from } : {}),
    hashes: chainHashes,
    notes,
    elapsedMs: now() - started,
  };
}

async function checkStatement(
  b: Bundle,
  s: Statement,
  i: number,
  ctx: {
    from: number;
    base: boolean;
    succeeded: Record_[];
    submitted: ReadonlyMap<string, string>;
    leaves: Uint8Array[];
    memo: NodeMemo;
  },
): Promise<BundleProblem[]> {
  const out: BundleProblem[] = [];
  const add = (code: BundleProblem['code'], where: string, message: string) =>
    out.push({ code, where, message });
  const p = s.predicate;
  const where = `statements[${i}] (task ${p.taskId})`;
  const index = p.recordSeq - ctx.from - 1;
  const r = p.recordSeq > ctx.from ? b.records[index] : undefined;
  const expected = ctx.succeeded[i];
  if (expected && expected !== r)
    add('BUNDLE_INVALID', where, `should be the statement of the task.succeeded record seq ${expected.seq}`);
  if (!r || r.type !== 'task.succeeded') {
    add('BUNDLE_INVALID', where, `recordSeq ${p.recordSeq} is not a task.succeeded record`);
    return out;
  }
  // An incremental bundle may not hold a task's task.submitted record: it is then in an earlier bundle.
  const inputDigest = ctx.submitted.get(String(r.taskId));
  const expect: [string, unknown, unknown][] = [
    ['subject[0].name', s.subject[0].name, `task:${r.taskId}`],
    ['subject[0].digest.sha256', s.subject[0].digest.sha256, r.data?.['outputDigest']],
    ['predicate.sessionId', p.sessionId, b.session.id],
    ['predicate.taskId', p.taskId, r.taskId],
    ['predicate.agent', p.agent, r.agent],
    ['predicate.attempt', p.attempt, r.attempt],
    ['predicate.finishedAt', p.finishedAt, r.at],
    ...(inputDigest !== undefined || !ctx.base
      ? [['predicate.inputDigest', p.inputDigest, inputDigest] as [string, unknown, unknown]]
      : []),
  ];
  for (const [field, got, want] of expect)
    if (got !== want) add('BUNDLE_INVALID', `${where}.${field}`, `does not match record seq ${r.seq}`);
  if (canonicalJson(p.model ?? null) !== canonicalJson(r.data?.['model'] ?? null))
    add('BUNDLE_INVALID', `${where}.predicate.model`, `does not match record seq ${r.seq}`);
  const proof = p.inclusionProof;
  const head = b.treeHead;
  if (proof.treeSize !== head.treeSize || proof.rootHash !== head.rootHash)
    add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof`, 'is not against the signed tree head');
  if (proof.leafIndex !== p.recordSeq - 1)
    add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof.leafIndex`, `is not ${p.recordSeq - 1}`);
  const check = await verifyInclusion(
    proof.leafIndex,
    proof.treeSize,
    toHex(ctx.leaves[index]!),
    proof.hashes,
    proof.rootHash,
    ctx.memo,
  );
  if (!check.ok) add('PROVENANCE_BAD_PROOF', `${where}.predicate.inclusionProof`, check.reason);
  return out;
}

function invalid(where: string, message: string, started: number): BrowserVerification {
  return {
    ok: false,
    problems: [{ code: 'BUNDLE_INVALID', where, message }],
    records: 0,
    notes: [],
    elapsedMs: now() - started,
  };
}
