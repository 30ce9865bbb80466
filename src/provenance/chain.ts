import { createHash } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { canonicalJson } from '../core/index.js';

/** prev_hash of the first record in every session's chain. */
export const GENESIS_HASH = '0'.repeat(64);

export type ProvenanceEventType =
  | 'session.created'
  | 'task.submitted'
  | 'task.started'
  | 'task.attempt_failed'
  | 'task.succeeded'
  // An edge node's signed receipt of the run whose result follows.
  | 'task.receipt'
  | 'task.failed'
  | 'task.dead_lettered'
  | 'task.cancelled'
  | 'task.lease_expired'
  | 'task.replayed'
  | 'task.purged'
  // An operator closed an agent version's circuit breaker: recorded where it held queued tasks.
  | 'agent.breaker_reset'
  // Canary rollouts (docs/routing.md): started, and the bandit's promotion or rollback, where a submit decided it.
  | 'agent.rollout_started'
  | 'agent.rollout_promoted'
  | 'agent.rollout_rolled_back'
  // A user's score of a finished task (KPIs).
  | 'task.feedback'
  // Cortex memory (docs/memory.md): an item stored in the session's memory, or removed from it.
  | 'memory.put'
  | 'memory.forget'
  // Governance (src/governance): flags, blocks, quarantine and release, merge decisions.
  | 'governance.flagged'
  | 'governance.blocked'
  | 'governance.merge_refused'
  | 'governance.merge_accepted'
  | 'task.quarantined'
  | 'task.released'
  | 'trace.created'
  | 'trace.provenance'
  // Cortex memory (src/memory): an item stored in, or removed from, the session's memory.
  | 'memory.put'
  | 'memory.forget';

export interface ProvenanceEvent {
  type: ProvenanceEventType;
  at: number;
  taskId?: string;
  attempt?: number;
  agent?: string;
  data?: Record<string, unknown>;
}

