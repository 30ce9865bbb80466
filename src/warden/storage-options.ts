import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { WardenError } from '../core/index.js';
import type { BackendOptions } from '../store/index.js';
import { resolveDataDirectory, type DataDirectory } from './data-dir.js';

/** A shared PostgreSQL database (issue 13: many API servers and workers on one queue). */
export interface PostgresSettings {
  /** A libpq connection string, e.g. postgres://warden@db.internal:5432/warden */
  url: string;
  /** Connections this process keeps open to PostgreSQL. */
  pool?: { max?: number; idleTimeoutMs?: number; connectionTimeoutMs?: number };
  /** Server-side statement_timeout of every connection. @default 30000 */
  statementTimeoutMs?: number;
  /** This node's name in the cluster (its tree-head key is registered under it). @default host and pid */
  nodeName?: string;
}

export interface StorageOptions {
  /**
   * Directory of the embedded database, its signing key and uploaded agent files; on PostgreSQL it still
   * holds this node's signing key and uploaded agent files.
   * @default process.env.WARDEN_DATA ?? process.env.STORAGE_ROOT ?? './data'
   */
  root?: string;
  /** Explicit SQLite file (':memory:' for throwaway use); overrides root. */
  sqlitePath?: string;
  /** @default 'normal' — survives process crashes; 'full' also survives power loss. */
  synchronous?: 'normal' | 'full';
  /**
   * Embedded store: run its writes on a writer thread with its own connection (same commits, same
   * durability), so that the event loop never waits on SQLite: not for its b-tree work, and not for the
   * database lock while another process (a `warden worker` on the same file) holds it. `'auto'` starts the
   * thread once a thousand tasks were submitted or finished, `true` at open, `false` never. Off by default:
   * on the 2-core machine it was measured on, the thread hop costs more than it frees (docs/scheduler.md).
   * @default process.env.WARDEN_SQLITE_WRITER_THREAD ('0', '1' or 'auto') ?? false
   */
  writerThread?: boolean | 'auto';
  /**
   * Use this PostgreSQL database instead of the embedded store: its URL, or the URL with settings.
   * @default process.env.DATABASE_URL when process.env.STORAGE_BACKEND is 'postgres'
   */
  postgres?: string | PostgresSettings;
  /**
   * Apply pending migrations when opening. Off, a PostgreSQL schema that is behind is refused
   * (SCHEMA_BEHIND: run `warden migrate`); the embedded store always migrates itself.
   * @default process.env.WARDEN_AUTO_MIGRATE !== '0'
   */
  migrate?: boolean;
}

/** The storage options with defaults and environment applied, checked. */
export interface CompiledStorage {
  backend: BackendOptions;
  kind: 'sqlite' | 'postgres';
  /** The local directory: the SQLite file's, or on PostgreSQL the node key's and uploaded files'. */
  directory: DataDirectory;
  /** The resolved data directory (differs from directory.path only with an explicit sqlitePath). */
  root: string;
}

/**
 * Applies the defaults and the environment (`STORAGE_BACKEND`, `DATABASE_URL`, `WARDEN_AUTO_MIGRATE`,
 * `WARDEN_DATA`, `STORAGE_ROOT`) once. An explicit option wins over the environment; an unknown backend
 * or postgres without a URL is STORAGE_CONFIG_INVALID, never a silent fallback to the embedded store.
 * @example compileStorageOptions({}, { STORAGE_BACKEND: 'postgres', DATABASE_URL: 'postgres://db/w' }).kind // 'postgres'
 */
export function compileStorageOptions(
  o: StorageOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledStorage {
  const dir = resolveDataDirectory(o.root, env);
  const postgres = o.postgres ?? postgresFromEnv(o, env);
  if (postgres === undefined) {
    const path = o.sqlitePath ?? join(dir.path, 'warden.db');
    const directory: DataDirectory =
      path === ':memory:'
        ? { ...dir, source: o.sqlitePath ? 'option' : dir.source, isNew: false }
        : {
            path: o.sqlitePath ? dirname(resolve(path)) : dir.path,
            source: o.sqlitePath ? 'option' : dir.source,
            isNew: !existsSync(path),
          };
    const writerThread = o.writerThread ?? writerThreadFromEnv(env);
    return {
      kind: 'sqlite',
      backend: { sqlite: { path, ...(o.synchronous ? { synchronous: o.synchronous } : {}), writerThread } },
      directory,
      root: dir.path,
    };
  }
  const settings = typeof postgres === 'string' ? { url: postgres } : postgres;
  if (!/^postgres(ql)?:\/\//.test(settings.url))
    throw new WardenError(
      'STORAGE_CONFIG_INVALID',
      `A PostgreSQL URL starts with postgres:// or postgresql://, got ${JSON.stringify(settings.url.slice(0, 40))}`,
    );
  const migrate =
    o.migrate ?? !['0', 'false', 'no'].includes((env['WARDEN_AUTO_MIGRATE'] ?? '').toLowerCase());
  return {
    kind: 'postgres',
    backend: {
      postgres: {
        url: settings.url,
        keyDir: dir.path,
        migrate,
        ...(settings.pool ? { pool: settings.pool } : {}),
        ...(settings.statementTimeoutMs !== undefined
          ? { statementTimeoutMs: settings.statementTimeoutMs }
          : {}),
        ...(settings.nodeName ? { nodeName: settings.nodeName } : {}),
      },
    },
    // The database is elsewhere: the directory is new when it does not exist yet.
    directory: { ...dir, isNew: !existsSync(dir.path) },
    root: dir.path,
  };
}

function postgresFromEnv(o: StorageOptions, env: NodeJS.ProcessEnv): string | undefined {
  // An explicit SQLite file is a choice of backend too.
  if (o.sqlitePath !== undefined) return undefined;
  const backend = (env['STORAGE_BACKEND'] ?? '').trim().toLowerCase();
  if (backend === '' || backend === 'sqlite') return undefined;
  if (backend !== 'postgres')
    throw new WardenError(
      'STORAGE_CONFIG_INVALID',
      `STORAGE_BACKEND must be sqlite or postgres, got ${JSON.stringify(env['STORAGE_BACKEND'])}`,
      { details: { STORAGE_BACKEND: env['STORAGE_BACKEND'] } },
    );
  const url = env['DATABASE_URL'];
  if (!url)
    throw new WardenError(
      'STORAGE_CONFIG_INVALID',
      'STORAGE_BACKEND is postgres but no database URL is given: set DATABASE_URL or pass --database-url',
    );
  return url;
}

function writerThreadFromEnv(env: NodeJS.ProcessEnv): boolean | 'auto' {
  const value = (env['WARDEN_SQLITE_WRITER_THREAD'] ?? '').toLowerCase();
  if (['', '0', 'false', 'no', 'off'].includes(value)) return false;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (value === 'auto') return 'auto';
  throw new WardenError(
    'STORAGE_CONFIG_INVALID',
    `WARDEN_SQLITE_WRITER_THREAD is 0, 1 or auto, got ${JSON.stringify(value.slice(0, 40))}`,
  );
}
