import { Command } from 'commander';
import { globals, withWarden } from '../context.js';
import { printJson } from '../io.js';
import { remoteClient } from '../remote.js';
import { printSessions, remoteSessions } from './remote.js';

export function sessionsCommand(): Command {
  return new Command('sessions')
    .description('list sessions (namespaces with their own quotas and policy), oldest first')
    .action(async (_flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteSessions(client, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const sessions = await warden.listSessions();
        if (json) return printJson(sessions);
        printSessions(sessions);
      });
    });
}
