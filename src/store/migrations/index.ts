import { Migrator, SqliteAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { WardenError } from '../../core/index.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-tree-heads.js';
import * as m0003 from './0003-governance.js';
import * as m0004 from './0004-api.js';
import * as m0005 from './0005-tenancy.js';
import * as m0006 from './0006-result-records.js';
import * as m0007 from './0007-node-keys.js';
import * as m0008 from './0008-agent-files.js';
import * as m0009 from './0009-queue-autovacuum.js';
import * as m0010 from './0010-session-policy.js';
import * as m0011 from './0011-queued-by-agent.js';
import * as m0012 from './0012-one-statement-abort.js';
import * as m0013 from './0013-session-placement.js';
import * as m0014 from './0014-routing-memory.js';

/** Numbered, forward-only. Never edit a shipped migration: add the next number. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-tree-heads': m0002,
  '0003-governance': m0003,
  '0004-api': m0004,
  '0005-tenancy': m0005,
  '0006-result-records': m0006,
  '0007-node-keys': m0007,
  '0008-agent-files': m0008,
  '0009-queue-autovacuum': m0009,
  '0010-session-policy': m0010,
  '0011-queued-by-agent': m0011,
  '0012-one-statement-abort': m0012,
  '0013-session-placement': m0013,
  '0014-routing-memory': m0014,
};

/** The names of the migrations this build knows, in order (`warden migrate` and the schema check use them). */
export function knownMigrations(): string[] {
  return [...MIGRATION_NAMES];
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
  if (!sqlite) return migratePostgres(db);
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

/** Names of the migrations this build knows, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS);

/** Key of the session-level advisory lock that serialises migrations of one PostgreSQL database. */
const PG_MIGRATION_LOCK = sql`hashtextextended('warden_migrations', 0)`;

/**
 * PostgreSQL: the whole run (creating Kysely's own tables included, which races on a new database: two
 * `CREATE TABLE IF NOT EXISTS` can both try to create the type) holds a session advisory lock on one
 * connection, so concurrent opens wait for the first and then find every migration applied.
 */
async function migratePostgres(db: Kysely<unknown>): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${PG_MIGRATION_LOCK})`.execute(conn).catch((cause: unknown) => {
      throw migrationError(cause);
    });
    try {
      if (await upToDate(conn)) return [];
      return await runMigrator(conn, false);
    } finally {
      await sql`select pg_advisory_unlock(${PG_MIGRATION_LOCK})`.execute(conn).catch(() => undefined);
    }
  });
}

/** The names in warden_migrations; undefined when there is no such table (a new database). */
async function appliedNames(db: Kysely<unknown>): Promise<Set<string> | undefined> {
  try {
    const { rows } = await sql<{ name: string }>`select name from warden_migrations`.execute(db);
    return new Set(rows.map((r) => r.name));
  } catch {
    return undefined;
  }
}

/** A database some migration of which this build does not know was migrated by a newer Warden. */
function refuseNewer(names: ReadonlySet<string>): void {
  const unknown = [...names].filter((n) => !Object.hasOwn(MIGRATIONS, n)).sort();
  if (unknown.length === 0) return;
  throw new WardenError(
    'SCHEMA_TOO_NEW',
    `The database schema is newer than this Warden knows (it has migration${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this build knows up to ${MIGRATION_NAMES[MIGRATION_NAMES.length - 1]}). A newer Warden migrated it: upgrade this process to that version; never point an older build at it.`,
    { details: { unknown, latestKnown: MIGRATION_NAMES[MIGRATION_NAMES.length - 1] } },
  );
}

async function upToDate(db: Kysely<unknown>): Promise<boolean> {
  const names = await appliedNames(db);
  if (!names) return false; // no migrations table yet: a new database
  refuseNewer(names);
  return MIGRATION_NAMES.every((m) => names.has(m));
}

/**
 * For a process that does not migrate (`migrate: false`): refuses a schema newer than this build
 * (SCHEMA_TOO_NEW) and one that still has pending migrations (SCHEMA_BEHIND, saying to run `warden migrate`).
 */
export async function checkSchema(db: Kysely<unknown>): Promise<void> {
  const names = await appliedNames(db);
  if (names) refuseNewer(names);
  const pending = MIGRATION_NAMES.filter((m) => !names?.has(m));
  if (pending.length > 0)
    throw new WardenError(
      'SCHEMA_BEHIND',
      `The database schema is not up to date (pending: ${pending.join(', ')}): run \`warden migrate\` first, or open with migrations enabled.`,
      { details: { pending } },
    );
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
  if (error) {
    // Kysely refuses a database with a migration it does not know: say so in our words.
    const names = await appliedNames(db);
    if (names) refuseNewer(names);
    throw migrationError(error);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

function migrationError(cause: unknown): WardenError {
  if (cause instanceof WardenError) return cause;
  return new WardenError(
    'STORAGE_ERROR',
    `Database migration failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
}
