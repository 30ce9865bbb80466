// The remote forms of the CLI's commands (`warden --server URL --key KEY <command>`): the same output as
// the local forms, read from the HTTP API through WardenClient.
import { writeFile } from 'node:fs/promises';
import type { Body, Task, TaskResult as ApiTaskResult, WardenClient } from '../../client/index.js';
import { NotFoundError } from '../../client/index.js';
import { WardenError, type BreakerStatus, type TaskResult, type TaskState } from '../../core/index.js';
import { verifyBundleText } from '../../provenance/index.js';
import { Progress, formatResult, printJson, readInput } from '../io.js';
import { traceMetadata } from '../trace-context.js';
import { collectDeployment, deploy } from './deploy.js';

export interface RemoteSubmitFlags {
  input?: string;
  intent?: string;
  session: string;
  priority: string;
  deadline?: number;
  timeout?: number;
  idempotencyKey?: string;
  traceparent?: string;
  allowNetwork?: boolean;
}

const out = (text: string) => void process.stdout.write(text);

/** The API's TaskResult carries what formatResult reads; the document types every field as optional. */
const asResult = (r: ApiTaskResult) => r as unknown as TaskResult;

/** A path to agent.yaml is deployed first (as a local run registers it); a name is used as it is. */
async function remoteAgent(client: WardenClient, arg: string): Promise<string> {
  if (!/\.ya?ml$/i.test(arg)) return arg;
  const { record } = await deploy(client, await collectDeployment(arg));
  return record.key!;
}

async function submitRemote(client: WardenClient, agentArg: string | undefined, flags: RemoteSubmitFlags) {
  const trace = traceMetadata(flags.traceparent);
  const agent = agentArg === undefined ? undefined : await remoteAgent(client, agentArg);
  const session = await client.createSession({
    name: flags.session,
    ...(flags.allowNetwork ? { allowNetwork: true } : {}),
  } as Body<'createSession'>);
  if (flags.allowNetwork && !session.allowNetwork)
    process.stderr.write(
      `warning: session ${session.name} already exists without network; --allow-network applies to new sessions\n`,
    );
  return {
    session,
    body: {
      ...(agent !== undefined ? { agent } : { intent: flags.intent! }),
      input: await readInput(flags.input),
      priority: flags.priority as NonNullable<Body<'executeTask'>['priority']>,
      ...(flags.deadline !== undefined ? { deadline: flags.deadline } : {}),
      ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
      ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
      ...(trace ? { metadata: trace } : {}),
    } satisfies Body<'executeTask'>,
  };
}

export async function remoteSubmit(
  client: WardenClient,
  agentArg: string | undefined,
  flags: RemoteSubmitFlags,
  json: boolean,
): Promise<void> {
  const { body } = await submitRemote(client, agentArg, flags);
  const task = await client.submit(flags.session, body);
  if (json) return printJson(task);
  out(`${task.id}\n`);
  if (task.deduplicated)
    process.stderr.write(
      `existing task ${task.id} for this idempotency key (${task.state}); nothing new was queued\n`,
    );
}

/**
 * `warden run` against a server: submit, wait (the server's workers run it), print the result and the
 * session's provenance, checked offline from an exported bundle.
 */
export async function remoteRun(
  client: WardenClient,
  agentArg: string | undefined,
  flags: RemoteSubmitFlags & { wait: boolean; waitTimeout?: number },
  json: boolean,
): Promise<void> {
  const { body } = await submitRemote(client, agentArg, flags);
  const progress = new Progress();
  try {
    const first = await client.execute(flags.session, body, {
      wait: Math.min(flags.wait ? (flags.waitTimeout ?? 60_000) : 0, 60_000),
    });
    const task = first.task;
    if (!flags.wait) {
      if (json) printJson(task);
      else out(`${task.id}\n`);
      return;
    }
    progress.start(
      `queued ${task.agent}${task.deduplicated ? ' (existing task for this idempotency key)' : ''}`,
    );
    const result =
      first.result ??
      (await client.result(task.id!, {
        waitMs: flags.waitTimeout !== undefined ? Math.max(0, flags.waitTimeout - 60_000) : 86_400_000,
      }));
    progress.stop();
    if (!result) {
      process.stderr.write(
        `still not finished after ${flags.waitTimeout} ms: task ${task.id} keeps its place in the queue\n`,
      );
      process.exitCode = 3;
      return;
    }
    const bundle = await client.exportProvenance({ session: flags.session });
    const v = verifyBundleText(bundle.text);
    const provenance = {
      ok: v.ok,
      length: v.treeSize ?? bundle.treeSize,
      rootHash: v.rootHash,
      keyId: v.keyId,
    };
    if (json) printJson({ task: { ...task, state: result.status }, result, provenance });
    else {
      const lines = [
        `task:     ${task.id}`,
        `agent:    ${task.agent}`,
        formatResult(asResult(result)),
        '',
        `provenance (session ${flags.session}): ${provenance.length} records, ${v.ok ? 'chain verified' : `BROKEN: ${v.problems[0]?.message ?? 'does not verify'}`}`,
        `  root:   ${v.rootHash ?? '-'} (signed by key ${v.keyId ?? '-'})`,
      ];
      if (result.outputDigest) lines.push(`  output sha256: ${result.outputDigest}`);
      out(`${lines.join('\n')}\n`);
    }
    if (result.status !== 'succeeded') process.exitCode = 1;
  } finally {
    progress.stop();
  }
}

