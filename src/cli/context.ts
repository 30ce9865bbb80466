import { isAbsolute, relative } from 'node:path';
import type { Command } from 'commander';
import { Warden, type DataDirectory, type WardenOptions } from '../warden/index.js';

export interface GlobalOptions {
  data?: string;
  json?: boolean;
  unsafeNoSandbox?: boolean;
}

/** Options of the root command (--data, --json), wherever the subcommand sits. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export async function openWarden(cmd: Command, workers: WardenOptions['workers'] = false): Promise<Warden> {
  const { data, unsafeNoSandbox } = globals(cmd);
  const warden = await Warden.open({
    ...(data ? { storage: { root: data } } : {}),
    ...(unsafeNoSandbox ? { sandbox: { unsafeNoSandbox: true } } : {}),
    workers,
  });
  // A command run from another directory would otherwise start a new, empty store (and signing key) silently.
  if (warden.dataDirectory.isNew) process.stderr.write(`${createdNotice(warden.dataDirectory)}\n`);
  return warden;
}

const SOURCE_NOTE: Record<DataDirectory['source'], string> = {
  option: 'from --data',
  WARDEN_DATA: 'from WARDEN_DATA',
  STORAGE_ROOT: 'from STORAGE_ROOT',
  default: 'the default; use --data or WARDEN_DATA for another',
};

/** `created new data directory ./data (the default; ...)`, with the path relative when under the cwd. */
export function createdNotice(dir: DataDirectory): string {
  const rel = relative(process.cwd(), dir.path);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? dir.path : `./${rel}`;
  return `created new data directory ${shown} (${SOURCE_NOTE[dir.source]})`;
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
