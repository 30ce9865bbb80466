import type { ProvenanceRecord } from './chain.js';
import type { MerkleTree } from './merkle.js';
import type { SignedTreeHead } from './tree-head.js';

export const BUNDLE_FORMAT = 'https://warden.dev/provenance/bundle/v1';
/** An export of the records after an earlier export's tree size, with proofs that link it to that export. */
export const INCREMENTAL_BUNDLE_FORMAT = 'https://warden.dev/provenance/incremental-bundle/v1';
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

/** Where an incremental bundle starts: the tree an earlier export ended with. */
export interface BundleBase {
  /** The earlier export's treeHead.treeSize: this bundle's records are treeSize+1 .. treeHead.treeSize. */
  treeSize: number;
  /** The root at that size, which the earlier export's treeHead signed. */
  rootHash: string;
  /** The complete-subtree roots of the tree at that size, largest first: with the records, they give treeHead.rootHash. */
  frontier: string[];
  /** The chain hash of record treeSize: the prevHash of this bundle's first record. */
  lastRecordHash: string;
  /** RFC 6962 consistency proof from treeSize to treeHead.treeSize. */
  consistencyProof: string[];
}

/**
 * The records of a session after an earlier export (`since.treeSize`), with a head signed now over the
 * whole tree. Verified alone it proves its own records; with the earlier bundle, that together they are
 * the session's records 1..treeHead.treeSize.
 */
export interface IncrementalProvenanceBundle extends Omit<ProvenanceBundle, 'format'> {
  format: typeof INCREMENTAL_BUNDLE_FORMAT;
  since: BundleBase;
}

export type AnyProvenanceBundle = ProvenanceBundle | IncrementalProvenanceBundle;

/** The bundle's file form: keys sorted at every level, two-space indent, final newline. Verification insists on it. */
export function serializeBundle(bundle: unknown): string {
  return `${JSON.stringify(sortKeys(bundle), null, 2)}\n`;
}

/** A copy with the keys of every object in sorted order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.keys(value)
    .sort()
    .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])] as const);
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries);
}

/**
 * The statement of one task.succeeded record, with its inclusion proof against `head`. Its keys are
 * written in sorted order at every level (the model comes from the record's canonical JSON, sorted too),
 * so the streamed export writes it without a sorted copy.
 */
export function taskResultStatement(
  r: ProvenanceRecord,
  inputDigest: string,
  tree: MerkleTree,
  head: SignedTreeHead,
): TaskResultStatement {
  const model = r.data?.['model'] as Record<string, unknown> | undefined;
  return {
    _type: STATEMENT_TYPE,
    predicate: {
      agent: r.agent ?? '',
      attempt: r.attempt ?? 0,
      finishedAt: r.at,
      inclusionProof: {
        hashes: tree.inclusionProof(r.seq - 1, head.treeSize),
        leafIndex: r.seq - 1,
        rootHash: head.rootHash,
        treeSize: head.treeSize,
      },
      inputDigest,
      ...(model ? { model } : {}),
      recordSeq: r.seq,
      sessionId: r.sessionId,
      taskId: r.taskId ?? '',
    },
    predicateType: TASK_RESULT_PREDICATE,
    subject: [{ digest: { sha256: String(r.data?.['outputDigest'] ?? '') }, name: `task:${r.taskId}` }],
  };
}
