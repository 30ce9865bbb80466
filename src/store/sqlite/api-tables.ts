import type BetterSqlite3 from 'better-sqlite3';
import { WardenError } from '../../core/index.js';
import { records } from '../../provenance/index.js';
import { rowToApiKey } from '../rows.js';
import type { ApiKeysTable, TracesTable } from '../schema.js';
import type { StoredLink } from '../../provenance/index.js';
import type { ApiKeyRecord, TraceFilter, TraceRecord, TraceSummary } from '../store.js';
import type { ChainWriter } from './chain-writer.js';

// API keys and traces for the SQLite store: off the scheduler's hot path, kept out of sqlite-store.ts.

const toTrace = (r: TracesTable): TraceRecord => ({
  id: r.id,
  sessionId: r.session_id,
  taskId: r.task_id,
  data: JSON.parse(r.data) as unknown,
  digest: r.digest,
  createdAt: Number(r.created_at),
});

export function insertApiKey(db: BetterSqlite3.Database, k: ApiKeyRecord, keyHash: string): void {
  db.prepare(
    'INSERT INTO api_keys (id, tenant, role, name, key_hash, created_at, revoked_at, scope) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)',
  ).run(k.id, k.tenant, k.role, k.name, keyHash, k.createdAt, k.installation ? 'installation' : 'tenant');
}

export function findApiKey(db: BetterSqlite3.Database, keyHash: string): ApiKeyRecord | undefined {
  const row = db.prepare('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL').get(keyHash) as
    ApiKeysTable | undefined;
  return row ? rowToApiKey(row) : undefined;
}

export function listApiKeys(db: BetterSqlite3.Database, tenant?: string): ApiKeyRecord[] {
  const rows = (
    tenant
      ? db.prepare('SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at').all(tenant)
      : db.prepare('SELECT * FROM api_keys ORDER BY created_at').all()
  ) as ApiKeysTable[];
  return rows.map(rowToApiKey);
}

export function revokeApiKey(db: BetterSqlite3.Database, id: string, now: number): boolean {
  return (
    db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id)
      .changes === 1
  );
}

export function insertTrace(
  db: BetterSqlite3.Database,
  chain: ChainWriter,
  t: Omit<TraceRecord, 'data'> & { dataJson: string },
): TraceRecord {
  db.prepare(
    'INSERT INTO traces (id, session_id, task_id, data, digest, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(t.id, t.sessionId, t.taskId, t.dataJson, t.digest, t.createdAt);
  chain.add(t.sessionId, records.traceCreated(t));
  return {
    id: t.id,
    sessionId: t.sessionId,
    taskId: t.taskId,
    data: JSON.parse(t.dataJson) as unknown,
    digest: t.digest,
    createdAt: t.createdAt,
  };
}

export function getTrace(db: BetterSqlite3.Database, id: string): TraceRecord | undefined {
  const row = db.prepare('SELECT * FROM traces WHERE id = ?').get(id) as TracesTable | undefined;
  return row ? toTrace(row) : undefined;
}

export function listTraces(db: BetterSqlite3.Database, f: TraceFilter): TraceSummary[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (f.sessionId) add('session_id = ?', f.sessionId);
  if (f.tenant) add('session_id IN (SELECT id FROM sessions WHERE tenant = ?)', f.tenant);
  if (f.taskId) add('task_id = ?', f.taskId);
  if (f.before)
    add(
      '(created_at < ? OR (created_at = ? AND id < ?))',
      f.before.createdAt,
      f.before.createdAt,
      f.before.id,
    );
  const rows = db
    .prepare(
      `SELECT id, session_id, task_id, digest, created_at FROM traces ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .all(...args, f.limit) as Omit<TracesTable, 'data'>[];
  return rows.map((r) => ({
    id: r.id,
    sessionId: r.session_id,
    taskId: r.task_id,
    digest: r.digest,
    createdAt: Number(r.created_at),
  }));
}

/** The chain records about a trace: its `trace.created` and every `trace.provenance` naming it. */
export function readTraceProvenance(
  db: BetterSqlite3.Database,
  sessionId: string,
  traceId: string,
): StoredLink[] {
  const rows = db
    .prepare(
      `SELECT seq, prev_hash, hash, record FROM provenance
       WHERE session_id = ? AND json_extract(record, '$.type') IN ('trace.created', 'trace.provenance')
         AND json_extract(record, '$.data.traceId') = ?
       ORDER BY seq`,
    )
    .all(sessionId, traceId) as { seq: number; prev_hash: string; hash: string; record: string }[];
  return rows.map((r) => ({ seq: Number(r.seq), prevHash: r.prev_hash, hash: r.hash, recordJson: r.record }));
}

export function traceProvenance(
  db: BetterSqlite3.Database,
  chain: ChainWriter,
  traceId: string,
  event: { kind: string; data: Record<string, unknown> },
  now: number,
): string {
  const trace = getTrace(db, traceId);
  if (!trace)
    throw new WardenError('TRACE_NOT_FOUND', `No trace with id ${traceId}`, { details: { traceId } });
  chain.add(trace.sessionId, records.traceProvenanceEvent(trace, event, now));
  return trace.sessionId;
}
