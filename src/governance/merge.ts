import { WardenError, isWardenError, type Session } from '../core/index.js';
import { sha256Hex, type ChainVerification, type ProvenanceRecord } from '../provenance/index.js';
import type { GovernanceStore, TraceFlagRecord } from './governance-port.js';

/** What merge validation reads (chains, tasks, results, flags, traces) and writes (its decision). */
type MergeSource = Omit<GovernanceStore, 'flagCounts' | 'releaseQuarantined' | 'agentHistory' | 'getSession'>;
import { toRecord } from './flags.js';
import type { GovernancePolicy } from './policy.js';

export interface MergeVerdict {
  id: string;
  taskId: string | null;
  accepted: boolean;
  /** Why it was refused (empty when accepted). */
  reasons: string[];
}

export interface MergeReport {
  ok: boolean;
  session: string;
  policy: string;
  verdicts: MergeVerdict[];
}

/**
 * validate_merge: may these traces (task ids, or API trace ids that name a task) be merged into the
 * session's accepted results under the session's policy? Refused, under every policy: unknown tasks and
 * tasks of other sessions (reported alike, without reading them), quarantined results, results whose provenance does not verify (a chain that fails
 * verification, or an output whose digest differs from the one recorded). Under the policy: flags at or
 * above merge.refuseAtSeverity, tasks that did not succeed. Provenance failures raise an Unverified flag;
 * the decision itself is appended to the session's chain.
 */
export async function validateMerge(
  store: MergeSource,
  session: Session,
  policy: GovernancePolicy,
  ids: readonly string[],
  now: number,
): Promise<MergeReport> {
  if (ids.length === 0)
    throw new WardenError('INVALID_INPUT', 'validate_merge needs at least one task or trace id');
  const chain: ChainVerification = await store.verifyChain(session.id);
  const recorded = new Map<string, string>();
  for (const link of await store.readChain(session.id)) {
    const r = JSON.parse(link.recordJson) as ProvenanceRecord;
    const digest = (r.data as { outputDigest?: unknown } | undefined)?.outputDigest;
    if (r.taskId && typeof digest === 'string') recorded.set(r.taskId, digest);
  }
  const verdicts: MergeVerdict[] = [];
  const unverified: TraceFlagRecord[] = [];
  for (const id of ids) {
    const taskId = await resolveTaskId(store, id, session.id);
    const reasons: string[] = [];
    const task = taskId ? await store.getTask(taskId) : undefined;
    // A task of another session (perhaps another tenant's) is reported exactly like a missing one, before
    // its state, flags or result are read, and it is never flagged from here.
    if (!task || !taskId || task.sessionId !== session.id) {
      verdicts.push({
        id,
        taskId: null,
        accepted: false,
        reasons: ['no such task or trace in this session'],
      });
      continue;
    }
    // A stored result that no longer matches its provenance record is refused below, not an error here.
    let mismatch: string | undefined;
    const result = await store.getResult(taskId).catch((e: unknown) => {
      if (!isWardenError(e) || e.code !== 'PROVENANCE_RESULT_MISMATCH') throw e;
      mismatch = e.message;
      return undefined;
    });
    if (task.state === 'quarantined')
      reasons.push('quarantined: release it first (warden governance release)');
    else if (policy.merge.requireSucceeded && task.state !== 'succeeded')
      reasons.push(`not succeeded (${task.state})`);
    const flags = (await store.listFlags({ taskIds: [taskId] })).filter(
      (f) => f.severity >= policy.merge.refuseAtSeverity,
    );
    for (const f of flags) reasons.push(`flagged ${f.type} (severity ${f.severity}): ${f.reason}`);
    if (policy.merge.requireVerified) {
      const problem =
        mismatch ??
        provenanceProblem(chain, result?.outputDigest ?? null, result?.output, recorded.get(taskId));
      if (problem && (result || mismatch)) {
        reasons.push(`unverified: ${problem}`);
        unverified.push(
          toRecord(
            { type: 'Unverified', severity: 8, reason: problem, detector: 'provenance' },
            { sessionId: session.id, taskId, agentKey: task.agent, stage: 'merge', now },
          ),
        );
      }
    }
    verdicts.push({ id, taskId, accepted: reasons.length === 0, reasons });
  }
  const ok = verdicts.every((v) => v.accepted);
  await store.recordGovernance({
    type: ok ? 'governance.merge_accepted' : 'governance.merge_refused',
    sessionId: session.id,
    at: now,
    data: {
      policy: policy.name,
      accepted: verdicts.filter((v) => v.accepted).map((v) => v.taskId),
      refused: verdicts.filter((v) => !v.accepted).map((v) => ({ id: v.id, reasons: v.reasons })),
    },
    flags: unverified,
  });
  return { ok, session: session.name, policy: policy.name, verdicts };
}

function provenanceProblem(
  chain: ChainVerification,
  storedDigest: string | null,
  output: unknown,
  recordedDigest: string | undefined,
): string | null {
  // Records after the last signed head are not yet vouched for, which is no reason to refuse a merge.
  if (chain.broken) return `session chain broken at record ${chain.broken.seq}: ${chain.broken.reason}`;
  if (storedDigest === null) return null; // no output to verify (failed or cancelled tasks)
  if (recordedDigest === undefined) return 'no provenance record names this output';
  if (recordedDigest !== storedDigest) return 'stored output digest differs from the recorded one';
  if (sha256Hex(JSON.stringify(output)) !== storedDigest) return 'stored output does not match its digest';
  return null;
}

async function resolveTaskId(store: MergeSource, id: string, sessionId: string): Promise<string | null> {
  if (await store.getTask(id)) return id;
  // An API trace of this session that belongs to a task merges (or not) with its task.
  const trace = await store.getTrace(id).catch(() => undefined);
  return trace?.sessionId === sessionId ? (trace.taskId ?? null) : null;
}