/** One link of a session's chain. `hash` = SHA-256 over the canonical JSON of the record, prevHash included. */
export interface ProvenanceRecord extends ProvenanceEvent {
  sessionId: string;
  seq: number;
  prevHash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface ChainedRecord {
  record: ProvenanceRecord;
  /** The canonical JSON that was hashed; stored verbatim so verification re-hashes the same bytes. */
  recordJson: string;
  hash: string;
}

// crypto.hash (Node >= 20.12) hashes in one call without a Hash object: it runs several times per task.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string | Uint8Array, enc: 'hex') => string })
  .hash;

export function sha256Hex(data: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** Appends one event after `head` (null for an empty chain). Pure apart from hashing. */
export function chainRecord(
  sessionId: string,
  head: ChainHead | null,
  event: ProvenanceEvent,
): ChainedRecord {
  // Object.assign, not `{ ...event, sessionId, … }`: V8 (Node 20) builds a spread followed by more
  // properties through a slow runtime path, ~2 µs here, and this runs for every record.
  const record: ProvenanceRecord = Object.assign({}, event, {
    sessionId,
    seq: head ? head.seq + 1 : 1,
    prevHash: head ? head.hash : GENESIS_HASH,
  });
  const recordJson = canonicalRecordJson(record);
  return { record, recordJson, hash: sha256Hex(recordJson) };
}

/**
 * canonicalJson(record), written out for the record's fixed shape: keys in RFC 8785 order
 * (agent, at, attempt, data, prevHash, seq, sessionId, taskId, type) without sorting per call.
 * Runs several times per task; a property test holds it equal to the generic canonicalJson.
 */
export function canonicalRecordJson(r: ProvenanceRecord): string {
  let out = '{';
  if (r.agent !== undefined) out += `"agent":${canonicalJson(r.agent)},`;
  out += `"at":${canonicalJson(r.at)},`;
  if (r.attempt !== undefined) out += `"attempt":${canonicalJson(r.attempt)},`;
  if (r.data !== undefined) out += `"data":${canonicalJson(r.data)},`;
  out += `"prevHash":${canonicalJson(r.prevHash)},"seq":${canonicalJson(r.seq)},"sessionId":${canonicalJson(r.sessionId)},`;
  if (r.taskId !== undefined) out += `"taskId":${canonicalJson(r.taskId)},`;
  return `${out}"type":${canonicalJson(r.type)}}`;
}

export interface StoredLink {
  seq: number;
  prevHash: string;
  hash: string;
  recordJson: string;
}

export interface ChainVerification {
  /**
   * Every record verifies and is vouched for: from the store, that also means every record is covered by a
   * signed tree head that the witness (if any) agrees with, and every stored result matches its record.
   */
  ok: boolean;
  sessionId: string;
  length: number;
  headHash: string | null;
  /** The first thing that does not verify, and why (seq: the record where it shows). */
  broken?: { seq: number; reason: string };
  /** Store verification: the size of the latest signed tree head in the database (0: none). */
  signedSize?: number;
  /** Store verification: records after the latest signed tree head, which no signature vouches for yet. */
  unsigned?: number;
  /** Store verification: the size of the latest head the witness outside the database holds, if any. */
  witnessedSize?: number;
  /** Store verification: the tasks (and their result rows) checked against their records. */
  tasks?: number;
}

/**
 * Checks a session's stored links one at a time, in seq order, as they are read: a gap in sequence
 * numbers, a record whose bytes no longer hash to its stored hash, a record whose prev_hash is not its
 * predecessor's hash, or a record whose fields disagree with its row. Returns each link's parsed record.
 */
export class ChainChecker {
  private prev: ChainHead | null = null;
  private count = 0;

  constructor(private readonly sessionId: string) {}

  /** Links checked so far. */
  get length(): number {
    return this.count;
  }

  /** The last good link. */
  get head(): ChainHead | null {
    return this.prev;
  }

  /** The link's record, or what is wrong with the link (the checker then stays where it was). */
  check(link: StoredLink): { record: ProvenanceRecord } | { broken: { seq: number; reason: string } } {
    const expectedSeq: number = (this.prev?.seq ?? 0) + 1;
    const fail = (seq: number, reason: string) => ({ broken: { seq, reason } });
    if (link.seq !== expectedSeq)
      return fail(expectedSeq, `missing record: expected seq ${expectedSeq}, found ${link.seq}`);
    if (sha256Hex(link.recordJson) !== link.hash)
      return fail(link.seq, 'record content does not match its hash');
    if (link.prevHash !== (this.prev?.hash ?? GENESIS_HASH))
      return fail(link.seq, 'prev_hash does not match the previous record');
    let record: ProvenanceRecord;
    try {
      record = JSON.parse(link.recordJson) as ProvenanceRecord;
    } catch {
      return fail(link.seq, 'record is not valid JSON');
    }
    if (record.seq !== link.seq || record.prevHash !== link.prevHash || record.sessionId !== this.sessionId)
      return fail(link.seq, 'record fields disagree with the stored row (seq, prev_hash or session)');
    this.prev = { seq: link.seq, hash: link.hash };
    this.count++;
    return { record };
  }

  /** The stored chain head must be the last link: otherwise the tail was cut off (or the head moved). */
  checkHead(expected: ChainHead | null): { seq: number; reason: string } | undefined {
    if (this.prev?.seq === expected?.seq && this.prev?.hash === expected?.hash) return undefined;
    return {
      seq: Math.min(this.prev?.seq ?? 0, expected?.seq ?? 0) + 1,
      reason: expected
        ? `chain is truncated or diverges from the stored head (seq ${expected.seq})`
        : `the stored chain head is missing (the chain has ${this.count} records)`,
    };
  }
}

/**
 * Recomputes a session's chain from its stored links (in seq order) and reports the first broken link
 * (see ChainChecker), and, with `expectedHead`, a chain that does not end at the stored head.
 */
export function verifyChain(
  sessionId: string,
  links: Iterable<StoredLink>,
  expectedHead?: ChainHead | null,
): ChainVerification {
  const checker = new ChainChecker(sessionId);
  const report = (broken?: { seq: number; reason: string }): ChainVerification => ({
    ok: !broken,
    sessionId,
    length: checker.length,
    headHash: checker.head?.hash ?? null,
    ...(broken ? { broken } : {}),
  });
  for (const link of links) {
    const out = checker.check(link);
    if ('broken' in out) return report(out.broken);
  }
  if (expectedHead) {
    const broken = checker.checkHead(expectedHead);
    if (broken) return report(broken);
  }
  return report();
}
