import type pg from 'pg';
import { WardenError } from '../../core/index.js';
import { ChainBatch, type ChainHead, type ChainedRecord, type OnAppended } from '../../provenance/index.js';
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
  /** The committing process's tag (PostgresStoreOptions.origin), so its own feed can tell its changes. */
  o?: string;
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
    private readonly chainHeads: ReadonlyMap<string, ChainHead> = new Map(),
    private readonly origin?: string,
  ) {
    this.chain = new ChainBatch((key) => digests.cached(key));
  }

  async q<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]> {
    return (await this.client.query<R>(text, values)).rows;
  }

  /** A hot statement, prepared once per connection under `name` (no parse and plan on later runs). */
  async named<R extends pg.QueryResultRow = Record<string, unknown>>(
    name: string,
    text: string,
    values: unknown[],
  ): Promise<R[]> {
    return (await this.client.query<R>({ name, text, values })).rows;
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
    this.notices.push(
      this.origin === undefined ? { taskId, state, sessionId } : { taskId, state, sessionId, o: this.origin },
    );
  }

  notifyLogs(taskId: string): void {
    this.logNotices.add(taskId);
  }

  /**
   * Writes everything collected; the caller commits. Each session's chain is appended by ONE statement that
   * locks the head row and, if the head is the one this process last wrote (`chainHeads`, a cache), writes
   * the links and moves the head in the same statement; otherwise it returns the real head (now locked by
   * this transaction), the links are made again after it and the same statement runs again, and this time it
   * matches. The last session's statement also carries the result rows, flags and notifications (they name
   * the records' seqs), so a transaction on one session whose head is cached writes everything in one round
   * trip. A chain is never forked: the head row is locked before the links are written, and (session, seq)
   * is the primary key of the records.
   */
  async flush(): Promise<void> {
    const sessions = this.chain.size > 0 ? this.chain.sessions() : [];
    if (sessions.length > 0) await this.digests.load(this.client, this.chain.agents());
    // Sessions in sorted order: concurrent writers lock chain heads in one order and never deadlock.
    for (let i = 0; i < sessions.length; i++) {
      await this.append(sessions[i]!, i === sessions.length - 1);
    }
    this.chain.clear();
    if (sessions.length === 0 && this.tailSize() > 0) {
      await this.client.query({ name: 'warden_tail', text: TAIL_SQL, values: this.tailValues() });
    }
    for (const fn of this.afterChain) await fn();
  }

  /**
   * The whole transaction as ONE autocommit statement (no BEGIN and COMMIT round trips), for work on one
   * session whose chain head this process knows: `work.ctes` (data-modifying CTEs on parameters $1..$k,
   * k = work.values.length), then the chain append after the cached head and the tail. Unless the head is
   * still the cached one and `work.applied` (SQL over the work's CTEs) holds, the statement aborts itself
   * (warden_abort: SQLSTATE WRD01, migration 0012), so it commits everything or nothing. Returns false,
   * having sent nothing, when the transaction does not fit; throws when the statement aborted or failed.
   */
  async commitAsOneStatement(name: string, work: OneStatementWork): Promise<boolean> {
    const sessions = this.chain.size > 0 ? this.chain.sessions() : [];
    if (sessions.length !== 1 || this.afterChain.length > 0) return false;
    const sessionId = sessions[0]!;
    const expected = this.chainHeads.get(sessionId);
    if (!expected) return false;
    await this.digests.load(this.client, this.chain.agents());
    const links = this.chain.link(sessionId, expected);
    const last = links[links.length - 1]!;
    const off = work.values.length;
    const text = `WITH ${work.ctes}, ${appendCtes(off, work.applied)}, ${tailCtes('(SELECT ok FROM ok)', off + 10)}
      SELECT CASE WHEN (SELECT ok FROM ok) THEN (SELECT count(*) FROM notes)
                  ELSE warden_abort('the chain head moved, or the work did not apply') END AS notified`;
    await this.client.query({
      name,
      text,
      values: [...work.values, ...appendValues(sessionId, expected, links), ...this.tailValues()],
    });
    this.heads.set(sessionId, { seq: last.record.seq, hash: last.hash });
    return true;
  }

  private tailSize(): number {
    return this.results.length + this.flagRows.length + this.notices.length + this.logNotices.size;
  }

  /** The values of tailCtes, in order. */
  private tailValues(): unknown[] {
    const rows = this.results.map(([r]) => r);
    const f = this.flagRows;
    return [
      rows.map((r) => r.taskId),
      rows.map((r) => r.status),
      rows.map((r) => r.output),
      rows.map((r) => r.error),
      rows.map((r) => r.attempts),
      rows.map((r) => r.usage),
      rows.map((r) => r.outputDigest),
      rows.map((r) => r.finishedAt),
      this.results.map(([, seq]) => seq),
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
      this.notices.map((n) => JSON.stringify(n)),
      [...this.logNotices].map((taskId) => JSON.stringify({ taskId })),
    ];
  }

  private async append(sessionId: string, withTail: boolean): Promise<void> {
    let expected = this.chainHeads.get(sessionId) ?? null;
    for (let round = 1; ; round++) {
      const links = this.chain.link(sessionId, expected, true);
      if (links.length === 0) return;
      const last = links[links.length - 1]!;
      const values = appendValues(sessionId, expected, links);
      const { rows } = await this.client.query<{ ok: boolean; seq: string | null; hash: string | null }>(
        withTail
          ? { name: 'warden_append_tail', text: APPEND_TAIL_SQL, values: [...values, ...this.tailValues()] }
          : { name: 'warden_append', text: APPEND_SQL, values },
      );
      const row = rows[0]!;
      if (row.ok) {
        this.heads.set(sessionId, { seq: last.record.seq, hash: last.hash });
        return;
      }
      // Another writer moved the head since this process last saw it; it is locked by this transaction now.
      const actual = row.seq === null ? null : { seq: Number(row.seq), hash: row.hash! };
      if (round >= 3 || (actual === null && expected === null))
        throw new Error(`the chain head of session ${sessionId} did not settle`);
      expected = actual;
    }
  }
}

