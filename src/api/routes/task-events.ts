import type { FastifyReply, FastifyRequest } from 'fastify';
import { WardenError, coerceError, isTerminal, type Task, type TaskResult } from '../../core/index.js';
import type { TaskEvent, TokenEvent } from '../../scheduler/index.js';
import type { LogLine } from '../../store/index.js';
import type { Warden } from '../../warden/index.js';
import { openEventStream } from '../open-streams.js';

const POLL_MS = 250;
const KEEPALIVE_MS = 15_000;

/**
 * Where an event sits in a task's history, which its SSE id spells: `<attempt>:s` (the attempt started),
 * `<attempt>:l<line>` (a log line), `<attempt>:r` (the attempt failed, a retry is due), `end` (the result).
 * Ids are derived from stored facts, so they are the same on every connection and a client can resume.
 */
interface Position {
  attempt: number;
  /** 0 started, 1 log line, 2 retrying. */
  rank: number;
  line: number;
}

const BEFORE_ALL: Position = { attempt: 0, rank: 0, line: 0 };
const ID = /^(?:(\d{1,9}):(?:(s)|(r)|l(\d{1,12}))|(end))$/;

/** Parses a Last-Event-ID: a Position, 'end', or undefined when absent; INVALID_INPUT when malformed. */
export function parseLastEventId(header: string | string[] | undefined): Position | 'end' | undefined {
  if (header === undefined || header === '') return undefined;
  const m = typeof header === 'string' ? ID.exec(header) : null;
  if (!m)
    throw new WardenError(
      'INVALID_INPUT',
      `Last-Event-ID must be an id this stream sent (such as 2:l5 or end), got ${JSON.stringify(String(header).slice(0, 100))}`,
      { details: { header: 'last-event-id' } },
    );
  if (m[5]) return 'end';
  return { attempt: Number(m[1]), rank: m[2] ? 0 : m[3] ? 2 : 1, line: m[4] ? Number(m[4]) : 0 };
}

const after = (a: Position, b: Position) =>
  a.attempt !== b.attempt ? a.attempt > b.attempt : a.rank !== b.rank ? a.rank > b.rank : a.line > b.line;

const idOf = (p: Position) => `${p.attempt}:${p.rank === 0 ? 's' : p.rank === 2 ? 'r' : `l${p.line}`}`;

/** A state event: `started` for an attempt that runs, `retrying` for a retry's backoff; other states have none. */
function stateEvent(
  task: Task,
): { name: string; position: Position; data: Record<string, unknown> } | undefined {
  const base = { taskId: task.id, state: task.state, attempt: task.attempts, at: task.updatedAt };
  if (task.state === 'running')
    return { name: 'started', position: { attempt: task.attempts, rank: 0, line: 0 }, data: base };
  if (task.state === 'queued' && task.attempts > 0)
    return {
      name: 'retrying',
      position: { attempt: task.attempts, rank: 2, line: 0 },
      data: { ...base, ...(task.lastError ? { error: task.lastError } : {}), retryAt: task.runAfter },
    };
  return undefined;
}

/**
 * Streams one task as Server-Sent Events. The first event is a snapshot of the task now, named for its
 * state (`queued`, `started`, `retrying`, or the terminal state with the result) and without an id: it is a
 * view, not a place in the history. Then come the log lines not seen yet (all of them, or those after
 * `Last-Event-ID`), `started` and `retrying` as they happen (one per attempt and per retry, whether this
 * process or another runs the task), `token` events (LLM agents; not stored, so not resumable), and
 * `result` (id `end`), after which the stream closes. A client whose last id was `end` gets 204.
 */
