import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import type { AgentKpi } from '../../warden/index.js';
import { globals, withWarden } from '../context.js';
import { printJson } from '../io.js';

// `warden agents kpi` and `warden feedback` (docs/kpi.md).

/** `--since`: an ISO time, or epoch milliseconds. */
function parseSince(value: string): number {
  const at = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(at))
    throw new WardenError('INVALID_INPUT', `--since must be an ISO time or epoch milliseconds, got ${value}`);
  return at;
}

/** `--score`: left as NaN when not a number, so the one check (Warden.feedback) reports it. */
function parseScore(value: string): number {
  return value.trim() === '' ? Number.NaN : Number(value);
}

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0));

/** The KPI table: one line per version. */
export function kpiTable(kpis: readonly AgentKpi[]): string {
  const head = ['VERSION', 'FINISHED', 'SUCCESS', 'P50 MS', 'P95 MS', 'COST USD', 'FLAGGED', 'REWARD'];
  const rows = kpis.map((k) => [
    k.agent,
    String(k.finished),
    k.successRate === null ? '-' : `${(k.successRate * 100).toFixed(1)}%`,
    ms(k.latencyMs.p50),
    ms(k.latencyMs.p95),
    k.costUsd.toFixed(4),
    String(k.flaggedTasks),
    k.reward.mean === null ? '-' : `${k.reward.mean.toFixed(2)} (${k.reward.count})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join(''))
    .join('\n');
}

/** `warden agents kpi [name]`: added to the `agents` command. */
export function agentsKpiCommand(): Command {
  return new Command('kpi')
    .argument('[agent]', 'name (every version) or name@version (default: every registered version)')
    .option('-t, --tenant <tenant>', "that tenant's versions (its own and shared), over its sessions' tasks")
    .option('--since <iso|ms>', 'count tasks submitted at or after this time', parseSince)
    .description(
      'KPIs per agent version over finished tasks: success rate, run-time p50/p95, LLM cost, flagged tasks, user reward (docs/kpi.md)',
    )
    .action(async (agent: string | undefined, flags: { tenant?: string; since?: number }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const kpis = await warden.agentKpis({
          ...(agent !== undefined ? { agent } : {}),
          ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
          ...(flags.since !== undefined ? { since: flags.since } : {}),
        });
        if (json) return printJson(kpis);
        if (kpis.length === 0) return void process.stdout.write('no agents registered\n');
        process.stdout.write(`${kpiTable(kpis)}\n`);
      });
    });
}

/** `warden feedback <task> --score 0.8`. */
export function feedbackCommand(): Command {
  return new Command('feedback')
    .argument('<task>', 'id of a finished task')
    .requiredOption('--score <0..1>', 'how good the result was, from 0 (worst) to 1 (best)', parseScore)
    .option('--comment <text>', 'a remark kept with the score (the provenance record holds its digest)')
    .description(
      "score a finished task for its agent version's reward KPI; a later score replaces it (recorded in provenance)",
    )
    .action(async (taskId: string, flags: { score: number; comment?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const done = await warden.feedback(
          taskId,
          { score: flags.score, ...(flags.comment !== undefined ? { comment: flags.comment } : {}) },
          { via: 'cli' },
        );
        if (json) return printJson(done);
        process.stdout.write(`${done.taskId}: score ${done.score} recorded for ${done.agent}\n`);
      });
    });
}
