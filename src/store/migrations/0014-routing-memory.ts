import { SqliteAdapter, type Kysely } from 'kysely';

// Issue 16 (routing and memory):
// - `task_feedback`: a user's reward for a finished task (`warden feedback <task> --score 0.8`), one per task
//   (a later score replaces it); KPIs average it per agent version.
// - `memories`: Cortex memory items of a session (and optionally of one agent in it), with their embedding and
//   an expiry. `key` is the numeric id the vector index uses; `id` is the public one.
// - `agent_rollouts`: a canary between two versions of one agent name and its outcome, in the backend so every
//   process routes alike.
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('task_feedback')
    .addColumn('task_id', 'text', (c) => c.primaryKey())
    .addColumn('agent_key', 'text', (c) => c.notNull())
    .addColumn('score', 'double precision', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('task_feedback_agent').on('task_feedback').column('agent_key').execute();

  await db.schema
    .createTable('memories')
    .addColumn('key', sqlite ? 'integer' : 'bigserial', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    /** The agent name the item belongs to within the session; null: the whole session's. */
    .addColumn('agent', 'text')
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('embedder', 'text', (c) => c.notNull())
    .addColumn('embedding', sqlite ? 'blob' : 'bytea', (c) => c.notNull())
    .addColumn('task_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('memories_scope')
    .on('memories')
    .columns(['session_id', 'agent', 'key'])
    .execute();
  await db.schema.createIndex('memories_expiry').on('memories').column('expires_at').execute();

  await db.schema
    .createTable('agent_rollouts')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('canary_key', 'text', (c) => c.notNull())
    .addColumn('stable_key', 'text', (c) => c.notNull())
    /** canary | promoted | rolled-back */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('share', 'double precision', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addColumn('reason', 'text')
    .addPrimaryKeyConstraint('agent_rollouts_pk', ['tenant', 'name', 'canary_key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('agent_rollouts').ifExists().execute();
  await db.schema.dropTable('memories').ifExists().execute();
  await db.schema.dropTable('task_feedback').ifExists().execute();
}
