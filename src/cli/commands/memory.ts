import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import type { MemoryItem } from '../../memory/index.js';
import { globals, withWarden } from '../context.js';
import { LIMIT_RANGE, parseIntOption, printJson } from '../io.js';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function parseTtl(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m || Number(m[1]) === 0)
    throw new WardenError(
      'INVALID_INPUT',
      `--ttl takes a duration such as 30m, 1h or 7d, got ${JSON.stringify(text)}`,
    );
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

function parseScore(text: string): number {
  const n = Number(text);
  if (!(n >= -1 && n <= 1))
    throw new WardenError('INVALID_INPUT', `--min-score must be from -1 to 1, got ${text}`);
  return n;
}

function parseMetadata(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new WardenError('INVALID_INPUT', '--metadata takes a JSON object');
  return v as Record<string, unknown>;
}

const line = (i: MemoryItem): string =>
  `${i.id}  ${new Date(i.createdAt).toISOString()}${i.expiresAt !== null ? `  expires ${new Date(i.expiresAt).toISOString()}` : ''}${i.agent ? `  [${i.agent}]` : ''}\n  ${i.text}\n`;

/** `warden memory put|search|list|forget`: Cortex memory of a session (docs/memory.md). */
export function memoryCommand(): Command {
  const memory = new Command('memory').description(
    "Cortex memory: a session's (or one agent's) vector memory with TTLs (docs/memory.md)",
  );

  memory
    .command('put')
    .description('store a memory item')
    .argument('<text>')
    .requiredOption('-s, --session <name>', 'session name or id; created if missing (as `warden run` does)')
    .option('--agent <name>', "an agent's own memory within the session")
    .option('--ttl <duration>', 'expire after this long (30m, 1h, 7d)', parseTtl)
    .option('--metadata <json>', 'a JSON object stored with the item', parseMetadata)
    .action(
      async (
        text: string,
        flags: { session: string; agent?: string; ttl?: number; metadata?: Record<string, unknown> },
        cmd: Command,
      ) => {
        const { json } = globals(cmd);
        await withWarden(cmd, async (warden) => {
          // A session id names an existing session; a name is created on first use.
          if (!(await warden.findSession(flags.session))) await warden.ensureSession({ name: flags.session });
          const item = await warden.memory.put(flags.session, {
            text,
            ...(flags.agent ? { agent: flags.agent } : {}),
            ...(flags.ttl !== undefined ? { ttlMs: flags.ttl } : {}),
            ...(flags.metadata ? { metadata: flags.metadata } : {}),
          });
          if (json) return printJson(item);
          process.stdout.write(`${item.id}\n`);
        });
      },
    );

  memory
    .command('search')
    .description('the items nearest a query, most similar first')
    .argument('<query>')
    .requiredOption('-s, --session <name>', 'session name or id')
    .option('--agent <name>', "search an agent's own memory")
    .option('-k, --k <n>', 'at most this many', parseIntOption('-k'), 5)
    .option('--min-score <x>', 'leave out items less similar than this (cosine, -1..1)', parseScore)
    .action(
      async (
        query: string,
        flags: { session: string; agent?: string; k: number; minScore?: number },
        cmd: Command,
      ) => {
        const { json } = globals(cmd);
        await withWarden(cmd, async (warden) => {
          const hits = await warden.memory.search(flags.session, {
            query,
            k: flags.k,
            ...(flags.agent ? { agent: flags.agent } : {}),
            ...(flags.minScore !== undefined ? { minScore: flags.minScore } : {}),
          });
          if (json) return printJson(hits);
          if (hits.length === 0) return void process.stdout.write('no memories\n');
          for (const h of hits) process.stdout.write(`${h.score.toFixed(3)}  ${line(h.item)}`);
        });
      },
    );

  memory
    .command('list')
    .description('the items that have not expired, newest first')
    .requiredOption('-s, --session <name>', 'session name or id')
    .option('--agent <name>', "an agent's own memory")
    .option('-n, --limit <n>', 'at most this many', parseIntOption('--limit', LIMIT_RANGE), 100)
    .action(async (flags: { session: string; agent?: string; limit: number }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const items = await warden.memory.list(flags.session, {
          limit: flags.limit,
          ...(flags.agent ? { agent: flags.agent } : {}),
        });
        if (json) return printJson(items);
        if (items.length === 0) return void process.stdout.write('no memories\n');
        for (const i of items) process.stdout.write(line(i));
      });
    });

  memory
    .command('forget')
    .description('delete a memory item (recorded in the provenance chain)')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        await warden.memory.forget(id);
        if (json) return printJson({ id, forgotten: true });
        process.stdout.write(`forgot ${id}\n`);
      });
    });

  return memory;
}