export async function streamTaskEvents(
  warden: Warden,
  task: Task,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const last = parseLastEventId(request.headers['last-event-id']);
  const stored = isTerminal(task.state) ? await warden.storedResult(task.id) : undefined;
  if (last === 'end' && stored) {
    await reply.status(204).send();
    return;
  }
  const from = last === 'end' || last === undefined ? BEFORE_ALL : last;

  const res = openEventStream(request, reply);
  let closed = false;
  const write = (event: string, data: unknown, id?: string) => {
    if (!closed) res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  // Log lines go out once each, in order: the cursor is the last one sent (or the client's Last-Event-ID).
  let cursor: { attempt: number; line: number } | undefined =
    from === BEFORE_ALL
      ? undefined
      : {
          attempt: from.attempt,
          line: from.rank === 0 ? 0 : from.rank === 2 ? Number.MAX_SAFE_INTEGER : from.line,
        };
  const sendLog = (l: LogLine) => {
    if (cursor && (l.attempt < cursor.attempt || (l.attempt === cursor.attempt && l.line <= cursor.line)))
      return;
    cursor = { attempt: l.attempt, line: l.line };
    write(
      'log',
      { attempt: l.attempt, line: l.line, stream: l.stream, message: l.message, at: l.at },
      `${l.attempt}:l${l.line}`,
    );
  };
  const catchUpLogs = async () => {
    for (const l of await warden.logs(task.id, cursor)) sendLog(l);
  };
  // State events go out once each: the in-process event and the store poll both report a transition.
  let stateAt = from;
  const sendState = (name: string, position: Position, data: Record<string, unknown>) => {
    if (!after(position, stateAt)) return;
    stateAt = position;
    write(name, data, idOf(position));
  };
  let finishing = false;
  // A stored result that cannot be served (it does not match its provenance record) ends the stream with
  // an `error` event, instead of leaving the client waiting for a result that will never come.
  const fail = (err: unknown) => {
    if (finishing) return;
    finishing = true;
    write('error', coerceError(err, 'INTERNAL').toJSON(), 'end');
    close();
  };
  const finish = async (result: TaskResult) => {
    if (finishing) return;
    finishing = true;
    await catchUpLogs().catch(() => undefined);
    write('result', result, 'end');
    close();
  };

  // Until the stored history has been sent, live events wait in line behind it.
  let pending: (() => void)[] | undefined = [];
  const live = (send: () => void) => (pending ? pending.push(send) : send());
  const onTask = (e: TaskEvent) => {
    if (e.taskId !== task.id) return;
    live(() => {
      if (e.result) return void finish(e.result);
      const data = {
        taskId: e.taskId,
        state: e.state,
        attempt: e.attempt,
        at: e.at,
        ...(e.error ? { error: e.error } : {}),
        ...(e.retryAt ? { retryAt: e.retryAt } : {}),
      };
      if (e.state === 'running') sendState('started', { attempt: e.attempt, rank: 0, line: 0 }, data);
      else if (e.state === 'retrying') sendState('retrying', { attempt: e.attempt, rank: 2, line: 0 }, data);
    });
  };
  const onLog = (l: LogLine) => {
    if (l.taskId === task.id) live(() => sendLog(l));
  };
  // Tokens are not stored: a client sees those generated after it connected, the result has the whole text.
  const onToken = (t: TokenEvent) => {
    if (t.taskId === task.id)
      live(() => write('token', { attempt: t.attempt, index: t.index, text: t.text }));
  };
  // Another process may run the task: the store tells its transitions, with the same ids. The change feed
  // says when to look (every process's changes on PostgreSQL); the poll covers what it does not push.
  let checking = false;
  let checkAgain = false;
  const check = (): void => {
    if (closed || finishing) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    void (async () => {
      do {
        checkAgain = false;
        const result = await warden.storedResult(task.id);
        if (result) return finish(result);
        // Logs first: an attempt's lines come before the retry that follows it.
        await catchUpLogs();
        const current = await warden.findTask(task.id);
        const state = current && stateEvent(current);
        if (state) sendState(state.name, state.position, state.data);
      } while (checkAgain && !closed);
    })()
      .catch((err: unknown) => {
        if (err instanceof WardenError && err.code === 'PROVENANCE_RESULT_MISMATCH') fail(err);
      })
      .finally(() => {
        checking = false;
      });
  };
  const feed = warden.changes;
  const poll = setInterval(check, feed.reach === 'shared' ? feed.safetyPollMs : POLL_MS);
  // A local feed only repeats this process's own events, which arrive richer below.
  const unfollow =
    feed.reach === 'shared'
      ? [
          feed.onTask((c) => c.taskId === task.id && check()),
          feed.onLog((c) => c.taskId === task.id && check()),
          feed.onResync(check),
        ]
      : [];
  const keepAlive = setInterval(() => !closed && res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    clearInterval(keepAlive);
    for (const off of unfollow) off();
    warden.events.off('task', onTask);
    warden.events.off('log', onLog);
    warden.events.off('token', onToken);
    res.end();
  };
  request.raw.on('close', close);
  warden.events.on('task', onTask);
  warden.events.on('log', onLog);
  warden.events.on('token', onToken);

  // The snapshot: the task as it is now (it may have moved on since the route read it).
  const now = (await warden.findTask(task.id)) ?? task;
  let done: TaskResult | undefined;
  try {
    done = stored ?? (isTerminal(now.state) ? await warden.storedResult(task.id) : undefined);
  } catch (err) {
    return fail(err);
  }
  const snapshot = stateEvent(now);
  write(snapshot?.name ?? (done ? now.state : 'queued'), {
    ...(snapshot?.data ?? { taskId: now.id, state: now.state, attempt: now.attempts, at: now.updatedAt }),
    ...(done ? { result: done } : {}),
  });
  // The snapshot covers its own state: the same transition is not sent again as an event.
  if (snapshot && after(snapshot.position, stateAt)) stateAt = snapshot.position;
  await catchUpLogs().catch(() => undefined);
  const queued = pending;
  pending = undefined;
  for (const send of queued) send();
  if (done) await finish(done);
}
