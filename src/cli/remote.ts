// The CLI's remote mode: `warden --server URL --key KEY <command>` (or WARDEN_SERVER / WARDEN_API_KEY)
// runs the command against a Warden HTTP API through WardenClient instead of opening a local store.
import type { Command } from 'commander';
import { WardenClient } from '../client/index.js';
import { WardenError } from '../core/index.js';
import { globals } from './context.js';

/**
 * The commands that have a remote form (space-separated paths below the root). `mcp` bridges to the
 * server's /mcp itself.
 */
export const REMOTE_COMMANDS: ReadonlySet<string> = new Set([
  'run',
  'submit',
  'tasks',
  'result',
  'logs',
  'cancel',
  'dlq list',
  'dlq replay',
  'dlq purge',
  'agents list',
  'agents health',
  'agents register',
  'agents reset-breaker',
  'sessions',
  'export',
  'verify',
  'deploy',
  'mcp',
]);

export interface RemoteTarget {
  server: string;
  key: string | undefined;
}

/**
 * The server to talk to: --server, else WARDEN_SERVER unless --data or --database-url asks for a local
 * store (an explicit flag beats the environment); undefined in local mode.
 */
export function remoteTarget(cmd: Command): RemoteTarget | undefined {
  const g = globals(cmd);
  const env = process.env['WARDEN_SERVER'];
  const server = g.server ?? (g.data || g.databaseUrl ? undefined : env || undefined);
  if (!server) return undefined;
  if (g.server && (g.data || g.databaseUrl))
    throw new WardenError(
      'INVALID_INPUT',
      `--server talks to a remote Warden: drop --${g.data ? 'data' : 'database-url'}, which names a local store`,
    );
  return { server, key: g.key ?? (process.env['WARDEN_API_KEY'] || undefined) };
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** preAction hook: a command without a remote form refuses remote mode (exit 2) instead of running locally. */
export function refuseLocalOnly(action: Command): void {
  const target = remoteTarget(action);
  if (!target) return;
  const path = commandPath(action);
  if (REMOTE_COMMANDS.has(path)) return;
  const from = globals(action).server ? '--server' : 'WARDEN_SERVER';
  throw new WardenError(
    'INVALID_INPUT',
    `\`warden ${path}\` has no remote form (${from} ${target.server}): run it on the server's host with --data, or unset WARDEN_SERVER. Remote commands: ${[...REMOTE_COMMANDS].join(', ')}`,
  );
}

/** The client of the remote target (undefined in local mode). */
export function remoteClient(cmd: Command): WardenClient | undefined {
  const target = remoteTarget(cmd);
  if (!target) return undefined;
  return new WardenClient({ baseUrl: target.server, ...(target.key ? { apiKey: target.key } : {}) });
}