/** The nine parameters of appendCtes, in order. */
function appendValues(sessionId: string, expected: ChainHead | null, links: ChainedRecord[]): unknown[] {
  const last = links[links.length - 1]!;
  return [
    sessionId,
    expected?.seq ?? null,
    expected?.hash ?? null,
    last.record.seq,
    last.hash,
    links.map((l) => l.record.seq),
    links.map((l) => l.record.prevHash),
    links.map((l) => l.hash),
    links.map((l) => l.recordJson),
  ];
}

// One session's append, its nine parameters numbered from $`1 + off`: lock the head row; if it is the
// expected head (or there is none and none was expected) and `applied` holds, insert the links and move the
// head. Says whether it did (ok), and the head it found.
function appendCtes(off: number, applied = 'true'): string {
  const p = (n: number) => `$${n + off}`;
  return `cur AS (
    SELECT seq, hash FROM provenance_heads WHERE session_id = ${p(1)} FOR UPDATE
  ), ok AS (
    SELECT CASE WHEN ${p(2)}::bigint IS NULL THEN NOT EXISTS (SELECT 1 FROM cur)
                ELSE EXISTS (SELECT 1 FROM cur WHERE seq = ${p(2)}::bigint AND hash = ${p(3)}::text) END
           AND ${applied} AS ok
  ), head AS (
    INSERT INTO provenance_heads (session_id, seq, hash) SELECT ${p(1)}, ${p(4)}, ${p(5)} WHERE (SELECT ok FROM ok)
    ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
  ), links AS (
    INSERT INTO provenance (session_id, seq, prev_hash, hash, record)
    SELECT ${p(1)}::text, * FROM unnest(${p(6)}::bigint[], ${p(7)}::text[], ${p(8)}::text[], ${p(9)}::text[])
    WHERE (SELECT ok FROM ok)
  )`;
}
const APPEND_CTES = appendCtes(0);
const APPEND_RESULT = `(SELECT ok FROM ok) AS ok, (SELECT seq FROM cur) AS seq, (SELECT hash FROM cur) AS hash`;
const APPEND_SQL = `WITH ${APPEND_CTES} SELECT ${APPEND_RESULT}`;

// Result rows, flags and notifications (delivered by PostgreSQL only on commit): 22 parameters numbered
// from `base` (the order of PgTx.tailValues), each written only when `when` holds.
function tailCtes(when: string, base: number): string {
  const types = [
    ...['text', 'text', 'text', 'text', 'int', 'text', 'text', 'bigint', 'bigint'],
    ...['text', 'text', 'text', 'text', 'text', 'int', 'text', 'int', 'text', 'text', 'bigint'],
    ...['text', 'text'],
  ];
  const p = types.map((t, i) => `$${base + i}::${t}[]`);
  return `res AS (
    INSERT INTO results (task_id, status, output, error, attempts, usage, output_digest, finished_at, record_seq)
    SELECT * FROM unnest(${p.slice(0, 9).join(', ')}) WHERE ${when}
  ), flg AS (
    INSERT INTO trace_flags (id, session_id, task_id, agent_key, type, severity, reason, auto_detected, detector,
      stage, created_at)
    SELECT * FROM unnest(${p.slice(9, 20).join(', ')}) WHERE ${when}
  ), notes AS (
    SELECT pg_notify('warden_tasks', n) FROM unnest(${p[20]}) n WHERE ${when}
    UNION ALL SELECT pg_notify('warden_logs', n) FROM unnest(${p[21]}) n WHERE ${when}
  )`;
}
const APPEND_TAIL_SQL = `WITH ${APPEND_CTES}, ${tailCtes('(SELECT ok FROM ok)', 10)}
  SELECT ${APPEND_RESULT}, (SELECT count(*) FROM notes) AS notified`;
const TAIL_SQL = `WITH ${tailCtes('true', 1)} SELECT (SELECT count(*) FROM notes) AS notified`;

/** What PgTx.commitAsOneStatement writes before the chain: CTEs over `values`, and when they applied. */
export interface OneStatementWork {
  ctes: string;
  values: unknown[];
  /** A boolean SQL expression over the CTEs: the statement commits only if it holds. */
  applied: string;
}

/** The SQLSTATE of warden_abort: a one-statement transaction that did not fit, and wrote nothing. */
export const ONE_STATEMENT_ABORTED = 'WRD01';

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
