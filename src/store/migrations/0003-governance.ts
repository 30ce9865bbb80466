import type { Kysely } from 'kysely';

// Trace flags raised by governance detectors or by people (src/governance). Flags are append-only: a
// release or a merge decision adds provenance records, it never edits or deletes a flag.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('trace_flags')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('task_id', 'text')
    .addColumn('agent_key', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('severity', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('auto_detected', 'integer', (c) => c.notNull())
    .addColumn('detector', 'text')
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trace_flags_task').on('trace_flags').columns(['task_id']).execute();
  await db.schema
    .createIndex('trace_flags_session')
    .on('trace_flags')
    .columns(['session_id', 'created_at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('trace_flags').ifExists().execute();
}
