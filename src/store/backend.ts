import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { WardenError } from '../core/index.js';
import { TreeHeadKey, loadOrCreateTreeHeadKey, type TreeHeadSigner } from '../provenance/index.js';
import { LocalChangeFeed, type ChangeFeed } from './change-feed.js';
import { knownMigrations, migrateToLatest } from './migrations/index.js';
import { PostgresChangeFeed, redactUrl } from './postgres-change-feed.js';
import { openPostgresStore, startPostgresMaintenance, type PostgresStoreOptions } from './postgres/index.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** Where the store lives: one embedded SQLite file, or a PostgreSQL database shared by many processes. */
export type BackendOptions =
  | { sqlite: { path: string; synchronous?: 'normal' | 'full'; writerThread?: boolean | 'auto' } }
  | { postgres: PostgresStoreOptions };

/** An open backend: the store, the feed of its changes and the node key that signs its tree heads. */
export interface Backend {
  kind: 'sqlite' | 'postgres';
  store: Store;
  feed: ChangeFeed;
  /** This node's tree-head key: the store signs with it; its public half goes into exported bundles. */
  signer: TreeHeadSigner;
  /**
   * PostgreSQL with `maintenance` on: whether this node is the database's maintenance leader now (it
   * reaps expired leases and signs tree heads for every node). Absent otherwise: on SQLite each process's
   * scheduler reaps for itself, and each store signs its own commits.
   */
  maintenance?: { readonly isLeader: boolean };
  close(): Promise<void>;
}

/**
 * Opens the store and its change feed, with this node's tree-head key loaded (or created) and handed to the
 * store. On PostgreSQL with `migrate: false`, a schema that is behind this
 * build is refused (SCHEMA_BEHIND) before anything else is done: run `warden migrate` first.
 * @example
 * const { store, feed } = await openBackend({ postgres: { url: process.env.DATABASE_URL!, keyDir: './data' } });
 */
export async function openBackend(options: BackendOptions): Promise<Backend> {
  if ('sqlite' in options) {
    const signer = sqliteNodeKey(options.sqlite.path);
    const store = await openSqliteStore(
      {
        path: options.sqlite.path,
        ...(options.sqlite.synchronous ? { synchronous: options.sqlite.synchronous } : {}),
        writerThread: options.sqlite.writerThread ?? false,
      },
      signer,
    );
    const feed = new LocalChangeFeed();
    return { kind: 'sqlite', store, feed, signer, close: () => closeBoth(feed, store) };
  }
  const o = options.postgres;
  if (o.migrate === false) {
    const pending = await pendingMigrations({ postgres: o });
    if (pending.length > 0)
      throw new WardenError(
        'SCHEMA_BEHIND',
        `The database at ${redactUrl(o.url)} lacks ${pending.length} migration${pending.length === 1 ? '' : 's'} this build needs (${pending.join(', ')}), and auto-migration is off: run \`warden migrate\` (with the same DATABASE_URL or --database-url) first`,
        { details: { pending } },
      );
  }
  const signer = loadOrCreateTreeHeadKey(o.keyDir);
  // The feed tells this process's own changes from others' by this tag in the store's notifications.
  const origin = o.origin ?? randomBytes(6).toString('base64url');
  const store = await openPostgresStore({ ...o, origin }, signer);
  let feed: ChangeFeed;
  try {
    feed = await PostgresChangeFeed.open({ url: o.url, origin });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  const maintenance = await startPostgresMaintenance(store, o);
  return {
    kind: 'postgres',
    store,
    feed,
    signer,
    ...(maintenance ? { maintenance } : {}),
    // The leader first: its last duties (signing what is behind) use the store.
    close: async () => {
      await maintenance?.close();
      await closeBoth(feed, store);
    },
  };
}

/**
 * The embedded node's tree-head key: `keys/provenance-ed25519.pem` beside the database (a throwaway key for
 * ':memory:'). Exported for tests and tools that open the embedded store without a backend.
 */
export function sqliteNodeKey(path: string): TreeHeadSigner {
  if (path === ':memory:') return TreeHeadKey.generate();
  // The database's directory first, made as the store makes it: the key's own mkdir would make it owner-only.
  mkdirSync(dirname(path), { recursive: true });
  return loadOrCreateTreeHeadKey(join(dirname(path), 'keys'));
}

async function closeBoth(feed: ChangeFeed, store: Store): Promise<void> {
  await feed.close();
  await store.close();
}

/** Where `warden migrate` applies migrations: only the location matters. */
export type MigrateTarget = { sqlite: { path: string } } | { postgres: { url: string } };

/**
 * Applies the pending migrations and returns their names (empty: the schema was current). The
 * embedded store migrates on every open anyway; PostgreSQL processes started with auto-migration off
 * need this first.
 */
export async function migrateBackend(target: MigrateTarget): Promise<string[]> {
  if ('sqlite' in target) {
    const pending = existsSync(target.sqlite.path) ? await pendingMigrations(target) : knownMigrations();
    // Opening the embedded store migrates it (and sets up its file and key the same way every open does).
    const store = await openSqliteStore({ path: target.sqlite.path }, sqliteNodeKey(target.sqlite.path));
    await store.close();
    return pending;
  }
  return withPostgres(target.postgres.url, (db) => migrateToLatest(db));
}

/** The migrations this build knows that the database has not applied, in order. */
export async function pendingMigrations(target: MigrateTarget): Promise<string[]> {
  const read = async (db: Kysely<unknown>) => {
    try {
      const { rows } = await sql<{ name: string }>`select name from warden_migrations`.execute(db);
      const applied = new Set(rows.map((r) => r.name));
      return knownMigrations().filter((m) => !applied.has(m));
    } catch (err) {
      // No migrations table: an empty database. Anything else (unreachable, no rights) is not "behind".
      if (/does not exist|no such table/i.test((err as Error).message)) return knownMigrations();
      throw err;
    }
  };
  if ('postgres' in target) return withPostgres(target.postgres.url, read);
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const { SqliteDialect } = await import('kysely');
  const db = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: new BetterSqlite3(target.sqlite.path, { readonly: true }) }),
  });
  try {
    return await read(db);
  } finally {
    await db.destroy();
  }
}

async function withPostgres<T>(url: string, body: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5000 }),
    }),
  });
  try {
    return await body(db);
  } catch (cause) {
    if (cause instanceof WardenError) throw cause;
    throw new WardenError(
      'STORAGE_ERROR',
      `Cannot use the database at ${redactUrl(url)}: ${(cause as Error).message}`,
      { cause },
    );
  } finally {
    await db.destroy();
  }
}
