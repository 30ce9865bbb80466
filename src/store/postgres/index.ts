import { hostname } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { WardenError } from '../../core/index.js';
import { HeadWitness, type TreeHeadSigner } from '../../provenance/index.js';
import { checkSchema, migrateToLatest } from '../migrations/index.js';
import type { Store } from '../store.js';
import type { MaintenanceLeader } from './maintenance-leader.js';
import { startMaintenance, type MaintenanceOptions } from './maintenance.js';
import { PgStore } from './pg-store.js';
import { storageError } from './tx.js';

export { PgStore } from './pg-store.js';
export { MaintenanceLeader, MAINTENANCE_LOCK } from './maintenance-leader.js';
export type { MaintenanceOptions } from './maintenance.js';

/** How to reach and use the shared PostgreSQL database (issue 13: the scale-out backend). */
export interface PostgresStoreOptions {
  /** A libpq connection string, e.g. postgres://user@127.0.0.1:5432/warden */
  url: string;
  /**
   * Directory holding this node's own Ed25519 tree-head key (created on first use, owner-only; openBackend
   * loads it) and its witness. Each node registers its public key in the database; verify accepts heads
   * signed by any registered, unrevoked key.
   */
  keyDir: string;
  /** Stable name of this node in the cluster (defaults to hostname and pid). */
  nodeName?: string;
  pool?: { max?: number; idleTimeoutMs?: number; connectionTimeoutMs?: number };
  /** Server-side statement_timeout for every connection. @default 30000 */
  statementTimeoutMs?: number;
  /** Apply pending migrations on open (the embedded default); false requires `warden migrate` first. @default true */
  migrate?: boolean;
  /** At most one tree-head signature per session per this many ms (per node). @default 1000 */
  signIntervalMs?: number;
  /**
   * Tag of this process in the `warden_tasks` notifications its transactions send; its change feed, given the
   * same tag, marks them `own` (openBackend sets both).
   */
  origin?: string;
  /**
   * Contend for this database's maintenance leadership (long-running nodes: `serve`, `worker`): the leader
   * reaps expired leases and signs the tree heads of every session, for every node. Then this node's
   * commits are signed by the leader (and on demand, and at close), not by a timer of its own. Start the
   * leader with startPostgresMaintenance once the store is open. @default false
   */
  maintenance?: boolean | MaintenanceOptions;
}

const DEFAULT_SIGN_INTERVAL_MS = 1000;

function nodeNameOf(options: PostgresStoreOptions): string {
  return options.nodeName ?? `${hostname()}:${process.pid}`;
}

/**
 * Starts contending for the maintenance leadership of the store's database (see MaintenanceLeader), when
 * `options.maintenance` asks for it; close the leader before the store (its duties use the store).
 */
export async function startPostgresMaintenance(
  store: Pick<Store, 'reapExpiredLeases' | 'signTreeHead'>,
  options: PostgresStoreOptions,
): Promise<MaintenanceLeader | undefined> {
  if (!options.maintenance) return undefined;
  // Never fails: a database it cannot reach now is tried again every retryMs.
  return startMaintenance(store, {
    ...(options.maintenance === true ? {} : options.maintenance),
    url: options.url,
    nodeName: nodeNameOf(options),
    signIntervalMs: options.signIntervalMs ?? DEFAULT_SIGN_INTERVAL_MS,
  });
}

/**
 * Applies pending migrations to the database at `url` (under the same advisory lock as a migrating open) and
 * returns the names applied: what `warden migrate` runs. Refuses a newer schema (SCHEMA_TOO_NEW).
 */
export async function migratePostgres(url: string): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'warden-migrate' });
  pool.on('error', () => undefined);
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await migrateToLatest(kysely);
  } catch (err) {
    if (err instanceof WardenError && err.code !== 'STORAGE_ERROR') throw err;
    throw storageError(err instanceof WardenError ? (err.cause ?? err) : err, 'Migrating', redactUrl(url));
  } finally {
    await kysely.destroy();
  }
}

/** The directory of this node's tree-head witness inside its key directory. */
export const PG_WITNESS_DIR = 'tree-heads';

// Bigint columns (epoch milliseconds, seqs, counts) come back as JavaScript numbers, for this pool only
// (pg.types is process-wide; other pg users in the process keep their parsers).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}

/**
 * Opens the PostgreSQL store: a pg.Pool (an 'error' from an idle client, e.g. PostgreSQL restarting, is
 * absorbed: the pool drops that client and connects afresh on the next call), migrations under an advisory
 * lock (or, with `migrate: false`, a check that the schema is current), and the public half of `signer`, this
 * node's tree-head key (loaded by the caller, see openBackend), registered in `node_keys`.
 *
 * Witness: the SQLite store keeps a copy of every signed head in `keys/tree-heads` beside its database, to
 * catch a database put back to an older copy. With a shared database there is no one "beside": each node
 * keeps the heads IT signed in `<keyDir>/tree-heads`, and its verify compares the database with them. A
 * rollback of the database is caught by every node that signed after the restored point; a node that never
 * signed a session has no witness for it (verify then reports no witnessedSize).
 */
export async function openPostgresStore(
  options: PostgresStoreOptions,
  signer: TreeHeadSigner,
): Promise<Store> {
  const target = redactUrl(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.pool?.max ?? 10,
    idleTimeoutMillis: options.pool?.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.pool?.connectionTimeoutMs ?? 10_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    application_name: 'warden',
    types,
  });
  // Without a listener, an idle client's error (the server restarted or killed it) crashes the process.
  pool.on('error', () => undefined);
  // Nor may a checked-out client's (between the statements of a transaction): the statement in flight, or
  // the next one, fails instead, and the client is released as broken.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (options.migrate === false) await checkSchema(kysely);
    else await migrateToLatest(kysely);
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof WardenError && err.code !== 'STORAGE_ERROR') throw err;
    // A migration or connection failure: say what PostgreSQL said, and what to do about it.
    throw storageError(
      err instanceof WardenError ? (err.cause ?? err) : err,
      `Opening the store at ${target}`,
      target,
    );
  }
  const nodeName = nodeNameOf(options);
  try {
    await pool.query(
      `INSERT INTO node_keys (key_id, public_key_pem, node_name, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key_id) DO NOTHING`,
      [signer.keyId, signer.publicKeyPem, nodeName, Date.now()],
    );
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw storageError(err, 'Registering this node key', target);
  }
  // Kysely was for the migrations only; the store talks to the pool directly. Destroying it would end the pool.
  return new PgStore({
    pool,
    target,
    signer,
    nodeName,
    signIntervalMs: options.signIntervalMs ?? DEFAULT_SIGN_INTERVAL_MS,
    witness: new HeadWitness(join(options.keyDir, PG_WITNESS_DIR)),
    ...(options.origin !== undefined ? { origin: options.origin } : {}),
    selfSign: !options.maintenance,
  });
}
