import { SqliteAdapter, sql, type Kysely } from 'kysely';

// PostgreSQL only (issue 13): `tasks` is a queue table, rewritten on every claim and finish. With the
// default thresholds (20 % of the table changed) autovacuum first analyses a fresh database only after
// thousands of tasks, and until then the claim is planned without statistics (it was seen reading the whole
// queue on every call); between vacuums, dead entries in the partial claim and running indexes slow each
// claim. A queue table wants small, frequent vacuums and analyses instead.
const isSqlite = (db: Kysely<unknown>) => db.getExecutor().adapter instanceof SqliteAdapter;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`ALTER TABLE tasks SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 500,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_analyze_threshold = 500,
    autovacuum_vacuum_cost_delay = 0
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`ALTER TABLE tasks RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold, autovacuum_vacuum_cost_delay
  )`.execute(db);
}
