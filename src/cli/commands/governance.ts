import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { WardenError } from '../../core/index.js';
import { FLAG_TYPES } from '../../governance/index.js';
import { globals, withWarden } from '../context.js';
import { LIMIT_RANGE, parseIntOption, printJson } from '../io.js';
import { evaluateFile, formatEvalReport, readEvalFile } from './governance-eval.js';

/** `warden flag <task-id> --type HighRisk --severity 7 --reason "..."`: a person's trace flag. */
export function flagCommand(): Command {
  return new Command('flag')
    .description('flag a task for governance review (recorded in its provenance chain)')
    .argument('<task-id>')
    .addOption(new Option('-t, --type <type>', 'flag type').choices([...FLAG_TYPES]).makeOptionMandatory())
    .requiredOption('-s, --severity <n>', 'severity, 1 (note) to 10 (severe)', parseIntOption('--severity'))
    .requiredOption('-r, --reason <text>', 'why')
    .option('--by <name>', 'who raises it', process.env['USER'])
    .action(
      async (
        taskId: string,
        flags: { type: string; severity: number; reason: string; by?: string },
        cmd: Command,
      ) => {
        const { json } = globals(cmd);
        await withWarden(cmd, async (warden) => {
          const flag = await warden.governance.flag(await warden.getTask(taskId), {
            type: flags.type,
            severity: flags.severity,
            reason: flags.reason,
            ...(flags.by ? { by: flags.by } : {}),
          });
          if (json) return printJson(flag);
          process.stdout.write(`flagged ${taskId}: ${flag.type} severity ${flag.severity} (${flag.id})\n`);
        });
      },
    );
}

/** `warden governance screen | eval | stats | release | validate-merge | flags`. */
export function governanceCommand(): Command {
  const gov = new Command('governance').description('governance: flags, quarantine, merge validation, stats');
  gov
    .command('screen')
    .description("screen text as a language-model agent's input: flags, the policy's action and the scores")
    .argument('<text>', 'the text (or - to read it from stdin)')
    .option('--policy <name>', 'judge under this policy (a preset or registered name)')
    .action(async (text: string, flags: { policy?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      const input = text === '-' ? readFileSync(0, 'utf8') : text;
      await withWarden(cmd, async (warden) => {
        const r = await warden.governance.screen(input, flags.policy ? { policy: flags.policy } : {});
        if (json) return printJson(r);
        process.stdout.write(
          `${r.action} (policy ${r.policy})\n` +
            `jailbreak score ${r.scores.jailbreak.toFixed(3)} (flags at ${r.thresholds.jailbreak.toFixed(3)}), ` +
            `harmful score ${r.scores.harmful.toFixed(3)} (flags at ${r.thresholds.harmful.toFixed(3)})\n` +
            r.flags.map((f) => `${f.type} severity ${f.severity}: ${f.reason}\n`).join('') +
            (r.signals.length ? `signals: ${r.signals.join(', ')}\n` : ''),
        );
      });
    });
  gov
    .command('eval')
    .description('measure the detector on your own labelled texts (JSONL: {"text", "label", "source"?})')
    .argument('<file>', 'JSONL file; labels jailbreak|injection|attack, harmful_request, benign*|safe')
    .option('--policy <name>', 'judge under this policy (a preset or registered name)')
    .action(async (file: string, flags: { policy?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      const rows = readEvalFile(file);
      await withWarden(cmd, async (warden) => {
        const tty = process.stderr.isTTY === true;
        const report = await evaluateFile(warden, rows, {
          ...(flags.policy ? { policy: flags.policy } : {}),
          progress: (done, total) => {
            if (tty) process.stderr.write(`\rscreened ${done}/${total}`);
          },
        });
        if (tty) process.stderr.write('\r\x1b[K');
        if (json) return printJson(report);
        process.stdout.write(formatEvalReport(report));
      });
    });
  gov
    .command('stats')
    .description('count flags by type, severity and agent')
    .option('-s, --session <name>', 'only this session')
    .action(async (flags: { session?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const sessionId = flags.session ? (await warden.getSession(flags.session)).id : undefined;
        const stats = await warden.governance.stats(sessionId);
        const quarantined = (await warden.queueStats()).byState['quarantined'] ?? 0;
        if (json) return printJson({ ...stats, quarantined });
        const line = (title: string, counts: Record<string, number>) =>
          `${title.padEnd(12)}${
            Object.entries(counts)
              .sort((a, b) => b[1] - a[1])
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || '-'
          }\n`;
        process.stdout.write(
          `flags       ${stats.total}\nquarantined ${quarantined}\n` +
            line('by flag', stats.byFlag) +
            line('by severity', stats.bySeverity) +
            line('by agent', stats.byAgent),
        );
      });
    });
  gov
    .command('flags')
    .description('list flags, newest last')
    .option('-s, --session <name>', 'only this session')
    .option('--task <id>', 'only this task')
    .option('-n, --limit <n>', 'at most this many', parseIntOption('--limit', LIMIT_RANGE), 100)
    .action(async (flags: { session?: string; task?: string; limit: number }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const list = await warden.governance.flags({
          limit: flags.limit,
          ...(flags.session ? { sessionId: (await warden.getSession(flags.session)).id } : {}),
          ...(flags.task ? { taskIds: [flags.task] } : {}),
        });
        if (json) return printJson(list);
        for (const f of list) {
          process.stdout.write(
            `${new Date(f.timestamp).toISOString()}  ${f.taskId ?? '-'}  ${f.type} ${f.severity}  ${f.stage}${f.autoDetected ? '' : ' (person)'}  ${f.reason}\n`,
          );
        }
      });
    });
  gov
    .command('release')
    .description('release quarantined tasks: they become succeeded, with their kept output')
    .argument('<task-id...>')
    .option('-r, --reason <text>', 'why it is safe')
    .option('--by <name>', 'who releases it', process.env['USER'])
    .action(async (ids: string[], flags: { reason?: string; by?: string }, cmd: Command) => {
      await withWarden(cmd, async (warden) => {
        for (const id of ids) {
          await warden.governance.release(id, {
            ...(flags.reason ? { reason: flags.reason } : {}),
            ...(flags.by ? { by: flags.by } : {}),
          });
          process.stdout.write(`released ${id}\n`);
        }
      });
    });
  gov
    .command('validate-merge')
    .description(
      "check that tasks (or traces) may be merged under the session's policy; exit 1 if any is refused",
    )
    .argument('<id...>', 'task ids or trace ids')
    .option('-s, --session <name>', 'session', 'default')
    .action(async (ids: string[], flags: { session: string }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        if (ids.length === 0) throw new WardenError('INVALID_INPUT', 'name at least one task or trace id');
        const report = await warden.governance.validateMerge(await warden.getSession(flags.session), ids);
        if (json) printJson(report);
        else {
          for (const v of report.verdicts) {
            process.stdout.write(
              v.accepted ? `ok       ${v.id}\n` : `REFUSED  ${v.id}: ${v.reasons.join('; ')}\n`,
            );
          }
        }
        if (!report.ok) process.exitCode = 1;
      });
    });
  return gov;
}
