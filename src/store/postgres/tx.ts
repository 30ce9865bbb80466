import type pg from 'pg';
import { WardenError } from '../../core/index.js';
import { ChainBatch, type ChainHead, type OnAppended } from '../../provenance/index.js';
import type { TraceFlagRecord } from '../store.js';

/** A result row, written once the record that commits to it has its seq. */
export interface ResultRow {
  taskId: string;
  status: string;
  output: string | null;
  error: string | null;
  attempts: number;
  usage: string | null;
  outputDigest: string | null;
  finishedAt: number;
}

/** The change-feed payload of the `warden_tasks` channel (the contract with the wiring's change feed). */
export interface TaskNotice {
  taskId: string;
  state: string;
  sessionId: string;
}

const RETRYABLE_SQLSTATE = new Set(['40001', '40P01']);

/**
 * One PostgreSQL transaction of the store: its statements, and what it writes at the end in a few batched
 * statements (the provenance records, each session's chain under a lock on its head row; result rows,
 * flags and dead letters; the change-feed notifications, delivered by PostgreSQL only on commit).
 */
export class PgTx {
  readonly chain: ChainBatch;
  private readonly results: [ResultRow, number | null][] = [];
  private readonly flagRows: TraceFlagRecord[] = [];
  private readonly afterChain: (() => Promise<void>)[] = [];
  private readonly notices: TaskNotice[] = [];
  private readonly logNotices = new Set<string>();
  /** Chain heads after the flush, by session. */
  readonly heads = new Map<string, ChainHead>();

  constructor(
    readonly client: pg.PoolClient,
    private readonly digests: AgentDigests,
  ) {
    this.chain = new ChainBatch((key) => digests.cached(key));
  }

