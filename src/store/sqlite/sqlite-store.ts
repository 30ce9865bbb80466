import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
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
  HeadWitness,
  Pacer,
  TreeHeadKey,
  records,
  verifyStoredSession,
  type ChainReader,
  type ChainVerification,
  type SignedTreeHead,
  type StoredLink,
  type TreeHeadSigner,
} from '../../provenance/index.js';
import type { Database } from '../schema.js';
import { migrateToLatest } from '../migrations/index.js';
import { newTaskView, rowToAgent, rowToDeadLetter, rowToSession, rowToTask } from '../rows.js';
import type {
  AgentRecord,
  AgentRunStat,
  FlagCount,
  FlagFilter,
  GovernanceRecord,
  TraceFlagRecord,
  BreakerOutcomes,
  ClaimOutcome,
  ClaimRequest,
  ClaimedTask,
  DeadLetter,
  Finish,
  FinishOutcome,
  LogLine,
  NewTask,
  Store,
  StoreStats,
  SubmitOutcome,
  TaskFilter,
  ApiKeyRecord,
  TraceFilter,
  TraceRecord,
  TraceSummary,
} from '../store.js';
import { BackgroundCheckpointer } from './checkpointer.js';
import { WriterRoute, type WriterThreadMode } from './writer-thread.js';
import { SqliteChainReader } from './chain-reader.js';
import { checkedOrFailedResult, checkedResult, type CheckedResultRow } from '../checked-results.js';
import { ChainWriter } from './chain-writer.js';
import { SqliteTreeHeads } from './tree-heads.js';
import {
  findApiKey,
  getTrace,
  insertApiKey,
  insertTrace,
  listApiKeys,
  listTraces,
  readTraceProvenance,
  revokeApiKey,
  traceProvenance,
} from './api-tables.js';
import { prepareStatements, type Statements } from './statements.js';
import { SqliteMemories } from './memories.js';
import { TraceFlagSql } from './trace-flags.js';
import { BreakerSql } from './breakers.js';
import { rowToBreaker } from '../breakers.js';
import { rowToRollout } from '../rollout-rows.js';
import type { RolloutRecord } from '../../routing/index.js';
import * as agentCode from './agent-code.js';
import * as kpis from './kpis.js';
import * as overview from './overview.js';
import type { ActivityQuery, AgentKpi, KpiFilter, TaskFeedback, TenantActivity } from '../store.js';
import type { AgentCodeFile, AgentCodeVersion } from '../agent-code.js';

export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  path: string;
  /**
   * 'normal' (WAL) keeps every committed transaction across a process crash such as kill -9;
   * 'full' also across power loss, at the cost of an fsync per commit. @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /** At most one tree-head signature per session per this many ms; 0 signs after every commit. @default 1000 */
  signIntervalMs?: number;
  /**
   * Directory where the latest signed head of every session is also kept, outside the database, for
   * verification to detect a deleted head, a wiped chain or a database put back to an older copy; false
   * for none. @default `keys/tree-heads` next to the database; none for ':memory:'
   */
  witnessDir?: string | false;
  /**
   * Run the writes (WRITER_METHODS) on a writer thread with its own connection (see SqliteWriter), so that
   * SQLite's work and the chain's hashing use a second core. Only for a database file and a TreeHeadKey
   * signer; otherwise ignored. `'auto'` starts the thread once the workload shows it pays (see
   * WriterRoute). @default false
   */
  writerThread?: WriterThreadMode;
  /** Checkpoint the WAL from a background thread. @default true (the writer thread's connection: false) */
  checkpoint?: boolean;
}

type TaskRow = Database['tasks'] & { cancel_requested: number };
type CandidateRow = Pick<
  TaskRow,
  | 'id'
  | 'session_id'
  | 'agent_key'
  | 'priority'
  | 'attempts'
  | 'max_attempts'
  | 'input'
  | 'deadline'
  | 'timeout_ms'
  | 'metadata'
  | 'updated_at'
>;

/** A candidates row as read in raw mode (the statement's column order): cheaper than a row object. */
type CandidateTuple = [
  string,
  string,
  string,
  number,
  number,
  number,
  string,
  number | null,
  number | null,
  string,
  number,
];

function candidateRow(r: CandidateTuple): CandidateRow {
  return {
    id: r[0],
    session_id: r[1],
    agent_key: r[2],
    priority: r[3],
    attempts: r[4],
    max_attempts: r[5],
    input: r[6],
    deadline: r[7],
    timeout_ms: r[8],
    metadata: r[9],
    updated_at: r[10],
  };
}

const CAP_TTL_MS = 5_000;

/**
 * Makes the database readable by its owner alone. SQLite creates `-wal` and `-shm` with the mode of the
 * database file, so creating that 0600 covers all three; files an older version left readable by others
 * are tightened (when this user owns them).
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Not there yet (-wal, -shm), or not ours to change.
    }
  }
}

/**
 * Opens (and migrates) the embedded store. `signer` signs its tree heads: the node key, loaded by whoever
 * opens the backend (openBackend: `keys/provenance-ed25519.pem` beside the database).
 */
