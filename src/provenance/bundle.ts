import { WardenError, canonicalJson } from '../core/index.js';
import { verifyChain, type ProvenanceRecord, type StoredLink } from './chain.js';
import { MerkleTree, leafHash } from './merkle.js';
import type { SignedTreeHead } from './tree-head.js';

export const BUNDLE_FORMAT = 'https://warden.dev/provenance/bundle/v1';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const TASK_RESULT_PREDICATE = 'https://warden.dev/provenance/task-result/v1';

/** in-toto Statement v1 for one task result: the subject is the stored output's SHA-256. */
export interface TaskResultStatement {
  _type: typeof STATEMENT_TYPE;
  subject: [{ name: string; digest: { sha256: string } }];
  predicateType: typeof TASK_RESULT_PREDICATE;
  predicate: {
    sessionId: string;
    taskId: string;
    agent: string;
    attempt: number;
    inputDigest: string;
    finishedAt: number;
    /** LLM agents: the model that produced the output and the tokens it used, as the record has them. */
    model?: Record<string, unknown>;
    /** seq of the task.succeeded record; its leaf index is recordSeq - 1. */
    recordSeq: number;
    inclusionProof: { leafIndex: number; treeSize: number; rootHash: string; hashes: string[] };
  };
}

/** A self-contained, offline-verifiable export of one session's provenance. */
export interface ProvenanceBundle {
  format: typeof BUNDLE_FORMAT;
  session: { id: string; name: string; tenant: string };
  publicKey: { algorithm: 'Ed25519'; keyId: string; pem: string };
  /** Signed at export; covers exactly `records`. */
  treeHead: SignedTreeHead;
  /** The last head signed at commit time before the export, and the proof that treeHead extends it. */
  previousHead?: { treeHead: SignedTreeHead; consistencyProof: string[] };
  /** The session's records in seq order; leaf i of the tree is RFC 8785 canonical JSON of records[i]. */
  records: ProvenanceRecord[];
  statements: TaskResultStatement[];
}

/** What export needs from the store (the Store port satisfies it). */
export interface ProvenanceSource {
  readChain(sessionId: string): Promise<StoredLink[]>;
  latestTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;
  signTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;
  treeHeadPublicKey(): { keyId: string; publicKeyPem: string };
}

/** The bundle's file form: keys sorted at every level, two-space indent, final newline. Verification insists on it. */
export function serializeBundle(bundle: unknown): string {
  return `${JSON.stringify(sortKeys(bundle), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.keys(value)
    .sort()
    .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])] as const);
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries);
}

const broken = (message: string, details?: Record<string, unknown>) =>
  new WardenError('PROVENANCE_BROKEN', message, details ? { details } : {});

/**
 * Exports a session: signs its tree at the current chain head, checks the stored records against that
 * head and the previous one, and builds one in-toto statement with an inclusion proof per succeeded task.
 * Refuses (PROVENANCE_BROKEN, PROVENANCE_BAD_PROOF) rather than sign over records that do not verify.
 */
export async function exportBundle(
  source: ProvenanceSource,
  session: { id: string; name: string; tenant: string },
): Promise<ProvenanceBundle> {
  const previous = await source.latestTreeHead(session.id);
  const head = await source.signTreeHead(session.id);
  if (!head) throw broken(`Session ${session.name} has no provenance records`);
  const links = (await source.readChain(session.id)).slice(0, head.treeSize);
  const chain = verifyChain(session.id, links);
  if (!chain.ok)
    throw broken(`Session ${session.name}: record ${chain.broken?.seq}: ${chain.broken?.reason}`, {
      ...chain.broken,
    });
  if (links.length !== head.treeSize)
    throw broken(`Session ${session.name} has ${links.length} records, its tree head ${head.treeSize}`);
  const records = links.map((l) => JSON.parse(l.recordJson) as ProvenanceRecord);
  records.forEach((r, i) => {
    if (canonicalJson(r) !== links[i]!.recordJson)
      throw broken(`Record ${i + 1} of session ${session.name} is not in canonical form`);
  });
  const tree = new MerkleTree(links.map((l) => leafHash(l.recordJson)));
  if (tree.root() !== head.rootHash)
    throw new WardenError(
      'PROVENANCE_BAD_PROOF',
      `The records of session ${session.name} do not match its tree head (size ${head.treeSize})`,
    );
  let previousHead: ProvenanceBundle['previousHead'];
  if (previous && previous.treeSize > 0 && previous.signature !== head.signature) {
    if (previous.treeSize > head.treeSize || tree.root(previous.treeSize) !== previous.rootHash)
      throw new WardenError(
        'PROVENANCE_BAD_PROOF',
        `The records of session ${session.name} no longer match the tree head signed at size ${previous.treeSize}`,
      );
    previousHead = {
      treeHead: previous,
      consistencyProof: tree.consistencyProof(previous.treeSize, head.treeSize),
    };
  }
  const key = source.treeHeadPublicKey();
  return {
    format: BUNDLE_FORMAT,
    session: { id: session.id, name: session.name, tenant: session.tenant },
    publicKey: { algorithm: 'Ed25519', keyId: key.keyId, pem: key.publicKeyPem },
    treeHead: head,
    ...(previousHead ? { previousHead } : {}),
    records,
    statements: taskResultStatements(records, tree, head),
  };
}

function taskResultStatements(
  records: readonly ProvenanceRecord[],
  tree: MerkleTree,
  head: SignedTreeHead,
): TaskResultStatement[] {
  const inputDigests = new Map<string, string>();
  const out: TaskResultStatement[] = [];
  records.forEach((r, i) => {
    if (r.type === 'task.submitted' && r.taskId !== undefined)
      inputDigests.set(r.taskId, String(r.data?.['inputDigest'] ?? ''));
    if (r.type !== 'task.succeeded' || r.taskId === undefined) return;
    out.push({
      _type: STATEMENT_TYPE,
      subject: [{ name: `task:${r.taskId}`, digest: { sha256: String(r.data?.['outputDigest'] ?? '') } }],
      predicateType: TASK_RESULT_PREDICATE,
      predicate: {
        sessionId: r.sessionId,
        taskId: r.taskId,
        agent: r.agent ?? '',
        attempt: r.attempt ?? 0,
        inputDigest: inputDigests.get(r.taskId) ?? '',
        finishedAt: r.at,
        ...(r.data?.['model'] ? { model: r.data['model'] as Record<string, unknown> } : {}),
        recordSeq: r.seq,
        inclusionProof: {
          leafIndex: i,
          treeSize: head.treeSize,
          rootHash: head.rootHash,
          hashes: tree.inclusionProof(i, head.treeSize),
        },
      },
    });
  });
  return out;
}
