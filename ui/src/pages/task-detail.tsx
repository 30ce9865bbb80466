import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import {
  Card,
  ConfirmButton,
  ErrorBanner,
  JsonView,
  Loading,
  Page,
  formatDuration,
  formatTime,
  shortId,
} from '../components';
import { useCan } from '../context';
import { useAction, useLoad } from '../hooks';
import { href } from '../router';
import { keepStreaming, LiveIndicator, type LiveStatus } from './task-live';
import { TaskLogs } from './task-logs';
import { AttemptsTimeline } from './task-timeline';
import {
  isTerminal,
  type HistoryRecord,
  type LogLine,
  type SerializedError,
  type Session,
  type Task,
  type TaskResult,
  type Usage,
} from './task-types';

interface Live {
  state: string | undefined;
  attempt: number | undefined;
  result: TaskResult | undefined;
  logs: LogLine[];
  /** Streamed text of the current attempt (LLM agents); not stored, so only what came while watching. */
  tokens: { attempt: number; text: string } | undefined;
  /** What the stream said happened, for a timeline when GET /tasks/:id/history is not there. */
  seen: HistoryRecord[];
  failure: SerializedError | undefined;
}

const EMPTY: Live = {
  state: undefined,
  attempt: undefined,
  result: undefined,
  logs: [],
  tokens: undefined,
  seen: [],
  failure: undefined,
};

const RESULT_RECORD: Record<string, string> = {
  succeeded: 'task.succeeded',
  quarantined: 'task.quarantined',
  failed: 'task.failed',
  dead: 'task.dead_lettered',
  cancelled: 'task.cancelled',
};

/**
 * The task's events (GET /tasks/:id/events): a snapshot named for its state, then log lines, attempts
 * starting and retrying, tokens and the result. Resumed with Last-Event-ID after a dropped connection.
 */
