import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge, Empty, ErrorBanner, Loading, Page, formatTime, shortId } from '../components';
import { useCan } from '../context';
import { useLoad } from '../hooks';
import { href, navigate, setQuery, type Route } from '../router';
import { TaskDetail } from './task-detail';
import { keepStreaming, LiveIndicator, type LiveStatus } from './task-live';
import { matches, merge, replaceFirstPage } from './task-list-state';
import { NewTaskForm } from './task-new';
import {
  PRIORITIES,
  TASK_STATES,
  type AgentVersion,
  type Session,
  type Task,
  type TaskFilters,
  type TaskSummary,
} from './task-types';

const PAGE = 100;

/** `#/tasks` lists the tenant's tasks, live; `#/tasks/<id>` is one task. */
export function TasksPage({ route }: { route: Route }) {
  const id = route.parts[1];
  if (id) return <TaskDetail id={id} />;
  return <TaskList route={route} />;
}

interface ListState {
  tasks: TaskSummary[];
  nextCursor: string | null;
  loaded: boolean;
}

/**
 * The list, kept live: GET /events is opened first and the list read (again) on its `ready` and `resync`
 * events, so no change between the read and the stream is lost; `task` events are merged by id.
 */
function useLiveTasks(filters: TaskFilters, sessionIds: ReadonlySet<string>, sessionsReady: boolean) {
  const [state, setState] = useState<ListState>({ tasks: [], nextCursor: null, loaded: false });
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [error, setError] = useState<Error | undefined>(undefined);
  const keepRef = useRef<(t: TaskSummary) => boolean>(() => true);
  keepRef.current = (t) => matches(t, filters, sessionIds);
  const key = `${filters.session}|${filters.agent}|${filters.state}|${filters.priority}`;

  useEffect(() => {
    if (!sessionsReady) return;
    const ac = new AbortController();
    setState({ tasks: [], nextCursor: null, loaded: false });
    setError(undefined);
    // GET /tasks has no priority filter: that one is applied here.
    const listQuery = { session: filters.session, agent: filters.agent, state: filters.state };
    let listing = 0;
    const relist = () => {
      const mine = ++listing;
      api
        .get<{ tasks: TaskSummary[]; nextCursor: string | null }>(
          `/tasks${query({ ...listQuery, limit: PAGE })}`,
          ac.signal,
        )
        .then((page) => {
          if (ac.signal.aborted || mine !== listing) return;
          const fresh = page.tasks.filter((t) => keepRef.current(t));
          setState((s) => {
            const olderKept = s.loaded && page.nextCursor !== null && s.tasks.length > page.tasks.length;
            return {
              tasks: olderKept ? replaceFirstPage(s.tasks, fresh) : fresh,
              nextCursor: olderKept ? s.nextCursor : page.nextCursor,
              loaded: true,
            };
          });
          setError(undefined);
        })
        .catch((err: Error) => !ac.signal.aborted && err.name !== 'AbortError' && setError(err));
    };
    // List now, so the page fills even before (or without) the stream.
    relist();
    void keepStreaming({
      path: `/events${query({ ...filters })}`,
      signal: ac.signal,
      onStatus: setStatus,
      onEvent: (e) => {
        if (e.event === 'ready' || e.event === 'resync') relist();
        else if (e.event === 'task') {
          const task = e.data as TaskSummary;
          setState((s) => ({ ...s, tasks: merge(s.tasks, task, keepRef.current) }));
        }
      },
    });
    return () => ac.abort();
  }, [key, sessionsReady]);

  const more = async () => {
    if (!state.nextCursor) return;
    try {
      const page = await api.get<{ tasks: TaskSummary[]; nextCursor: string | null }>(
        `/tasks${query({ session: filters.session, agent: filters.agent, state: filters.state, limit: PAGE, cursor: state.nextCursor })}`,
      );
      setState((s) => ({
        tasks: page.tasks.reduce((list, t) => merge(list, t, keepRef.current), s.tasks),
        nextCursor: page.nextCursor,
        loaded: true,
      }));
    } catch (err) {
      setError(err as Error);
    }
  };
  const add = (task: TaskSummary) =>
    setState((s) => ({ ...s, tasks: merge(s.tasks, task, keepRef.current) }));
  return { ...state, status, error, more, add };
}

