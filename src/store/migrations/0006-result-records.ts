import { SqliteAdapter, sql, type Kysely } from 'kysely';

/** The record types whose record commits to a task's result row (status, and output digest or error). */
const RESULT_RECORDS = [
  'task.succeeded',
  'task.quarantined',
  'task.released',
  'task.failed',
  'task.dead_lettered',
  'task.cancelled',
];

// Each result row names the provenance record that commits to it (its seq in the task's session), so that
// serving a result checks it against that record with one indexed lookup. Rows written before this
// migration are linked to the latest such record of their task.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('results').addColumn('record_seq', 'bigint').execute();
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const field = (name: string) =>
    sqlite
      ? sql`json_extract(p.record, ${sql.lit(`$.${name}`)})`
      : sql`(p.record::jsonb ->> ${sql.lit(name)})`;
  await sql`
    UPDATE results SET record_seq = x.seq
    FROM (
      SELECT p.session_id, ${field('taskId')} AS task_id, max(p.seq) AS seq
      FROM provenance p
      WHERE ${field('type')} IN (${sql.join(RESULT_RECORDS)})
      GROUP BY 1, 2
    ) AS x, tasks t
    WHERE t.id = results.task_id AND x.session_id = t.session_id AND x.task_id = results.task_id
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('results').dropColumn('record_seq').execute();
}
