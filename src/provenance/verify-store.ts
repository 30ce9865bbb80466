import type { KeyObject } from 'node:crypto';
import type { ChainVerification } from './chain.js';
import type { Pacer } from './pacer.js';
import type { ChainReader } from './reader.js';
import { RESULT_RECORD_STATUS, resultRecordProblem } from './result-check.js';
import { scanChain, type ChainScan } from './scan.js';
import { verifyTreeHeadSignature, type SignedTreeHead } from './tree-head.js';
import { checkTreeHeadAgainstChain } from './verify-head.js';

const TASK_PAGE = 512;
const TERMINAL_STATES = new Set(Object.values(RESULT_RECORD_STATUS));

export interface StoredSessionCheck {
  reader: ChainReader;
  sessionId: string;
  /** This node's tree-head key (public half). */
  key: { keyId: string; publicKey: KeyObject };
  /**
   * Every key a head may be signed by, by key id (a shared database: each node signs with its own key and
   * registers it); a head signed by a key not here must be signed by `key`.
   */
  trusted?: ReadonlyMap<string, KeyObject>;
  /** The latest head the witness outside the database holds for the session, if any. */
  witnessed?: SignedTreeHead;
  pacer: Pacer;
}

/**
 * Verifies a stored session end to end and says whether every record is vouched for:
 *
 * 1. the chain, link by link, and against its stored head (nothing cut off);
 * 2. a session always has records (seq 1 is session.created): an empty chain was wiped;
 * 3. the latest signed tree head in the database: this node's key, a valid signature, and the root of the
 *    records it covers (a record changed and the chain rehashed shows here);
 * 4. the witness outside the database: its head must not be newer than the database's (a deleted head, or
 *    a database put back to an older copy) and its root must be the root of the records at its size;
 * 5. every task of the session: its task.submitted record exists, and its result row matches the latest
 *    record that commits to it (status, output digest, stored output bytes, error code); every task the
 *    chain names has a row;
 * 6. records after the latest signed head are counted (`unsigned`): nothing proves they are what the node
 *    wrote, so `ok` is false while there are any, though nothing is `broken`.
 */
export async function verifyStoredSession(input: StoredSessionCheck): Promise<ChainVerification> {
  const { reader, sessionId, witnessed, pacer } = input;
  const keyFor = (head: SignedTreeHead) => {
    const publicKey = input.trusted?.get(head.keyId);
    return publicKey ? { keyId: head.keyId, publicKey } : input.key;
  };
  const signed = await reader.treeHead(sessionId);
  const scan = await scanChain(reader, sessionId, pacer);
  const report = (broken?: { seq: number; reason: string }, tasks?: number): ChainVerification => {
    const signedSize = signed?.head.treeSize ?? 0;
    const unsigned = Math.max(0, scan.length - signedSize);
    return {
      ok: !broken && unsigned === 0,
      sessionId,
      length: scan.length,
      headHash: scan.headHash,
      ...(broken ? { broken } : {}),
      signedSize,
      unsigned,
      ...(witnessed ? { witnessedSize: witnessed.treeSize } : {}),
      ...(tasks === undefined ? {} : { tasks }),
    };
  };
  if (scan.broken) return report(scan.broken);
  const cut = checkHeadOf(scan, await reader.chainHead(sessionId));
  if (cut) return report(cut);
  if (scan.length === 0)
    return report({
      seq: 1,
      reason: 'the session has no provenance records (seq 1 is always session.created): the chain was wiped',
    });
  if (signed) {
    const bad = checkTreeHeadAgainstChain(scan.tree, signed.head, keyFor(signed.head), signed.frontier);
    if (bad) return report(bad);
  }
  if (witnessed) {
    const bad = againstWitness(scan, signed?.head, witnessed, keyFor(witnessed));
    if (bad) return report(bad);
  }
  const tasks = await checkTasks(reader, sessionId, scan, pacer);
  return 'broken' in tasks ? report(tasks.broken) : report(undefined, tasks.count);
}

