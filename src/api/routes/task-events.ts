import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Task, TaskResult } from '../../core/index.js';
import type { TaskEvent, TokenEvent } from '../../scheduler/index.js';
import type { LogLine } from '../../store/index.js';
import type { Warden } from '../../warden/index.js';

const POLL_MS = 250;

/** SSE event names: an attempt that begins is `started`; other states keep their name. */
const eventName = (state: string) => (state === 'running' ? 'started' : state);
const KEEPALIVE_MS = 15_000;

/**
 * Streams one task as Server-Sent Events: `queued` or `started` first, then `started`, `retrying`, `log`
 * and (LLM agents) `token` events as they happen, and `result` last, after which the stream closes. In-process scheduler events
 * make it immediate; a poll of the store covers tasks that another worker process runs.
 */
export async function streamTaskEvents(
  warden: Warden,
  task: Task,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let seq = 0;
  let closed = false;
  let cursor: { attempt: number; line: number } | undefined;
  const send = (event: string, data: unknown) => {
    if (!closed) res.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sendLog = (l: LogLine) => {
    if (cursor && (l.attempt < cursor.attempt || (l.attempt === cursor.attempt && l.line <= cursor.line)))
      return;
    cursor = { attempt: l.attempt, line: l.line };
    send('log', { attempt: l.attempt, line: l.line, stream: l.stream, message: l.message, at: l.at });
  };
  const catchUpLogs = async () => {
    for (const l of await warden.logs(task.id, cursor)) sendLog(l);
  };
  const finish = async (result: TaskResult) => {
    if (closed) return;
    await catchUpLogs().catch(() => undefined);
    send('result', result);
    close();
  };

  const onTask = (e: TaskEvent) => {
    if (e.taskId !== task.id) return;
    if (e.result) void finish(e.result);
    else
      send(eventName(e.state), {
        taskId: e.taskId,
        state: e.state,
        attempt: e.attempt,
        at: e.at,
        ...(e.error ? { error: e.error } : {}),
        ...(e.retryAt ? { retryAt: e.retryAt } : {}),
      });
  };
  const onLog = (l: LogLine) => {
    if (l.taskId === task.id) sendLog(l);
  };
  // Tokens are not stored: a client sees those generated after it connected, the result has the whole text.
  const onToken = (t: TokenEvent) => {
    if (t.taskId === task.id) send('token', { attempt: t.attempt, index: t.index, text: t.text });
  };
  let lastState = task.state;
  const poll = setInterval(() => {
    void (async () => {
      const result = await warden.store.getResult(task.id);
      if (result) return finish(result);
      const current = await warden.store.getTask(task.id);
      if (current && current.state !== lastState) {
        lastState = current.state;
        send(current.state === 'queued' ? 'retrying' : eventName(current.state), {
          taskId: task.id,
          state: current.state,
          attempt: current.attempts,
          at: current.updatedAt,
        });
      }
      await catchUpLogs();
    })().catch(() => undefined);
  }, POLL_MS);
  const keepAlive = setInterval(() => !closed && res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    clearInterval(keepAlive);
    warden.scheduler.events.off('task', onTask);
    warden.scheduler.events.off('log', onLog);
    warden.scheduler.events.off('token', onToken);
    res.end();
  };
  request.raw.on('close', close);
  warden.scheduler.events.on('task', onTask);
  warden.scheduler.events.on('log', onLog);
  warden.scheduler.events.on('token', onToken);

  send(task.state === 'running' ? 'started' : 'queued', {
    taskId: task.id,
    state: task.state,
    attempt: task.attempts,
    at: task.updatedAt,
  });
  await catchUpLogs();
  const done = await warden.store.getResult(task.id);
  if (done) await finish(done);
}
