import { SqliteAdapter, type Kysely } from 'kysely';

// Agent code in the database (issue 13): on a shared backend, a worker on another machine runs a version
// whose files exist only on the disk of the process that registered it. `agent_code` holds each set of files
// once, content-addressed by its digest (the upload directory's digest) as one canonical archive;
// `agent_code_versions` says which files a version (key + registered module digest) runs from.
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('agent_code')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('archive', sqlite ? 'blob' : 'bytea', (c) => c.notNull())
    .addColumn('total_bytes', 'bigint', (c) => c.notNull())
    .addColumn('file_count', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('agent_code_versions')
    .addColumn('agent_key', 'text', (c) => c.notNull())
    .addColumn('module_digest', 'text', (c) => c.notNull())
    .addColumn('code_digest', 'text', (c) => c.notNull().references('agent_code.digest'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_code_versions_pk', ['agent_key', 'module_digest'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('agent_code_versions').ifExists().execute();
  await db.schema.dropTable('agent_code').ifExists().execute();
}
