import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge, Card, Empty, ErrorBanner, formatTime, Loading, shortId } from '../components';
import { useCan } from '../context';
import { useAction, useLoad } from '../hooks';
import { href } from '../router';
import { severityKind } from './gov-bars';

interface TaskSummary {
  id: string;
  sessionId: string;
  agent: string;
  state: string;
  updatedAt: number;
  lastError: { code: string; message: string } | null;
}

export interface Flag {
  id: string;
  taskId: string | null;
  type: string;
  severity: number;
  reason: string;
  stage: string;
  detector: string | null;
  autoDetected: boolean;
}

/** The quarantined tasks (of one session, or the tenant) and the flags that hold each one back. */
async function loadQuarantined(session: string, signal: AbortSignal) {
  const { tasks, nextCursor } = await api.get<{ tasks: TaskSummary[]; nextCursor: string | null }>(
    `/tasks${query({ state: 'quarantined', session, limit: 100 })}`,
    signal,
  );
  const flags = tasks.length
    ? (
        await api.get<{ flags: Flag[] }>(
          `/governance/flags${query({ task: tasks.map((t) => t.id).join(','), limit: 1000 })}`,
          signal,
        )
      ).flags
    : [];
  const byTask = new Map<string, Flag[]>();
  for (const f of flags) if (f.taskId) byTask.set(f.taskId, [...(byTask.get(f.taskId) ?? []), f]);
  return { tasks, more: nextCursor !== null, byTask };
}

function FlagList({ flags }: { flags: Flag[] }) {
  if (flags.length === 0) return <span class="muted">none stored</span>;
  return (
    <ul class="gov-flags">
      {[...flags]
        .sort((a, b) => b.severity - a.severity)
        .map((f) => (
          <li key={f.id} title={`${f.detector ?? 'person'} · ${f.stage}`}>
            <Badge value={`${f.type} ${f.severity}`} kind={severityKind(f.severity)} />{' '}
            <span class="gov-reason">{f.reason}</span>
          </li>
        ))}
    </ul>
  );
}

/** Release (admin keys): a reason, then the task moves on to succeeded. */
function ReleaseControl({ taskId, onReleased }: { taskId: string; onReleased: (id: string) => void }) {
  const [reason, setReason] = useState('');
  const release = useAction(async () => {
    await api.post('/governance/release', { taskId, ...(reason.trim() ? { reason: reason.trim() } : {}) });
    onReleased(taskId);
  });
  return (
    <div class="gov-release">
      <input
        name="reason"
        placeholder="Reason (optional)"
        aria-label="Reason for the release"
        maxLength={2000}
        value={reason}
        data-requires="admin"
        onInput={(e) => setReason((e.target as HTMLInputElement).value)}
      />
      <button
        class="primary"
        data-testid="release"
        data-requires="admin"
        disabled={release.pending}
        onClick={() => void release.run()}
      >
        {release.pending ? 'Releasing…' : 'Release'}
      </button>
      <ErrorBanner error={release.error} onDismiss={release.clear} />
    </div>
  );
}

export function QuarantineCard({
  session,
  sessionNames,
  onChange,
}: {
  session: string;
  sessionNames: Map<string, string>;
  onChange: () => void;
}) {
  const mayRelease = useCan('admin');
  const [released, setReleased] = useState<string | null>(null);
  const list = useLoad((signal) => loadQuarantined(session, signal), [session], 15_000);
  const tasks = list.data?.tasks ?? [];
  return (
    <Card
      title={`Quarantined tasks${list.data ? ` (${tasks.length}${list.data.more ? '+' : ''})` : ''}`}
      wide
    >
      {released && (
        <div class="banner ok" role="status" data-testid="governance-banner">
          <span>
            Released task <a href={href('tasks', released)}>{shortId(released)}</a>: its result is now
            succeeded (recorded as task.released).
          </span>
          <button class="link" aria-label="Dismiss" onClick={() => setReleased(null)}>
            ×
          </button>
        </div>
      )}
      <ErrorBanner error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : tasks.length === 0 ? (
        <Empty>No quarantined tasks{session ? ' in this session' : ''}.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Task</th>
                <th>Agent</th>
                <th>Session</th>
                <th>Quarantined</th>
                <th>Flags</th>
                {mayRelease && <th>Release</th>}
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-testid="quarantined-row" data-task-id={t.id}>
                  <td>
                    <a class="mono" href={href('tasks', t.id)} title={t.id}>
                      {shortId(t.id)}
                    </a>
                  </td>
                  <td>{t.agent}</td>
                  <td>{sessionNames.get(t.sessionId) ?? shortId(t.sessionId)}</td>
                  <td>{formatTime(t.updatedAt)}</td>
                  <td class="gov-flags-cell">
                    <FlagList flags={list.data?.byTask.get(t.id) ?? []} />
                    {/* The policy's message repeats the worst flag; it alone explains a gate that failed. */}
                    {t.lastError && !list.data?.byTask.has(t.id) && (
                      <p class="muted gov-why">{t.lastError.message}</p>
                    )}
                  </td>
                  {mayRelease && (
                    <td>
                      <ReleaseControl
                        taskId={t.id}
                        onReleased={(id) => {
                          setReleased(id);
                          list.reload();
                          onChange();
                        }}
                      />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data?.more && <p class="muted">Showing the newest 100; pick a session to narrow the list.</p>}
      {!mayRelease && tasks.length > 0 && <p class="muted">Releasing a task needs an admin key.</p>}
    </Card>
  );
}
