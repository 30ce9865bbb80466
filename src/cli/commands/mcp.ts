import { Command } from 'commander';
import { DEFAULT_TENANT, WardenError } from '../../core/index.js';
import { openWarden } from '../context.js';
import { remoteTarget } from '../remote.js';

interface McpFlags {
  tenant?: string;
}

/**
 * `warden mcp`: an MCP server on stdio for Claude Desktop, IDEs and agent frameworks. On the local store
 * (--data, --database-url) it runs tasks in this process with full access to one tenant; with --server and
 * --key it bridges to a remote Warden's /mcp, where that key's tenant and role apply.
 */
export function mcpCommand(): Command {
  return new Command('mcp')
    .description(
      'serve MCP (Model Context Protocol) on stdio: tools to submit tasks, read results and logs, verify and export provenance; local (--data) or bridged to a remote Warden (--server URL --key KEY)',
    )
    .option('--tenant <name>', `local store: the tenant the tools act for (default: ${DEFAULT_TENANT})`)
    .action(async (flags: McpFlags, cmd: Command) => {
      // --server/--key are the root's remote-mode options (env WARDEN_SERVER / WARDEN_API_KEY).
      const target = remoteTarget(cmd);
      // Only protocol may reach stdout: a stray console.log from anything in this process goes to stderr.
      console.log = console.info = console.debug = console.error;
      const stop = new AbortController();
      const abort = () => stop.abort();
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      try {
        // Loaded here, not with the CLI: every other command starts without the MCP SDK.
        const { bridgeStdioToHttp, createMcpServer, serveMcpStdio } = await import('../../mcp/index.js');
        if (target) {
          if (flags.tenant !== undefined)
            throw new WardenError(
              'INVALID_INPUT',
              '--tenant applies to the local store only: with --server, the key decides the tenant',
            );
          if (!target.key)
            throw new WardenError(
              'INVALID_INPUT',
              '--server needs an API key: --key KEY or env WARDEN_API_KEY',
            );
          await bridgeStdioToHttp({ server: target.server, key: target.key, signal: stop.signal });
          return;
        }
        // Workers on: a task submitted through the tools runs here (or on any worker of a shared database).
        const warden = await openWarden(cmd, {});
        try {
          const mcp = createMcpServer(warden, {
            tenant: flags.tenant ?? DEFAULT_TENANT,
            role: 'admin',
            name: 'local',
          });
          await serveMcpStdio(mcp, { signal: stop.signal });
        } finally {
          await warden.close();
        }
      } finally {
        process.off('SIGINT', abort);
        process.off('SIGTERM', abort);
      }
    });
}
