import { Command, Option } from 'commander';
import {
  WardenError,
  PRIORITIES,
  type BreakerStatus,
  type PriorityName,
  type TaskResult,
} from '../../core/index.js';
import type { TaskEvent, TokenEvent } from '../../scheduler/index.js';
import { loadManifest, type Warden } from '../../warden/index.js';
import { globals, openWarden, withWarden } from '../context.js';
import { Progress, formatResult, parseIntOption, printJson, readInput } from '../io.js';
import { remoteClient } from '../remote.js';
import { traceMetadata } from '../trace-context.js';
import {
  remoteAgentsHealth,
  remoteAgentsList,
  remoteAgentsRegister,
  remoteResetBreaker,
  remoteRun,
  remoteSubmit,
} from './remote.js';
import { agentsKpiCommand } from './kpi.js';

interface SubmitFlags {
  input?: string;
  intent?: string;
  session: string;
  priority: string;
  deadline?: string;
  timeout?: number;
  idempotencyKey?: string;
  traceparent?: string;
  allowNetwork?: boolean;
  wait: boolean;
  waitTimeout?: number;
}

function submitOptions(cmd: Command): Command {
  return cmd
    .option('-i, --input <json|@file>', 'task input as JSON, or @path to a JSON file (@- for stdin)')
    .option(
      '--intent <text>',
      'instead of an agent: what the task is for, in words; the best-matching agent runs it (see `warden route explain`)',
    )
    .option('-s, --session <name>', 'session (namespace) to run in; created if missing', 'default')
    .option(
      '--allow-network',
      "create the session with network allowed (agents still reach only their manifest's network.allow)",
    )
    .addOption(
      new Option('-p, --priority <level>', 'priority').choices(Object.keys(PRIORITIES)).default('normal'),
    )
    .option(
      '--deadline <iso|ms>',
      'fail with DEADLINE_EXCEEDED if not finished by then (ISO time or ms from now)',
    )
    .option('--timeout <ms>', 'per-task timeout below the manifest timeout', parseIntOption('--timeout'))
    .option(
      '--idempotency-key <key>',
      'the same key in the same session returns the same task instead of a new one',
    )
    .option(
      '--traceparent <w3c>',
      "join this W3C trace with the task's spans (docs/telemetry.md); default: $TRACEPARENT when set",
    );
}

function deadlineOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Date.now() + Number(value);
  const t = Date.parse(value);
  // Date.parse reads '-5' as the year 5 BC: a negative number is a mistake, not a time.
  if (Number.isNaN(t) || value.startsWith('-'))
    throw new WardenError(
      'INVALID_INPUT',
      `--deadline must be an ISO-8601 time or milliseconds from now, got ${value}`,
    );
  return t;
}

/** Registers the agent named by a path to agent.yaml; otherwise treats the argument as an agent name. */
async function resolveAgentArg(warden: Warden, arg: string): Promise<string> {
  if (/\.ya?ml$/i.test(arg)) {
    const record = await warden.registerAgent(await loadManifest(arg));
    return record.key;
  }
  return arg;
}

/** An agent or an intent, not both: checked before any store is opened. */
function checkTarget(agentArg: string | undefined, flags: SubmitFlags): void {
  if ((agentArg === undefined) === (flags.intent === undefined))
    throw new WardenError(
      'INVALID_INPUT',
      agentArg === undefined
        ? 'Name the agent (a path to agent.yaml or a registered name), or give --intent "what the task is for"'
        : 'Give either an agent or --intent, not both',
    );
}

async function submitFrom(warden: Warden, agentArg: string | undefined, flags: SubmitFlags) {
  checkTarget(agentArg, flags);
  const agent = agentArg === undefined ? undefined : await resolveAgentArg(warden, agentArg);
  const session = await warden.ensureSession({
    name: flags.session,
    allowNetwork: Boolean(flags.allowNetwork),
  });
  if (flags.allowNetwork && !session.allowNetwork) {
    process.stderr.write(
      `warning: session ${session.name} already exists without network; --allow-network applies to new sessions\n`,
    );
  }
  const deadline = deadlineOf(flags.deadline);
  const trace = traceMetadata(flags.traceparent);
  return warden.submit({
    ...(agent !== undefined ? { agent } : { intent: flags.intent! }),
    session: flags.session,
    input: await readInput(flags.input),
    priority: flags.priority as PriorityName, // one of the option's choices
    ...(deadline !== undefined ? { deadline } : {}),
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
    ...(trace ? { metadata: trace } : {}),
  });
}

