import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { compileStorageOptions } from '../../warden/index.js';
import { migrateBackend, redactUrl } from '../../store/index.js';
import { autoMigrate, globals, openWarden, storageOptions, withWarden } from '../context.js';
import { LIMIT_RANGE, parseIntOption, printJson } from '../io.js';
import { remoteClient } from '../remote.js';
import { remoteDlqList, remoteDlqPurge, remoteDlqReplay } from './remote.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'run queued tasks until stopped: SIGINT (Ctrl-C) or SIGTERM lets running tasks finish, then exits',
    )
    .option('-c, --concurrency <n>', 'tasks at once', parseIntOption('--concurrency'), 32)
    .option(
      '--grace <ms>',
      'on stop, wait this long for running tasks, then hand them back to the queue',
      parseIntOption('--grace'),
      10_000,
    )
    .option(
      '--lease <ms>',
      "how long a claimed task stays this worker's without a heartbeat; a worker that dies or stalls longer loses its tasks to others",
      parseIntOption('--lease'),
      30_000,
    )
    .option(
      '--no-migrate',
      'refuse a database schema that is behind instead of migrating it (run `warden migrate` first; env WARDEN_AUTO_MIGRATE=0)',
    )
    .action(
      async (
        flags: { concurrency: number; grace: number; lease: number; migrate: boolean },
        cmd: Command,
      ) => {
        // keepAlive: a worker waits for work (and for signals) with nothing else to hold the process open.
        const warden = await openWarden(
          cmd,
          {
            concurrency: Math.max(1, flags.concurrency),
            shutdownGraceMs: flags.grace,
            leaseMs: Math.max(300, flags.lease),
            keepAlive: true,
          },
          autoMigrate(flags),
        );
        process.stderr.write(
          `warden worker ${warden.workerStatus().workerId} running (concurrency ${flags.concurrency}, ${warden.backend === 'postgres' ? 'PostgreSQL' : 'SQLite'} store); Ctrl-C to stop\n`,
        );
        warden.events.on('task', (e) => {
          if (e.state !== 'running')
            process.stderr.write(
              `${new Date(e.at).toISOString()} ${e.taskId} ${e.agent} ${e.state}${e.error ? ` [${e.error.code}]` : ''}${e.retryAt ? ` retry at ${new Date(e.retryAt).toISOString()}` : ''}\n`,
            );
        });
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        const running = warden.workerStatus().inFlight;
        process.stderr.write(
          running > 0
            ? `stopping: waiting up to ${flags.grace} ms for ${running} running task${running === 1 ? '' : 's'} (a second Ctrl-C stops at once)\n`
            : 'stopping\n',
        );
        await warden.close();
      },
    );
}

export function dlqCommand(): Command {
  const dlq = new Command('dlq').description('the dead-letter queue: tasks that failed their last attempt');
  dlq
    .command('list')
    .option('-s, --session <name>', 'only this session')
    .option('-n, --limit <n>', 'at most this many', parseIntOption('--limit', LIMIT_RANGE), 50)
    .option('-t, --tenant <tenant>', "only this tenant's dead letters (default: every tenant's)")
    .action(async (flags: { session?: string; limit: number; tenant?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteDlqList(client, flags, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const list = await warden.dlq.list({
          limit: flags.limit,
          ...(flags.tenant ? { tenant: flags.tenant } : {}),
          ...(flags.session ? { session: flags.session } : {}),
        });
        if (json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('the dead-letter queue is empty\n');
        for (const d of list) {
          process.stdout.write(
            `${d.taskId}  ${d.agentKey}  attempts ${d.attempts}  ${new Date(d.deadAt).toISOString()}  [${d.error.code}] ${d.error.message}\n`,
          );
        }
      });
    });
  dlq
    .command('replay')
    .argument('<task-id...>')
    .description('put dead tasks back in the queue with fresh attempts')
    .action(async (ids: string[], _flags: unknown, cmd: Command) => {
      const client = remoteClient(cmd);
      if (client) return remoteDlqReplay(client, ids);
      await withWarden(cmd, async (warden) => {
        for (const id of ids) {
          await warden.dlq.replay(id);
          process.stdout.write(`replayed ${id}\n`);
        }
      });
    });
  dlq
    .command('purge')
    .argument('[task-id...]')
    .option('--all', "purge every dead letter (of --tenant's sessions only, with --tenant)")
    .option('-t, --tenant <tenant>', "touch only this tenant's dead letters")
    .description('remove dead letters for good (their tasks stay dead, with their results and provenance)')
    .action(async (ids: string[], flags: { all?: boolean; tenant?: string }, cmd: Command) => {
      if (!flags.all && ids.length === 0)
        throw new WardenError('INVALID_INPUT', 'name task ids to purge, or pass --all');
      const client = remoteClient(cmd);
      if (client) {
        if (flags.tenant)
          throw new WardenError(
            'INVALID_INPUT',
            "--tenant does not apply with --server: the key's tenant is purged",
          );
        return remoteDlqPurge(client, ids, flags);
      }
      await withWarden(cmd, async (warden) => {
        const n = await warden.dlq.purge(
          flags.all ? 'all' : ids,
          flags.tenant ? { tenant: flags.tenant } : {},
        );
        process.stdout.write(`purged ${n} dead letter${n === 1 ? '' : 's'}\n`);
      });
    });
  return dlq;
}

export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'apply the pending database migrations and print them (with --database-url or STORAGE_BACKEND=postgres: the shared PostgreSQL database; else the data directory)',
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      const storage = compileStorageOptions(storageOptions(cmd));
      const where =
        'postgres' in storage.backend ? redactUrl(storage.backend.postgres.url) : storage.backend.sqlite.path;
      const applied = await migrateBackend(
        'postgres' in storage.backend
          ? { postgres: { url: storage.backend.postgres.url } }
          : { sqlite: { path: storage.backend.sqlite.path } },
      );
      if (json) return printJson({ backend: storage.kind, database: where, applied });
      if (applied.length === 0) process.stdout.write(`${where}: schema up to date, nothing to apply\n`);
      else {
        process.stdout.write(
          `${where}: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}\n`,
        );
        for (const name of applied) process.stdout.write(`  ${name}\n`);
      }
    });
}
