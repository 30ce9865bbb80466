import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { buildServer, createApiKey, ROLES } from '../../api/index.js';
import type { Role } from '../../store/index.js';
import { autoMigrate, globals, openWarden, withWarden } from '../context.js';
import { parseIntOption, printJson } from '../io.js';

// The WASM examples need nothing installed; echo (a node agent) needs bubblewrap.
const EXAMPLES = [
  'examples/wasm-as/agent.yaml',
  'examples/wasm-wat/agent.yaml',
  'examples/echo/agent.yaml',
  'examples/llm-local/agent.yaml',
];

function parseBind(value: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw new WardenError('INVALID_INPUT', `BIND_ADDRESS must be host:port, got ${value}`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** A coded error for the ways listen() fails on the address itself; anything else is passed on. */
function listenError(err: unknown, bind: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new WardenError(
      'PORT_IN_USE',
      `${bind} is already in use (is another warden serve running?); stop that process or pick another address with --bind host:port`,
      { cause: err, details: { bind } },
    );
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL')
    return new WardenError(
      'INVALID_INPUT',
      `Cannot listen on ${bind}: ${code === 'EACCES' ? 'permission denied (ports below 1024 need privileges; use one above)' : 'no such local address'}; pick another with --bind host:port`,
      { cause: err, details: { bind } },
    );
  return err;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'start the HTTP API (with in-process workers unless --no-workers; on the embedded store or, with --database-url, a shared PostgreSQL one); prints the URL and, the first time, an admin key',
    )
    .option(
      '-b, --bind <host:port>',
      'listen address (env BIND_ADDRESS)',
      process.env['BIND_ADDRESS'] ?? '127.0.0.1:8080',
    )
    .option('-c, --concurrency <n>', 'tasks at once', parseIntOption('--concurrency'), 32)
    .option('--rate-limit <n>', 'requests per minute per API key', parseIntOption('--rate-limit'), 6000)
    .option('--no-examples', 'do not register the example agents')
    .option(
      '--no-workers',
      'serve the API only and run no tasks here (`warden worker` processes on the same database run them)',
    )
    .option(
      '--no-migrate',
      'refuse a database schema that is behind instead of migrating it (run `warden migrate` first; env WARDEN_AUTO_MIGRATE=0)',
    )
    .action(
      async (
        flags: {
          bind: string;
          concurrency: number;
          rateLimit: number;
          examples: boolean;
          workers: boolean;
          migrate: boolean;
        },
        cmd: Command,
      ) => {
        const { host, port } = parseBind(flags.bind);
        const warden = await openWarden(
          cmd,
          flags.workers ? { concurrency: Math.max(1, flags.concurrency) } : false,
          // A long-running server takes its turn at the database's maintenance, workers here or not.
          {
            ...autoMigrate(flags),
            maintenance: true,
            edge: { log: (line) => process.stderr.write(`${line}\n`) },
          },
        );
        const app = await buildServer(warden, {
          rateLimit: { max: Math.max(1, flags.rateLimit), windowMs: 60_000 },
        }).catch(async (err: unknown) => {
          await warden.close();
          throw err;
        });
        if (flags.examples) {
          const root = fileURLToPath(new URL('../../../', import.meta.url));
          for (const example of EXAMPLES) {
            const path = `${root}${example}`;
            if (existsSync(path))
              // Installation-wide examples: every tenant may run them.
              await warden
                .registerAgent({ path }, { shared: true })
                .catch((e: Error) => app.log.warn(`example ${example} not registered: ${e.message}`));
          }
        }
        const address = await app.listen({ host, port }).catch(async (err: unknown) => {
          await app.close();
          await warden.close();
          throw listenError(err, flags.bind);
        });
        // After listening: a server that could not start has not used up the one showing of the key.
        if ((await warden.apiKeys.listApiKeys()).length === 0) {
          const { key, record } = await createApiKey(warden.apiKeys, {
            tenant: 'default',
            role: 'admin',
            name: 'first admin key',
            installation: true,
          });
          process.stderr.write(
            `\nFirst admin API key (installation-wide, tenant "default", id ${record.id}) — shown once, store it now:\n\n  ${key}\n\n`,
          );
        }
        process.stderr.write(
          `warden API listening on ${address}  (dashboard: ${address}/ui, OpenAPI: ${address}/openapi.json, docs: ${address}/docs)\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        process.stderr.write('shutting down: no new requests; finishing running tasks\n');
        await app.close();
        await warden.close();
      },
    );
}

export function keysCommand(): Command {
  const keys = new Command('keys').description(
    'API keys: each belongs to a tenant and has a role (admin, operator, viewer)',
  );
  keys
    .command('create')
    .description('create a key; it is printed once and stored only as a hash')
    .option('-t, --tenant <tenant>', 'tenant the key belongs to', 'default')
    .option('-r, --role <role>', `one of ${ROLES.join(', ')}`, 'operator')
    .option('-n, --name <name>', 'a label for people', 'cli')
    .option(
      '--installation',
      'an installation-wide admin key (default tenant, admin role): it may share agents with every tenant and read /metrics',
    )
    .action(
      async (flags: { tenant: string; role: string; name: string; installation?: boolean }, cmd: Command) => {
        const { json } = globals(cmd);
        await withWarden(cmd, async (warden) => {
          const { key, record } = await createApiKey(warden.apiKeys, {
            tenant: flags.tenant,
            role: flags.role as Role,
            name: flags.name,
            installation: flags.installation === true,
          });
          if (json) return printJson({ key, ...record });
          process.stdout.write(`${key}\n`);
          process.stderr.write(
            `created ${record.id} (${record.role}, tenant ${record.tenant}${record.installation ? ', installation-wide' : ''}); the key is shown only now\n`,
          );
        });
      },
    );
  keys
    .command('list')
    .option('-t, --tenant <tenant>', 'only this tenant')
    .action(async (flags: { tenant?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const list = await warden.apiKeys.listApiKeys(flags.tenant);
        if (json) return printJson(list);
        for (const k of list) {
          process.stdout.write(
            `${k.id}  ${k.tenant.padEnd(16)} ${k.role.padEnd(9)} ${k.revokedAt ? 'revoked' : 'active '}  ${k.installation ? 'installation  ' : ''}${k.name}\n`,
          );
        }
      });
    });
  keys
    .command('revoke')
    .argument('<key-id>')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      await withWarden(cmd, async (warden) => {
        if (!(await warden.apiKeys.revokeApiKey(id, Date.now())))
          throw new WardenError('NOT_FOUND', `No active key with id ${id}`);
        process.stdout.write(`revoked ${id} (servers stop accepting it within 5 seconds)\n`);
      });
    });
  return keys;
}
