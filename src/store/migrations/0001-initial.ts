import { SqliteAdapter, sql, type CreateTableBuilder, type Kysely } from 'kysely';

/**
 * SQLite stores a table with a non-integer primary key twice (the rowid table and the key's index);
 * WITHOUT ROWID keeps one b-tree, which makes the hot-path appends to the provenance chain cheaper.
 * Only for tables of small rows: tasks and results carry inputs and outputs of up to megabytes, which
 * SQLite advises against clustering. PostgreSQL has no such distinction.
 */
function clustered(db: Kysely<unknown>) {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  return <T extends string, C extends string>(b: CreateTableBuilder<T, C>) =>
    sqlite ? b.modifyEnd(sql`without rowid`) : b;
}

// Dialect-neutral DDL: the same migration builds the SQLite and the PostgreSQL schema.
export async function up(db: Kysely<unknown>): Promise<void> {
  const withoutRowid = clustered(db);
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('max_concurrency', 'integer', (c) => c.notNull())
    .addColumn('allow_network', 'integer', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('sessions_tenant_name', ['tenant', 'name'])
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('runtime', 'text', (c) => c.notNull())
    .addColumn('concurrency', 'integer', (c) => c.notNull())
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addColumn('module_digest', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agents_name').on('agents').column('name').execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('agent_key', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('run_after', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('idempotency_key', 'text')
    .addColumn('input', 'text', (c) => c.notNull())
    .addColumn('deadline', 'bigint')
    .addColumn('timeout_ms', 'integer')
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // Partial indexes hold only the tasks in flight: the claim scans queued tasks in (priority, id) order
  // (ids are UUIDv7, so id order is age order) and the reaper scans running leases, and neither index
  // grows with the history of finished tasks. Columns that change with state are kept out of the others.
  await db.schema
    .createIndex('tasks_claim')
    .on('tasks')
    .columns(['priority', 'id'])
    .where(sql.ref('state'), '=', 'queued')
    .execute();
  await db.schema
    .createIndex('tasks_running')
    .on('tasks')
    // Covers the per-claim count of running tasks by session and agent without touching the table.
    .columns(['session_id', 'agent_key', 'lease_until'])
    .where(sql.ref('state'), '=', 'running')
    .execute();
  await db.schema.createIndex('tasks_session').on('tasks').columns(['session_id', 'id']).execute();
  await db.schema.createIndex('tasks_agent').on('tasks').columns(['agent_key', 'id']).execute();
  // NULL keys are distinct in both dialects, so tasks without a key never collide.
  await db.schema
    .createIndex('tasks_idempotency')
    .on('tasks')
    .columns(['session_id', 'idempotency_key'])
    .unique()
    .execute();

  await db.schema
    .createTable('results')
    .addColumn('task_id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('output', 'text')
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('usage', 'text')
    .addColumn('output_digest', 'text')
    .addColumn('finished_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('dead_letters')
    .addColumn('task_id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('agent_key', 'text', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('dead_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('provenance')
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('record', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('provenance_pk', ['session_id', 'seq'])
    .$call(withoutRowid)
    .execute();

  await db.schema
    .createTable('provenance_heads')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .$call(withoutRowid)
    .execute();

  await db.schema
    .createTable('circuit_breakers')
    .addColumn('agent_key', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull())
    .addColumn('opened_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('task_logs')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_logs_pk', ['task_id', 'attempt', 'line'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'task_logs',
    'circuit_breakers',
    'provenance_heads',
    'provenance',
    'dead_letters',
    'results',
    'tasks',
    'agents',
    'sessions',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
