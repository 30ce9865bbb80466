import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { serializeBundle, verifyBundleText } from '../../provenance/index.js';
import { globals, withWarden } from '../context.js';
import { printJson } from '../io.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a self-contained, offline-verifiable provenance bundle of a session')
    .option('-s, --session <name>', 'the session to export', 'default')
    .option('-o, --out <file>', 'write the bundle here (default: standard output)')
    .action(async (flags: { session: string; out?: string }, cmd: Command) => {
      await withWarden(cmd, async (warden) => {
        const bundle = await warden.exportProvenance(flags.session);
        const text = serializeBundle(bundle);
        if (!flags.out) return void process.stdout.write(text);
        await writeFile(flags.out, text);
        const summary = {
          out: flags.out,
          session: bundle.session.name,
          records: bundle.records.length,
          statements: bundle.statements.length,
          rootHash: bundle.treeHead.rootHash,
          keyId: bundle.publicKey.keyId,
        };
        if (globals(cmd).json) printJson(summary);
        else
          process.stdout.write(
            `exported ${summary.session}: ${summary.records} records, ${summary.statements} statements, root ${summary.rootHash}\n  -> ${summary.out} (key ${summary.keyId})\n`,
          );
      });
    });
}

/**
 * `warden verify [bundle]`: with a bundle path, checks an exported bundle offline (no database); without
 * one, recomputes the stored chains and signed tree heads (--session narrows it to one session).
 */
export function verifyBundleCommand(): Command {
  return new Command('verify')
    .description(
      'verify an exported bundle offline, or recompute the stored provenance chains and signed tree heads',
    )
    .argument('[bundle]', 'an exported bundle file: verified offline, without the database')
    .option('-s, --session <name>', 'stored chains: only this session (default: every session)')
    .option('--key-id <sha256...>', 'bundle: accept only tree heads signed by these key ids')
    .action(
      async (bundle: string | undefined, flags: { session?: string; keyId?: string[] }, cmd: Command) => {
        const { json } = globals(cmd);
        if (bundle !== undefined) return verifyBundleFile(bundle, flags.keyId, json);
        await withWarden(cmd, async (warden) => {
          const sessions = flags.session
            ? [await warden.getSession(flags.session)]
            : await warden.store.listSessions();
          const reports = [];
          for (const s of sessions)
            reports.push({ session: s.name, ...(await warden.store.verifyChain(s.id)) });
          if (json) printJson(reports);
          else
            for (const r of reports)
              process.stdout.write(
                r.ok
                  ? `ok      ${r.session}: ${r.length} records, head ${r.headHash ?? '-'}\n`
                  : `BROKEN  ${r.session}: record ${r.broken?.seq}: ${r.broken?.reason}\n`,
              );
          if (reports.some((r) => !r.ok)) process.exitCode = 1;
        });
      },
    );
}

async function verifyBundleFile(path: string, keyIds: string[] | undefined, json?: boolean): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new WardenError(
      'FILE_NOT_FOUND',
      `Cannot read bundle ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause, details: { path } },
    );
  }
  const v = verifyBundleText(text, keyIds ? { trustedKeyIds: keyIds } : {});
  if (json) printJson({ bundle: path, ...v });
  else if (v.ok)
    process.stdout.write(
      `ok      ${path}: session ${v.session}, ${v.treeSize} records, ${v.statements} statements\n  root ${v.rootHash}\n  signed by key ${v.keyId}\n`,
    );
  else {
    process.stdout.write(
      `INVALID ${path}: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'}\n`,
    );
    for (const p of v.problems) process.stdout.write(`  [${p.code}] ${p.where}: ${p.message}\n`);
  }
  if (!v.ok) process.exitCode = 1;
}
