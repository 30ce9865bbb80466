import type { TaskFilters, TaskSummary } from './task-types.js';

/** Whether a task belongs in the list under `filters` (the stream filters too; this keeps merges honest). */
export function matches(task: TaskSummary, f: TaskFilters, sessionIds: ReadonlySet<string>): boolean {
  // A session filter the sessions list could not resolve is left to the server.
  if (f.session && sessionIds.size > 0 && !sessionIds.has(task.sessionId)) return false;
  if (f.state && task.state !== f.state) return false;
  if (f.priority && task.priority !== f.priority) return false;
  if (f.agent && !agentMatches(task.agent, f.agent)) return false;
  return true;
}

/**
 * Whether a task's agent (`name@version`, or `tenant/name@version` for a tenant's own) is the one the
 * filter names: a name (every version), or a version with or without its tenant.
 */
export function agentMatches(agent: string, filter: string): boolean {
  const bare = agent.slice(agent.indexOf('/') + 1);
  return filter === agent || filter === bare || filter === bare.split('@')[0];
}

/** Task ids are UUIDv7: ordering by id, descending, is newest first, as GET /tasks lists them. */
const newestFirst = (a: TaskSummary, b: TaskSummary) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * The list after an event: an update replaces the row (unless older than it), a new task goes in its
 * place by age (on top, usually), and a task that no longer matches the filters leaves.
 */
export function merge(
  list: readonly TaskSummary[],
  task: TaskSummary,
  keep: (t: TaskSummary) => boolean,
): TaskSummary[] {
  const at = list.findIndex((t) => t.id === task.id);
  if (at >= 0) {
    const old = list[at]!;
    if (task.updatedAt < old.updatedAt) return list as TaskSummary[];
    if (!keep(task)) return list.filter((t) => t.id !== task.id);
    const next = list.slice();
    next[at] = task;
    return next;
  }
  if (!keep(task)) return list as TaskSummary[];
  return [...list, task].sort(newestFirst);
}

/** A fresh first page merged with rows already shown beyond it (loaded with "more"). */
export function replaceFirstPage(list: readonly TaskSummary[], page: readonly TaskSummary[]): TaskSummary[] {
  const last = page.at(-1);
  const older = last ? list.filter((t) => t.id < last.id) : [];
  return [...page, ...older];
}