function checkHeadOf(scan: ChainScan, head: { seq: number; hash: string } | null) {
  if (scan.headHash === (head?.hash ?? null) && scan.length === (head?.seq ?? 0)) return undefined;
  return {
    seq: Math.min(scan.length, head?.seq ?? 0) + 1,
    reason: head
      ? `chain is truncated or diverges from the stored head (seq ${head.seq})`
      : `the stored chain head is missing (the chain has ${scan.length} records)`,
  };
}

function againstWitness(
  scan: ChainScan,
  signed: SignedTreeHead | undefined,
  witnessed: SignedTreeHead,
  key: { keyId: string; publicKey: KeyObject },
): { seq: number; reason: string } | undefined {
  const when = new Date(witnessed.timestamp).toISOString();
  if (witnessed.keyId !== key.keyId || !verifyTreeHeadSignature(witnessed, key.publicKey))
    return {
      seq: 1,
      reason: `the witness's tree head (size ${witnessed.treeSize}) does not verify under this node's key`,
    };
  if (!signed)
    return {
      seq: 1,
      reason: `the database has no signed tree head, but the witness holds one of size ${witnessed.treeSize} (signed ${when}): the head was deleted or the database replaced`,
    };
  if (signed.treeSize < witnessed.treeSize)
    return {
      seq: signed.treeSize + 1,
      reason: `the database's signed tree head (size ${signed.treeSize}, signed ${new Date(signed.timestamp).toISOString()}) is older than the witness's (size ${witnessed.treeSize}, signed ${when}): the database was rolled back`,
    };
  // The database's head covers the witnessed size (its root was checked above); the records must still
  // have the root the witness saw at that size.
  if (scan.tree.root(witnessed.treeSize) !== witnessed.rootHash)
    return {
      seq: 1,
      reason: `records 1..${witnessed.treeSize} do not have the root the witness holds for that size (signed ${when}): the chain was rewritten`,
    };
  return undefined;
}

async function checkTasks(
  reader: ChainReader,
  sessionId: string,
  scan: ChainScan,
  pacer: Pacer,
): Promise<{ count: number } | { broken: { seq: number; reason: string } }> {
  const seen = new Set<string>();
  let problem: { seq: number; reason: string } | undefined;
  const fail = (seq: number, reason: string) => {
    if (!problem || seq < problem.seq) problem = { seq, reason };
  };
  for (let after = ''; ;) {
    const page = await reader.tasks(sessionId, after, TASK_PAGE);
    for (const t of page) {
      seen.add(t.id);
      const facts = scan.tasks.get(t.id);
      if (facts?.submittedSeq === undefined) {
        fail(scan.length + 1, `task ${t.id} has no task.submitted record: its row was added outside Warden`);
        continue;
      }
      const recorded = facts.result ? RESULT_RECORD_STATUS[facts.result.type] : undefined;
      if (recorded ? t.state !== recorded : TERMINAL_STATES.has(t.state))
        fail(
          facts.result?.seq ?? facts.submittedSeq,
          recorded
            ? `task ${t.id} is ${t.state}, but its record ${facts.result!.seq} (${facts.result!.type}) says ${recorded}`
            : `task ${t.id} is ${t.state}, but the chain records no end for it`,
        );
      if (t.result) {
        const bad = resultRecordProblem(t.result, facts.result);
        if (bad) fail(facts.result?.seq ?? facts.submittedSeq, `task ${t.id}: its stored result: ${bad}`);
        else if (t.result.recordSeq !== facts.result?.seq)
          fail(
            facts.result!.seq,
            `task ${t.id}: its result row names record ${t.result.recordSeq}, not ${facts.result!.seq}`,
          );
      } else if (facts.result) {
        fail(
          facts.result.seq,
          `task ${t.id}: its result row is missing, but record ${facts.result.seq} (${facts.result.type}) commits to one`,
        );
      }
    }
    if (page.length < TASK_PAGE) break;
    after = page[page.length - 1]!.id;
    if (pacer.due()) await pacer.pause();
  }
  for (const [taskId, facts] of scan.tasks)
    if (facts.submittedSeq !== undefined && !seen.has(taskId))
      fail(facts.submittedSeq, `task ${taskId} is in the chain but its row is missing: it was deleted`);
  return problem ? { broken: problem } : { count: seen.size };
}
