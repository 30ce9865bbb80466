import { SqliteAdapter, sql, type Kysely } from 'kysely';

// The latest signed Merkle tree head of each session, with the tree's frontier (the roots of its complete
// subtrees, concatenated hex) so a restarted process extends the tree without rehashing the chain.
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('tree_heads')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('tree_size', 'bigint', (c) => c.notNull())
    .addColumn('root_hash', 'text', (c) => c.notNull())
    .addColumn('chain_hash', 'text', (c) => c.notNull())
    .addColumn('frontier', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .$call((b) => (sqlite ? b.modifyEnd(sql`without rowid`) : b))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tree_heads').ifExists().execute();
}
