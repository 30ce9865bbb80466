import { createHash, randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadOrCreateTreeHeadKey } from '../../src/provenance/index.js';
import { MIGRATION_NAMES, migrateToLatest, type Store } from '../../src/store/index.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js';
import { admin, requirePostgres, urlOf } from '../scale-out/pg.js';

// Per-test-file PostgreSQL databases, made from a template database that was migrated once (as
// graphile-worker's tests do): CREATE DATABASE x TEMPLATE <template> copies the schema in a few tens of ms.

/** Prefix of every database the tests create (helpers running side by side use their own). */
const PREFIX = process.env['WARDEN_TEST_DB_PREFIX'] ?? 'warden_test_';

/** Skips loudly without PostgreSQL, and fails when CI is set (CI starts it). */
export const requirePg = (): Promise<boolean> => requirePostgres('the PostgreSQL store tests');

/** The template for this build's migrations: named by them, so a new migration makes a new template. */
async function template(): Promise<string> {
  const name = `${PREFIX}tpl_${createHash('sha256').update(MIGRATION_NAMES.join(',')).digest('hex').slice(0, 12)}`;
  await admin(async (c) => {
    // Test files run in parallel: one creates the template, the others wait for it.
    await c.query("SELECT pg_advisory_lock(hashtext('warden-test-template'))");
    try {
      const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rows.length > 0) return;
      const building = `${name}_building`;
      await c.query(`DROP DATABASE IF EXISTS ${building}`);
      await c.query(`CREATE DATABASE ${building}`);
      const pool = new pg.Pool({ connectionString: urlOf(building), max: 1 });
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
      }
      await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await c.query("SELECT pg_advisory_unlock(hashtext('warden-test-template'))");
    }
  });
  return name;
}

/** A fresh, migrated database for one test file; drop() removes it. */
export async function freshDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const tpl = await template();
  const name = `${PREFIX}${randomBytes(6).toString('hex')}`;
  await admin(async (c) => {
    // The template must have no other connection while it is copied: retry briefly if one is closing.
    for (let i = 0; ; i++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${tpl}`);
        return;
      } catch (err) {
        if (i >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    name,
    url: urlOf(name),
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** Empties every table but the migrations and the node keys, between tests of one file. */
export async function truncateAll(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `TRUNCATE sessions, agents, tasks, results, dead_letters, provenance, provenance_heads, tree_heads,
         circuit_breakers, task_logs, trace_flags, api_keys, traces, task_feedback, memories, agent_rollouts`,
    );
  } finally {
    await c.end();
  }
}

/** Runs one statement on the database (tests that tamper with it, or count behind the store's back). */
export async function pgExec<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** A PostgreSQL store with its node key loaded from (or created in) `keyDir`, as openBackend opens one. */
export function openPgStore(options: PostgresStoreOptions): Promise<Store> {
  return openPostgresStore(options, loadOrCreateTreeHeadKey(options.keyDir));
}