function useTaskEvents(id: string, onChange: () => void) {
  const [live, setLive] = useState<Live>(EMPTY);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [error, setError] = useState<Error | undefined>(undefined);
  useEffect(() => {
    const ac = new AbortController();
    setLive(EMPTY);
    setError(undefined);
    let done = false;
    const seen = new Set<string>();
    void keepStreaming({
      path: `/tasks/${encodeURIComponent(id)}/events`,
      resume: true,
      signal: ac.signal,
      onStatus: setStatus,
      onError: setError,
      finished: () => done,
      onEvent: (e) => {
        const d = (e.data ?? {}) as Record<string, unknown>;
        switch (e.event) {
          case 'log': {
            const l = d as unknown as LogLine;
            const key = `${l.attempt}:${l.line}`;
            if (seen.has(key)) return;
            seen.add(key);
            setLive((s) => ({ ...s, logs: [...s.logs, l] }));
            return;
          }
          case 'token': {
            const attempt = Number(d['attempt']);
            const text = String(d['text'] ?? '');
            setLive((s) => ({
              ...s,
              tokens:
                s.tokens?.attempt === attempt ? { attempt, text: s.tokens.text + text } : { attempt, text },
            }));
            return;
          }
          case 'result': {
            done = true;
            const result = d as unknown as TaskResult;
            setLive((s) => ({
              ...s,
              state: result.status,
              result,
              seen: [
                ...s.seen,
                {
                  seq: 0,
                  type: RESULT_RECORD[result.status] ?? 'task.failed',
                  at: result.finishedAt,
                  attempt: result.attempts,
                  data: result.error ? { error: result.error.code } : {},
                },
              ],
            }));
            onChange();
            return;
          }
          case 'error': {
            done = true;
            setLive((s) => ({ ...s, failure: d as unknown as SerializedError }));
            return;
          }
          default: {
            // started, retrying, and the snapshot (named for the state: queued, started, succeeded…).
            const attempt = typeof d['attempt'] === 'number' ? d['attempt'] : undefined;
            const state =
              e.event === 'retrying' ? 'queued' : typeof d['state'] === 'string' ? d['state'] : undefined;
            const at = typeof d['at'] === 'number' ? d['at'] : Date.now();
            const record: HistoryRecord | undefined =
              e.event === 'started' && attempt
                ? { seq: 0, type: 'task.started', at, attempt, data: {} }
                : e.event === 'retrying' && attempt
                  ? {
                      seq: 0,
                      type: 'task.attempt_failed',
                      at,
                      attempt,
                      data: {
                        error: (d['error'] as SerializedError | undefined)?.code,
                        retryAt: d['retryAt'],
                      },
                    }
                  : undefined;
            const result = d['result'] as TaskResult | undefined;
            if (result) done = true;
            setLive((s) => ({
              ...s,
              ...(state ? { state } : {}),
              ...(attempt !== undefined ? { attempt } : {}),
              ...(result ? { result } : {}),
              seen: record ? [...s.seen, record] : s.seen,
            }));
            if (e.id) onChange();
          }
        }
      },
    });
    return () => ac.abort();
  }, [id]);
  return { live, status, error };
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A task's error: its code links to the error catalogue, then the message. */
function TaskError({ error, title }: { error: SerializedError; title?: string }) {
  return (
    <div class="banner error task-error" role="alert" data-testid="task-error">
      <a class="code" href={href('errors', error.code)} title="What this error means">
        {error.code}
      </a>
      <span>
        {title ? `${title}: ` : ''}
        {error.message}
        {error.retryable ? ' (retryable)' : ''}
      </span>
    </div>
  );
}

function UsageFacts({ usage }: { usage: Usage }) {
  const llm = usage.llm;
  return (
    <dl class="facts" data-testid="task-usage">
      <dt>wall time</dt>
      <dd>{formatDuration(usage.wallMs)}</dd>
      <dt>CPU</dt>
      <dd>{formatDuration(usage.cpuMs)}</dd>
      <dt>peak memory</dt>
      <dd>{bytes(usage.peakMemoryBytes)}</dd>
      <dt>output</dt>
      <dd>{bytes(usage.outputBytes)}</dd>
      {llm && (
        <>
          <dt>model</dt>
          <dd>
            {llm.provider}/{llm.model}
          </dd>
          <dt>tokens</dt>
          <dd>
            {llm.promptTokens ?? '?'} prompt + {llm.completionTokens ?? '?'} completion
          </dd>
          <dt>cost</dt>
          <dd>{llm.costUsd === null ? 'no price' : `$${llm.costUsd.toFixed(6)}`}</dd>
          <dt>first token</dt>
          <dd>{formatDuration(llm.timeToFirstTokenMs)}</dd>
          <dt>finish</dt>
          <dd>{llm.finishReason ?? '—'}</dd>
        </>
      )}
    </dl>
  );
}

/** `#/tasks/<id>`: a task, live until it is finished. */
export function TaskDetail({ id }: { id: string }) {
  const canOperate = useCan('operator');
  const loaded = useLoad(
    (s) => api.get<{ task: Task; result: TaskResult | null }>(`/tasks/${encodeURIComponent(id)}`, s),
    [id],
  );
  const [historyTick, setHistoryTick] = useState(0);
  const history = useLoad(
    (s) =>
      api.get<{ records: HistoryRecord[]; complete: boolean }>(`/tasks/${encodeURIComponent(id)}/history`, s),
    [id, historyTick],
  );
  const {
    live,
    status,
    error: streamError,
  } = useTaskEvents(id, () => {
    setHistoryTick((t) => t + 1);
    loaded.reload();
  });
  const sessions = useLoad(
    (s) => api.get<{ sessions: Session[] }>('/sessions', s).then((r) => r.sessions),
    [],
  );
  // A running attempt's bar and duration grow while it runs.
  const [now, setNow] = useState(Date.now());
  const running = (live.state ?? loaded.data?.task.state) === 'running';
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  const cancel = useAction(async () => {
    await api.post(`/tasks/${encodeURIComponent(id)}/cancel`);
    loaded.reload();
  });

  if (!loaded.data)
    return (
      <Page title={`Task ${shortId(id)}`}>
        <div data-testid="page-task" class="page">
          <a href={href('tasks')}>← Tasks</a>
          {loaded.error ? <ErrorBanner error={loaded.error} /> : <Loading />}
        </div>
      </Page>
    );

  const { task } = loaded.data;
  const result = live.result ?? loaded.data.result ?? undefined;
  // The stream is newer than the read, except when the read already saw the end.
  const state = result?.status ?? live.state ?? task.state;
  const attempts = Math.max(task.attempts, live.attempt ?? 0, result?.attempts ?? 0);
  const error = result?.error ?? (state === 'queued' || state === 'running' ? task.lastError : null);
  const session = sessions.data?.find((s) => s.id === task.sessionId);
  const historyMissing =
    history.error instanceof ApiError &&
    history.error.status === 404 &&
    history.error.code !== 'TASK_NOT_FOUND';
  const records: HistoryRecord[] = historyMissing
    ? [{ seq: 0, type: 'task.submitted', at: task.createdAt, attempt: null, data: {} }, ...live.seen]
    : (history.data?.records ?? []);

  return (
    <Page
      title={`Task ${shortId(task.id)}`}
      actions={
        <>
          <LiveIndicator status={status} />
          <a href={href('provenance', task.sessionId)} data-testid="task-provenance">
            Provenance
          </a>
          {canOperate && !isTerminal(state) && (
            <span data-requires="operator" data-testid="cancel-task">
              <ConfirmButton
                label="Cancel task"
                confirm={state === 'running' ? 'Stop this running task?' : 'Cancel this task?'}
                onConfirm={() => void cancel.run()}
                disabled={cancel.pending}
                danger
              />
            </span>
          )}
        </>
      }
    >
      <div data-testid="page-task" class="page task-page" data-task-id={task.id}>
        <div class="task-head">
          <a href={href('tasks')}>← Tasks</a>
          <code class="muted" title="task id">
            {task.id}
          </code>
        </div>
        <ErrorBanner
          error={cancel.error ?? streamError}
          onDismiss={cancel.error ? cancel.clear : undefined}
        />
        {live.failure && <TaskError error={live.failure} title="The result cannot be shown" />}
        {error && <TaskError error={error} title={result ? undefined : 'Last attempt failed'} />}
        <div class="grid task-grid">
          <Card title="Task">
            <div class="task-state-line">
              <span data-testid="task-state" data-state={state} class={`badge ${badgeKind(state)}`}>
                {state}
              </span>
              <span class="muted">
                attempt {attempts} of {task.maxAttempts}
              </span>
            </div>
            <dl class="facts">
              <dt>agent</dt>
              <dd>
                <a href={`${href('tasks')}?agent=${encodeURIComponent(task.agent)}`}>{task.agent}</a>
              </dd>
              <dt>session</dt>
              <dd>
                <a href={`${href('tasks')}?session=${encodeURIComponent(task.sessionId)}`}>
                  {session?.name ?? shortId(task.sessionId)}
                </a>
              </dd>
              <dt>priority</dt>
              <dd>{task.priority}</dd>
              <dt>created</dt>
              <dd>{formatTime(task.createdAt)}</dd>
              <dt>updated</dt>
              <dd>{formatTime(Math.max(task.updatedAt, result?.finishedAt ?? 0))}</dd>
              {state === 'queued' && task.runAfter > now && (
                <>
                  <dt>runs after</dt>
                  <dd>{formatTime(task.runAfter)}</dd>
                </>
              )}
              {result && (
                <>
                  <dt>finished</dt>
                  <dd>
                    {formatTime(result.finishedAt)} ({formatDuration(result.finishedAt - task.createdAt)}{' '}
                    after submit)
                  </dd>
                </>
              )}
              <dt>deadline</dt>
              <dd>{task.deadline ? formatTime(task.deadline) : 'none'}</dd>
              <dt>idempotency key</dt>
              <dd>{task.idempotencyKey ? <code>{task.idempotencyKey}</code> : 'none'}</dd>
              <dt>metadata</dt>
              <dd>
                {Object.keys(task.metadata).length === 0
                  ? 'none'
                  : Object.entries(task.metadata).map(([k, v]) => (
                      <span key={k} class="meta-pair">
                        <code>{k}</code>={String(v)}
                      </span>
                    ))}
              </dd>
              {result?.outputDigest && (
                <>
                  <dt>output sha256</dt>
                  <dd>
                    <code title={result.outputDigest}>{result.outputDigest.slice(0, 16)}…</code>
                  </dd>
                </>
              )}
            </dl>
          </Card>
          <Card title="Usage">
            {result?.usage ? (
              <UsageFacts usage={result.usage} />
            ) : (
              <p class="muted">{result ? 'No usage recorded.' : 'Known when the task finishes.'}</p>
            )}
          </Card>
          <Card title="Attempts" wide>
            {history.error && !historyMissing ? (
              <ErrorBanner error={history.error} />
            ) : !history.data && !historyMissing ? (
              <Loading />
            ) : (
              <AttemptsTimeline
                records={records}
                now={result ? result.finishedAt : now}
                complete={historyMissing || (history.data?.complete ?? true)}
              />
            )}
          </Card>
          <Card title="Logs" wide>
            <TaskLogs lines={live.logs} waiting={!isTerminal(state)} />
            {live.tokens && (
              <div class="tokens">
                <h3 class="muted">Generated text (attempt {live.tokens.attempt}, live)</h3>
                <pre class="log" data-testid="task-tokens">
                  {live.tokens.text}
                </pre>
              </div>
            )}
          </Card>
          <Card title="Input">
            <JsonView value={task.input} filename={`task-${task.id}-input.json`} />
          </Card>
          <Card title="Output">
            {result && (result.status === 'succeeded' || result.status === 'quarantined') ? (
              <>
                {result.status === 'quarantined' && (
                  <p class="muted">Held back by governance until an operator releases it.</p>
                )}
                <JsonView value={result.output} filename={`task-${task.id}-output.json`} />
              </>
            ) : (
              <p class="muted">{result ? `No output: the task ${result.status}.` : 'Not finished yet.'}</p>
            )}
          </Card>
        </div>
      </div>
    </Page>
  );
}

const KIND: Record<string, string> = {
  queued: 'neutral',
  running: 'info',
  succeeded: 'ok',
  failed: 'bad',
  dead: 'bad',
  cancelled: 'neutral',
  quarantined: 'warn',
};
const badgeKind = (state: string) => KIND[state] ?? 'neutral';
