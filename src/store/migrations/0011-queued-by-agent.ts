import { SqliteAdapter, sql, type Kysely } from 'kysely';

// PostgreSQL only (issue 13): the claim's look reads each runnable agent version's first due tasks from
// this index, in (priority, id) order, and stops at its window. Without it, the planner, misled by a queue
// table whose size swings by thousands of rows between analyses, read every queued task of the versions
// and sorted them on each claim (2.5 ms per claim with 6,000 queued, most of one worker's time).
// It replaces tasks_claim (priority, id) on PostgreSQL, which no statement there needs any more: one index
// fewer to write on every submit and retry. SQLite keeps its own.
const isSqlite = (db: Kysely<unknown>) => db.getExecutor().adapter instanceof SqliteAdapter;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`CREATE INDEX IF NOT EXISTS tasks_queued_agent ON tasks (agent_key, priority, id) WHERE state = 'queued'`.execute(
    db,
  );
  await sql`DROP INDEX IF EXISTS tasks_claim`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) return;
  await sql`CREATE INDEX IF NOT EXISTS tasks_claim ON tasks (priority, id) WHERE state = 'queued'`.execute(
    db,
  );
  await sql`DROP INDEX IF EXISTS tasks_queued_agent`.execute(db);
}
