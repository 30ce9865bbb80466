import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import type pg from 'pg';
import {
  DEFAULT_TENANT,
  WardenError,
  agentKey,
  canonicalJson,
  priorityLevel,
  type AgentManifest,
  type BreakerSnapshot,
  type SerializedError,
  type Session,
  type Task,
  type TaskResult,
  type TaskState,
} from '../../core/index.js';
import {
  Pacer,
  records,
  verifyStoredSession,
  type ChainHead,
  type ChainReader,
  type ChainVerification,
  type HeadWitness,
  type SignedTreeHead,
  type StoredLink,
  type TreeHeadSigner,
} from '../../provenance/index.js';
import { checkedOrFailedResult, checkedResult, type CheckedResultRow } from '../checked-results.js';
import { PgMemories } from './memories.js';
import {
  newTaskView,
  rowToAgent,
  rowToApiKey,
  rowToDeadLetter,
  rowToFlag,
  rowToSession,
  rowToTask,
} from '../rows.js';
import type { Database } from '../schema.js';
import type {
  AgentRecord,
  AgentRunStat,
  ApiKeyRecord,
  BreakerOutcomes,
  ClaimOutcome,
  ClaimRequest,
  ClaimedTask,
  DeadLetter,
  Finish,
  FinishOutcome,
  FlagCount,
  FlagFilter,
  GovernanceRecord,
  LogLine,
  NewTask,
  Store,
  StoreStats,
  SubmitOutcome,
  TaskFilter,
  TraceFilter,
  TraceFlagRecord,
  TraceRecord,
  TraceSummary,
} from '../store.js';
import { applyBreakers } from './breakers.js';
import { rowToBreaker } from '../breakers.js';
import { rowToRollout } from '../rollout-rows.js';
import type { RolloutRecord } from '../../routing/index.js';
import { PgChainReader } from './chain-reader.js';
import { PgTreeHeads } from './tree-heads.js';
import * as agentCode from './agent-code.js';
import * as kpis from './kpis.js';
import * as overview from './overview.js';
import type { ActivityQuery, AgentKpi, KpiFilter, TaskFeedback, TenantActivity } from '../store.js';
import type { AgentCodeFile, AgentCodeVersion } from '../agent-code.js';
import {
  AgentDigests,
  ONE_STATEMENT_ABORTED,
  PgTx,
  isConnectionError,
  isRetryable,
  storageError,
  type OneStatementWork,
} from './tx.js';

type TaskRow = Database['tasks'] & { cancel_requested: number };

const CHECKED_RESULT = `SELECT r.*, t.session_id AS session_id, p.record AS record, p.hash AS record_hash
  FROM results r
  LEFT JOIN tasks t ON t.id = r.task_id
  LEFT JOIN provenance p ON p.session_id = t.session_id AND p.seq = r.record_seq`;

const MAX_TX_ATTEMPTS = 5;
/** One-statement transactions skipped on a session after one found its chain head moved by another node. */
const ONE_STATEMENT_BACKOFF = 32;

export interface PgStoreParts {
  pool: pg.Pool;
  /** host:port/db for messages (no credentials). */
  target: string;
  /** Signs this node's tree heads (its key is registered in node_keys by openPostgresStore). */
  signer: TreeHeadSigner;
  nodeName: string;
  signIntervalMs: number;
  witness?: HeadWitness;
  /** Tag of this process in change notifications (PostgresStoreOptions.origin). */
  origin?: string;
  /** False when the maintenance leader signs this node's commits (see PgTreeHeads). @default true */
  selfSign?: boolean;
}

/**
 * The PostgreSQL store: every process of a cluster points at one database. Claims lock with FOR UPDATE
 * SKIP LOCKED and hold session and agent-version caps across all workers (advisory transaction locks per
 * session and agent version serialise the count of running tasks with the claim); finishes are fenced by
 * lease owner and attempt; a session's chain grows under a lock on its head row. Every task state change
 * notifies `warden_tasks` (and every log append `warden_logs`) in its own transaction.
 */
export class PgStore implements Store {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly digests = new AgentDigests();
  /** The chain head this process last committed, by session: what its next append expects (PgTx.flush). */
  private readonly chainHeads = new Map<string, ChainHead>();
  private readonly treeHeads: PgTreeHeads;
  /** Sessions whose one-statement transactions missed lately, and how many more to skip (oneStatementLikely). */
  private readonly oneStatementSkips = new Map<string, number>();
  private closed = false;
  /** Cortex memory items (src/memory), written in this store's transactions. */
  readonly memories = new PgMemories({
    tx: (what, body) => this.tx(what, body),
    q: (what, text, values) => this.q(what, text, values),
  });

  constructor(private readonly parts: PgStoreParts) {
    this.pool = parts.pool;
    this.treeHeads = new PgTreeHeads(
      parts.pool,
      parts.signer,
      parts.signIntervalMs,
      parts.witness,
      parts.selfSign ?? true,
    );
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
  }

