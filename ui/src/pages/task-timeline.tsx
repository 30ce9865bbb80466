import { Badge, formatDuration, formatTime } from '../components';
import { href } from '../router';
import { timelineRows } from './task-timeline-rows';
import type { HistoryRecord } from './task-types';

function ErrorCode({ code }: { code: string }) {
  return (
    <a class="code" href={href('errors', code)} title="What this error means">
      {code}
    </a>
  );
}

/**
 * The attempts timeline: each attempt with its start, end, outcome and error, between the task's other
 * events, and a bar placing it within the task's life so far.
 */
export function AttemptsTimeline({
  records,
  now,
  complete,
}: {
  records: readonly HistoryRecord[];
  now: number;
  complete: boolean;
}) {
  const rows = timelineRows(records);
  const first = records[0]?.at ?? now;
  const last = Math.max(now, ...rows.map((r) => (r.kind === 'attempt' ? (r.end ?? now) : r.at)));
  const span = Math.max(1, last - first);
  const pct = (t: number) => `${(((t - first) / span) * 100).toFixed(2)}%`;
  return (
    <div data-testid="attempts" class="timeline">
      {!complete && (
        <p class="muted">
          Older records of this task were not read (its session has many records since); see its provenance.
        </p>
      )}
      {rows.length === 0 && <p class="muted">No attempts yet.</p>}
      <ol>
        {rows.map((row, i) =>
          row.kind === 'milestone' ? (
            <li key={i} class="milestone">
              <span class="when">{formatTime(row.at)}</span>
              <span>{row.label}</span>
              {row.error && <ErrorCode code={row.error} />}
            </li>
          ) : (
            <li
              key={i}
              class="attempt"
              data-testid="attempt"
              data-attempt={row.attempt}
              data-outcome={row.outcome}
            >
              <span class="when">{formatTime(row.start)}</span>
              <span class="attempt-no">attempt {row.attempt}</span>
              <Badge
                value={row.outcome}
                kind={
                  row.outcome === 'succeeded'
                    ? 'ok'
                    : row.outcome === 'running'
                      ? 'info'
                      : row.outcome === 'retrying' || row.outcome === 'quarantined'
                        ? 'warn'
                        : row.outcome === 'cancelled'
                          ? 'neutral'
                          : 'bad'
                }
              />
              <span class="muted">
                {row.end !== undefined
                  ? `ended ${formatTime(row.end)} · ${formatDuration(row.end - row.start)}`
                  : `running for ${formatDuration(now - row.start)}`}
                {row.worker ? ` · worker ${row.worker}` : ''}
                {row.node ? ` · edge node ${row.node}` : ''}
                {row.retryAt ? ` · retry at ${formatTime(row.retryAt)}` : ''}
              </span>
              {row.error && <ErrorCode code={row.error} />}
              <span class="bar" aria-hidden="true">
                <span
                  class={`fill ${row.outcome.replace(' ', '-')}`}
                  style={{
                    left: pct(row.start),
                    width: `max(3px, calc(${pct(row.end ?? now)} - ${pct(row.start)}))`,
                  }}
                />
              </span>
            </li>
          ),
        )}
      </ol>
    </div>
  );
}
