import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { EdgeNode } from '../../edge/index.js';
import { globals, withWarden } from '../context.js';
import { parseIntOption, printJson } from '../io.js';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m)
    throw new WardenError(
      'INVALID_INPUT',
      `--expires takes a duration such as 30m, 1h or 7d, got ${JSON.stringify(text)}`,
    );
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** `warden edge invite|list|revoke` on the control plane, and `warden edge join` on the edge machine. */
export function edgeCommand(): Command {
  const edge = new Command('edge').description(
    'edge nodes: remote workers that join this control plane over WebSocket (docs/edge.md)',
  );

  edge
    .command('invite')
    .description('print a one-time, expiring invite signed by this control plane, for `warden edge join`')
    .option('--capabilities <list>', 'what the edge may offer, comma-separated (e.g. gpu,python)', list, [])
    .option('--max-concurrency <n>', 'tasks the edge may run at once', parseIntOption('--max-concurrency'), 4)
    .option('--expires <duration>', 'how long the invite may be redeemed (30m, 1h, 7d)', '1h')
    .action(
      async (flags: { capabilities: string[]; maxConcurrency: number; expires: string }, cmd: Command) => {
        const { json } = globals(cmd);
        const ttlMs = parseDuration(flags.expires);
        await withWarden(cmd, async (warden) => {
          const { token, grant } = await warden.edges.invite({
            capabilities: flags.capabilities,
            maxConcurrency: flags.maxConcurrency,
            ttlMs,
          });
          if (json) return printJson({ token, invite: grant });
          process.stderr.write(
            `Edge invite ${grant.id} (single use, expires ${new Date(grant.expiresAt).toISOString()}, capabilities: ${grant.capabilities.join(', ') || 'none'}, max concurrency ${grant.maxConcurrency}). On the edge machine run:\n\n  warden edge join ws://<this-host>:<port> --invite <token>\n\n`,
          );
          process.stdout.write(`${token}\n`);
        });
      },
    );

  edge
    .command('list')
    .description('edge nodes admitted here (connected ones are shown when the server runs in this process)')
    .action(async (_flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const nodes = await warden.edges.list();
        if (json) return printJson({ nodes });
        if (nodes.length === 0) {
          process.stdout.write('no edge nodes yet: invite one with `warden edge invite`\n');
          return;
        }
        for (const n of nodes)
          process.stdout.write(
            `${n.nodeId}  ${n.revoked ? 'revoked' : 'admitted'}  joined ${new Date(n.joinedAt).toISOString()}  max ${n.maxConcurrency}  capabilities ${n.capabilities.join(',') || '-'}\n`,
          );
      });
    });

  edge
    .command('revoke')
    .description('revoke an edge node: the server closes its connection and never lets it back in')
    .argument('<node-id>', 'the node id (warden edge list)')
    .action(async (nodeId: string, _flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        await warden.edges.revoke(nodeId, 'revoked with warden edge revoke');
        if (json) return printJson({ revoked: nodeId });
        process.stdout.write(`revoked ${nodeId}\n`);
      });
    });

  edge
    .command('join')
    .description('run this machine as an edge node of a control plane (keeps running; reconnects by itself)')
    .argument('[url]', 'the control plane, ws(s)://host:port (remembered after the first join)')
    .option('--invite <token>', 'the invite from `warden edge invite` (first join only)')
    .option('-c, --concurrency <n>', 'tasks at once (capped by the invite)', parseIntOption('--concurrency'))
    .option(
      '--classical',
      'first join only: an Ed25519-only identity, no ML-DSA-65 (receipts sign in 0.05 ms instead of 8 ms, without post-quantum protection)',
    )
    .action(
      async (
        url: string | undefined,
        flags: { invite?: string; concurrency?: number; classical?: boolean },
        cmd: Command,
      ) => {
        const { data, unsafeNoSandbox } = globals(cmd);
        const dataDir = data ?? process.env['WARDEN_EDGE_DATA'] ?? './warden-edge';
        const node = await EdgeNode.start({
          dataDir,
          ...(url ? { url } : {}),
          ...(flags.invite ? { invite: flags.invite } : {}),
          ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
          ...(flags.classical ? { postQuantum: false } : {}),
          ...(unsafeNoSandbox ? { runtimes: { unsafeNoSandbox: true } } : {}),
          log: (line) => process.stderr.write(`edge: ${line}\n`),
        });
        process.stderr.write(`edge node ${node.nodeId} running (data in ${dataDir}); Ctrl-C stops it\n`);
        const signalled = new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await Promise.race([signalled, node.stoppedPromise]);
        await node.stop();
        await node.stoppedPromise;
      },
    );
  return edge;
}