export async function remoteTasks(
  client: WardenClient,
  flags: { session?: string; state?: TaskState; agent?: string; limit: number },
  json: boolean,
): Promise<void> {
  const { tasks = [] } = await client.listTasks({
    limit: String(Math.max(1, Math.min(1000, flags.limit))),
    ...(flags.session ? { session: flags.session } : {}),
    ...(flags.state ? { state: flags.state } : {}),
    ...(flags.agent ? { agent: flags.agent } : {}),
  });
  if (json) return printJson(tasks);
  if (tasks.length === 0) return out('no tasks\n');
  out(
    `${'ID'.padEnd(38)}${'STATE'.padEnd(12)}${'PRIORITY'.padEnd(11)}${'ATTEMPTS'.padEnd(10)}${'AGENT'.padEnd(24)}CREATED\n`,
  );
  for (const t of tasks)
    out(
      `${t.id!.padEnd(38)}${t.state!.padEnd(12)}${t.priority!.padEnd(11)}${`${t.attempts}/${t.maxAttempts}`.padEnd(10)}${t.agent!.padEnd(24)}${new Date(t.createdAt!).toISOString()}\n`,
    );
}

export async function remoteResult(
  client: WardenClient,
  id: string,
  flags: { wait?: boolean; waitTimeout?: number },
  json: boolean,
): Promise<void> {
  const got = await client.getTask(id);
  const task = got.task as Task;
  let result: ApiTaskResult | undefined = got.result ?? undefined;
  if (flags.wait && !result) {
    const progress = new Progress();
    if (!json) progress.start(`${task.state} ${task.agent}`);
    try {
      result = await client.result(id, { waitMs: flags.waitTimeout ?? 86_400_000 });
    } finally {
      progress.stop();
    }
    if (!result) {
      process.stderr.write(
        `still not finished after ${flags.waitTimeout} ms: task ${id} keeps its place in the queue\n`,
      );
      process.exitCode = 3;
      return;
    }
  }
  if (json) return printJson({ task, result: result ?? null });
  out(`task:     ${task.id}\nagent:    ${task.agent}\nstate:    ${result?.status ?? task.state}\n`);
  if (result) out(`${formatResult(asResult(result))}\n`);
  else if (task.lastError) out(`last error: [${task.lastError.code}] ${task.lastError.message}\n`);
  if (result && result.status !== 'succeeded') process.exitCode = 1;
}

export async function remoteCancel(client: WardenClient, id: string): Promise<void> {
  const r = await client.cancelTask(id);
  if (r.cancelledNow) out(`cancelled ${id}\n`);
  else if (r.state === 'running')
    out(`cancel requested: the worker running ${id} stops it at its next heartbeat\n`);
  else {
    process.stderr.write(`task ${id} is already ${r.state}; nothing to cancel\n`);
    process.exitCode = 1;
  }
}

/**
 * `warden logs` over the task's event stream. With --follow it ends when the task does; without, a running
 * task's stream is left once it has been quiet for a moment (the lines stored so far come first).
 */
export async function remoteLogs(
  client: WardenClient,
  target: string,
  flags: { follow?: boolean },
  json: boolean,
): Promise<void> {
  let ids: string[];
  let single = true;
  try {
    ids = [(await client.getTask(target)).task!.id!];
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    single = false;
    const { tasks = [] } = await client.listTasks({ agent: target, limit: '10' });
    ids = tasks.map((t) => t.id!).reverse();
    if (ids.length === 0) {
      const agents = await client.listAgents();
      if (!agents.some((a) => a.key === target || a.name === target)) throw noTaskOrAgent(target);
    }
  }
  for (const id of ids)
    await printRemoteLogs(client, id, Boolean(flags.follow && single), json, ids.length > 1);
}

const QUIET_MS = 400;

