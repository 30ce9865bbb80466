import { Command, Option } from 'commander';
import { TASK_STATES, isTerminal, type Task, type TaskState } from '../../core/index.js';
import type { LogLine } from '../../store/index.js';
import type { Warden } from '../../warden/index.js';
import { globals, withWarden } from '../context.js';
import { Progress, formatResult, LIMIT_RANGE, parseIntOption, printJson } from '../io.js';
import { remoteClient } from '../remote.js';
import { noTaskOrAgent, remoteCancel, remoteLogs, remoteResult, remoteTasks } from './remote.js';

export function tasksCommand(): Command {
  return new Command('tasks')
    .description('list tasks, newest first')
    .option('-s, --session <name>', 'only this session')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices([...TASK_STATES]))
    .option('--agent <name@version>', 'only tasks of this agent version')
    .option('-n, --limit <n>', 'at most this many', parseIntOption('--limit', LIMIT_RANGE), 50)
    .action(
      async (flags: { session?: string; state?: TaskState; agent?: string; limit: number }, cmd: Command) => {
        const { json } = globals(cmd);
        const client = remoteClient(cmd);
        if (client) return remoteTasks(client, flags, Boolean(json));
        await withWarden(cmd, async (warden) => {
          const tasks = await warden.listTasks({
            limit: flags.limit,
            ...(flags.session ? { session: flags.session } : {}),
            ...(flags.state ? { state: flags.state } : {}),
            ...(flags.agent ? { agentKey: flags.agent } : {}),
          });
          if (json) return printJson(tasks);
          if (tasks.length === 0) return void process.stdout.write('no tasks\n');
          process.stdout.write(
            `${'ID'.padEnd(38)}${'STATE'.padEnd(12)}${'PRIORITY'.padEnd(11)}${'ATTEMPTS'.padEnd(10)}${'AGENT'.padEnd(24)}CREATED\n`,
          );
          for (const t of tasks) {
            process.stdout.write(
              `${t.id.padEnd(38)}${t.state.padEnd(12)}${t.priority.padEnd(11)}${`${t.attempts}/${t.maxAttempts}`.padEnd(10)}${t.agent.padEnd(24)}${new Date(t.createdAt).toISOString()}\n`,
            );
          }
        });
      },
    );
}

export function resultCommand(): Command {
  return new Command('result')
    .description('show a task and its result (waits with --wait)')
    .argument('<task-id>')
    .option('--wait', 'wait until the task is finished (a worker must be running)')
    .option(
      '--wait-timeout <ms>',
      'with --wait: give up after this long (exit code 3)',
      parseIntOption('--wait-timeout'),
    )
    .action(async (id: string, flags: { wait?: boolean; waitTimeout?: number }, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteResult(client, id, flags, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const task = await warden.getTask(id);
        let result;
        if (flags.wait) {
          const watch = json ? undefined : watchProgress(warden, task);
          try {
            result = await warden.result(
              id,
              flags.waitTimeout !== undefined ? { timeoutMs: flags.waitTimeout } : {},
            );
          } finally {
            watch?.stop();
          }
          if (!result) {
            process.stderr.write(
              `still not finished after ${flags.waitTimeout} ms: task ${id} keeps its place in the queue\n`,
            );
            process.exitCode = 3;
            return;
          }
        } else result = await warden.storedResult(id);
        if (json) return printJson({ task, result: result ?? null });
        process.stdout.write(
          `task:     ${task.id}\nagent:    ${task.agent}\nstate:    ${result?.status ?? task.state}\n`,
        );
        if (result) process.stdout.write(`${formatResult(result)}\n`);
        else if (task.lastError)
          process.stdout.write(`last error: [${task.lastError.code}] ${task.lastError.message}\n`);
        if (result && result.status !== 'succeeded') process.exitCode = 1;
      });
    });
}

/**
 * Another process (a `warden worker`) usually runs the task: its state is polled from the store and shown
 * on stderr, with a line for each failed attempt, so a long wait says what it is waiting for.
 */
