import { describe, expect, it } from 'vitest';
import { agentMatches, matches, merge, replaceFirstPage } from '../../ui/src/pages/task-list-state.js';
import { timelineRows } from '../../ui/src/pages/task-timeline-rows.js';
import type { HistoryRecord, TaskFilters, TaskSummary } from '../../ui/src/pages/task-types.js';

// The dashboard's Tasks page logic that needs no browser: merging live events into the list, and the
// attempts timeline built from a task's provenance records.

const task = (id: string, over: Partial<TaskSummary> = {}): TaskSummary => ({
  id,
  sessionId: 's1',
  agent: 'acme/echo@1.0.0',
  priority: 'normal',
  state: 'queued',
  attempts: 0,
  maxAttempts: 3,
  deadline: null,
  idempotencyKey: null,
  metadata: {},
  createdAt: 1,
  updatedAt: 1,
  runAfter: 1,
  lastError: null,
  ...over,
});
const none: TaskFilters = { session: '', agent: '', state: '', priority: '' };
const all = () => true;

describe('the live task list', () => {
  it('puts a new task in its place by id (newest first) and replaces a known one', () => {
    let list = [task('0003'), task('0001')];
    list = merge(list, task('0004'), all);
    list = merge(list, task('0002'), all);
    expect(list.map((t) => t.id)).toEqual(['0004', '0003', '0002', '0001']);
    list = merge(list, task('0003', { state: 'running', updatedAt: 5 }), all);
    expect(list.find((t) => t.id === '0003')?.state).toBe('running');
    expect(list).toHaveLength(4);
  });

  it('ignores an update older than the row it would replace', () => {
    const list = [task('0001', { state: 'succeeded', updatedAt: 9 })];
    expect(merge(list, task('0001', { state: 'running', updatedAt: 5 }), all)[0]!.state).toBe('succeeded');
  });

  it('drops a task that leaves the filters and never adds one outside them', () => {
    const running = (t: TaskSummary) => matches(t, { ...none, state: 'running' }, new Set());
    const list = merge(
      [task('0001', { state: 'running' })],
      task('0001', { state: 'succeeded', updatedAt: 2 }),
      running,
    );
    expect(list).toEqual([]);
    expect(merge([], task('0002', { state: 'queued' }), running)).toEqual([]);
  });

  it('matches an agent filter by name, version, or tenant-qualified version', () => {
    for (const f of ['echo', 'echo@1.0.0', 'acme/echo@1.0.0'])
      expect(agentMatches('acme/echo@1.0.0', f)).toBe(true);
    for (const f of ['ech', 'echo@2.0.0', 'globex/echo@1.0.0'])
      expect(agentMatches('acme/echo@1.0.0', f)).toBe(false);
    expect(agentMatches('noop@1.0.0', 'noop')).toBe(true);
  });

  it('matches session and priority filters', () => {
    expect(matches(task('1'), { ...none, session: 'research' }, new Set(['s2']))).toBe(false);
    expect(matches(task('1'), { ...none, session: 'research' }, new Set(['s1']))).toBe(true);
    expect(matches(task('1'), { ...none, priority: 'high' }, new Set())).toBe(false);
  });

  it('keeps older rows loaded with "more" when the first page is read again', () => {
    const shown = [task('0005'), task('0004'), task('0002'), task('0001')];
    const page = [task('0006'), task('0005', { state: 'running' })];
    expect(replaceFirstPage(shown, page).map((t) => [t.id, t.state])).toEqual([
      ['0006', 'queued'],
      ['0005', 'running'],
      ['0004', 'queued'],
      ['0002', 'queued'],
      ['0001', 'queued'],
    ]);
  });
});

describe('the attempts timeline', () => {
  const r = (
    seq: number,
    type: string,
    attempt: number | null,
    data: Record<string, unknown> = {},
  ): HistoryRecord => ({
    seq,
    type,
    at: seq * 1000,
    attempt,
    data,
  });

  it('pairs each start with its outcome, and counts a replayed task’s attempts again', () => {
    const rows = timelineRows([
      r(1, 'task.submitted', null),
      r(2, 'task.started', 1, { worker: 'w1' }),
      r(3, 'task.attempt_failed', 1, { error: 'AGENT_FAILED', retryAt: 3500 }),
      r(4, 'task.started', 2),
      r(5, 'task.dead_lettered', 2, { error: 'AGENT_FAILED' }),
      r(6, 'task.replayed', null),
      r(7, 'task.started', 1),
      r(8, 'task.succeeded', 1, { outputDigest: 'ab' }),
    ]);
    expect(
      rows.map((row) =>
        row.kind === 'milestone'
          ? row.label
          : [row.attempt, row.outcome, row.start, row.end, row.error ?? null],
      ),
    ).toEqual([
      'submitted',
      [1, 'retrying', 2000, 3000, 'AGENT_FAILED'],
      [2, 'dead', 4000, 5000, 'AGENT_FAILED'],
      'replayed from the dead-letter queue',
      [1, 'succeeded', 7000, 8000, null],
    ]);
    expect(rows[1]).toMatchObject({ worker: 'w1', retryAt: 3500 });
  });

  it('shows a running attempt open, a lease expiry as its outcome, and a queued cancel as a milestone', () => {
    const rows = timelineRows([
      r(1, 'task.submitted', null),
      r(2, 'task.started', 1),
      r(3, 'task.lease_expired', 1, { worker: 'w1' }),
      r(4, 'task.started', 2),
    ]);
    expect(rows.slice(1)).toMatchObject([
      { attempt: 1, outcome: 'lease expired', error: 'LEASE_EXPIRED', end: 3000 },
      { attempt: 2, outcome: 'running', end: undefined },
    ]);
    expect(
      timelineRows([r(1, 'task.submitted', null), r(2, 'task.cancelled', null, { error: 'CANCELLED' })]),
    ).toEqual([
      { kind: 'milestone', at: 1000, label: 'submitted', error: undefined },
      { kind: 'milestone', at: 2000, label: 'cancelled', error: 'CANCELLED' },
    ]);
  });
});