async function printRemoteLogs(
  client: WardenClient,
  taskId: string,
  follow: boolean,
  json: boolean,
  header: boolean,
): Promise<void> {
  if (header && !json) out(`== ${taskId}\n`);
  const controller = new AbortController();
  let quiet: ReturnType<typeof setTimeout> | undefined;
  const restartQuiet = () => {
    if (follow) return;
    clearTimeout(quiet);
    quiet = setTimeout(() => controller.abort(), QUIET_MS);
  };
  let state: string | undefined;
  let error: { code: string; message: string } | undefined;
  restartQuiet();
  try {
    for await (const e of client.taskEvents(taskId, { signal: controller.signal })) {
      restartQuiet();
      if (e.event === 'log') {
        const l = e.data;
        if (json) out(`${JSON.stringify({ taskId, ...l })}\n`);
        else out(`${new Date(l.at).toISOString()} [attempt ${l.attempt}] ${l.stream}: ${l.message}\n`);
      } else if (e.event === 'result') {
        state = e.data.status;
        error = (e.data.error as typeof error) ?? undefined;
      } else if (e.event !== 'token' && e.event !== 'error') state = e.data.state;
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(quiet);
  }
  if (!json) out(`-- ${state ?? 'unknown'}${error ? `: [${error.code}] ${error.message}` : ''}\n`);
}

export async function remoteDlqList(
  client: WardenClient,
  flags: { session?: string; limit: number; tenant?: string },
  json: boolean,
): Promise<void> {
  if (flags.tenant)
    process.stderr.write(
      `note: --tenant is ignored with --server: the key's tenant's dead letters are listed\n`,
    );
  const list = await client.listDeadLetters({
    limit: String(Math.max(1, Math.min(1000, flags.limit))),
    ...(flags.session ? { session: flags.session } : {}),
  });
  if (json) return printJson(list);
  if (list.length === 0) return out('the dead-letter queue is empty\n');
  for (const d of list) {
    const e = d.error as { code?: string; message?: string } | undefined;
    out(
      `${d.taskId}  ${d.agentKey}  attempts ${d.attempts}  ${new Date(d.deadAt!).toISOString()}  [${e?.code}] ${e?.message}\n`,
    );
  }
}

export async function remoteDlqReplay(client: WardenClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    await client.replayDeadLetter(id);
    out(`replayed ${id}\n`);
  }
}

export async function remoteDlqPurge(
  client: WardenClient,
  ids: string[],
  flags: { all?: boolean },
): Promise<void> {
  const { purged = 0 } = await client.purgeDeadLetters(flags.all ? { all: true } : { ids });
  out(`purged ${purged} dead letter${purged === 1 ? '' : 's'}\n`);
}

export async function remoteAgentsList(
  client: WardenClient,
  json: boolean,
  breakerText: (b: BreakerStatus) => string,
): Promise<void> {
  const list = await client.agentStatus();
  if (json) return printJson(list);
  if (list.length === 0) return out('no agents registered\n');
  out(
    `${'AGENT'.padEnd(32)}${'RUNTIME'.padEnd(9)}${'STATE'.padEnd(10)}${'IN FLIGHT'.padEnd(11)}${'BREAKER'.padEnd(38)}CAPABILITIES\n`,
  );
  for (const a of list)
    out(
      `${a.key!.padEnd(32)}${a.runtime!.padEnd(9)}${a.state!.padEnd(10)}${String(a.inFlight).padEnd(11)}${breakerText(a.circuitBreaker as BreakerStatus).padEnd(38)}${(a.capabilities ?? []).join(',')}\n`,
    );
}

export async function remoteAgentsHealth(
  client: WardenClient,
  agent: string | undefined,
  timeoutMs: number,
  json: boolean,
): Promise<void> {
  const reports = await client.agentHealth(
    {
      ...(agent ? { agent } : {}),
      timeoutMs: String(Math.round(Math.max(100, Math.min(60_000, timeoutMs)))),
    },
    { timeoutMs: timeoutMs + 30_000 },
  );
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
  if (json) return printJson(reports);
  if (reports.length === 0) return out('no agents registered\n');
  for (const r of reports) {
    const what = r.provider ? `${r.runtime} ${r.provider} ${r.model}` : r.runtime;
    out(
      `${r.ok ? 'ok  ' : 'FAIL'} ${r.agent.padEnd(28)} ${what} — ${r.check} (${r.latencyMs} ms)` +
        (r.ok ? '' : `\n     [${r.code}] ${r.message}`) +
        '\n',
    );
  }
}

