import type { Kysely } from 'kysely';

// A session's governance policy is resolved once, when the session is created, and stored with it
// (issue 13): 'default' meant each process's own GOVERNANCE_POLICY, and a policy file was read from the disk
// of whichever machine ran the task. Sessions created before this migration keep a null document and their
// policy name is resolved as before.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('policy_document', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('policy_document').execute();
}
