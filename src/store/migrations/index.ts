import { Migrator, SqliteAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { WardenError } from '../../core/index.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-tree-heads.js';
import * as m0003 from './0003-governance.js';
import * as m0004 from './0004-api.js';
import * as m0005 from './0005-tenancy.js';
import * as m0006 from './0006-result-records.js';

/** Numbered, forward-only. Never edit a shipped migration: add the next number. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-tree-heads': m0002,
  '0003-governance': m0003,
  '0004-api': m0004,
  '0005-tenancy': m0005,
  '0006-result-records': m0006,
};

/** The names of the migrations this build knows, in order (`warden migrate` and the schema check use them). */
export function knownMigrations(): string[] {
  return Object.keys(MIGRATIONS);
}

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * Applies the pending migrations. Several processes may open a new data directory at the same moment:
 * on SQLite, Kysely's migration lock is a no-op (it assumes one connection) and its transaction is
 * DEFERRED, so two processes could both read "nothing applied" and both create the tables. Here the check
 * and the apply run in one BEGIN IMMEDIATE transaction: the first process takes the write lock, the others
 * wait for it (busy_timeout) and then find every migration applied. PostgreSQL uses Kysely's advisory lock.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  if (!sqlite) return runMigrator(db, false);
  // Most opens find the schema current: they never take the write lock.
  if (await upToDate(db)) return [];
  await sql`begin immediate`.execute(db).catch((cause: unknown) => {
    throw migrationError(cause);
  });
  let applied: string[];
  try {
    // Whoever held the lock before us has probably migrated: then there is nothing left to hold it for.
    applied = (await upToDate(db)) ? [] : await runMigrator(db, true);
  } catch (cause) {
    await sql`rollback`.execute(db).catch(() => undefined);
    throw cause;
  }
  await sql`commit`.execute(db);
  return applied;
}

async function upToDate(db: Kysely<unknown>): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from warden_migrations`.execute(db);
    const names = new Set(rows.map((r) => r.name));
    return Object.keys(MIGRATIONS).every((m) => names.has(m));
  } catch {
    return false; // no migrations table yet: a new database
  }
}

async function runMigrator(db: Kysely<unknown>, inOurTransaction: boolean): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'warden_migrations',
    migrationLockTableName: 'warden_migrations_lock',
    // Inside our IMMEDIATE transaction, Kysely's own would nest.
    disableTransactions: inOurTransaction,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw migrationError(error);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

function migrationError(cause: unknown): WardenError {
  return new WardenError(
    'STORAGE_ERROR',
    `Database migration failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
}
