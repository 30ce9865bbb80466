import type { Kysely } from 'kysely';

// A session can restrict where its tasks run (issue 15: edge nodes): 'required', 'allowed' or 'never'.
// Null, for every session created before, means 'allowed': each agent's own placement decides.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('placement', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('placement').execute();
}
