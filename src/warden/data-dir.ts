import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the embedded store lives, and why there. */
export interface DataDirectory {
  /** Absolute path of the directory. */
  path: string;
  /** What chose it: an explicit option, `WARDEN_DATA`, the older `STORAGE_ROOT`, or the default `./data`. */
  source: 'option' | 'WARDEN_DATA' | 'STORAGE_ROOT' | 'default';
  /** True when it holds no store yet: opening it creates a new database and a new signing key. */
  isNew: boolean;
}

/**
 * Resolves the data directory the way every entry point does (CLI `--data`, `warden serve`, `Warden.open`):
 * the explicit value, else `WARDEN_DATA`, else `STORAGE_ROOT` (its older name), else `./data` under the
 * working directory. Read when called, so a variable set after import still counts.
 * @example resolveDataDirectory(undefined, { WARDEN_DATA: '/srv/warden' }).path // '/srv/warden'
 */
export function resolveDataDirectory(explicit?: string, env: NodeJS.ProcessEnv = process.env): DataDirectory {
  const [value, source]: [string, DataDirectory['source']] = explicit
    ? [explicit, 'option']
    : env['WARDEN_DATA']
      ? [env['WARDEN_DATA'], 'WARDEN_DATA']
      : env['STORAGE_ROOT']
        ? [env['STORAGE_ROOT'], 'STORAGE_ROOT']
        : ['./data', 'default'];
  const path = resolve(value);
  return { path, source, isNew: !existsSync(join(path, 'warden.db')) };
}