  /** A pooled connection and a PgTx on it; the caller releases the connection. */
  private async checkout(what: string): Promise<{ client: pg.PoolClient; tx: PgTx }> {
    this.open();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storageError(err, what, this.parts.target);
    }
    return { client, tx: new PgTx(client, this.digests, this.chainHeads, this.parts.origin) };
  }

  /** After a commit: the chain heads this process wrote (what its next appends expect), and the signer. */
  private committed(tx: PgTx): void {
    if (this.chainHeads.size > 10_000) this.chainHeads.clear();
    for (const [sessionId, head] of tx.heads) this.chainHeads.set(sessionId, head);
    this.treeHeads.committed(tx.heads);
  }

  /**
   * Runs `body` in one READ COMMITTED transaction on one pooled connection, then writes what it collected
   * (PgTx.flush) and commits. A deadlock victim or serialization failure runs again; a broken connection is
   * dropped from the pool (the next call gets a fresh one) and reported as STORAGE_ERROR.
   */
  private async tx<T>(what: string, body: (tx: PgTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { client, tx } = await this.checkout(what);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await body(tx);
        await tx.flush();
        await client.query('COMMIT');
        this.committed(tx);
        return out;
      } catch (err) {
        if (isConnectionError(err)) broken = err as Error;
        else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (!broken && !(err instanceof WardenError) && isRetryable(err) && attempt < MAX_TX_ATTEMPTS)
          continue;
        throw storageError(err, what, this.parts.target);
      } finally {
        client.release(broken);
      }
    }
  }

  /** One statement outside a transaction. */
  private async q<R extends pg.QueryResultRow = Record<string, unknown>>(
    what: string,
    text: string,
    values?: unknown[],
  ): Promise<R[]> {
    this.open();
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw storageError(err, what, this.parts.target);
    }
  }

  // ---- sessions -------------------------------------------------------------------------------

  async createSession(s: Session): Promise<Session> {
    return this.tx('createSession', async (tx) => {
      const inserted = await tx.q(
        `INSERT INTO sessions (id, tenant, name, max_concurrency, allow_network, policy, policy_document, placement, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, name) DO NOTHING RETURNING id`,
        [
          s.id,
          s.tenant,
          s.name,
          s.maxConcurrency,
          s.allowNetwork ? 1 : 0,
          s.policy,
          s.policyDocument ? JSON.stringify(s.policyDocument) : null,
          s.placement ?? null,
          s.createdAt,
        ],
      );
      if (inserted.length === 0) {
        const [row] = await tx.q<Database['sessions']>(
          'SELECT * FROM sessions WHERE tenant = $1 AND name = $2',
          [s.tenant, s.name],
        );
        return rowToSession(row!);
      }
      tx.chain.add(s.id, records.sessionCreated(s));
      return s;
    });
  }

  async getSession(idOrName: string, tenant?: string): Promise<Session | undefined> {
    const rows = await this.q<Database['sessions'] & { by_id: boolean }>(
      'getSession',
      `SELECT *, id = $1 AS by_id FROM sessions
       WHERE (id = $1 AND ($2::text IS NULL OR tenant = $2)) OR (tenant = coalesce($2, $3) AND name = $1)
       ORDER BY by_id DESC LIMIT 1`,
      [idOrName, tenant ?? null, DEFAULT_TENANT],
    );
    return rows[0] ? rowToSession(rows[0]) : undefined;
  }

  async listSessions(tenant?: string): Promise<Session[]> {
    const rows = await this.q<Database['sessions']>(
      'listSessions',
      'SELECT * FROM sessions WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_at, id',
      [tenant ?? null],
    );
    return rows.map(rowToSession);
  }

  // ---- agents ---------------------------------------------------------------------------------

  async putAgent(
    manifest: AgentManifest,
    moduleDigest: string | null,
    now: number,
    options: { shared?: boolean } = {},
  ): Promise<AgentRecord> {
    const key = agentKey(manifest);
    const tenant = manifest.tenant ?? DEFAULT_TENANT;
    const shared = options.shared === true;
    const { baseDir: _ignored, ...comparable } = manifest;
    const out = await this.tx('putAgent', async (tx) => {
      const inserted = await tx.q(
        `INSERT INTO agents (key, name, version, runtime, concurrency, manifest, module_digest, created_at, tenant, shared)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (key) DO NOTHING RETURNING key`,
        [
          key,
          manifest.name,
          manifest.version,
          manifest.runtime,
          manifest.concurrency,
          JSON.stringify(manifest),
          moduleDigest,
          now,
          tenant,
          shared ? 1 : 0,
        ],
      );
      if (inserted.length === 1) return { key, manifest, moduleDigest, createdAt: now, tenant, shared };
      const [row] = await tx.q<Database['agents']>('SELECT * FROM agents WHERE key = $1 FOR UPDATE', [key]);
      const existing = rowToAgent(row!);
      const { baseDir: _b, ...existingComparable } = existing.manifest;
      if (
        canonicalJson(existingComparable) !== canonicalJson(comparable) ||
        existing.moduleDigest !== moduleDigest
      ) {
        throw new WardenError(
          'AGENT_VERSION_CONFLICT',
          `Agent ${key} is already registered with a different manifest or code${existing.moduleDigest && moduleDigest && existing.moduleDigest !== moduleDigest ? ` (registered code sha256 ${existing.moduleDigest.slice(0, 12)}…, this code ${moduleDigest.slice(0, 12)}…)` : ''}. Agent versions are immutable so that provenance stays meaningful: bump metadata.version in agent.yaml and register again.`,
          { details: { agent: key, registeredDigest: existing.moduleDigest, digest: moduleDigest } },
        );
      }
      if (shared && !existing.shared) {
        await tx.q('UPDATE agents SET shared = 1 WHERE key = $1', [key]);
        return { ...existing, shared: true };
      }
      return existing;
    });
    this.digests.set(key, out.moduleDigest);
    return out;
  }

  async getAgent(key: string): Promise<AgentRecord | undefined> {
    const rows = await this.q<Database['agents']>('getAgent', 'SELECT * FROM agents WHERE key = $1', [key]);
    return rows[0] ? rowToAgent(rows[0]) : undefined;
  }

  async listAgents(filter: { tenant?: string } = {}): Promise<AgentRecord[]> {
    const rows = await this.q<Database['agents']>(
      'listAgents',
      'SELECT * FROM agents WHERE $1::text IS NULL OR tenant = $1 OR shared = 1 ORDER BY name, created_at',
      [filter.tenant ?? null],
    );
    return rows.map(rowToAgent);
  }

  // ---- tasks: hot path ------------------------------------------------------------------------

  async submit(tasks: readonly NewTask[]): Promise<SubmitOutcome[]> {
    if (tasks.length === 0) return [];
    if (this.submitFitsOneStatement(tasks)) {
      const done = await this.commitInOneStatement(
        'submit',
        tasks[0]!.sessionId,
        'warden_submit_one',
        (tx) => {
          for (const t of tasks) this.recordSubmit(tx, t);
          return { ctes: `ins AS (${SUBMIT_INSERT})`, values: submitValues(tasks), applied: 'true' };
        },
      );
      if (done) return tasks.map((t) => ({ task: newTaskView(t), deduplicated: false }));
    }
    return this.tx('submit', async (tx) => (await this.submitIn(tx, tasks)).outcomes);
  }

  /** Whether a batch of submits may be written as one statement: one session, no idempotency keys. */
  private submitFitsOneStatement(tasks: readonly NewTask[]): boolean {
    const sessionId = tasks[0]!.sessionId;
    for (const t of tasks) {
      if (t.sessionId !== sessionId || t.idempotencyKey !== null) return false;
      if (t.flags?.some((flag) => flag.sessionId !== sessionId)) return false;
    }
    return this.oneStatementLikely(sessionId);
  }

  /** The provenance, flags and notification of a new task. */
  private recordSubmit(tx: PgTx, t: NewTask): void {
    tx.chain.add(t.sessionId, records.taskSubmitted(t));
    if (t.flags?.length) {
      tx.flags(t.flags);
      tx.chain.add(t.flags[0]!.sessionId, records.governanceFlagged(t.flags)!);
    }
    tx.notify(t.id, 'queued', t.sessionId);
  }

  async submitAndClaim(
    tasks: readonly NewTask[],
    next: ClaimRequest,
  ): Promise<{ outcomes: SubmitOutcome[]; next: ClaimOutcome }> {
    const claiming = next.runnable.length > 0 && next.limit > 0;
    if (!claiming)
      return { outcomes: await this.submit(tasks), next: { claimed: [], expired: [], nextRunAfter: null } };
    return this.tx('submit', async (tx) => {
      const { outcomes, look } = await this.submitIn(tx, tasks, claiming ? next : undefined);
      const claimed = claiming
        ? await this.claimIn(tx, next, look)
        : { claimed: [], expired: [], nextRunAfter: null };
      return { outcomes, next: claimed };
    });
  }

  /** Inserts the tasks; with `lookFor`, the same statement also makes that claim's look (when it can). */
  private async submitIn(
    tx: PgTx,
    tasks: readonly NewTask[],
    lookFor?: ClaimRequest,
  ): Promise<{ outcomes: SubmitOutcome[]; look?: Look }> {
    const out: SubmitOutcome[] = [];
    const plain: NewTask[] = [];
    for (const t of tasks) {
      if (t.idempotencyKey !== null) {
        // Keyed tasks one at a time: a concurrent submit with the same key waits on the unique index.
        const inserted = await tx.q(
          `INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after,
             idempotency_key, input, deadline, timeout_ms, metadata, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $9, $10, $11, $12, $12)
           ON CONFLICT (session_id, idempotency_key) DO NOTHING RETURNING id`,
          [
            t.id,
            t.sessionId,
            t.agentKey,
            priorityLevel(t.priority),
            t.maxAttempts,
            t.now,
            t.idempotencyKey,
            t.inputJson,
            t.deadline,
            t.timeoutMs,
            JSON.stringify(t.metadata),
            t.now,
          ],
        );
        if (inserted.length === 0) {
          const [row] = await tx.q<TaskRow>(
            'SELECT * FROM tasks WHERE session_id = $1 AND idempotency_key = $2',
            [t.sessionId, t.idempotencyKey],
          );
          out.push({ task: rowToTask(row!), deduplicated: true });
          continue;
        }
      } else plain.push(t);
      this.recordSubmit(tx, t);
      out.push({ task: newTaskView(t), deduplicated: false });
    }
    if (plain.length === 0) return { outcomes: out };
    const values = submitValues(plain);
    if (!lookFor) {
      await tx.named('warden_submit', SUBMIT_SQL, values);
      return { outcomes: out };
    }
    // The insert and the claim's look in one statement (one round trip fewer on the way to running).
    const [look] = await tx.named<Look>('warden_submit_look', SUBMIT_LOOK_SQL, [
      ...values,
      ...lookValues(lookFor),
    ]);
    return { outcomes: out, look: look! };
  }

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    if (req.runnable.length === 0) return { claimed: [], expired: [], nextRunAfter: null };
    return this.tx('claim', (tx) => this.claimIn(tx, req));
  }

  /**
   * The claim, in three statements inside the caller's transaction:
   * 1. a look (no row locks) at the first due candidates of sessions and versions below their caps, which
   *    takes advisory transaction locks for the sessions and agent versions among them, in key order: one
   *    stripe of a key far below its cap, all stripes of the others (see STRIPES);
   * 2. the claim itself, ONE statement: it counts the running tasks of those sessions and versions (its
   *    snapshot starts after the locks, so it sees every claim that held them and committed), locks
   *    candidates FOR UPDATE SKIP LOCKED in (priority, id) order, keeps those that fit the caps (a probing
   *    version: one, if none of its tasks runs anywhere) and marks them running;
   * 3. expiring candidates whose deadline has passed (rare: only when statement 1 saw one).
   * Two workers claiming for one session or version take turns for the length of a claim; workers on
   * different sessions and versions do not wait for each other.
   */
  private async claimIn(tx: PgTx, req: ClaimRequest, prefetched?: Look): Promise<ClaimOutcome> {
    const window = lookWindow(req);
    const look = prefetched ?? (await tx.named<Look>('warden_look', LOOK_SQL, lookValues(req)))[0];
    const expired: string[] = [];
    for (const e of look?.expired ?? []) {
      if (await this.expire(tx, e, req.now)) expired.push(e.id);
    }
    const claimed: ClaimedTask[] = [];
    if (look?.sessions?.length) {
      const leaseUntil = req.now + req.leaseMs;
      const rows = await tx.named<{
        id: string;
        session_id: string;
        agent_key: string;
        priority: number;
        attempts: number;
        max_attempts: number;
        input: string;
        deadline: number | null;
        timeout_ms: number | null;
        metadata: string;
        created_at: string | number;
      }>(
        'warden_claim',
        `WITH running AS (
           SELECT session_id, agent_key, count(*) AS n FROM tasks
           WHERE state = 'running' AND (session_id = ANY($2::text[]) OR agent_key = ANY($3::text[]))
           GROUP BY 1, 2
         ), rs AS (SELECT session_id, sum(n) AS n FROM running GROUP BY 1),
         ra AS (SELECT agent_key, sum(n) AS n FROM running GROUP BY 1),
         cand AS (
           -- Per agent version, its first due tasks from its own index range (tasks_queued_agent), locked
           -- unless another claim holds them (those it skips, reading on): the cost is versions x window
           -- index entries whatever the queue's size or the planner's statistics.
           SELECT q.* FROM (SELECT DISTINCT a FROM unnest($3::text[]) a WHERE NOT (a = ANY($4::text[]))) k
           CROSS JOIN LATERAL (
             SELECT id, session_id, agent_key, priority FROM tasks
             WHERE state = 'queued' AND agent_key = k.a AND run_after <= $1 AND session_id = ANY($2::text[])
               AND (deadline IS NULL OR deadline > $1)
             ORDER BY priority, id LIMIT $6
             FOR UPDATE SKIP LOCKED
           ) q
         ), ranked AS (
           SELECT c.*, row_number() OVER (PARTITION BY c.session_id ORDER BY c.priority, c.id) AS s_rank,
                  row_number() OVER (PARTITION BY c.agent_key ORDER BY c.priority, c.id) AS a_rank
           FROM cand c
         ), chosen AS (
           SELECT r.id FROM ranked r
           LEFT JOIN sessions s ON s.id = r.session_id
           LEFT JOIN agents a ON a.key = r.agent_key
           LEFT JOIN rs ON rs.session_id = r.session_id
           LEFT JOIN ra ON ra.agent_key = r.agent_key
           WHERE CASE WHEN r.session_id = ANY($10::text[])
                   THEN r.s_rank <= ${FAST_MAX} AND coalesce(rs.n, 0) + r.s_rank + ${(STRIPES - 1) * FAST_MAX} <= s.max_concurrency
                   ELSE coalesce(rs.n, 0) + r.s_rank <= coalesce(s.max_concurrency, 2147483647) END
             AND CASE WHEN r.agent_key = ANY($11::text[])
                   THEN r.a_rank <= ${FAST_MAX} AND coalesce(ra.n, 0) + r.a_rank + ${(STRIPES - 1) * FAST_MAX} <= a.concurrency
                   ELSE coalesce(ra.n, 0) + r.a_rank <= coalesce(a.concurrency, 2147483647) END
             AND (NOT (r.agent_key = ANY($5::text[])) OR (coalesce(ra.n, 0) = 0 AND r.a_rank = 1))
           ORDER BY r.priority, r.id LIMIT $7
         )
         UPDATE tasks t SET state = 'running', attempts = t.attempts + 1, lease_owner = $8, lease_until = $9,
           updated_at = $1
         FROM chosen WHERE t.id = chosen.id
         RETURNING t.id, t.session_id, t.agent_key, t.priority, t.attempts, t.max_attempts, t.input, t.deadline,
           t.timeout_ms, t.metadata, t.created_at`,
        [
          req.now,
          look.sessions,
          look.agents ?? [],
          req.held,
          req.probing,
          window,
          req.limit,
          req.owner,
          leaseUntil,
          look.fast_sessions ?? [],
          look.fast_agents ?? [],
        ],
      );
      rows.sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const c of rows) {
        const attempt = Number(c.attempts);
        tx.chain.add(c.session_id, records.taskStarted(c.id, c.agent_key, attempt, req.owner, req.now));
        tx.notify(c.id, 'running', c.session_id);
        claimed.push({
          id: c.id,
          sessionId: c.session_id,
          agentKey: c.agent_key,
          priority: c.priority,
          attempt,
          maxAttempts: c.max_attempts,
          inputJson: c.input,
          deadline: c.deadline === null ? null : Number(c.deadline),
          timeoutMs: c.timeout_ms,
          leaseUntil,
          metadataJson: c.metadata,
          // A first attempt waited since its submit; a retry's requeue time is not returned here.
          ...(attempt === 1 ? { queuedAt: Number(c.created_at) } : {}),
        });
      }
    }
    let nextRunAfter: number | null = null;
    if (claimed.length === 0) {
      const [row] = await tx.named<{ t: number | null }>(
        'warden_next_run',
        "SELECT min(run_after) AS t FROM tasks WHERE state = 'queued' AND run_after > $1",
        [req.now],
      );
      nextRunAfter = row?.t === null || row?.t === undefined ? null : Number(row.t);
    }
    // Everything due that this worker may run was claimed now: until new work arrives (a submit, a retry, a
    // release, a timer), a freed slot has nothing to claim.
    const drained = look !== undefined && !look.more && Number(look.seen) === claimed.length + expired.length;
    return { claimed, expired, nextRunAfter, drained };
  }

  private async expire(
    tx: PgTx,
    c: { id: string; session_id: string; agent_key: string; deadline: number; attempts: number },
    now: number,
  ): Promise<boolean> {
    const errorJson = JSON.stringify(records.deadlineError(Number(c.deadline)));
    const n = await tx.count(
      `UPDATE tasks SET state = 'failed', last_error = $1, updated_at = $2
       WHERE id = (SELECT id FROM tasks WHERE id = $3 AND state = 'queued' FOR UPDATE SKIP LOCKED)`,
      [errorJson, now, c.id],
    );
    if (n !== 1) return false;
    tx.chain.add(
      c.session_id,
      records.deadlineExpired(c.id, c.agent_key, now),
      tx.resultAt({
        taskId: c.id,
        status: 'failed',
        output: null,
        error: errorJson,
        attempts: Number(c.attempts),
        usage: null,
        outputDigest: null,
        finishedAt: now,
      }),
    );
    tx.notify(c.id, 'failed', c.session_id);
    return true;
  }

  async finish(
    finishes: readonly Finish[],
    breakers: readonly BreakerOutcomes[],
    next?: ClaimRequest,
  ): Promise<FinishOutcome> {
    const claiming = next !== undefined && next.runnable.length > 0 && next.limit > 0;
    if (!claiming && breakers.length === 0 && this.finishFitsOneStatement(finishes)) {
      const done = await this.commitInOneStatement(
        'finish',
        finishes[0]!.sessionId,
        'warden_finish_one',
        (tx) => {
          for (const f of finishes) this.recordFinish(tx, f);
          return {
            ctes: FENCE_CTE,
            values: [...fenceValues(finishes), finishes.length],
            applied: '(SELECT count(*) FROM fin) = $8::bigint',
          };
        },
      );
      if (done) return { applied: finishes.map(() => true), breakers: [] };
    }
    return this.tx('finish', async (tx) => {
      const applied: boolean[] = [];
      // Fencing: a finish applies only from the owner of the lease, on the attempt it claimed, while the task
      // still runs. All of the batch in one statement; what it returns says which applied.
      let look: Look | undefined;
      let fencedIds: string[] = [];
      if (finishes.length > 0 && claiming) {
        // The fence and the next claim's look in one statement (one round trip fewer).
        const [row] = await tx.named<Look & { fenced: string[] | null }>(
          'warden_fence_look',
          FENCE_LOOK_SQL,
          [...fenceValues(finishes), ...lookValues(next)],
        );
        look = row!;
        fencedIds = row!.fenced ?? [];
      } else if (finishes.length > 0)
        fencedIds = (await tx.named<{ id: string }>('warden_fence', FENCE_SQL, fenceValues(finishes))).map(
          (r) => r.id,
        );
      const fenced = new Set(fencedIds);
      for (const f of finishes) {
        // A task named twice in one batch applies once, as the first.
        const ok = fenced.delete(f.taskId);
        applied.push(ok);
        if (!ok) continue;
        if (f.kind === 'dead')
          await tx.q(
            'INSERT INTO dead_letters (task_id, session_id, agent_key, error, attempts, dead_at) VALUES ($1, $2, $3, $4, $5, $6)',
            [f.taskId, f.sessionId, f.agentKey, JSON.stringify(f.error), f.attempt, f.now],
          );
        this.recordFinish(tx, f);
      }
      const claimed = claiming ? await this.claimIn(tx, next, look) : undefined;
      // Last before the chain flush and commit: the breaker rows stay locked as briefly as possible.
      const stored = await applyBreakers(tx, breakers);
      return { applied, breakers: stored, ...(claimed ? { next: claimed } : {}) };
    });
  }

  /** The provenance, result row, flags and notification of a finish that applied. */
  private recordFinish(tx: PgTx, f: Finish): void {
    if (f.kind === 'retry') {
      tx.chain.add(f.sessionId, records.taskFinished(f));
      tx.notify(f.taskId, 'queued', f.sessionId);
      return;
    }
    if (f.flags?.length) {
      tx.flags(f.flags);
      tx.chain.add(f.flags[0]!.sessionId, records.governanceFlagged(f.flags)!);
    }
    const withOutput = f.kind === 'succeeded' || f.kind === 'quarantined';
    if (withOutput && f.receipt) tx.chain.add(f.sessionId, records.taskReceipt({ ...f, receipt: f.receipt }));
    tx.chain.add(
      f.sessionId,
      records.taskFinished(f),
      tx.resultAt({
        taskId: f.taskId,
        status: f.kind,
        output: withOutput ? f.outputJson : null,
        error: f.kind === 'succeeded' ? null : JSON.stringify(f.error),
        attempts: f.attempt,
        usage: f.usage ? JSON.stringify(f.usage) : null,
        outputDigest: withOutput ? f.outputDigest : null,
        finishedAt: f.now,
      }),
    );
    tx.notify(f.taskId, f.kind, f.sessionId);
  }

  /**
   * Whether a batch of finishes may be written as one statement: one session, whose chain head this process
   * knows and has not lately found moved, each task once, and none dead (its dead letter is a row more).
   */
  private finishFitsOneStatement(finishes: readonly Finish[]): boolean {
    if (finishes.length === 0) return false;
    const sessionId = finishes[0]!.sessionId;
    const ids = new Set<string>();
    for (const f of finishes) {
      if (f.sessionId !== sessionId || f.kind === 'dead' || ids.has(f.taskId)) return false;
      if (f.flags?.some((flag) => flag.sessionId !== sessionId)) return false;
      ids.add(f.taskId);
    }
    return this.oneStatementLikely(sessionId);
  }

  /**
   * Whether a one-statement transaction on the session is worth trying: this process knows its chain head,
   * and its last such attempts did not find the head moved by another writer (each miss costs a statement
   * before the usual transaction; a session several nodes write to skips the next ONE_STATEMENT_BACKOFF).
   */
  private oneStatementLikely(sessionId: string): boolean {
    if (!this.chainHeads.has(sessionId)) return false;
    const skip = this.oneStatementSkips.get(sessionId);
    if (skip === undefined) return true;
    if (skip <= 1) this.oneStatementSkips.delete(sessionId);
    else this.oneStatementSkips.set(sessionId, skip - 1);
    return false;
  }

  /**
   * Runs `build` on a connection outside any transaction and sends what it collected as one autocommit
   * statement (PgTx.commitAsOneStatement). False when it did not fit or aborted itself (nothing was written:
   * the caller runs the usual transaction); a failure of the statement itself throws as tx() does.
   */
  private async commitInOneStatement(
    what: string,
    sessionId: string,
    name: string,
    build: (tx: PgTx) => OneStatementWork,
  ): Promise<boolean> {
    const { client, tx } = await this.checkout(what);
    let broken: Error | undefined;
    try {
      if (!(await tx.commitAsOneStatement(name, build(tx)))) return false;
      this.committed(tx);
      return true;
    } catch (err) {
      if (isConnectionError(err)) {
        // Whether it committed is unknown, as for a lost COMMIT: say so rather than write it again.
        broken = err as Error;
        throw storageError(err, what, this.parts.target);
      }
      const code = (err as { code?: string }).code;
      if (code === ONE_STATEMENT_ABORTED || isRetryable(err)) {
        this.oneStatementSkips.set(sessionId, ONE_STATEMENT_BACKOFF);
        return false;
      }
      throw storageError(err, what, this.parts.target);
    } finally {
      client.release(broken);
    }
  }

  async renewLeases(owner: string, taskIds: readonly string[], leaseUntil: number): Promise<void> {
    if (taskIds.length === 0) return;
    await this.q(
      'renewLeases',
      "UPDATE tasks SET lease_until = $1 WHERE id = ANY($2::text[]) AND state = 'running' AND lease_owner = $3",
      [leaseUntil, taskIds, owner],
    );
  }

  async reapExpiredLeases(now: number): Promise<number> {
    return this.tx('reapExpiredLeases', async (tx) => {
      const rows = await tx.q<TaskRow>(
        `SELECT * FROM tasks WHERE state = 'running' AND lease_until < $1 ORDER BY lease_until LIMIT 500
         FOR UPDATE SKIP LOCKED`,
        [now],
      );
      for (const r of rows) {
        const attempts = Number(r.attempts);
        if (Number(r.cancel_requested)) {
          await this.terminate(tx, r, 'cancelled', records.reapedCancelError(), now);
          continue;
        }
        const error = records.leaseExpiredError(attempts);
        if (attempts >= Number(r.max_attempts)) {
          await this.terminate(tx, r, 'dead', error, now);
        } else {
          await tx.q(
            `UPDATE tasks SET state = 'queued', run_after = $1, last_error = $2, lease_owner = NULL, lease_until = NULL,
               updated_at = $1 WHERE id = $3`,
            [now, JSON.stringify(error), r.id],
          );
          tx.chain.add(r.session_id, records.leaseExpired(r.id, r.agent_key, attempts, r.lease_owner, now));
          tx.notify(r.id, 'queued', r.session_id);
        }
      }
      return rows.length;
    });
  }

  private async terminate(
    tx: PgTx,
    r: TaskRow,
    state: 'dead' | 'cancelled',
    error: SerializedError,
    now: number,
  ): Promise<void> {
    const errorJson = JSON.stringify(error);
    const attempts = Number(r.attempts);
    await tx.q(
      `UPDATE tasks SET state = $1, last_error = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3
       WHERE id = $4`,
      [state, errorJson, now, r.id],
    );
    if (state === 'dead')
      await tx.q(
        'INSERT INTO dead_letters (task_id, session_id, agent_key, error, attempts, dead_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [r.id, r.session_id, r.agent_key, errorJson, attempts, now],
      );
    tx.chain.add(
      r.session_id,
      records.reapedTerminal(state, r.id, r.agent_key, attempts, error, now),
      tx.resultAt({
        taskId: r.id,
        status: state,
        output: null,
        error: errorJson,
        attempts,
        usage: null,
        outputDigest: null,
        finishedAt: now,
      }),
    );
    tx.notify(r.id, state, r.session_id);
  }

  async cancel(taskId: string, now: number): Promise<{ state: TaskState; cancelledNow: boolean }> {
    return this.tx('cancel', async (tx) => {
      const [row] = await tx.q<TaskRow>('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
      if (!row) throw new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
      if (row.state === 'queued') {
        await tx.q("UPDATE tasks SET state = 'cancelled', updated_at = $1 WHERE id = $2", [now, taskId]);
        tx.chain.add(
          row.session_id,
          records.cancelledQueued(taskId, row.agent_key, now),
          tx.resultAt({
            taskId,
            status: 'cancelled',
            output: null,
            error: records.cancelledQueuedErrorJson(),
            attempts: Number(row.attempts),
            usage: null,
            outputDigest: null,
            finishedAt: now,
          }),
        );
        tx.notify(taskId, 'cancelled', row.session_id);
        return { state: 'cancelled' as TaskState, cancelledNow: true };
      }
      if (row.state === 'running')
        await tx.q('UPDATE tasks SET cancel_requested = 1, updated_at = $1 WHERE id = $2', [now, taskId]);
      return { state: row.state as TaskState, cancelledNow: false };
    });
  }

  async cancelRequested(taskIds: readonly string[]): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.q<{ id: string }>(
      'cancelRequested',
      "SELECT id FROM tasks WHERE cancel_requested = 1 AND state = 'running' AND id = ANY($1::text[])",
      [taskIds],
    );
    return rows.map((r) => r.id);
  }

  // ---- tasks: reads ---------------------------------------------------------------------------

  async getTask(taskId: string): Promise<Task | undefined> {
    const rows = await this.q<TaskRow>('getTask', 'SELECT * FROM tasks WHERE id = $1', [taskId]);
    return rows[0] ? rowToTask(rows[0]) : undefined;
  }

  async listTasks(filter: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: (n: () => string) => string, ...values: unknown[]) => {
      where.push(
        clause(() => {
          args.push(values.shift());
          return `$${args.length}`;
        }),
      );
    };
    if (filter.sessionId) add((p) => `session_id = ${p()}`, filter.sessionId);
    if (filter.tenant)
      add((p) => `session_id IN (SELECT id FROM sessions WHERE tenant = ${p()})`, filter.tenant);
    if (filter.state) add((p) => `state = ${p()}`, filter.state);
    if (filter.agentKey) add((p) => `agent_key = ${p()}`, filter.agentKey);
    if (filter.agentName) {
      const name = filter.agentName.replace(/[\\%_]/g, (c) => `\\${c}`);
      add(
        (p) => `(agent_key LIKE ${p()} ESCAPE '\\' OR agent_key LIKE ${p()} ESCAPE '\\')`,
        `${name}@%`,
        `%/${name}@%`,
      );
    }
    if (filter.before) add((p) => `id < ${p()}`, filter.before);
    args.push(Math.min(filter.limit ?? 100, 10_000));
    const rows = await this.q<TaskRow>(
      'listTasks',
      `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    return rows.map(rowToTask);
  }

  async getResult(taskId: string): Promise<TaskResult | undefined> {
    const rows = await this.q<CheckedResultRow>('getResult', `${CHECKED_RESULT} WHERE r.task_id = $1`, [
      taskId,
    ]);
    return rows[0] ? checkedResult(rows[0]) : undefined;
  }

  async getResults(taskIds: readonly string[]): Promise<TaskResult[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.q<CheckedResultRow>(
      'getResults',
      `${CHECKED_RESULT} WHERE r.task_id = ANY($1::text[])`,
      [taskIds],
    );
    return rows.map(checkedOrFailedResult);
  }

  async inFlightByAgent(tenant?: string): Promise<Map<string, number>> {
    const rows =
      tenant === undefined
        ? await this.q<{ agent_key: string; n: number }>(
            'inFlightByAgent',
            "SELECT agent_key, count(*) AS n FROM tasks WHERE state IN ('queued', 'running') GROUP BY agent_key",
          )
        : await this.q<{ agent_key: string; n: number }>(
            'inFlightByAgentOfTenant',
            `SELECT t.agent_key, count(*) AS n FROM tasks t JOIN sessions s ON s.id = t.session_id
             WHERE t.state IN ('queued', 'running') AND s.tenant = $1 GROUP BY t.agent_key`,
            [tenant],
          );
    return new Map(rows.map((r) => [r.agent_key, Number(r.n)]));
  }

  async stats(options: { light?: boolean } = {}): Promise<StoreStats> {
    const byState: Record<string, number> = {};
    const rows = await this.q<{ state: string; n: number }>(
      'stats',
      options.light
        ? "SELECT state, count(*) AS n FROM tasks WHERE state IN ('queued', 'running') GROUP BY state"
        : 'SELECT state, count(*) AS n FROM tasks GROUP BY state',
    );
    if (options.light) {
      byState['queued'] = 0;
      byState['running'] = 0;
    }
    for (const r of rows) byState[r.state] = Number(r.n);
    const [dl] = await this.q<{ n: number }>('stats', 'SELECT count(*) AS n FROM dead_letters');
    const queuedByPriority: Record<number, number> = {};
    for (const r of await this.q<{ priority: number; n: number }>(
      'stats',
      "SELECT priority, count(*) AS n FROM tasks WHERE state = 'queued' GROUP BY priority",
    ))
      queuedByPriority[r.priority] = Number(r.n);
    return { byState, deadLetters: Number(dl?.n ?? 0), queuedByPriority };
  }

  // ---- dead-letter queue ----------------------------------------------------------------------

  async listDeadLetters(filter: {
    sessionId?: string;
    tenant?: string;
    limit?: number;
  }): Promise<DeadLetter[]> {
    const rows = await this.q<Database['dead_letters']>(
      'listDeadLetters',
      `SELECT * FROM dead_letters
       WHERE ($1::text IS NULL OR session_id = $1)
         AND ($2::text IS NULL OR session_id IN (SELECT id FROM sessions WHERE tenant = $2))
       ORDER BY dead_at DESC LIMIT $3`,
      [filter.sessionId ?? null, filter.tenant ?? null, filter.limit ?? 100],
    );
    return rows.map(rowToDeadLetter);
  }

  async replayDeadLetter(taskId: string, now: number, attempts?: number): Promise<Task> {
    return this.tx('replayDeadLetter', async (tx) => {
      const [dl] = await tx.q<Database['dead_letters']>(
        'DELETE FROM dead_letters WHERE task_id = $1 RETURNING *',
        [taskId],
      );
      if (!dl)
        throw new WardenError('TASK_NOT_FOUND', `Task ${taskId} is not in the dead-letter queue`, {
          details: { taskId },
        });
      await tx.q('DELETE FROM results WHERE task_id = $1', [taskId]);
      const [row] = await tx.q<TaskRow>(
        `UPDATE tasks SET state = 'queued', max_attempts = attempts + coalesce($3::int, max_attempts), run_after = $1,
           last_error = NULL, cancel_requested = 0, lease_owner = NULL, lease_until = NULL, updated_at = $1
         WHERE id = $2 RETURNING *`,
        [now, taskId, attempts ?? null],
      );
      tx.chain.add(dl.session_id, records.taskReplayed(taskId, dl.agent_key, now));
      tx.notify(taskId, 'queued', dl.session_id);
      return rowToTask(row!);
    });
  }

  async purgeDeadLetters(taskIds: readonly string[] | 'all', now: number, tenant?: string): Promise<number> {
    return this.tx('purgeDeadLetters', async (tx) => {
      const rows = await tx.q<Database['dead_letters']>(
        `DELETE FROM dead_letters
         WHERE ($1::text[] IS NULL OR task_id = ANY($1::text[]))
           AND ($2::text IS NULL OR session_id IN (SELECT id FROM sessions WHERE tenant = $2))
         RETURNING *`,
        [taskIds === 'all' ? null : taskIds, tenant ?? null],
      );
      // The order SQLite reads them in (its rowid order is insertion order): by when they died, then id.
      rows.sort((a, b) => Number(a.dead_at) - Number(b.dead_at) || (a.task_id < b.task_id ? -1 : 1));
      for (const r of rows) tx.chain.add(r.session_id, records.taskPurged(r.task_id, r.agent_key, now));
      return rows.length;
    });
  }

  async getBreakers(): Promise<Map<string, BreakerSnapshot>> {
    const rows = await this.q<Database['circuit_breakers']>('getBreakers', 'SELECT * FROM circuit_breakers');
    return new Map(rows.map((r) => [r.agent_key, rowToBreaker(r)]));
  }

  async resetBreaker(
    agentKey: string,
    now: number,
    data: Record<string, unknown>,
  ): Promise<BreakerSnapshot | undefined> {
    return this.tx('resetBreaker', async (tx) => {
      const [row] = await tx.q<Database['circuit_breakers']>(
        'SELECT * FROM circuit_breakers WHERE agent_key = $1 FOR UPDATE',
        [agentKey],
      );
      if (!row || (row.state === 'closed' && Number(row.consecutive_failures) === 0)) return undefined;
      const previous = rowToBreaker(row);
      await tx.q('DELETE FROM circuit_breakers WHERE agent_key = $1', [agentKey]);
      const sessions = await tx.q<{ session_id: string }>(
        "SELECT DISTINCT session_id FROM tasks WHERE agent_key = $1 AND state = 'queued'",
        [agentKey],
      );
      for (const { session_id } of sessions)
        tx.chain.add(session_id, records.breakerReset(agentKey, now, data, previous));
      return previous;
    });
  }

  // ---- canary rollouts ------------------------------------------------------------------------

  async getRollout(tenant: string, name: string, canaryKey: string): Promise<RolloutRecord | undefined> {
    const [row] = await this.q<Database['agent_rollouts']>(
      'getRollout',
      'SELECT * FROM agent_rollouts WHERE tenant = $1 AND name = $2 AND canary_key = $3',
      [tenant, name, canaryKey],
    );
    return row ? rowToRollout(row) : undefined;
  }

  async listRollouts(filter: { tenant?: string; name?: string }): Promise<RolloutRecord[]> {
    const rows = await this.q<Database['agent_rollouts']>(
      'listRollouts',
      'SELECT * FROM agent_rollouts WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR name = $2) ORDER BY started_at DESC',
      [filter.tenant ?? null, filter.name ?? null],
    );
    return rows.map(rowToRollout);
  }

  async recordRollout(
    r: RolloutRecord,
    sessionId: string,
    data: Record<string, unknown>,
  ): Promise<RolloutRecord> {
    return this.tx('recordRollout', async (tx) => {
      const changed =
        r.state === 'canary'
          ? await tx.q(
              `INSERT INTO agent_rollouts (tenant, name, canary_key, stable_key, state, share, started_at, decided_at, reason)
               VALUES ($1, $2, $3, $4, 'canary', $5, $6, NULL, NULL) ON CONFLICT DO NOTHING RETURNING name`,
              [r.tenant, r.name, r.canaryKey, r.stableKey, r.share, r.startedAt],
            )
          : await tx.q(
              `UPDATE agent_rollouts SET state = $1, decided_at = $2, reason = $3
               WHERE tenant = $4 AND name = $5 AND canary_key = $6 AND state = 'canary' RETURNING name`,
              [r.state, r.decidedAt, r.reason, r.tenant, r.name, r.canaryKey],
            );
      if (changed.length > 0)
        tx.chain.add(sessionId, records.rolloutRecorded(r, r.decidedAt ?? r.startedAt, data));
      const [row] = await tx.q<Database['agent_rollouts']>(
        'SELECT * FROM agent_rollouts WHERE tenant = $1 AND name = $2 AND canary_key = $3',
        [r.tenant, r.name, r.canaryKey],
      );
      return rowToRollout(row!);
    });
  }

  // ---- logs -----------------------------------------------------------------------------------

  async appendLogs(lines: readonly LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.tx('appendLogs', async (tx) => {
      await tx.q(
        `INSERT INTO task_logs (task_id, attempt, line, stream, message, at)
         SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::bigint[])
         ON CONFLICT DO NOTHING`,
        [
          lines.map((l) => l.taskId),
          lines.map((l) => l.attempt),
          lines.map((l) => l.line),
          lines.map((l) => l.stream),
          lines.map((l) => l.message),
          lines.map((l) => l.at),
        ],
      );
      for (const l of lines) tx.notifyLogs(l.taskId);
    });
  }

  async readLogs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]> {
    const rows = await this.q<Database['task_logs']>(
      'readLogs',
      `SELECT * FROM task_logs WHERE task_id = $1 AND (attempt > $2 OR (attempt = $2 AND line > $3))
       ORDER BY attempt, line LIMIT 10000`,
      [taskId, after?.attempt ?? -1, after?.line ?? -1],
    );
    return rows.map((r) => ({
      taskId: r.task_id,
      attempt: r.attempt,
      line: r.line,
      stream: r.stream as LogLine['stream'],
      message: r.message,
      at: Number(r.at),
    }));
  }

  // ---- API keys and traces --------------------------------------------------------------------

  async createApiKey(k: ApiKeyRecord, keyHash: string): Promise<void> {
    await this.q(
      'createApiKey',
      'INSERT INTO api_keys (id, tenant, role, name, key_hash, created_at, revoked_at, scope) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)',
      [k.id, k.tenant, k.role, k.name, keyHash, k.createdAt, k.installation ? 'installation' : 'tenant'],
    );
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.q<Database['api_keys']>(
      'findApiKey',
      'SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [keyHash],
    );
    return rows[0] ? rowToApiKey(rows[0]) : undefined;
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    const rows = await this.q<Database['api_keys']>(
      'listApiKeys',
      'SELECT * FROM api_keys WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_at, id',
      [tenant ?? null],
    );
    return rows.map(rowToApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const rows = await this.q(
      'revokeApiKey',
      'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id',
      [now, id],
    );
    return rows.length === 1;
  }

  async createTrace(t: Omit<TraceRecord, 'data'> & { dataJson: string }): Promise<TraceRecord> {
    return this.tx('createTrace', async (tx) => {
      await tx.q(
        'INSERT INTO traces (id, session_id, task_id, data, digest, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [t.id, t.sessionId, t.taskId, t.dataJson, t.digest, t.createdAt],
      );
      tx.chain.add(t.sessionId, records.traceCreated(t));
      return {
        id: t.id,
        sessionId: t.sessionId,
        taskId: t.taskId,
        data: JSON.parse(t.dataJson) as unknown,
        digest: t.digest,
        createdAt: t.createdAt,
      };
    });
  }

  async getTrace(id: string): Promise<TraceRecord | undefined> {
    const rows = await this.q<Database['traces']>('getTrace', 'SELECT * FROM traces WHERE id = $1', [id]);
    const r = rows[0];
    return r
      ? {
          id: r.id,
          sessionId: r.session_id,
          taskId: r.task_id,
          data: JSON.parse(r.data) as unknown,
          digest: r.digest,
          createdAt: Number(r.created_at),
        }
      : undefined;
  }

  async listTraces(f: TraceFilter): Promise<TraceSummary[]> {
    const rows = await this.q<Omit<Database['traces'], 'data'>>(
      'listTraces',
      `SELECT id, session_id, task_id, digest, created_at FROM traces
       WHERE ($1::text IS NULL OR session_id = $1)
         AND ($2::text IS NULL OR session_id IN (SELECT id FROM sessions WHERE tenant = $2))
         AND ($3::text IS NULL OR task_id = $3)
         AND ($4::bigint IS NULL OR created_at < $4 OR (created_at = $4 AND id < $5))
       ORDER BY created_at DESC, id DESC LIMIT $6`,
      [
        f.sessionId ?? null,
        f.tenant ?? null,
        f.taskId ?? null,
        f.before?.createdAt ?? null,
        f.before?.id ?? null,
        f.limit,
      ],
    );
    return rows.map((r) => ({
      id: r.id,
      sessionId: r.session_id,
      taskId: r.task_id,
      digest: r.digest,
      createdAt: Number(r.created_at),
    }));
  }

  async readTraceProvenance(sessionId: string, traceId: string): Promise<StoredLink[]> {
    const rows = await this.q<{ seq: number; prev_hash: string; hash: string; record: string }>(
      'readTraceProvenance',
      `SELECT seq, prev_hash, hash, record FROM provenance
       WHERE session_id = $1 AND record::jsonb ->> 'type' IN ('trace.created', 'trace.provenance')
         AND record::jsonb #>> '{data,traceId}' = $2
       ORDER BY seq`,
      [sessionId, traceId],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recordJson: r.record,
    }));
  }

  async appendTraceProvenance(
    traceId: string,
    event: { kind: string; data: Record<string, unknown> },
    now: number,
  ): Promise<{ seq: number; hash: string }> {
    let head: { seq: number; hash: string } | undefined;
    await this.tx('appendTraceProvenance', async (tx) => {
      const [row] = await tx.q<Database['traces']>(
        'SELECT id, session_id, task_id FROM traces WHERE id = $1',
        [traceId],
      );
      if (!row)
        throw new WardenError('TRACE_NOT_FOUND', `No trace with id ${traceId}`, { details: { traceId } });
      tx.chain.add(
        row.session_id,
        records.traceProvenanceEvent({ id: row.id, taskId: row.task_id }, event, now),
      );
      tx.afterLinked(async () => {
        head = tx.heads.get(row.session_id);
      });
    });
    return head!;
  }

  // ---- governance -----------------------------------------------------------------------------

  async recordGovernance(r: GovernanceRecord): Promise<void> {
    await this.tx('recordGovernance', async (tx) => {
      if (r.type !== 'governance.flagged')
        tx.chain.add(r.sessionId, records.governanceDecision({ ...r, type: r.type }));
      if (r.flags.length) {
        tx.flags(r.flags);
        tx.chain.add(r.flags[0]!.sessionId, records.governanceFlagged(r.flags)!);
      }
    });
  }

  async listFlags(filter: FlagFilter): Promise<TraceFlagRecord[]> {
    const rows = await this.q<Database['trace_flags']>(
      'listFlags',
      `SELECT * FROM trace_flags WHERE ($1::text[] IS NULL OR task_id = ANY($1::text[]))
         AND ($2::text IS NULL OR session_id = $2)
       ORDER BY created_at, id LIMIT $3`,
      [filter.taskIds ?? null, filter.sessionId ?? null, Math.min(filter.limit ?? 10_000, 100_000)],
    );
    return rows.map(rowToFlag);
  }

  async flagCounts(sessionId?: string): Promise<FlagCount[]> {
    const rows = await this.q<{ type: string; severity: number; agent_key: string; n: number }>(
      'flagCounts',
      `SELECT type, severity, coalesce(agent_key, '-') AS agent_key, count(*) AS n FROM trace_flags
       WHERE $1::text IS NULL OR session_id = $1 GROUP BY type, severity, agent_key`,
      [sessionId ?? null],
    );
    return rows.map((r) => ({
      type: r.type,
      severity: Number(r.severity),
      agentKey: r.agent_key,
      count: Number(r.n),
    }));
  }

  async releaseQuarantined(taskId: string, now: number, data: Record<string, unknown>): Promise<Task> {
    return this.tx('releaseQuarantined', async (tx) => {
      const [row] = await tx.q<TaskRow>('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [taskId]);
      if (!row) throw new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
      if (row.state !== 'quarantined')
        throw new WardenError('INVALID_STATE', `Task ${taskId} is ${row.state}, not quarantined`, {
          details: { taskId, state: row.state },
        });
      await tx.q("UPDATE tasks SET state = 'succeeded', last_error = NULL, updated_at = $1 WHERE id = $2", [
        now,
        taskId,
      ]);
      const [result] = await tx.q<{ output_digest: string | null }>(
        "UPDATE results SET status = 'succeeded', error = NULL WHERE task_id = $1 RETURNING output_digest",
        [taskId],
      );
      let seq = 0;
      tx.chain.add(
        row.session_id,
        records.taskReleased(taskId, row.agent_key, now, data, result?.output_digest ?? null),
        (s) => (seq = s),
      );
      // The release record now commits to the result row (status succeeded, the same output digest).
      tx.afterLinked(async () => {
        await tx.q('UPDATE results SET record_seq = $1 WHERE task_id = $2', [seq, taskId]);
      });
      tx.notify(taskId, 'succeeded', row.session_id);
      return rowToTask({ ...row, state: 'succeeded', last_error: null, updated_at: now });
    });
  }

  // ---- KPIs and feedback (kpis.ts) ------------------------------------------------------------

  async agentKpis(filter: KpiFilter): Promise<AgentKpi[]> {
    return this.tx('agentKpis', async (tx) => {
      // A report over many rows: compiling it (JIT, past jit_above_cost) took longer than running it.
      await tx.q('SET LOCAL jit = off');
      return kpis.agentKpis((_what, text, values) => tx.q(text, values), filter);
    });
  }

  async putFeedback(feedback: TaskFeedback): Promise<void> {
    await this.tx('putFeedback', (tx) => kpis.putFeedback(tx, feedback));
  }

  async tenantActivity(query: ActivityQuery): Promise<TenantActivity> {
    return this.tx('tenantActivity', async (tx) => {
      // One snapshot for all four reads; a report, so no JIT (as agentKpis).
      await tx.q('SET LOCAL jit = off');
      return overview.tenantActivity((_what, text, values) => tx.q(text, values), query);
    });
  }

  async agentHistory(agentKey: string, limit: number): Promise<AgentRunStat[]> {
    const rows = await this.q<{
      status: string;
      usage: string | null;
      bytes: number | null;
      finished_at: number;
    }>(
      'agentHistory',
      `SELECT r.status, r.usage, length(r.output) AS bytes, r.finished_at
       FROM (SELECT id FROM tasks WHERE agent_key = $1 ORDER BY id DESC LIMIT $2) t
       JOIN results r ON r.task_id = t.id ORDER BY t.id DESC LIMIT $3`,
      [agentKey, limit * 4, limit],
    );
    return rows.map((r) => ({
      status: r.status,
      wallMs: r.usage ? ((JSON.parse(r.usage) as { wallMs?: number }).wallMs ?? null) : null,
      outputBytes: r.bytes === null ? 0 : Number(r.bytes),
      finishedAt: Number(r.finished_at),
    }));
  }

  // ---- provenance -----------------------------------------------------------------------------

  async readChain(sessionId: string): Promise<StoredLink[]> {
    const rows = await this.q<{ seq: number; prev_hash: string; hash: string; record: string }>(
      'readChain',
      'SELECT seq, prev_hash, hash, record FROM provenance WHERE session_id = $1 ORDER BY seq',
      [sessionId],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recordJson: r.record,
    }));
  }

  /** Public keys of the registered, unrevoked node keys, by key id. */
  async trustedKeys(): Promise<Map<string, KeyObject>> {
    const rows = await this.q<{ key_id: string; public_key_pem: string }>(
      'trustedKeys',
      'SELECT key_id, public_key_pem FROM node_keys WHERE revoked_at IS NULL',
    );
    const out = new Map<string, KeyObject>();
    for (const r of rows) {
      try {
        out.set(r.key_id, createPublicKey(r.public_key_pem));
      } catch {
        // A malformed row trusts nothing.
      }
    }
    return out;
  }

  async verifyChain(sessionId: string): Promise<ChainVerification> {
    this.open();
    // What this process committed is its own to vouch for: sign it now rather than report it unsigned.
    await this.treeHeads.signDirty(sessionId).catch(() => undefined);
    const trusted = await this.trustedKeys();
    const reader = await this.openChainReader();
    try {
      const witnessed = this.parts.witness?.latest(sessionId);
      return await verifyStoredSession({
        reader,
        sessionId,
        key: this.parts.signer,
        trusted,
        ...(witnessed ? { witnessed } : {}),
        pacer: new Pacer(),
      });
    } catch (err) {
      throw storageError(err, 'verifyChain', this.parts.target);
    } finally {
      reader.close();
    }
  }

  async openChainReader(): Promise<ChainReader> {
    this.open();
    try {
      return await PgChainReader.open(this.pool);
    } catch (err) {
      throw storageError(err, 'openChainReader', this.parts.target);
    }
  }

  async witnessedHeads(): Promise<SignedTreeHead[]> {
    return this.parts.witness?.all() ?? [];
  }

  async latestTreeHead(sessionId: string): Promise<SignedTreeHead | undefined> {
    this.open();
    try {
      return await this.treeHeads.latest(sessionId);
    } catch (err) {
      throw storageError(err, 'latestTreeHead', this.parts.target);
    }
  }

  async signTreeHead(sessionId: string): Promise<SignedTreeHead | undefined> {
    this.open();
    try {
      return await this.treeHeads.signNow(sessionId);
    } catch (err) {
      throw storageError(err, 'signTreeHead', this.parts.target);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.treeHeads.close();
    } catch {
      // Unsigned growth is signed by the next commit or export of any node.
    }
    await this.pool.end().catch(() => undefined);
  }

  // ---- agent code (migration 0008; implemented in agent-code.ts) ------------------------------

  putAgentCode(
    digest: string,
    files: readonly AgentCodeFile[],
    now: number,
    version?: AgentCodeVersion,
  ): Promise<void> {
    return agentCode.putAgentCode(this.pool, this.parts.target, digest, files, now, version);
  }

  getAgentCode(digest: string): Promise<AgentCodeFile[] | undefined> {
    return agentCode.getAgentCode(this.pool, this.parts.target, digest);
  }

  agentCodeFor(version: AgentCodeVersion): Promise<string | undefined> {
    return agentCode.agentCodeFor(this.pool, this.parts.target, version);
  }
}

/** What a claim's look returns (see PgStore.claimIn). */
interface Look {
  sessions: string[] | null;
  agents: string[] | null;
  expired: { id: string; session_id: string; agent_key: string; deadline: number; attempts: number }[] | null;
  locked: number;
  /** Sessions and versions locked on one stripe (far below their caps), the others on all stripes. */
  fast_sessions: string[] | null;
  fast_agents: string[] | null;
  /** Due candidates the look saw (at most its window), and whether there is due work beyond them. */
  seen: number;
  more: boolean;
}

/**
 * Striped cap locks. A claim locks each session and agent version it may claim for with advisory
 * transaction locks on (key, stripe). Far below its cap (running + STRIPES * FAST_MAX <= cap, never for a
 * probing version), a key is "fast": the claim locks ONE stripe, chosen at random, claims at most FAST_MAX
 * tasks of that key, and only while running + its own + (STRIPES - 1) * FAST_MAX <= cap. Otherwise it locks
 * all stripes, in order, and the check is exact. Why caps hold: a claim's snapshot (the claim statement,
 * after the locks) sees every claim committed before it; a claim not yet committed holds its stripe lock,
 * so at most STRIPES - 1 of them (each at most FAST_MAX for the key) run beside a fast claim, and none beside
 * an exact one, which holds every stripe. Keys are locked in (hash, stripe) order: no deadlock. Up to
 * STRIPES claimers of one busy session or version run at once instead of one at a time.
 */
const STRIPES = 4;
const FAST_MAX = 32;

function lookWindow(req: ClaimRequest): number {
  return req.limit + Math.min(req.limit, 16);
}

/** The five parameters of lookSql, in order. */
function lookValues(req: ClaimRequest): unknown[] {
  return [req.now, req.runnable, req.held, req.probing, lookWindow(req)];
}

/**
 * A claim's look, its parameters numbered from $`1 + off`: the first due candidates of sessions and versions
 * below their caps (no row locks), then an advisory transaction lock per session and agent version among
 * them, in key order. `runningFilter` narrows what counts as running (a fence in the same statement has
 * already finished some of them, which this statement's snapshot still sees running).
 */
function lookSql(off: number, runningFilter = '', inserted?: string): string {
  const p = (n: number) => `$${n + off}`;
  // Tasks inserted by the same statement (a submit's): not visible to its scans of tasks, so added here.
  const due = (i: string) => `${i}.run_after <= ${p(1)}::bigint AND ${i}.agent_key = ANY(${p(2)}::text[])
             AND NOT (${i}.agent_key = ANY(${p(3)}::text[]))`;
  const insertedDue = inserted
    ? `UNION ALL
           SELECT i.id, i.session_id, i.agent_key, i.deadline, i.attempts, i.priority FROM ${inserted} i
           WHERE ${due('i')} AND i.agent_key NOT IN (SELECT agent_key FROM full_agents)
             AND i.session_id NOT IN (SELECT session_id FROM full_sessions)`
    : '';
  const insertedHeld = inserted
    ? ` OR EXISTS (
           SELECT 1 FROM ${inserted} i WHERE ${due('i')}
             AND (i.session_id IN (SELECT session_id FROM full_sessions) OR i.agent_key IN (SELECT agent_key FROM full_agents))
         )`
    : '';
  return `running AS (
         SELECT session_id, agent_key, count(*) AS n FROM tasks WHERE state = 'running'${runningFilter} GROUP BY 1, 2
       ), full_sessions AS (
         SELECT r.session_id FROM running r JOIN sessions s ON s.id = r.session_id
         GROUP BY r.session_id, s.max_concurrency HAVING sum(r.n) >= s.max_concurrency
       ), full_agents AS (
         SELECT r.agent_key FROM running r JOIN agents a ON a.key = r.agent_key
         GROUP BY r.agent_key, a.concurrency HAVING sum(r.n) >= a.concurrency
         UNION SELECT agent_key FROM running WHERE agent_key = ANY(${p(4)}::text[])
       ), c AS MATERIALIZED (
         -- Each runnable version's first due tasks, read in order from its own index range (tasks_queued_agent)
         -- and stopping at the window, then the window's best of them: the cost is versions x window index
         -- entries whatever the queue's size or the planner's statistics (one scan over all queued tasks in
         -- priority order would read past every task of a version this worker cannot run).
         SELECT id, session_id, agent_key, deadline, attempts FROM (
           SELECT q.* FROM (
             SELECT DISTINCT a FROM unnest(${p(2)}::text[]) a
             WHERE NOT (a = ANY(${p(3)}::text[])) AND a NOT IN (SELECT agent_key FROM full_agents)
           ) k CROSS JOIN LATERAL (
             SELECT id, session_id, agent_key, deadline, attempts, priority FROM tasks
             WHERE state = 'queued' AND agent_key = k.a AND run_after <= ${p(1)}::bigint
               AND session_id NOT IN (SELECT session_id FROM full_sessions)
             ORDER BY priority, id LIMIT ${p(5)}::int
           ) q
           ${insertedDue}
           ORDER BY priority, id LIMIT ${p(5)}::int
         ) best
       ), modes AS (
         SELECT k.kind, k.id, hashtext('warden:' || k.kind || ':' || k.id) AS h,
                NOT (k.kind = 'a' AND k.id = ANY(${p(4)}::text[]))
                  AND coalesce(k.running, 0) + ${STRIPES * FAST_MAX} <= coalesce(k.cap, 0) AS fast
         FROM (
           SELECT 's' AS kind, c.session_id AS id,
                  (SELECT sum(n) FROM running r WHERE r.session_id = c.session_id) AS running,
                  (SELECT max_concurrency FROM sessions s WHERE s.id = c.session_id) AS cap
           FROM c GROUP BY c.session_id
           UNION ALL
           SELECT 'a', c.agent_key,
                  (SELECT sum(n) FROM running r WHERE r.agent_key = c.agent_key),
                  (SELECT concurrency FROM agents a WHERE a.key = c.agent_key)
           FROM c GROUP BY c.agent_key
         ) k
       ), keys AS (
         SELECT h, s FROM modes, generate_series(0, ${STRIPES - 1}) s WHERE NOT fast
         UNION ALL SELECT h, floor(random() * ${STRIPES})::int FROM modes WHERE fast
       ), beyond AS (
         -- Whether due work exists beyond what c saw: c filled its window, or a session or version at its
         -- cap holds some back (a finish of theirs frees a slot). Only looked for when c came up short.
         SELECT (SELECT count(*) FROM c) >= ${p(5)}::int OR EXISTS (
           SELECT 1 FROM tasks WHERE state = 'queued' AND run_after <= ${p(1)}::bigint
             AND agent_key = ANY(${p(2)}::text[]) AND NOT (agent_key = ANY(${p(3)}::text[]))
             AND (session_id IN (SELECT session_id FROM full_sessions) OR agent_key IN (SELECT agent_key FROM full_agents))
         )${insertedHeld} AS more
       )`;
}
const LOOK_RESULT = `(SELECT array_agg(DISTINCT session_id) FROM c) AS sessions,
       (SELECT array_agg(DISTINCT agent_key) FROM c) AS agents,
       (SELECT json_agg(c) FROM c WHERE deadline IS NOT NULL AND deadline <= $%NOW%::bigint) AS expired,
       (SELECT count(pg_advisory_xact_lock(h, s)) FROM (SELECT h, s FROM keys ORDER BY h, s) o) AS locked,
       (SELECT array_agg(id) FROM modes WHERE fast AND kind = 's') AS fast_sessions,
       (SELECT array_agg(id) FROM modes WHERE fast AND kind = 'a') AS fast_agents,
       (SELECT count(*) FROM c)::int AS seen, (SELECT more FROM beyond) AS more`;
const LOOK_SQL = `WITH ${lookSql(0)} SELECT ${LOOK_RESULT.replace('%NOW%', '1')}`;

// A batch of tasks without idempotency keys, in one statement (10 parameters).
const SUBMIT_INSERT = `INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after,
    input, deadline, timeout_ms, metadata, created_at, updated_at)
  SELECT id, s, a, p, 'queued', 0, m, n, i, d, tm, md, n, n
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::text[],
    $8::bigint[], $9::int[], $10::text[]) AS x(id, s, a, p, m, n, i, d, tm, md)`;
const SUBMIT_SQL = SUBMIT_INSERT;

/** The ten parameters of SUBMIT_INSERT, in order. */
function submitValues(tasks: readonly NewTask[]): unknown[] {
  return [
    tasks.map((t) => t.id),
    tasks.map((t) => t.sessionId),
    tasks.map((t) => t.agentKey),
    tasks.map((t) => priorityLevel(t.priority)),
    tasks.map((t) => t.maxAttempts),
    tasks.map((t) => t.now),
    tasks.map((t) => t.inputJson),
    tasks.map((t) => t.deadline),
    tasks.map((t) => t.timeoutMs),
    tasks.map((t) => JSON.stringify(t.metadata)),
  ];
}
const SUBMIT_LOOK_SQL = `WITH ins AS (
    ${SUBMIT_INSERT}
    RETURNING id, session_id, agent_key, deadline, attempts, priority, run_after
  ), ${lookSql(10, '', 'ins')}
  SELECT ${LOOK_RESULT.replace('%NOW%', '11')}`;

// Fencing: a finish applies only from the owner of the lease, on the attempt it claimed, while the task still
// runs. All of the batch in one statement; what it returns says which applied.
const FENCE_CTE = `fin AS (
  UPDATE tasks t SET
    state = CASE WHEN f.kind = 'retry' THEN 'queued' ELSE f.kind END,
    run_after = CASE WHEN f.kind = 'retry' THEN f.run_after ELSE t.run_after END,
    last_error = CASE WHEN f.kind = 'retry' THEN f.err ELSE coalesce(f.err, t.last_error) END,
    lease_owner = NULL, lease_until = NULL, updated_at = f.now
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::int[])
    AS f(id, kind, run_after, err, now, owner, attempt)
  WHERE t.id = f.id AND t.state = 'running' AND t.lease_owner = f.owner AND t.attempts = f.attempt
  RETURNING t.id
)`;
const FENCE_SQL = `WITH ${FENCE_CTE} SELECT id FROM fin`;

/** The seven parameters of FENCE_CTE, in order. */
function fenceValues(finishes: readonly Finish[]): unknown[] {
  return [
    finishes.map((f) => f.taskId),
    finishes.map((f) => f.kind),
    finishes.map((f) => (f.kind === 'retry' ? f.runAfter : null)),
    finishes.map((f) => (f.kind === 'succeeded' ? null : JSON.stringify(f.error))),
    finishes.map((f) => f.now),
    finishes.map((f) => f.owner),
    finishes.map((f) => f.attempt),
  ];
}
const FENCE_LOOK_SQL = `WITH ${FENCE_CTE}, ${lookSql(7, ' AND id NOT IN (SELECT id FROM fin)')}
  SELECT ${LOOK_RESULT.replace('%NOW%', '8')}, (SELECT array_agg(id) FROM fin) AS fenced`;
