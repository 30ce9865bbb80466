import { ChainChecker, canonicalRecordJson, type ProvenanceRecord } from './chain.js';
import { MerkleTree } from './merkle.js';
import type { Pacer } from './pacer.js';
import type { ChainReader } from './reader.js';
import { RESULT_RECORD_STATUS } from './result-check.js';

// Small pages: a page is read in one synchronous call, so its size bounds the longest step.
const PAGE = 128;

/** What the chain says about one task. */
export interface TaskFacts {
  /** seq of its task.submitted record. */
  submittedSeq?: number;
  inputDigest?: string;
  /** The latest record that commits to its result row (cleared by a dead-letter replay). */
  result?: ProvenanceRecord;
}

/** A session's chain read once, in order: checked link by link, its Merkle tree, and what it says of tasks. */
export interface ChainScan {
  /** Records that verified, 1..length (all of them unless `broken`). */
  length: number;
  headHash: string | null;
  broken?: { seq: number; reason: string };
  /** The Merkle tree over records 1..length. */
  tree: MerkleTree;
  tasks: Map<string, TaskFacts>;
  /** The task.succeeded records, in order (export builds one statement per record). */
  succeeded: ProvenanceRecord[];
  /** Record 1: always session.created. */
  first?: ProvenanceRecord;
}

/**
 * Reads records 1..upto of a session page by page, pausing for the event loop as the pacer says, and
 * checks them as a chain (ChainChecker) while it builds their Merkle tree. Stops at the first broken link.
 * Memory: 64 bytes of tree per record, a small entry per task, and the task.succeeded records.
 */
export async function scanChain(
  reader: ChainReader,
  sessionId: string,
  pacer: Pacer,
  upto = Number.MAX_SAFE_INTEGER,
  options: {
    /** Also require each record's stored bytes to be its RFC 8785 canonical JSON (an export's leaves are). */
    canonical?: boolean;
  } = {},
): Promise<ChainScan> {
  const checker = new ChainChecker(sessionId);
  const scan: ChainScan = {
    length: 0,
    headHash: null,
    tree: new MerkleTree(),
    tasks: new Map(),
    succeeded: [],
  };
  for (let after = 0; after < upto;) {
    const page = await reader.links(sessionId, after, upto, PAGE);
    for (const link of page) {
      const out = checker.check(link);
      if ('broken' in out || (options.canonical && canonicalRecordJson(out.record) !== link.recordJson)) {
        scan.broken =
          'broken' in out ? out.broken : { seq: link.seq, reason: 'record is not in canonical form' };
        return finish(scan, checker);
      }
      scan.tree.appendLeaf(link.recordJson);
      note(scan, out.record);
      if (pacer.due()) await pacer.pause();
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.seq;
  }
  return finish(scan, checker);
}

function finish(scan: ChainScan, checker: ChainChecker): ChainScan {
  scan.length = checker.length;
  scan.headHash = checker.head?.hash ?? null;
  return scan;
}

function note(scan: ChainScan, r: ProvenanceRecord): void {
  if (r.seq === 1) scan.first = r;
  if (r.type === 'task.succeeded') scan.succeeded.push(r);
  if (typeof r.taskId !== 'string') return;
  let facts = scan.tasks.get(r.taskId);
  if (!facts) scan.tasks.set(r.taskId, (facts = {}));
  if (r.type === 'task.submitted') {
    facts.submittedSeq = r.seq;
    facts.inputDigest = String(r.data?.['inputDigest'] ?? '');
  } else if (Object.hasOwn(RESULT_RECORD_STATUS, r.type)) facts.result = r;
  else if (r.type === 'task.replayed') delete facts.result;
}