export async function openSqliteStore(
  options: SqliteStoreOptions,
  signer: TreeHeadSigner,
): Promise<SqliteStore> {
  let db: BetterSqlite3.Database;
  try {
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
      ownerOnly(options.path);
    }
    db = new BetterSqlite3(options.path);
    // First, so that everything below (switching a new file to WAL, the migrations) waits for a
    // concurrent opener instead of failing with SQLITE_BUSY.
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -65536');
    // A background thread checkpoints (see BackgroundCheckpointer); this is only the backstop that
    // bounds the WAL if that thread falls behind.
    db.pragma('wal_autocheckpoint = 20000');
  } catch (cause) {
    throw new WardenError(
      'STORAGE_ERROR',
      `Cannot open the database at ${options.path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) });
  try {
    await migrateToLatest(kysely as Kysely<unknown>);
  } catch (cause) {
    await kysely.destroy();
    throw cause;
  }
  const checkpointer =
    options.path === ':memory:' || options.checkpoint === false
      ? undefined
      : new BackgroundCheckpointer(options.path);
  const witnessDir =
    options.witnessDir ??
    (options.path === ':memory:' ? false : join(dirname(options.path), 'keys', TREE_HEAD_WITNESS_DIR));
  const signIntervalMs = options.signIntervalMs ?? 1000;
  let writes: WriterRoute | undefined;
  const mode = options.writerThread ?? false;
  if (mode !== false && options.path !== ':memory:' && signer instanceof TreeHeadKey) {
    try {
      writes = await WriterRoute.open(
        {
          path: options.path,
          synchronous: options.synchronous ?? 'normal',
          signIntervalMs,
          witnessDir,
          signerPem: signer.exportPrivatePem(),
        },
        mode,
      );
    } catch (cause) {
      await checkpointer?.stop();
      await kysely.destroy();
      throw cause;
    }
  }
  return new SqliteStore(
    db,
    kysely,
    checkpointer,
    {
      signer,
      signIntervalMs,
      path: options.path,
      ...(witnessDir ? { witness: new HeadWitness(witnessDir) } : {}),
    },
    writes,
  );
}

/** Directory of the tree-head witness inside the keys directory. */
export const TREE_HEAD_WITNESS_DIR = 'tree-heads';

/** The embedded store: one SQLite file in WAL mode, hot paths as prepared statements in one transaction per batch. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly stmt: Statements;
  private readonly flags: TraceFlagSql;
  private readonly breakers: BreakerSql;
  /** Cortex memory items (src/memory), written in this store's transactions. */
  readonly memories: SqliteMemories;
  private readonly caps = new Map<string, { n: number; at: number }>();
  private readonly treeHeads: SqliteTreeHeads;
  private readonly agentDigests = new Map<string, string | null>();
  private closed = false;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly kysely: Kysely<Database>,
    private readonly checkpointer: BackgroundCheckpointer | undefined,
    private readonly provenance: {
      signer: TreeHeadSigner;
      signIntervalMs: number;
      /** The database file (':memory:' has no second connection for readers). */
      path: string;
      witness?: HeadWitness;
    },
    /** Where the writes go: a writer thread once it runs (see WriterRoute); absent, this connection. */
    private readonly writes?: WriterRoute,
  ) {
    this.stmt = prepareStatements(db);
    this.treeHeads = new SqliteTreeHeads(
      db,
      provenance.signer,
      provenance.signIntervalMs,
      provenance.witness,
    );
    this.flags = new TraceFlagSql(db);
    this.breakers = new BreakerSql(db);
    this.memories = new SqliteMemories(db, (body) => this.tx(body));
    // With a writer thread, this connection reads, and writes only what WRITER_METHODS does not list.
    writes?.install(this);
  }

  private chain(): ChainWriter {
    return new ChainWriter(
      this.stmt.getHead,
      this.stmt.insertLink,
      this.stmt.insertLinks,
      this.stmt.putHead,
      this.treeHeads.trees,
      (key) => this.agentDigest(key),
    );
  }

  /** Runs `body` in one IMMEDIATE transaction so concurrent writers (other processes) queue instead of failing. */
  private tx<T>(body: (chain: ChainWriter) => T): T {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    const chain = this.chain();
    const run = this.db.transaction(() => {
      const out = body(chain);
      chain.flush();
      return out;
    });
    try {
      const out = run.immediate();
      this.treeHeads.committed(chain.committed());
      return out;
    } catch (cause) {
      if (cause instanceof WardenError) throw cause;
      throw new WardenError('STORAGE_ERROR', `Store transaction failed: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  // ---- sessions -------------------------------------------------------------------------------

  async createSession(s: Session): Promise<Session> {
    return this.tx((chain) => {
      const existing = this.db
        .prepare('SELECT * FROM sessions WHERE tenant = ? AND name = ?')
        .get(s.tenant, s.name) as Database['sessions'] | undefined;
      if (existing) return rowToSession(existing);
      this.db
        .prepare(
          'INSERT INTO sessions (id, tenant, name, max_concurrency, allow_network, policy, policy_document, placement, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          s.id,
          s.tenant,
          s.name,
          s.maxConcurrency,
          s.allowNetwork ? 1 : 0,
          s.policy,
          s.policyDocument ? JSON.stringify(s.policyDocument) : null,
          s.placement ?? null,
          s.createdAt,
        );
      chain.add(s.id, records.sessionCreated(s));
      return s;
    });
  }

  async getSession(idOrName: string, tenant?: string): Promise<Session | undefined> {
    // With a tenant, an id of another tenant's session finds nothing: ids and names never cross tenants.
    const byId =
      tenant === undefined
        ? this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(idOrName)
        : this.db.prepare('SELECT * FROM sessions WHERE id = ? AND tenant = ?').get(idOrName, tenant);
    const row = (byId ??
      this.db
        .prepare('SELECT * FROM sessions WHERE tenant = ? AND name = ?')
        .get(tenant ?? DEFAULT_TENANT, idOrName)) as Database['sessions'] | undefined;
    return row ? rowToSession(row) : undefined;
  }

  async listSessions(tenant?: string): Promise<Session[]> {
    let q = this.kysely.selectFrom('sessions').selectAll().orderBy('created_at');
    if (tenant) q = q.where('tenant', '=', tenant);
    return (await q.execute()).map(rowToSession);
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
    return this.tx(() => {
      const row = this.db.prepare('SELECT * FROM agents WHERE key = ?').get(key) as
        Database['agents'] | undefined;
      if (row) {
        const existing = rowToAgent(row);
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
          this.db.prepare('UPDATE agents SET shared = 1 WHERE key = ?').run(key);
          return { ...existing, shared: true };
        }
        return existing;
      }
      this.db
        .prepare(
          'INSERT INTO agents (key, name, version, runtime, concurrency, manifest, module_digest, created_at, tenant, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
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
        );
      this.caps.delete(`a:${key}`);
      this.agentDigests.set(key, moduleDigest);
      return { key, manifest, moduleDigest, createdAt: now, tenant, shared };
    });
  }

  async getAgent(key: string): Promise<AgentRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM agents WHERE key = ?').get(key) as
      Database['agents'] | undefined;
    return row ? rowToAgent(row) : undefined;
  }

  async listAgents(filter: { tenant?: string } = {}): Promise<AgentRecord[]> {
    let q = this.kysely.selectFrom('agents').selectAll().orderBy('name').orderBy('created_at');
    if (filter.tenant !== undefined) {
      const tenant = filter.tenant;
      q = q.where((eb) => eb.or([eb('tenant', '=', tenant), eb('shared', '=', 1)]));
    }
    return (await q.execute()).map(rowToAgent);
  }

  /**
   * The registered code digest of an agent version, for the provenance records of its tasks. Versions
   * are immutable, so a digest once read never changes.
   */
  private agentDigest(key: string): string | null {
    if (this.agentDigests.has(key)) return this.agentDigests.get(key)!;
    const row = this.stmt.agentDigest.get(key) as { module_digest: string | null } | undefined;
    const digest = row?.module_digest ?? null;
    if (row) this.agentDigests.set(key, digest);
    return digest;
  }

  // ---- tasks: hot path ------------------------------------------------------------------------

  async submit(tasks: readonly NewTask[]): Promise<SubmitOutcome[]> {
    return this.tx((chain) => this.submitIn(chain, tasks));
  }

  async submitAndClaim(
    tasks: readonly NewTask[],
    next: ClaimRequest,
  ): Promise<{ outcomes: SubmitOutcome[]; next: ClaimOutcome }> {
    return this.tx((chain) => {
      const outcomes = this.submitIn(chain, tasks);
      const claimed =
        next.runnable.length === 0 || next.limit <= 0
          ? { claimed: [], expired: [], nextRunAfter: null }
          : this.claimIn(chain, next);
      return { outcomes, next: claimed };
    });
  }

  private submitIn(chain: ChainWriter, tasks: readonly NewTask[]): SubmitOutcome[] {
    const out: SubmitOutcome[] = [];
    for (const t of tasks) {
      if (t.idempotencyKey !== null) {
        const existing = this.stmt.taskByIdempotency.get(t.sessionId, t.idempotencyKey) as
          TaskRow | undefined;
        if (existing) {
          out.push({ task: rowToTask(existing), deduplicated: true });
          continue;
        }
      }
      const metadataJson = JSON.stringify(t.metadata);
      this.stmt.insertTask.run(
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
        metadataJson,
        t.now,
        t.now,
      );
      chain.add(t.sessionId, records.taskSubmitted(t));
      if (t.flags) this.flags.write(chain, t.flags);
      out.push({ task: newTaskView(t), deduplicated: false });
    }
    return out;
  }

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    if (req.runnable.length === 0) return { claimed: [], expired: [], nextRunAfter: null };
    return this.tx((chain) => this.claimIn(chain, req));
  }

  private claimIn(chain: ChainWriter, req: ClaimRequest): ClaimOutcome {
    const sessionRunning = new Map<string, number>();
    const agentRunning = new Map<string, number>();
    for (const r of this.stmt.runningCounts.all() as {
      session_id: string;
      agent_key: string;
      n: number;
    }[]) {
      sessionRunning.set(r.session_id, (sessionRunning.get(r.session_id) ?? 0) + r.n);
      agentRunning.set(r.agent_key, (agentRunning.get(r.agent_key) ?? 0) + r.n);
    }
    const fullSessions: string[] = [];
    for (const [id, n] of sessionRunning) if (n >= this.cap('s', id, req.now)) fullSessions.push(id);
    const held = [...req.held];
    for (const [key, n] of agentRunning) if (n >= this.cap('a', key, req.now)) held.push(key);
    const probing = new Set(req.probing);
    for (const key of probing) if ((agentRunning.get(key) ?? 0) > 0) held.push(key);

    const claimed: ClaimedTask[] = [];
    const expired: string[] = [];
    const leaseUntil = req.now + req.leaseMs;
    const runnableJson = JSON.stringify(req.runnable);
    // Reads exactly what is still wanted. Another read runs only when the last one was full and the
    // batch is not: rows expired, or a session or agent reached its cap within this batch. Claimed and
    // expired rows have left the queue, and the newly capped keys join the excluded ones, so that read
    // returns fresh rows (a few rounds at most: the next batch picks up the rest).
    for (let round = 0; round < 4 && claimed.length < req.limit; round++) {
      const want = req.limit - claimed.length;
      const rows = (
        held.length === 0 && fullSessions.length === 0
          ? this.stmt.candidatesOpen.all(req.now, runnableJson, want)
          : this.stmt.candidates.all(
              req.now,
              runnableJson,
              JSON.stringify(held),
              JSON.stringify(fullSessions),
              want,
            )
      ) as CandidateTuple[];
      for (const r of rows) {
        if (claimed.length >= req.limit) break;
        const c = candidateRow(r);
        if (c.deadline !== null && c.deadline <= req.now) {
          this.expire(chain, c, req.now);
          expired.push(c.id);
          continue;
        }
        const sRunning = sessionRunning.get(c.session_id) ?? 0;
        const aRunning = agentRunning.get(c.agent_key) ?? 0;
        if (sRunning >= this.cap('s', c.session_id, req.now)) {
          if (!fullSessions.includes(c.session_id)) fullSessions.push(c.session_id);
          continue;
        }
        if (aRunning >= this.cap('a', c.agent_key, req.now) || (probing.has(c.agent_key) && aRunning > 0)) {
          if (!held.includes(c.agent_key)) held.push(c.agent_key);
          continue;
        }
        if (this.stmt.claimOne.run(req.owner, leaseUntil, req.now, c.id).changes !== 1) continue;
        sessionRunning.set(c.session_id, sRunning + 1);
        agentRunning.set(c.agent_key, aRunning + 1);
        const attempt = c.attempts + 1;
        chain.add(c.session_id, records.taskStarted(c.id, c.agent_key, attempt, req.owner, req.now));
        claimed.push({
          id: c.id,
          sessionId: c.session_id,
          agentKey: c.agent_key,
          priority: c.priority,
          attempt,
          maxAttempts: c.max_attempts,
          inputJson: c.input,
          deadline: c.deadline,
          timeoutMs: c.timeout_ms,
          leaseUntil,
          metadataJson: c.metadata,
          queuedAt: Number(c.updated_at),
        });
      }
      if (rows.length < want) break;
    }
    let nextRunAfter: number | null = null;
    if (claimed.length === 0) {
      const row = this.stmt.nextRunAfter.get(req.now) as { t: number | null };
      nextRunAfter = row.t;
    }
    return { claimed, expired, nextRunAfter };
  }

  private expire(chain: ChainWriter, c: CandidateRow, now: number): void {
    const errorJson = JSON.stringify(records.deadlineError(Number(c.deadline)));
    if (this.stmt.expireQueued.run(errorJson, now, c.id).changes !== 1) return;
    chain.add(c.session_id, records.deadlineExpired(c.id, c.agent_key, now), (seq) =>
      this.stmt.insertResult.run(c.id, 'failed', null, errorJson, c.attempts, null, null, now, seq),
    );
  }

  /** Concurrency caps of sessions ('s') and agents ('a'), cached briefly: they change rarely and are read on every claim. */
  private cap(kind: 's' | 'a', id: string, now: number): number {
    const key = `${kind}:${id}`;
    const hit = this.caps.get(key);
    if (hit && now - hit.at < CAP_TTL_MS) return hit.n;
    const row = (kind === 's' ? this.stmt.sessionCap : this.stmt.agentCap).get(id) as
      { n: number } | undefined;
    const n = row?.n ?? Number.MAX_SAFE_INTEGER;
    this.caps.set(key, { n, at: now });
    return n;
  }

  async finish(
    finishes: readonly Finish[],
    breakers: readonly BreakerOutcomes[],
    next?: ClaimRequest,
  ): Promise<FinishOutcome> {
    return this.tx((chain) => {
      const applied: boolean[] = [];
      for (const f of finishes) {
        const usageJson = f.usage ? JSON.stringify(f.usage) : null;
        if (f.kind === 'retry') {
          const errorJson = JSON.stringify(f.error);
          const ok =
            this.stmt.finishRetry.run(f.runAfter, errorJson, f.now, f.taskId, f.owner, f.attempt).changes ===
            1;
          if (ok) chain.add(f.sessionId, records.taskFinished(f));
          applied.push(ok);
          continue;
        }
        const errorJson = f.kind === 'succeeded' ? null : JSON.stringify(f.error);
        const ok =
          this.stmt.finishTerminal.run(f.kind, errorJson, f.now, f.taskId, f.owner, f.attempt).changes === 1;
        applied.push(ok);
        if (!ok) continue;
        if (f.flags) this.flags.write(chain, f.flags);
        // The result row names the record that commits to it, so reads can check one against the other.
        if (f.kind === 'succeeded' || f.kind === 'quarantined') {
          const { outputJson, outputDigest } = f;
          if (f.receipt) chain.add(f.sessionId, records.taskReceipt({ ...f, receipt: f.receipt }));
          chain.add(f.sessionId, records.taskFinished(f), (seq) =>
            this.stmt.insertResult.run(
              f.taskId,
              f.kind,
              outputJson,
              errorJson,
              f.attempt,
              usageJson,
              outputDigest,
              f.now,
              seq,
            ),
          );
        } else {
          if (f.kind === 'dead')
            this.stmt.insertDeadLetter.run(f.taskId, f.sessionId, f.agentKey, errorJson, f.attempt, f.now);
          chain.add(f.sessionId, records.taskFinished(f), (seq) =>
            this.stmt.insertResult.run(
              f.taskId,
              f.kind,
              null,
              errorJson,
              f.attempt,
              usageJson,
              null,
              f.now,
              seq,
            ),
          );
        }
      }
      const stored = this.breakers.apply(breakers);
      if (!next || next.runnable.length === 0 || next.limit <= 0) return { applied, breakers: stored };
      return { applied, breakers: stored, next: this.claimIn(chain, next) };
    });
  }

  async renewLeases(owner: string, taskIds: readonly string[], leaseUntil: number): Promise<void> {
    if (taskIds.length === 0) return;
    this.tx(() => {
      for (const id of taskIds) this.stmt.renewLease.run(leaseUntil, id, owner);
    });
  }

  async reapExpiredLeases(now: number): Promise<number> {
    return this.tx((chain) => {
      const rows = this.stmt.expiredLeases.all(now) as TaskRow[];
      for (const r of rows) {
        if (r.cancel_requested) {
          this.terminate(chain, r, 'cancelled', records.reapedCancelError(), now);
          continue;
        }
        const error = records.leaseExpiredError(r.attempts);
        if (r.attempts >= r.max_attempts) {
          this.terminate(chain, r, 'dead', error, now);
        } else if (this.stmt.requeueExpired.run(now, JSON.stringify(error), now, r.id, now).changes === 1) {
          chain.add(r.session_id, records.leaseExpired(r.id, r.agent_key, r.attempts, r.lease_owner, now));
        }
      }
      return rows.length;
    });
  }

  private terminate(
    chain: ChainWriter,
    r: TaskRow,
    state: 'dead' | 'cancelled',
    error: SerializedError,
    now: number,
  ): void {
    const errorJson = JSON.stringify(error);
    if (this.stmt.terminateExpired.run(state, errorJson, now, r.id, now).changes !== 1) return;
    if (state === 'dead')
      this.stmt.insertDeadLetter.run(r.id, r.session_id, r.agent_key, errorJson, r.attempts, now);
    chain.add(r.session_id, records.reapedTerminal(state, r.id, r.agent_key, r.attempts, error, now), (seq) =>
      this.stmt.insertResult.run(r.id, state, null, errorJson, r.attempts, null, null, now, seq),
    );
  }

  async cancel(taskId: string, now: number): Promise<{ state: TaskState; cancelledNow: boolean }> {
    return this.tx((chain) => {
      const row = this.stmt.taskById.get(taskId) as TaskRow | undefined;
      if (!row) throw new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
      if (row.state === 'queued' && this.stmt.cancelQueued.run(now, taskId).changes === 1) {
        const errorJson = records.cancelledQueuedErrorJson();
        chain.add(row.session_id, records.cancelledQueued(taskId, row.agent_key, now), (seq) =>
          this.stmt.insertResult.run(
            taskId,
            'cancelled',
            null,
            errorJson,
            row.attempts,
            null,
            null,
            now,
            seq,
          ),
        );
        return { state: 'cancelled' as TaskState, cancelledNow: true };
      }
      if (row.state === 'running') this.stmt.requestCancel.run(now, taskId);
      return { state: row.state as TaskState, cancelledNow: false };
    });
  }

  async cancelRequested(taskIds: readonly string[]): Promise<string[]> {
    if (taskIds.length === 0) return [];
    const rows = this.db
      .prepare(
        "SELECT id FROM tasks WHERE cancel_requested = 1 AND state = 'running' AND id IN (SELECT value FROM json_each(?))",
      )
      .all(JSON.stringify(taskIds)) as { id: string }[];
    return rows.map((r) => r.id);
  }

  // ---- tasks: reads ---------------------------------------------------------------------------

  async getTask(taskId: string): Promise<Task | undefined> {
    const row = this.stmt.taskById.get(taskId) as TaskRow | undefined;
    return row ? rowToTask(row) : undefined;
  }

  async listTasks(filter: TaskFilter): Promise<Task[]> {
    let q = this.kysely
      .selectFrom('tasks')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(Math.min(filter.limit ?? 100, 10_000));
    if (filter.sessionId) q = q.where('session_id', '=', filter.sessionId);
    if (filter.tenant) {
      const tenant = filter.tenant;
      q = q.where('session_id', 'in', (s) =>
        s.selectFrom('sessions').select('id').where('tenant', '=', tenant),
      );
    }
    if (filter.state) q = q.where('state', '=', filter.state);
    if (filter.agentKey) q = q.where('agent_key', '=', filter.agentKey);
    if (filter.agentName) {
      // `name@...` or `tenant/name@...`; names may hold `_`, a LIKE wildcard, so it is escaped.
      const name = filter.agentName.replace(/[\\%_]/g, (c) => `\\${c}`);
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`agent_key LIKE ${`${name}@%`} ESCAPE '\\'`,
          sql<boolean>`agent_key LIKE ${`%/${name}@%`} ESCAPE '\\'`,
        ]),
      );
    }
    if (filter.before) q = q.where('id', '<', filter.before);
    return (await q.execute()).map(rowToTask);
  }

  async getResult(taskId: string): Promise<TaskResult | undefined> {
    const row = this.stmt.resultById.get(taskId) as CheckedResultRow | undefined;
    return row ? checkedResult(row) : undefined;
  }

  async getResults(taskIds: readonly string[]): Promise<TaskResult[]> {
    if (taskIds.length === 0) return [];
    const rows = this.stmt.resultsByIds.all(JSON.stringify(taskIds)) as CheckedResultRow[];
    return rows.map(checkedOrFailedResult);
  }

  async inFlightByAgent(tenant?: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const rows =
      tenant === undefined ? this.stmt.inFlightByAgent.all() : this.stmt.inFlightByAgentOfTenant.all(tenant);
    for (const r of rows as { agent_key: string; n: number }[]) counts.set(r.agent_key, r.n);
    return counts;
  }

  async stats(options: { light?: boolean } = {}): Promise<StoreStats> {
    const byState: Record<string, number> = {};
    if (options.light) {
      byState['queued'] = (this.stmt.countQueued.get() as { n: number }).n;
      byState['running'] = (this.stmt.countRunning.get() as { n: number }).n;
    } else {
      for (const r of this.db.prepare('SELECT state, count(*) AS n FROM tasks GROUP BY state').all() as {
        state: string;
        n: number;
      }[]) {
        byState[r.state] = r.n;
      }
    }
    const dl = this.db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number };
    const queuedByPriority: Record<number, number> = {};
    for (const r of this.stmt.queuedByPriority.all() as { priority: number; n: number }[])
      queuedByPriority[r.priority] = r.n;
    return { byState, deadLetters: dl.n, queuedByPriority };
  }

  // ---- API keys and traces --------------------------------------------------------------------

  async createApiKey(key: ApiKeyRecord, keyHash: string): Promise<void> {
    this.tx(() => insertApiKey(this.db, key, keyHash));
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return findApiKey(this.db, keyHash);
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    return listApiKeys(this.db, tenant);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    return this.tx(() => revokeApiKey(this.db, id, now));
  }

  async createTrace(trace: Omit<TraceRecord, 'data'> & { dataJson: string }): Promise<TraceRecord> {
    return this.tx((chain) => insertTrace(this.db, chain, trace));
  }

  async getTrace(id: string): Promise<TraceRecord | undefined> {
    return getTrace(this.db, id);
  }

  async listTraces(filter: TraceFilter): Promise<TraceSummary[]> {
    return listTraces(this.db, filter);
  }

  async readTraceProvenance(sessionId: string, traceId: string): Promise<StoredLink[]> {
    return readTraceProvenance(this.db, sessionId, traceId);
  }

  async appendTraceProvenance(
    traceId: string,
    event: { kind: string; data: Record<string, unknown> },
    now: number,
  ): Promise<{ seq: number; hash: string }> {
    const sessionId = this.tx((chain) => traceProvenance(this.db, chain, traceId, event, now));
    return this.stmt.getHead.get(sessionId) as { seq: number; hash: string };
  }

  // ---- canary rollouts ------------------------------------------------------------------------

  async getRollout(tenant: string, name: string, canaryKey: string): Promise<RolloutRecord | undefined> {
    const row = this.db
      .prepare('SELECT * FROM agent_rollouts WHERE tenant = ? AND name = ? AND canary_key = ?')
      .get(tenant, name, canaryKey) as Database['agent_rollouts'] | undefined;
    return row ? rowToRollout(row) : undefined;
  }

  async listRollouts(filter: { tenant?: string; name?: string }): Promise<RolloutRecord[]> {
    const rows = this.db
      .prepare(
        'SELECT * FROM agent_rollouts WHERE (@tenant IS NULL OR tenant = @tenant) AND (@name IS NULL OR name = @name) ORDER BY started_at DESC',
      )
      .all({ tenant: filter.tenant ?? null, name: filter.name ?? null }) as Database['agent_rollouts'][];
    return rows.map(rowToRollout);
  }

  async recordRollout(
    r: RolloutRecord,
    sessionId: string,
    data: Record<string, unknown>,
  ): Promise<RolloutRecord> {
    return this.tx((chain) => {
      const changed =
        r.state === 'canary'
          ? this.db
              .prepare(
                `INSERT INTO agent_rollouts (tenant, name, canary_key, stable_key, state, share, started_at, decided_at, reason)
                 VALUES (?, ?, ?, ?, 'canary', ?, ?, NULL, NULL) ON CONFLICT DO NOTHING`,
              )
              .run(r.tenant, r.name, r.canaryKey, r.stableKey, r.share, r.startedAt).changes
          : this.db
              .prepare(
                "UPDATE agent_rollouts SET state = ?, decided_at = ?, reason = ? WHERE tenant = ? AND name = ? AND canary_key = ? AND state = 'canary'",
              )
              .run(r.state, r.decidedAt, r.reason, r.tenant, r.name, r.canaryKey).changes;
      if (changed > 0) chain.add(sessionId, records.rolloutRecorded(r, r.decidedAt ?? r.startedAt, data));
      const row = this.db
        .prepare('SELECT * FROM agent_rollouts WHERE tenant = ? AND name = ? AND canary_key = ?')
        .get(r.tenant, r.name, r.canaryKey) as Database['agent_rollouts'];
      return rowToRollout(row);
    });
  }

  // ---- dead-letter queue ----------------------------------------------------------------------

  async listDeadLetters(filter: {
    sessionId?: string;
    tenant?: string;
    limit?: number;
  }): Promise<DeadLetter[]> {
    let q = this.kysely
      .selectFrom('dead_letters')
      .selectAll('dead_letters')
      .orderBy('dead_at', 'desc')
      .limit(filter.limit ?? 100);
    if (filter.sessionId) q = q.where('dead_letters.session_id', '=', filter.sessionId);
    if (filter.tenant !== undefined) {
      const tenant = filter.tenant;
      q = q.where('dead_letters.session_id', 'in', (eb) =>
        eb.selectFrom('sessions').select('sessions.id').where('sessions.tenant', '=', tenant),
      );
    }
    return (await q.execute()).map(rowToDeadLetter);
  }

  async replayDeadLetter(taskId: string, now: number, attempts?: number): Promise<Task> {
    return this.tx((chain) => {
      const dl = this.db.prepare('SELECT * FROM dead_letters WHERE task_id = ?').get(taskId) as
        Database['dead_letters'] | undefined;
      if (!dl)
        throw new WardenError('TASK_NOT_FOUND', `Task ${taskId} is not in the dead-letter queue`, {
          details: { taskId },
        });
      this.db.prepare('DELETE FROM dead_letters WHERE task_id = ?').run(taskId);
      this.db.prepare('DELETE FROM results WHERE task_id = ?').run(taskId);
      this.db
        .prepare(
          "UPDATE tasks SET state = 'queued', max_attempts = attempts + coalesce(?, max_attempts), run_after = ?, last_error = NULL, cancel_requested = 0, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
        )
        .run(attempts ?? null, now, now, taskId);
      chain.add(dl.session_id, records.taskReplayed(taskId, dl.agent_key, now));
      return rowToTask(this.stmt.taskById.get(taskId) as TaskRow);
    });
  }

  async purgeDeadLetters(taskIds: readonly string[] | 'all', now: number, tenant?: string): Promise<number> {
    return this.tx((chain) => {
      const ofTenant =
        tenant === undefined ? '' : ' AND session_id IN (SELECT id FROM sessions WHERE tenant = @tenant)';
      const rows = (
        taskIds === 'all'
          ? this.db.prepare(`SELECT * FROM dead_letters WHERE 1 = 1${ofTenant}`).all({ tenant })
          : this.db
              .prepare(
                `SELECT * FROM dead_letters WHERE task_id IN (SELECT value FROM json_each(@ids))${ofTenant}`,
              )
              .all({ ids: JSON.stringify(taskIds), tenant })
      ) as Database['dead_letters'][];
      const del = this.db.prepare('DELETE FROM dead_letters WHERE task_id = ?');
      for (const r of rows) {
        del.run(r.task_id);
        chain.add(r.session_id, records.taskPurged(r.task_id, r.agent_key, now));
      }
      return rows.length;
    });
  }

  async getBreakers(): Promise<Map<string, BreakerSnapshot>> {
    const rows = this.db.prepare('SELECT * FROM circuit_breakers').all() as Database['circuit_breakers'][];
    return new Map(rows.map((r) => [r.agent_key, rowToBreaker(r)]));
  }

  async resetBreaker(
    agentKey: string,
    now: number,
    data: Record<string, unknown>,
  ): Promise<BreakerSnapshot | undefined> {
    return this.tx((chain) => {
      const row = this.db.prepare('SELECT * FROM circuit_breakers WHERE agent_key = ?').get(agentKey) as
        Database['circuit_breakers'] | undefined;
      if (!row || (row.state === 'closed' && row.consecutive_failures === 0)) return undefined;
      const previous = rowToBreaker(row);
      this.db.prepare('DELETE FROM circuit_breakers WHERE agent_key = ?').run(agentKey);
      const sessions = this.db
        .prepare("SELECT DISTINCT session_id FROM tasks WHERE agent_key = ? AND state = 'queued'")
        .all(agentKey) as { session_id: string }[];
      for (const { session_id } of sessions) {
        chain.add(session_id, records.breakerReset(agentKey, now, data, previous));
      }
      return previous;
    });
  }

  // ---- logs and provenance --------------------------------------------------------------------

  async appendLogs(lines: readonly LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    this.tx(() => {
      for (const l of lines) this.stmt.insertLog.run(l.taskId, l.attempt, l.line, l.stream, l.message, l.at);
    });
  }

  async readLogs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]> {
    const rows = this.db
      .prepare(
        'SELECT * FROM task_logs WHERE task_id = ? AND (attempt > ? OR (attempt = ? AND line > ?)) ORDER BY attempt, line LIMIT 10000',
      )
      .all(taskId, after?.attempt ?? -1, after?.attempt ?? -1, after?.line ?? -1) as Database['task_logs'][];
    return rows.map((r) => ({
      taskId: r.task_id,
      attempt: r.attempt,
      line: r.line,
      stream: r.stream as LogLine['stream'],
      message: r.message,
      at: Number(r.at),
    }));
  }

  // ---- governance -----------------------------------------------------------------------------

  async recordGovernance(record: GovernanceRecord): Promise<void> {
    this.tx((chain) => this.flags.record(chain, record));
  }

  async listFlags(filter: FlagFilter): Promise<TraceFlagRecord[]> {
    return this.flags.list(filter);
  }

  async flagCounts(sessionId?: string): Promise<FlagCount[]> {
    return this.flags.counts(sessionId);
  }

  async releaseQuarantined(taskId: string, now: number, data: Record<string, unknown>): Promise<Task> {
    return this.tx((chain) => this.flags.release(chain, taskId, now, data));
  }

  async agentHistory(agentKey: string, limit: number): Promise<AgentRunStat[]> {
    return this.flags.history(agentKey, limit);
  }

  // ---- KPIs and feedback (kpis.ts) ------------------------------------------------------------

  async agentKpis(filter: KpiFilter): Promise<AgentKpi[]> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    return kpis.agentKpis(this.db, filter);
  }

  async putFeedback(feedback: TaskFeedback): Promise<void> {
    this.tx((chain) => kpis.putFeedback(this.db, chain, feedback));
  }

  async tenantActivity(query: ActivityQuery): Promise<TenantActivity> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    return overview.tenantActivity(this.db, query);
  }

  async readChain(sessionId: string): Promise<StoredLink[]> {
    const rows = this.db
      .prepare('SELECT seq, prev_hash, hash, record FROM provenance WHERE session_id = ? ORDER BY seq')
      .all(sessionId) as { seq: number; prev_hash: string; hash: string; record: string }[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recordJson: r.record,
    }));
  }

  async verifyChain(sessionId: string): Promise<ChainVerification> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    // What this process committed is its own to vouch for: sign it now rather than report it unsigned
    // (busy: those records are reported unsigned, and signed on the timer). With a writer thread, the
    // commits of both connections: the thread's, and the writes this connection still makes itself.
    this.signDirtyHere(sessionId);
    if (this.pipelinesWrites()) await this.signUnsigned(sessionId);
    const reader = await this.openChainReader();
    try {
      const witnessed = this.provenance.witness?.latest(sessionId);
      return await verifyStoredSession({
        reader,
        sessionId,
        key: this.provenance.signer,
        ...(witnessed ? { witnessed } : {}),
        pacer: new Pacer(),
      });
    } finally {
      reader.close();
    }
  }

  async openChainReader(): Promise<ChainReader> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    try {
      return SqliteChainReader.open(this.provenance.path, this.db);
    } catch (cause) {
      throw new WardenError('STORAGE_ERROR', `Cannot open a reader: ${(cause as Error).message}`, { cause });
    }
  }

  async witnessedHeads(): Promise<SignedTreeHead[]> {
    return this.provenance.witness?.all() ?? [];
  }

  async latestTreeHead(sessionId: string): Promise<SignedTreeHead | undefined> {
    return this.treeHeads.latest(sessionId);
  }

  pipelinesWrites(): boolean {
    return this.writes?.threaded === true;
  }

  /**
   * Signs the session's head if commits of this connection grew it since the last signature (else does
   * nothing); failures leave it to the timer. On a threaded store this runs in the writer thread.
   */
  async signUnsigned(sessionId: string): Promise<void> {
    this.signDirtyHere(sessionId);
  }

  private signDirtyHere(sessionId: string): void {
    try {
      this.treeHeads.signDirty(sessionId);
    } catch {
      // Busy or closed: signed on the timer or at close.
    }
  }

  async signTreeHead(sessionId: string): Promise<SignedTreeHead | undefined> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    return this.treeHeads.signNow(sessionId);
  }

  // ---- agent code (migration 0008; implemented in agent-code.ts) ------------------------------

  async putAgentCode(
    digest: string,
    files: readonly AgentCodeFile[],
    now: number,
    version?: AgentCodeVersion,
  ): Promise<void> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    agentCode.putAgentCode(this.db, digest, files, now, version);
  }

  async getAgentCode(digest: string): Promise<AgentCodeFile[] | undefined> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    return agentCode.getAgentCode(this.db, digest);
  }

  async agentCodeFor(version: AgentCodeVersion): Promise<string | undefined> {
    if (this.closed) throw new WardenError('CLOSED', 'The store is closed');
    return agentCode.agentCodeFor(this.db, version);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes?.close();
    try {
      this.treeHeads.close();
    } catch {
      // Unsigned growth is signed on the next start's first commit or export.
    }
    await this.checkpointer?.stop();
    await this.kysely.destroy();
  }
}