function Select({
  label,
  name,
  value,
  options,
}: {
  label: string;
  name: keyof TaskFilters;
  value: string;
  options: { value: string; label: string }[];
}) {
  return (
    <label>
      {label}
      <select
        name={`filter-${name}`}
        value={value}
        onChange={(e) => setQuery({ [name]: (e.target as HTMLSelectElement).value })}
      >
        <option value="">all</option>
        {/* A value from a link (an agent version, a session by name) that the list does not hold. */}
        {value && !options.some((o) => o.value === value) && <option value={value}>{value}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function TaskList({ route }: { route: Route }) {
  const canOperate = useCan('operator');
  const [creating, setCreating] = useState(false);
  const [submitted, setSubmitted] = useState<Task | undefined>(undefined);
  const sessions = useLoad(
    (s) => api.get<{ sessions: Session[] }>('/sessions', s).then((r) => r.sessions),
    [],
  );
  const agents = useLoad((s) => api.get<AgentVersion[]>('/agents', s), []);

  const filters: TaskFilters = {
    session: route.query.get('session') ?? '',
    agent: route.query.get('agent') ?? '',
    state: route.query.get('state') ?? '',
    priority: route.query.get('priority') ?? '',
  };
  const sessionList = sessions.data ?? [];
  const sessionName = useMemo(() => new Map(sessionList.map((s) => [s.id, s.name])), [sessionList]);
  // The session filter may name a session by id or by name: rows are matched by id.
  const sessionIds = useMemo(
    () =>
      new Set(
        filters.session
          ? sessionList.filter((s) => s.id === filters.session || s.name === filters.session).map((s) => s.id)
          : [],
      ),
    [sessionList, filters.session],
  );
  const sessionsReady = sessions.data !== undefined || sessions.error !== undefined;
  const live = useLiveTasks(filters, sessionIds, sessionsReady);
  const agentNames = [...new Set((agents.data ?? []).map((a) => a.name))].sort();

  return (
    <Page
      title="Tasks"
      actions={
        <>
          <LiveIndicator status={live.status} />
          {canOperate && (
            <button
              class="primary"
              data-requires="operator"
              data-testid="new-task"
              aria-expanded={creating}
              onClick={() => setCreating((c) => !c)}
            >
              New task
            </button>
          )}
        </>
      }
    >
      <div data-testid="page-tasks" class="page tasks-page">
        {creating && canOperate && (
          <NewTaskForm
            sessions={sessionList}
            agents={agentNames}
            onCancel={() => setCreating(false)}
            onSubmitted={(task) => {
              live.add(task);
              setSubmitted(task);
              setCreating(false);
              sessions.reload();
            }}
          />
        )}
        {submitted && (
          <div class="banner ok" role="status">
            <span>
              Task{' '}
              <a href={href('tasks', submitted.id)} data-testid="submitted-task">
                {shortId(submitted.id)}
              </a>{' '}
              submitted to {submitted.agent}.
            </span>
            <button class="link" onClick={() => setSubmitted(undefined)} aria-label="Dismiss">
              ×
            </button>
          </div>
        )}
        <div class="filters">
          <Select
            label="Session"
            name="session"
            value={sessionIds.size === 1 ? [...sessionIds][0]! : filters.session}
            options={sessionList.map((s) => ({ value: s.id, label: s.name }))}
          />
          <Select
            label="Agent"
            name="agent"
            value={filters.agent}
            options={agentNames.map((n) => ({ value: n, label: n }))}
          />
          <Select
            label="State"
            name="state"
            value={filters.state}
            options={TASK_STATES.map((s) => ({ value: s, label: s }))}
          />
          <Select
            label="Priority"
            name="priority"
            value={filters.priority}
            options={PRIORITIES.map((p) => ({ value: p, label: p }))}
          />
          {(filters.session || filters.agent || filters.state || filters.priority) && (
            <button
              class="link"
              onClick={() =>
                setQuery({ session: undefined, agent: undefined, state: undefined, priority: undefined })
              }
            >
              Clear filters
            </button>
          )}
        </div>
        <ErrorBanner error={live.error ?? sessions.error} />
        {!live.loaded ? (
          <Loading />
        ) : live.tasks.length === 0 ? (
          <Empty>
            No tasks
            {filters.session || filters.agent || filters.state || filters.priority
              ? ' match these filters'
              : ' yet'}
            .
          </Empty>
        ) : (
          <div class="table-wrap">
            <table class="table tasks-table">
              <thead>
                <tr>
                  <th>id</th>
                  <th>agent</th>
                  <th>session</th>
                  <th>state</th>
                  <th>priority</th>
                  <th title="attempts / max attempts">attempts</th>
                  <th>created</th>
                  <th>updated</th>
                </tr>
              </thead>
              <tbody>
                {live.tasks.map((t) => (
                  <tr
                    key={t.id}
                    class="clickable"
                    data-testid="task-row"
                    data-task-id={t.id}
                    data-state={t.state}
                    onClick={() => navigate(href('tasks', t.id))}
                  >
                    <td>
                      <a class="mono" href={href('tasks', t.id)} title={t.id}>
                        {shortId(t.id)}
                      </a>
                    </td>
                    <td>{t.agent}</td>
                    <td>{sessionName.get(t.sessionId) ?? shortId(t.sessionId)}</td>
                    <td>
                      <Badge value={t.state} />
                    </td>
                    <td>{t.priority}</td>
                    <td>
                      {t.attempts}/{t.maxAttempts}
                    </td>
                    <td class="nowrap">{formatTime(t.createdAt)}</td>
                    <td class="nowrap">{formatTime(t.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {live.nextCursor && (
          <button onClick={() => void live.more()} data-testid="more-tasks">
            Load older tasks
          </button>
        )}
      </div>
    </Page>
  );
}