export function runCommand(): Command {
  return submitOptions(new Command('run'))
    .description(
      'run an agent here and now on the embedded store: register agent.yaml, submit, wait, print the result',
    )
    .argument('[agent]', 'path to agent.yaml, or the name (name@version) of a registered agent')
    .option(
      '--no-wait',
      'return after submitting (the task runs while this process lives; prefer `warden submit`)',
    )
    .option(
      '--wait-timeout <ms>',
      'give up waiting after this long (exit code 3)',
      parseIntOption('--wait-timeout'),
    )
    .option('--stream', 'print the text an LLM agent generates as it arrives (not with --json)')
    .action(async (agentArg: string | undefined, flags: SubmitFlags & { stream?: boolean }, cmd: Command) => {
      const { json } = globals(cmd);
      checkTarget(agentArg, flags);
      const client = remoteClient(cmd);
      if (client) return remoteRun(client, agentArg, remoteFlags(flags), Boolean(json));
      // A one-shot run does not contend for the database's maintenance: it would hold it only for a moment.
      const warden = await openWarden(cmd, {}, { maintenance: false });
      const progress = new Progress();
      let streamed = false;
      const onToken = (e: TokenEvent) => {
        if (!streamed) progress.stop();
        streamed = true;
        process.stdout.write(e.text);
      };
      if (flags.stream && !json) warden.events.on('token', onToken);
      try {
        const receipt = await submitFrom(warden, agentArg, flags);
        if (!flags.wait) {
          if (json) printJson(receipt);
          else process.stdout.write(`${receipt.id}\n`);
          return;
        }
        const onEvent = (e: TaskEvent) => {
          if (e.taskId !== receipt.id) return;
          if (e.state === 'running') progress.update(`running ${e.agent} (attempt ${e.attempt})`);
          if (e.state === 'retrying' && !json) {
            if (streamed) process.stdout.write('\n');
            // A backoff can last minutes: say which attempt comes next and when, rather than wait silently.
            const at = e.retryAt ?? Date.now();
            const when = `${new Date(at).toTimeString().slice(0, 8)} (in ${Math.max(0, (at - Date.now()) / 1000).toFixed(1)} s)`;
            progress.note(
              `attempt ${e.attempt} of ${receipt.maxAttempts} failed: [${e.error?.code}] ${e.error?.message} — retry ${e.attempt + 1} at ${when}`,
            );
            progress.update(`waiting to retry ${e.agent} (attempt ${e.attempt + 1} at ${when.slice(0, 8)})`);
          }
        };
        warden.events.on('task', onEvent);
        progress.start(
          `queued ${receipt.agent}${receipt.deduplicated ? ' (existing task for this idempotency key)' : ''}`,
        );
        const result = await warden.result(
          receipt.id,
          flags.waitTimeout !== undefined ? { timeoutMs: flags.waitTimeout } : {},
        );
        progress.stop();
        warden.events.off('task', onEvent);
        warden.events.off('token', onToken);
        if (streamed) process.stdout.write('\n\n');
        if (!result) {
          process.stderr.write(
            `still not finished after ${flags.waitTimeout} ms: task ${receipt.id} keeps its place in the queue\n`,
          );
          process.exitCode = 3;
          return;
        }
        const provenance = await warden.verify(flags.session);
        if (json) printJson({ task: { ...receipt, state: result.status }, result, provenance });
        else printRun(receipt.id, receipt.agent, flags.session, result, provenance);
        if (result.status !== 'succeeded') process.exitCode = 1;
      } finally {
        progress.stop();
        await warden.close();
      }
    });
}

/** The submit flags as the remote forms take them (the deadline resolved now). */
function remoteFlags<F extends SubmitFlags>(flags: F): Omit<F, 'deadline'> & { deadline?: number } {
  const { deadline, ...rest } = flags;
  const at = deadlineOf(deadline);
  return { ...rest, ...(at !== undefined ? { deadline: at } : {}) };
}

export function breakerText(b: BreakerStatus): string {
  const time = (t: number | null) => new Date(t ?? 0).toTimeString().slice(0, 8);
  const failures = `${b.consecutiveFailures} failure${b.consecutiveFailures === 1 ? '' : 's'}`;
  if (b.state === 'open') return `open (${failures}, probe at ${time(b.nextProbeAt)})`;
  if (b.state === 'half_open') return `half-open (${failures}, probe due)`;
  return b.consecutiveFailures > 0 ? `closed (${failures})` : 'closed';
}

