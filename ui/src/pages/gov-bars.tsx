import { Empty } from '../components';

export interface Bar {
  label: string;
  value: number;
  /** A badge colour class (ok, warn, bad, info); default the accent. */
  kind?: string;
}

/** Horizontal bars, each scaled to the largest: counts by flag type, severity or agent. */
export function Bars({ bars, empty, testId }: { bars: Bar[]; empty: string; testId?: string }) {
  if (bars.length === 0) return <Empty>{empty}</Empty>;
  const max = Math.max(...bars.map((b) => b.value), 1);
  return (
    <ul class="gov-bars" data-testid={testId}>
      {bars.map((b) => (
        <li key={b.label} data-label={b.label} data-value={b.value}>
          <span class="gov-bar-label" title={b.label}>
            {b.label}
          </span>
          <span class="gov-bar-track">
            <span
              class={`gov-bar-fill ${b.kind ?? ''}`}
              style={{ width: `${Math.max(2, (b.value / max) * 100)}%` }}
            />
          </span>
          <span class="gov-bar-value">{b.value.toLocaleString()}</span>
        </li>
      ))}
    </ul>
  );
}

/** Severity 1-10 as a colour: notes are neutral, 5 and above is what strict policies act on. */
export function severityKind(severity: number): string {
  if (severity >= 7) return 'bad';
  if (severity >= 5) return 'warn';
  if (severity >= 3) return 'info';
  return 'neutral';
}
