import type { Command } from 'commander';
import { Warden, type WardenOptions } from '../warden/index.js';

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
  return Warden.open({
    ...(data ? { storage: { root: data } } : {}),
    ...(unsafeNoSandbox ? { sandbox: { unsafeNoSandbox: true } } : {}),
    workers,
  });
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
