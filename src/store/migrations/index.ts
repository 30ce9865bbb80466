import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { WardenError } from '../../core/index.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-tree-heads.js';
import * as m0003 from './0003-governance.js';
import * as m0004 from './0004-api.js';
import * as m0005 from './0005-tenancy.js';

/** Numbered, forward-only. Never edit a shipped migration: add the next number. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-tree-heads': m0002,
  '0003-governance': m0003,
  '0004-api': m0004,
  '0005-tenancy': m0005,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'warden_migrations',
    migrationLockTableName: 'warden_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new WardenError(
      'STORAGE_ERROR',
      `Database migration failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
