import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ConfirmButton, Empty, ErrorBanner, Loading, Page, formatTime, shortId } from '../components';
import { useCan } from '../context';
import { useAction, useLoad } from '../hooks';
import { href, setQuery, useRoute } from '../router';

// #/dlq?session=<id>: the dead letters of the key's tenant (GET /dlq), newest first, with replay and purge
// for operators. The API scopes every call to the key's tenant.

interface DeadLetter {
  taskId: string;
  sessionId: string;
  agentKey: string;
  attempts: number;
  deadAt: number;
  error: { code?: string; message?: string; retryable?: boolean; details?: Record<string, unknown> };
}

interface Session {
  id: string;
  name: string;
}

const LIMITS = ['100', '500', '1000'];
const POLL_MS = 15_000;

/** `acme/echo@1.0.0` is the agent `echo`. */
function agentName(key: string): string {
  const bare = key.slice(key.lastIndexOf('/') + 1);
  const at = bare.lastIndexOf('@');
  return at > 0 ? bare.slice(0, at) : bare;
}

export function DlqPage() {
  const route = useRoute();
  const session = route.query.get('session') ?? '';
  const limit = route.query.get('limit') ?? '100';
  const operator = useCan('operator');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const sessions = useLoad((signal) => api.get<{ sessions: Session[] }>('/sessions', signal), []);
  const letters = useLoad(
    (signal) => api.get<DeadLetter[]>(`/dlq${query({ session, limit })}`, signal),
    [session, limit],
    POLL_MS,
  );
  const rows = letters.data ?? [];
  // What is selected and still listed: a reload may have taken some away.
  const chosen = rows.filter((r) => selected.has(r.taskId)).map((r) => r.taskId);
  const sessionName = new Map((sessions.data?.sessions ?? []).map((s) => [s.id, s.name]));

  const done = (message: string) => {
    setNotice(message);
    setSelected(new Set());
    letters.reload();
  };
  const replay = useAction(async (taskId: string) => {
    const task = await api.post<{ id: string; state: string; maxAttempts: number; attempts: number }>(
      `/dlq/${encodeURIComponent(taskId)}/replay`,
    );
    done(
      `Replayed task ${shortId(task.id)}: ${task.state} again, with ${task.maxAttempts - task.attempts} fresh attempts.`,
    );
  });
  const purge = useAction(async (ids: string[]) => {
    const { purged } = await api.post<{ purged: number }>('/dlq/purge', { ids });
    done(
      `Purged ${purged} dead letter${purged === 1 ? '' : 's'}; the tasks stay dead, with their results and provenance.`,
    );
  });
  const targets = chosen.length > 0 ? chosen : rows.map((r) => r.taskId);
  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <Page
      title="Dead letters"
      actions={
        operator &&
        rows.length > 0 && (
          <span data-testid="purge" data-requires="operator">
            <ConfirmButton
              danger
              label={chosen.length > 0 ? `Purge ${chosen.length} selected` : `Purge all ${rows.length} shown`}
              confirm={`Remove ${targets.length} dead letter${targets.length === 1 ? '' : 's'} for good?`}
              disabled={purge.pending}
              onConfirm={() => void purge.run(targets)}
            />
          </span>
        )
      }
    >
      <div data-testid="page-dlq" class="page dlq-page">
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Session
            <select
              name="session"
              value={session}
              onChange={(e) => setQuery({ session: (e.target as HTMLSelectElement).value })}
            >
              <option value="">All sessions</option>
              {(sessions.data?.sessions ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Show
            <select
              name="limit"
              value={limit}
              onChange={(e) => setQuery({ limit: (e.target as HTMLSelectElement).value })}
            >
              {LIMITS.map((l) => (
                <option key={l} value={l}>
                  newest {l}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={letters.reload} disabled={letters.loading}>
            Refresh
          </button>
        </form>
        {notice && (
          <div class="banner ok" role="status" data-testid="dlq-notice">
            <span>{notice}</span>
            <button class="link" aria-label="Dismiss" onClick={() => setNotice(undefined)}>
              ×
            </button>
          </div>
        )}
        <ErrorBanner error={letters.error} />
        <ErrorBanner error={replay.error} onDismiss={replay.clear} />
        <ErrorBanner error={purge.error} onDismiss={purge.clear} />
        {!letters.data && letters.loading && <Loading />}
        {letters.data && rows.length === 0 && (
          <Empty>
            No dead letters{session ? ' in this session' : ''}: every task that used up its attempts was
            replayed or purged.
          </Empty>
        )}
        {rows.length > 0 && (
          <div class="table-wrap">
            <table class="table dlq-table">
              <thead>
                <tr>
                  {operator && (
                    <th class="check">
                      <input
                        type="checkbox"
                        aria-label="Select all shown"
                        checked={chosen.length === rows.length}
                        onChange={(e) =>
                          setSelected(
                            (e.target as HTMLInputElement).checked
                              ? new Set(rows.map((r) => r.taskId))
                              : new Set(),
                          )
                        }
                      />
                    </th>
                  )}
                  <th>Task</th>
                  <th>Session</th>
                  <th>Agent</th>
                  <th>Attempts</th>
                  <th>Error</th>
                  <th>Dead since</th>
                  {operator && <th />}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.taskId} data-testid="dlq-row" data-task-id={r.taskId}>
                    {operator && (
                      <td class="check">
                        <input
                          type="checkbox"
                          name="selected"
                          aria-label={`Select ${r.taskId}`}
                          checked={selected.has(r.taskId)}
                          onChange={(e) => toggle(r.taskId, (e.target as HTMLInputElement).checked)}
                        />
                      </td>
                    )}
                    <td>
                      <a class="mono" href={href('tasks', r.taskId)} title={r.taskId}>
                        {shortId(r.taskId)}
                      </a>
                    </td>
                    <td>
                      <a href={`${href('dlq')}${query({ session: r.sessionId, limit })}`} title={r.sessionId}>
                        {sessionName.get(r.sessionId) ?? shortId(r.sessionId)}
                      </a>
                    </td>
                    <td>
                      <a href={href('agents', agentName(r.agentKey))}>{r.agentKey}</a>
                    </td>
                    <td>{r.attempts}</td>
                    <td class="dlq-error">
                      {r.error.code && (
                        <a class="mono code" href={href('errors', r.error.code)}>
                          {r.error.code}
                        </a>
                      )}{' '}
                      <span title={r.error.message}>{r.error.message ?? ''}</span>
                    </td>
                    <td class="nowrap">{formatTime(r.deadAt)}</td>
                    {operator && (
                      <td>
                        <button
                          data-testid="replay"
                          data-requires="operator"
                          disabled={replay.pending}
                          onClick={() => void replay.run(r.taskId)}
                        >
                          Replay
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </Page>
  );
}