  async q<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]> {
    return (await this.client.query<R>(text, values)).rows;
  }

  async count(text: string, values?: unknown[]): Promise<number> {
    return (await this.client.query(text, values)).rowCount ?? 0;
  }

  /** An onAppended that writes the result row naming the record's seq. */
  resultAt(row: ResultRow): OnAppended {
    const entry: [ResultRow, number | null] = [row, null];
    this.results.push(entry);
    return (seq) => {
      entry[1] = seq;
    };
  }

  flags(flags: readonly TraceFlagRecord[]): void {
    this.flagRows.push(...flags);
  }

  /** Runs once the records are linked (their seqs known), before the commit. */
  afterLinked(fn: () => Promise<void>): void {
    this.afterChain.push(fn);
  }

  notify(taskId: string, state: string, sessionId: string): void {
    this.notices.push({ taskId, state, sessionId });
  }

  notifyLogs(taskId: string): void {
    this.logNotices.add(taskId);
  }

  /** Writes everything collected; the caller commits. */
  async flush(): Promise<void> {
    if (this.chain.size > 0) {
      await this.digests.load(this.client, this.chain.agents());
      // Sessions in sorted order: concurrent writers lock chain heads in one order and never deadlock.
      for (const sessionId of this.chain.sessions()) {
        const [row] = await this.q<{ seq: number; hash: string }>(
          'SELECT seq, hash FROM provenance_heads WHERE session_id = $1 FOR UPDATE',
          [sessionId],
        );
        const links = this.chain.link(sessionId, row ? { seq: Number(row.seq), hash: row.hash } : null);
        if (links.length === 0) continue;
        const last = links[links.length - 1]!;
        await this.client.query(
          `WITH links AS (
             INSERT INTO provenance (session_id, seq, prev_hash, hash, record)
             SELECT $1::text, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
           )
           INSERT INTO provenance_heads (session_id, seq, hash) VALUES ($1, $6, $7)
           ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
          [
            sessionId,
            links.map((l) => l.record.seq),
            links.map((l) => l.record.prevHash),
            links.map((l) => l.hash),
            links.map((l) => l.recordJson),
            last.record.seq,
            last.hash,
          ],
        );
        this.heads.set(sessionId, { seq: last.record.seq, hash: last.hash });
      }
    }
    if (this.results.length > 0) {
      const rows = this.results.map(([r]) => r);
      await this.client.query(
        `INSERT INTO results (task_id, status, output, error, attempts, usage, output_digest, finished_at, record_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])`,
        [
          rows.map((r) => r.taskId),
          rows.map((r) => r.status),
          rows.map((r) => r.output),
          rows.map((r) => r.error),
          rows.map((r) => r.attempts),
          rows.map((r) => r.usage),
          rows.map((r) => r.outputDigest),
          rows.map((r) => r.finishedAt),
          this.results.map(([, seq]) => seq),
        ],
      );
    }
    if (this.flagRows.length > 0) {
      const f = this.flagRows;
      await this.client.query(
        `INSERT INTO trace_flags (id, session_id, task_id, agent_key, type, severity, reason, auto_detected, detector, stage, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[], $9::text[], $10::text[], $11::bigint[])`,
        [
          f.map((x) => x.id),
          f.map((x) => x.sessionId),
          f.map((x) => x.taskId),
          f.map((x) => x.agentKey),
          f.map((x) => x.type),
          f.map((x) => x.severity),
          f.map((x) => x.reason),
          f.map((x) => (x.autoDetected ? 1 : 0)),
          f.map((x) => x.detector),
          f.map((x) => x.stage),
          f.map((x) => x.createdAt),
        ],
      );
    }
    for (const fn of this.afterChain) await fn();
    const payloads = this.notices.map((n) => JSON.stringify(n));
    const logPayloads = [...this.logNotices].map((taskId) => JSON.stringify({ taskId }));
    if (payloads.length > 0 || logPayloads.length > 0)
      await this.client.query(
        `SELECT pg_notify('warden_tasks', p) FROM unnest($1::text[]) p
         UNION ALL SELECT pg_notify('warden_logs', p) FROM unnest($2::text[]) p`,
        [payloads, logPayloads],
      );
  }
}

/** Registered code digests of agent versions: immutable once read, so cached for the store's life. */
export class AgentDigests {
  private readonly map = new Map<string, string | null>();

  cached(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  set(key: string, digest: string | null): void {
    this.map.set(key, digest);
  }

  async load(client: pg.PoolClient, keys: Iterable<string>): Promise<void> {
    const missing = [...keys].filter((k) => !this.map.has(k));
    if (missing.length === 0) return;
    const { rows } = await client.query<{ key: string; module_digest: string | null }>(
      'SELECT key, module_digest FROM agents WHERE key = ANY($1::text[])',
      [missing],
    );
    for (const r of rows) this.map.set(r.key, r.module_digest);
  }
}

/** Whether the whole transaction may simply run again (a deadlock victim, a serialization failure). */
export function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return (
    RETRYABLE_SQLSTATE.has(e.code ?? '') ||
    // Two first appends to one new chain both found no head row: the loser runs again and finds one.
    (e.code === '23505' && (e.constraint === 'provenance_pk' || e.constraint === 'provenance_heads_pkey'))
  );
}

/** Whether the connection under the failed query is gone (the pool must not get it back). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e.code === 'string' && /^(08|57P0)/.test(e.code)) return true;
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(
      e.code ?? '',
    ) ||
    /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(
      e.message ?? '',
    )
  );
}

/** A PostgreSQL failure as a WardenError that says what to do. */
export function storageError(err: unknown, what: string, target: string): WardenError {
  if (err instanceof WardenError) return err;
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  let hint: string;
  if (isConnectionError(err))
    hint = `PostgreSQL at ${target} is unreachable or restarted: check that it is running and that the URL is right; the next call retries on a fresh connection`;
  else if (e.code === '57014')
    hint =
      'a statement ran past statement_timeout: raise the store option statementTimeoutMs, or look in pg_stat_activity for a session holding locks';
  else if (e.code === '53300')
    hint = 'PostgreSQL has no free connection slots: lower pool.max per process or raise max_connections';
  else if (e.code === '42P01' || e.code === '42703')
    hint = 'the schema is missing or older than this build: run `warden migrate`';
  else hint = 'the transaction was rolled back; retry the operation';
  return new WardenError('STORAGE_ERROR', `${what} failed on PostgreSQL (${message}): ${hint}.`, {
    cause: err,
    details: { sqlstate: e.code ?? null },
  });
}
