import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { verifyBundleText, type ChainVerification } from '../../provenance/index.js';
import { globals, withWarden } from '../context.js';
import { parseIntOption, printJson } from '../io.js';
import { remoteClient } from '../remote.js';
import { remoteExport, remoteVerify } from './remote.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a self-contained, offline-verifiable provenance bundle of a session (streamed)')
    .option('-s, --session <name>', 'the session to export', 'default')
    .option('-o, --out <file>', 'write the bundle here (default: standard output)')
    .option(
      '--since <tree size>',
      'only the records after this tree size (the tree size an earlier export printed): an incremental bundle, verified with --previous',
      parseIntOption('--since'),
    )
    .action(async (flags: { session: string; out?: string; since?: number }, cmd: Command) => {
      const client = remoteClient(cmd);
      if (client) return remoteExport(client, flags, Boolean(globals(cmd).json));
      await withWarden(cmd, async (warden) => {
        const bundle = await warden.exportProvenanceStream(flags.session, { since: flags.since ?? 0 });
        if (!flags.out) {
          try {
            for await (const chunk of bundle.chunks())
              if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
          } finally {
            bundle.close();
          }
          return;
        }
        // close(): the snapshot ends even if writing fails before the first chunk is read.
        await writeAtomically(flags.out, bundle.chunks()).finally(() => bundle.close());
        const s = bundle.summary;
        if (globals(cmd).json) printJson({ out: flags.out, ...s });
        else
          process.stdout.write(
            `exported ${s.session}: records ${s.since + 1}..${s.treeSize}${s.since ? ` (incremental, after size ${s.since})` : ''}, ${s.statements} statement${s.statements === 1 ? '' : 's'}, root ${s.rootHash}\n` +
              `  -> ${flags.out} (key ${s.keyId})\n` +
              `  next incremental export: warden export --session ${s.session} --since ${s.treeSize}\n`,
          );
      });
    });
}

/** Streams into `<path>.<pid>.tmp` and renames it into place: a failed export leaves no half-written bundle. */
async function writeAtomically(path: string, chunks: AsyncIterable<string>): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(chunks), createWriteStream(tmp));
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true });
    if (cause instanceof WardenError) throw cause;
    throw new WardenError(
      'STORAGE_ERROR',
      `Cannot write the bundle to ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause, details: { path } },
    );
  }
}

/**
 * `warden verify [bundle]`: with a bundle path, checks an exported bundle offline (no database; --previous
 * links it to the session's earlier bundle); without one, verifies the stored sessions end to end (chains,
 * signed heads, the witness, tasks and results; --session narrows it to one session).
 */
export function verifyBundleCommand(): Command {
  return new Command('verify')
    .description(
      'verify an exported bundle offline, or the stored provenance: chains, signed heads, the witness, and every task result',
    )
    .argument('[bundle]', 'an exported bundle file: verified offline, without the database')
    .option('-s, --session <name>', 'stored chains: only this session (default: every session)')
    .option('--key-id <sha256...>', 'bundle: accept only tree heads signed by these key ids')
    .option(
      '--previous <bundle>',
      'bundle: the earlier bundle of the session; checks that this one extends it (needed for an incremental bundle)',
    )
    .action(
      async (
        bundle: string | undefined,
        flags: { session?: string; keyId?: string[]; previous?: string },
        cmd: Command,
      ) => {
        const { json } = globals(cmd);
        if (bundle !== undefined) return verifyBundleFile(bundle, flags, json);
        if (flags.previous !== undefined)
          throw new WardenError(
            'INVALID_INPUT',
            '--previous needs a bundle to verify: warden verify new.json --previous old.json',
          );
        const client = remoteClient(cmd);
        if (client) return remoteVerify(client, flags.session, Boolean(json));
        await withWarden(cmd, async (warden) => {
          const reports = flags.session
            ? [{ session: flags.session, ...(await warden.verify(flags.session)) }]
            : await warden.verifyAll();
          if (json) printJson(reports);
          else for (const r of reports) process.stdout.write(`${verifyLine(r)}\n`);
          // Broken, or not vouched for by a signature: either way the chain cannot be relied on as it is.
          if (reports.some((r) => !r.ok)) process.exitCode = 1;
        });
      },
    );
}

/** One line per session: ok, BROKEN (what and where), or UNSIGNED (how many records no signature covers). */
function verifyLine(r: ChainVerification & { session: string }): string {
  if (r.broken) return `BROKEN   ${r.session}: record ${r.broken.seq}: ${r.broken.reason}`;
  const tasks = r.tasks === undefined ? '' : `, ${r.tasks} task${r.tasks === 1 ? '' : 's'} checked`;
  if (r.ok)
    return `ok       ${r.session}: ${r.length} records, all signed${tasks}, head ${r.headHash ?? '-'}`;
  const n = r.unsigned ?? 0;
  return (
    `UNSIGNED ${r.session}: ${n} record${n === 1 ? '' : 's'} after the last signed head ` +
    `(${r.signedSize ? `size ${r.signedSize}` : 'there is none'}, of ${r.length}): no signature vouches for ` +
    `${n === 1 ? 'it' : 'them'}. A running Warden signs its commits within a second: re-run. If none runs, ` +
    `${n === 1 ? 'it was' : 'they were'} written without one (after a crash, or by someone else).`
  );
}

async function readBundle(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new WardenError(
      'FILE_NOT_FOUND',
      `Cannot read bundle ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause, details: { path } },
    );
  }
}

async function verifyBundleFile(
  path: string,
  flags: { keyId?: string[]; previous?: string },
  json?: boolean,
): Promise<void> {
  const text = await readBundle(path);
  const previous = flags.previous === undefined ? undefined : await readBundle(flags.previous);
  const v = verifyBundleText(text, {
    ...(flags.keyId ? { trustedKeyIds: flags.keyId } : {}),
    ...(previous !== undefined ? { previous } : {}),
  });
  if (json) printJson({ bundle: path, ...(flags.previous ? { previous: flags.previous } : {}), ...v });
  else if (v.ok) {
    const since = v.since ?? 0;
    const records = since
      ? `records ${since + 1}..${v.treeSize} (incremental, after size ${since})`
      : `${v.treeSize} records`;
    let out = `ok      ${path}: session ${v.session}, ${records}, ${v.statements} statement${v.statements === 1 ? '' : 's'}\n  root ${v.rootHash}\n  signed by key ${v.keyId}\n`;
    if (v.extendsPrevious) out += `  extends ${flags.previous}\n`;
    else if (since)
      out += `  records 1..${since} are not checked: pass --previous <the bundle of size ${since}> to link this one to it\n`;
    process.stdout.write(out);
  } else {
    process.stdout.write(
      `INVALID ${path}: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'}\n`,
    );
    for (const p of v.problems) process.stdout.write(`  [${p.code}] ${p.where}: ${p.message}\n`);
  }
  if (!v.ok) process.exitCode = 1;
}
