import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import { loadManifest } from '../../warden/index.js';
import { globals, withWarden } from '../context.js';
import { printJson } from '../io.js';

/** `warden route explain`: how an intent would be routed, and `warden route rollouts`. */
export function routeCommand(): Command {
  const route = new Command('route').description(
    'semantic task matching (submit --intent) and canary rollouts between agent versions',
  );

  route
    .command('explain')
    .description('score every registered agent against an intent, best first, and show the one it routes to')
    .requiredOption('--intent <text>', 'what the task is for, in words')
    .option('-t, --tenant <tenant>', "route among this tenant's agents", 'default')
    .option('--register <agent.yaml...>', 'register these agent manifests first')
    .action(async (flags: { intent: string; tenant: string; register?: string[] }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        for (const path of flags.register ?? []) await warden.registerAgent(await loadManifest(path));
        const r = await warden.explainRoute({ intent: flags.intent, tenant: flags.tenant });
        if (json) return printJson(r);
        if (r.candidates.length === 0)
          throw new WardenError(
            'NO_MATCHING_AGENT',
            'No agent is registered to route to: register one (warden agents register agent.yaml)',
          );
        const lines = [
          `intent:    ${r.intent}`,
          `routes to: ${r.chosen ? r.chosen.agent : `nothing (no similarity reaches the threshold ${r.threshold}: submit fails with NO_MATCHING_AGENT)`}`,
          '',
          `${'agent'.padEnd(28)} ${'score'.padStart(6)} ${'similar'.padStart(7)} ${'fitness'.padStart(7)}  closest text`,
        ];
        for (const c of r.candidates)
          lines.push(
            `${c.agent.padEnd(28)} ${c.score.toFixed(3).padStart(6)} ${c.similarity.toFixed(3).padStart(7)} ${c.fitness.toFixed(2).padStart(7)}  ${c.matched.length > 60 ? `${c.matched.slice(0, 57)}...` : c.matched}`,
          );
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });

  route
    .command('rollouts')
    .description('canary rollouts (rollout: in agent.yaml) and their outcome')
    .option('-t, --tenant <tenant>', "this tenant's rollouts", 'default')
    .action(async (flags: { tenant: string }, cmd: Command) => {
      const { json } = globals(cmd);
      await withWarden(cmd, async (warden) => {
        const rollouts = await warden.listRollouts({ tenant: flags.tenant });
        if (json) return printJson({ rollouts });
        if (rollouts.length === 0) {
          process.stdout.write(
            'no rollouts: give a new version `rollout: { canary: 10% }` in its agent.yaml\n',
          );
          return;
        }
        for (const r of rollouts)
          process.stdout.write(
            `${r.canaryKey} vs ${r.stableKey}  ${r.state}  share ${(r.share * 100).toFixed(0)} %  started ${new Date(r.startedAt).toISOString()}${r.reason ? `  (${r.reason})` : ''}\n`,
          );
      });
    });
  return route;
}
