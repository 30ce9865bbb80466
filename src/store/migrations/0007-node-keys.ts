import type { Kysely } from 'kysely';

// The public tree-head keys of the nodes that share one database (issue 13): each node signs with its own
// Ed25519 key, kept in its own key directory, and registers the public half here. Verification accepts a
// head signed by any registered key that is not revoked; revoking a node's key (revoked_at) stops that.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('node_keys')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('public_key_pem', 'text', (c) => c.notNull())
    .addColumn('node_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('node_keys').ifExists().execute();
}
