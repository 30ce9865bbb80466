import type { Kysely } from 'kysely';

// Agents belong to a tenant (issue 12: they were global, so one tenant's admin could replace the code
// another tenant's tasks ran). Versions registered before this migration belong to the default tenant and
// are not shared: other tenants reach them only once an installation admin shares them (registering the
// same version again with `--shared`). A key can be installation-wide: an admin key of the default tenant
// created with `warden keys create --installation`, the only kind that may share agents or read metrics.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('agents')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .execute();
  await db.schema
    .alterTable('agents')
    .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('agents_tenant').on('agents').columns(['tenant', 'name']).execute();
  await db.schema
    .alterTable('api_keys')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('tenant'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('agents_tenant').ifExists().execute();
  await db.schema.alterTable('api_keys').dropColumn('scope').execute();
  await db.schema.alterTable('agents').dropColumn('shared').execute();
  await db.schema.alterTable('agents').dropColumn('tenant').execute();
}
