import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateBackend, pendingMigrations } from '../../src/store/index.js';

/**
 * PostgreSQL for the scale-out tests: a server (the local one by default), a migrated template database
 * made once, and a fresh database per test file cloned from it (as graphile-worker's tests do), dropped
 * afterwards. Everything these tests create is named with PREFIX.
 */
export const PG_ADMIN_URL = process.env['WARDEN_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const PREFIX = process.env['WARDEN_TEST_DB_PREFIX'] ?? 'warden_test_';
const TEMPLATE = `${PREFIX}template`;
/** Serialises making the template and cloning it (a clone fails while anyone is connected to the template). */
const TEMPLATE_LOCK = 0x77617264; // 'ward'

export function urlOf(database: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function pgAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether PostgreSQL can be tested here: skips with one loud line when it is unreachable, and throws when
 * CI is set (CI starts it: a skip there would hide a broken setup).
 */
export async function requirePostgres(what: string): Promise<boolean> {
  if (await pgAvailable()) return true;
  if (process.env['CI'])
    throw new Error(`CI is set, and PostgreSQL is not reachable at ${PG_ADMIN_URL}: .ci/run starts it.`);
  console.warn(`\n!!! PostgreSQL is not reachable at ${PG_ADMIN_URL}: SKIPPING ${what}.\n`);
  return false;
}

/** Runs `body` on a connection to the admin database (the test server's default one). */
export async function admin<T>(body: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** The migrated template, made (or brought up to date) under an advisory lock held by the caller. */
async function ensureTemplate(c: pg.Client): Promise<void> {
  const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [TEMPLATE]);
  if (!rowCount) await c.query(`create database ${TEMPLATE}`);
  const target = { postgres: { url: urlOf(TEMPLATE) } };
  if ((await pendingMigrations(target)).length > 0) await migrateBackend(target);
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test file, cloned from the migrated template (`migrated: false`: an empty
 * one). Drop it in afterAll; the connections still open to it are ended.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `${PREFIX}${randomBytes(5).toString('hex')}`;
  await admin(async (c) => {
    if (options.migrated === false) {
      await c.query(`create database ${name}`);
      return;
    }
    await c.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      await ensureTemplate(c);
      await c.query(`create database ${name} template ${TEMPLATE}`);
    } finally {
      await c.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
  return {
    name,
    url: urlOf(name),
    drop: () => admin(async (c) => void (await c.query(`drop database if exists ${name} with (force)`))),
  };
}