function watchProgress(warden: Warden, task: Task): { stop(): void } {
  const progress = new Progress();
  const describe = (t: Task) =>
    t.state === 'running'
      ? `running ${t.agent} (attempt ${t.attempts})`
      : t.state === 'queued' && t.attempts > 0
        ? `waiting to retry ${t.agent} (attempt ${t.attempts + 1} at ${new Date(t.runAfter).toTimeString().slice(0, 8)})`
        : `${t.state} ${t.agent}`;
  // A failure that happened before the wait began is worth a line too: it is why the task still waits.
  let attemptsNoted = 0;
  progress.start(describe(task));
  const poll = setInterval(() => {
    void warden
      .findTask(task.id)
      .then((t) => {
        if (!t) return;
        if (t.state === 'queued' && t.attempts > attemptsNoted && t.lastError) {
          attemptsNoted = t.attempts;
          progress.note(`attempt ${t.attempts} failed: [${t.lastError.code}] ${t.lastError.message}`);
        }
        progress.update(describe(t));
      })
      .catch(() => undefined);
  }, 500);
  return {
    stop() {
      clearInterval(poll);
      progress.stop();
    },
  };
}

export function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a queued task now, or ask the worker running it to stop it')
    .argument('<task-id>')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const client = remoteClient(cmd);
      if (client) return remoteCancel(client, id);
      await withWarden(cmd, async (warden) => {
        const out = await warden.cancel(id);
        if (out.cancelledNow) process.stdout.write(`cancelled ${id}\n`);
        else if (out.state === 'running')
          process.stdout.write(`cancel requested: the worker running ${id} stops it at its next heartbeat\n`);
        else {
          process.stderr.write(`task ${id} is already ${out.state}; nothing to cancel\n`);
          process.exitCode = 1;
        }
      });
    });
}

export function logsCommand(): Command {
  return new Command('logs')
    .description("show a task's events and its agent's stderr, or the recent tasks of an agent")
    .argument('<task-id|agent>', 'a task id, or an agent name@version to show its latest tasks')
    .option('-f, --follow', 'keep printing new lines until the task finishes')
    .action(async (target: string, flags: { follow?: boolean }, cmd: Command) => {
      const { json } = globals(cmd);
      const client = remoteClient(cmd);
      if (client) return remoteLogs(client, target, flags, Boolean(json));
      await withWarden(cmd, async (warden) => {
        const task = await warden.findTask(target);
        const agentKey = task ? undefined : target.includes('@') ? target : await latestKey(warden, target);
        const ids = task
          ? [task.id]
          : (await warden.listTasks({ agentKey: agentKey!, limit: 10 })).map((t) => t.id).reverse();
        if (ids.length === 0 && !(await warden.listAgents()).some((a) => a.key === agentKey))
          throw noTaskOrAgent(target);
        for (const id of ids)
          await printLogs(warden, id, Boolean(flags.follow && task), Boolean(json), ids.length > 1);
      });
    });
}

async function latestKey(warden: Warden, name: string): Promise<string> {
  const versions = (await warden.listAgents()).filter((a) => a.manifest.name === name);
  return versions.at(-1)?.key ?? name;
}

async function printLogs(
  warden: Warden,
  taskId: string,
  follow: boolean,
  json: boolean,
  header: boolean,
): Promise<void> {
  if (header && !json) process.stdout.write(`== ${taskId}\n`);
  let cursor: { attempt: number; line: number } | undefined;
  const print = (lines: LogLine[]) => {
    for (const l of lines) {
      if (json) process.stdout.write(`${JSON.stringify(l)}\n`);
      else
        process.stdout.write(
          `${new Date(l.at).toISOString()} [attempt ${l.attempt}] ${l.stream}: ${l.message}\n`,
        );
      cursor = { attempt: l.attempt, line: l.line };
    }
  };
  for (;;) {
    print(await warden.logs(taskId, cursor));
    const task = await warden.getTask(taskId);
    if (!follow || isTerminal(task.state)) {
      const result = await warden.storedResult(taskId);
      if (!json) {
        process.stdout.write(
          `-- ${task.state}${result?.error ? `: [${result.error.code}] ${result.error.message}` : ''}\n`,
        );
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