export async function remoteAgentsRegister(
  client: WardenClient,
  paths: string[],
  flags: { tenant: string; shared?: boolean },
): Promise<void> {
  if (flags.tenant !== 'default' || flags.shared)
    throw new WardenError(
      'INVALID_INPUT',
      "--tenant and --shared do not apply with --server: the agent is registered in the key's tenant (an installation admin key can share it through POST /agents)",
    );
  for (const path of paths) {
    const { record } = await deploy(client, await collectDeployment(path));
    out(`registered ${record.key} (${record.runtime}${record.shared ? ', shared with every tenant' : ''})\n`);
  }
}

export async function remoteResetBreaker(client: WardenClient, agent: string, json: boolean): Promise<void> {
  const { reset = [] } = await client.resetBreaker(agent);
  if (json) return printJson(reset);
  for (const r of reset)
    out(
      r.previous
        ? `${r.agent}: breaker reset (was ${r.previous.state}, ${r.previous.consecutiveFailures} consecutive failure${r.previous.consecutiveFailures === 1 ? '' : 's'})\n`
        : `${r.agent}: breaker already closed\n`,
    );
}

/** `warden export` against a server: the bundle as POST /artifacts/export streams it. */
export async function remoteExport(
  client: WardenClient,
  flags: { session: string; out?: string; since?: number },
  json: boolean,
): Promise<void> {
  const bundle = await client.exportProvenance({
    session: flags.session,
    ...(flags.since !== undefined ? { since: flags.since } : {}),
  });
  if (!flags.out) return out(bundle.text);
  const tmp = `${flags.out}.${process.pid}.tmp`;
  await writeFile(tmp, bundle.text);
  const { rename } = await import('node:fs/promises');
  await rename(tmp, flags.out);
  const v = verifyBundleText(bundle.text);
  const s = {
    session: flags.session,
    since: bundle.since,
    treeSize: bundle.treeSize,
    records: bundle.records,
  };
  if (json)
    return printJson({
      out: flags.out,
      ...s,
      rootHash: v.rootHash,
      keyId: v.keyId,
      statements: v.statements,
    });
  out(
    `exported ${s.session}: records ${s.since + 1}..${s.treeSize}${s.since ? ` (incremental, after size ${s.since})` : ''}, ${v.statements ?? 0} statement${v.statements === 1 ? '' : 's'}, root ${v.rootHash}\n` +
      `  -> ${flags.out} (key ${v.keyId})\n` +
      `  next incremental export: warden export --session ${s.session} --since ${s.treeSize}\n`,
  );
}

/** `warden verify` (no bundle) against a server: each session's bundle, exported and verified here. */
export async function remoteVerify(
  client: WardenClient,
  session: string | undefined,
  json: boolean,
): Promise<void> {
  const names = session
    ? [session]
    : ((await client.listSessions()).sessions ?? []).map((s) => s.name!).filter(Boolean);
  const reports = [];
  for (const name of names) {
    const v = verifyBundleText((await client.exportProvenance({ session: name })).text);
    reports.push({ session: name, ...v });
  }
  if (json) printJson(reports);
  else
    for (const r of reports)
      out(
        r.ok
          ? `ok       ${r.session}: ${r.treeSize} records, bundle signed by key ${r.keyId}, root ${r.rootHash}\n`
          : `BROKEN   ${r.session}: ${r.problems.map((p) => `[${p.code}] ${p.where}: ${p.message}`).join('; ')}\n`,
      );
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
}

export async function remoteSessions(client: WardenClient, json: boolean): Promise<void> {
  const { sessions = [] } = await client.listSessions();
  if (json) return printJson(sessions);
  printSessions(sessions);
}

export function printSessions(
  sessions: readonly {
    id?: string;
    name?: string;
    maxConcurrency?: number;
    allowNetwork?: boolean;
    policy?: string;
    createdAt?: number;
  }[],
): void {
  if (sessions.length === 0) return out('no sessions\n');
  out(`${'NAME'.padEnd(24)}${'ID'.padEnd(38)}${'MAX'.padEnd(6)}${'NETWORK'.padEnd(9)}CREATED\n`);
  for (const s of sessions)
    out(
      `${(s.name ?? '').padEnd(24)}${(s.id ?? '').padEnd(38)}${String(s.maxConcurrency ?? '-').padEnd(6)}${(s.allowNetwork ? 'yes' : 'no').padEnd(9)}${new Date(s.createdAt ?? 0).toISOString()}\n`,
    );
}

/** `warden logs X` where X is neither a task id nor an agent: say so, instead of printing nothing. */
export function noTaskOrAgent(target: string): WardenError {
  return new WardenError(
    'TASK_NOT_FOUND',
    `No task with id ${target} and no agent named ${target}: \`warden tasks\` lists tasks, \`warden agents list\` agents`,
    { details: { target } },
  );
}
