import { isAbsolute, relative } from 'node:path';
import type { Command } from 'commander';
import { Warden, type DataDirectory, type StorageOptions, type WardenOptions } from '../warden/index.js';

export interface GlobalOptions {
  data?: string;
  databaseUrl?: string;
  json?: boolean;
  unsafeNoSandbox?: boolean;
  /** Remote mode (src/cli/remote.ts): the server's URL and API key. */
  server?: string;
  key?: string;
}

/** Options of the root command (--data, --json), wherever the subcommand sits. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** The storage options of the global flags (--data, --database-url); the environment fills the rest. */
export function storageOptions(cmd: Command, extra: { migrate?: boolean } = {}): StorageOptions {
  const { data, databaseUrl } = globals(cmd);
  return {
    ...(data ? { root: data } : {}),
    ...(databaseUrl ? { postgres: databaseUrl } : {}),
    ...(extra.migrate === false ? { migrate: false } : {}),
  };
}

export async function openWarden(
  cmd: Command,
  workers: WardenOptions['workers'] = false,
  extra: { migrate?: boolean; maintenance?: boolean; edge?: WardenOptions['edge'] } = {},
): Promise<Warden> {
  const { unsafeNoSandbox } = globals(cmd);
  const warden = await Warden.open({
    ...(extra.edge ? { edge: extra.edge } : {}),
    storage: storageOptions(cmd, extra),
    ...(unsafeNoSandbox ? { sandbox: { unsafeNoSandbox: true } } : {}),
    workers,
    ...(extra.maintenance !== undefined ? { maintenance: extra.maintenance } : {}),
  });
  // A command run from another directory would otherwise start a new, empty store (and signing key) silently.
  if (warden.dataDirectory.isNew)
    process.stderr.write(`${createdNotice(warden.dataDirectory, warden.backend)}\n`);
  return warden;
}

const SOURCE_NOTE: Record<DataDirectory['source'], string> = {
  option: 'from --data',
  WARDEN_DATA: 'from WARDEN_DATA',
  STORAGE_ROOT: 'from STORAGE_ROOT',
  default: 'the default; use --data or WARDEN_DATA for another',
};

/** `created new data directory ./data (the default; ...)`, with the path relative when under the cwd. */
export function createdNotice(dir: DataDirectory, backend: 'sqlite' | 'postgres' = 'sqlite'): string {
  const rel = relative(process.cwd(), dir.path);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? dir.path : `./${rel}`;
  const what =
    backend === 'postgres'
      ? "for this node's key and uploaded agent files (backend: PostgreSQL, the store is in the database)"
      : 'for the embedded store (backend: SQLite)';
  return `created new data directory ${shown} (${SOURCE_NOTE[dir.source]}) ${what}`;
}

/**
 * Whether serve and worker apply pending migrations when they start: off with --no-migrate or
 * WARDEN_AUTO_MIGRATE=0 (then a schema that is behind is refused: run `warden migrate`).
 */
export function autoMigrate(flags: { migrate?: boolean }): { migrate?: boolean } {
  return flags.migrate === false ? { migrate: false } : {};
}

/** Opens Warden, runs `body`, and always closes it. */
export async function withWarden<T>(
  cmd: Command,
  body: (w: Warden) => Promise<T>,
  workers: WardenOptions['workers'] = false,
): Promise<T> {
  const warden = await openWarden(cmd, workers);
  try {
    return await body(warden);
  } finally {
    await warden.close();
  }
}