function printRun(
  taskId: string,
  agent: string,
  session: string,
  result: TaskResult,
  p: Awaited<ReturnType<Warden['verify']>>,
): void {
  const out = [
    `task:     ${taskId}`,
    `agent:    ${agent}`,
    formatResult(result),
    '',
    `provenance (session ${session}): ${p.length} records, ${p.ok ? 'chain verified' : `BROKEN at seq ${p.broken?.seq}: ${p.broken?.reason}`}`,
    `  head:   ${p.headHash ?? '-'}`,
  ];
  if (result.outputDigest) out.push(`  output sha256: ${result.outputDigest}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function submitCommand(): Command {
  return submitOptions(new Command('submit'))
    .description(
      'durably enqueue a task and print its id; a `warden worker` (or `warden run`) process runs it',
    )
    .argument('[agent]', 'path to agent.yaml, or the name (name@version) of a registered agent')
    .action(async (agentArg: string | undefined, flags: SubmitFlags, cmd: Command) => {
      const { json } = globals(cmd);
      checkTarget(agentArg, flags);
      const client = remoteClient(cmd);
      if (client) return remoteSubmit(client, agentArg, remoteFlags(flags), Boolean(json));
      await withWarden(cmd, async (warden) => {
        const receipt = await submitFrom(warden, agentArg, flags);
        if (json) return printJson(receipt);
        // stdout is only the id, so ID=$(warden submit ...) works; the note is for people.
        process.stdout.write(`${receipt.id}\n`);
        if (receipt.deduplicated)
          process.stderr.write(
            `existing task ${receipt.id} for this idempotency key (${receipt.state}); nothing new was queued\n`,
          );
      });
    });
}

export function agentsCommand(): Command {
  const agents = new Command('agents').description('register and list agent versions');
  agents
    .command('register')
    .argument('<agent.yaml...>')
    .description(
      'validate and register agent manifests (in the default tenant; versions are immutable: changed code needs a new version)',
    )
    .option('-t, --tenant <tenant>', "register for this tenant only (its API keys' sessions)", 'default')
    .option('--shared', 'let every tenant use these versions (default tenant only; registering again shares)')
    .action(async (paths: string[], flags: { tenant: string; shared?: boolean }, cmd: Command) => {
      const client = remoteClient(cmd);
      if (client) return remoteAgentsRegister(client, paths, flags);
      await withWarden(cmd, async (warden) => {
        for (const path of paths) {
          const record = await warden.registerAgent(await loadManifest(path), {
            tenant: flags.tenant,
            shared: flags.shared === true,
          });
          process.stdout.write(
            `registered ${record.key} (${record.manifest.runtime}${record.shared ? ', shared with every tenant' : ''})\n`,
          );
        }
      });
    });
  agents
    .command('health')
    .argument('[agent]', 'name or name@version (default: every registered version)')
    .option('--timeout <ms>', 'give up on a probe after this long', parseIntOption('--timeout'), 10_000)
    .description(
      'probe agents without running a task: LLM endpoints list their models, local models load and evaluate a token, other runtimes prepare',
    )
    .action(async (agent: string | undefined, flags: { timeout: number }, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteAgentsHealth(client, agent, flags.timeout, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const reports = await warden.agentHealth({ ...(agent ? { agent } : {}), timeoutMs: flags.timeout });
        if (reports.some((r) => !r.ok)) process.exitCode = 1;
        if (json) return printJson(reports);
        if (reports.length === 0) return void process.stdout.write('no agents registered\n');
        for (const r of reports) {
          const what = r.provider ? `${r.runtime} ${r.provider} ${r.model}` : r.runtime;
          process.stdout.write(
            `${r.ok ? 'ok  ' : 'FAIL'} ${r.agent.padEnd(28)} ${what} — ${r.check} (${r.latencyMs} ms)` +
              (r.ok ? '' : `\n     [${r.code}] ${r.message}`) +
              '\n',
          );
        }
      });
    });
  agents
    .command('list')
    .description(
      'list registered agent versions: active (new tasks go here), draining (finishing its tasks) or idle, and their circuit breakers',
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteAgentsList(client, Boolean(json), breakerText);
      await withWarden(cmd, async (warden) => {
        const list = await warden.agentStatus();
        if (json) return printJson(list.map(({ runnable: _here, ...a }) => a));
        if (list.length === 0) return void process.stdout.write('no agents registered\n');
        process.stdout.write(
          `${'AGENT'.padEnd(32)}${'RUNTIME'.padEnd(9)}${'STATE'.padEnd(10)}${'IN FLIGHT'.padEnd(11)}${'BREAKER'.padEnd(38)}CAPABILITIES\n`,
        );
        for (const a of list) {
          process.stdout.write(
            `${a.key.padEnd(32)}${a.manifest.runtime.padEnd(9)}${a.state.padEnd(10)}${String(a.inFlight).padEnd(11)}${breakerText(a.breaker).padEnd(38)}${a.manifest.capabilities.join(',')}\n`,
          );
        }
      });
    });
  agents
    .command('reset-breaker')
    .argument('<agent>', 'name@version, or a name to reset every version of it')
    .description(
      'close an open circuit breaker now: its held tasks run without waiting for the cooldown (recorded in provenance)',
    )
    .action(async (agent: string, _flags: unknown, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteResetBreaker(client, agent, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const resets = await warden.resetBreaker(agent, { via: 'cli' });
        if (json) return printJson(resets);
        for (const r of resets) {
          process.stdout.write(
            r.previous
              ? `${r.agent}: breaker reset (was ${r.previous.state}, ${r.previous.consecutiveFailures} consecutive failure${r.previous.consecutiveFailures === 1 ? '' : 's'})\n`
              : `${r.agent}: breaker already closed\n`,
          );
        }
      });
    });
  agents.addCommand(agentsKpiCommand());
  return agents;
}
