import { useMemo } from 'preact/hooks';
import { api, query } from '../api';
import { TimeChart, type TimeSeries } from '../charts/time-chart';
import { Badge, Card, Empty, ErrorBanner, Loading, Page, formatDuration, formatTime } from '../components';
import { useLoad } from '../hooks';
import { href, setQuery, useRoute } from '../router';

// The key's tenant at a glance (GET /stats/overview, polled every 5 s): what finished and how fast over the
// chosen window, the queue now, breakers that hold tasks back, and governance flags of the last hour.

interface Bucket {
  start: number;
  submitted: number;
  succeeded: number;
  failed: number;
  dead: number;
  cancelled: number;
  quarantined: number;
  latencyMs: { p50: number | null; p95: number | null };
}

const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'] as const;

export interface Overview {
  tenant: string;
  from: number;
  to: number;
  bucketMs: number;
  buckets: Bucket[];
  totals: Omit<Bucket, 'start'>;
  queue: { queued: number; running: number; byPriority: Record<(typeof PRIORITIES)[number], number> };
  breakers: {
    agent: string;
    state: 'open' | 'half_open';
    consecutiveFailures: number;
    openedAt: number | null;
    nextProbeAt: number | null;
  }[];
  governance: { flagsLastHour: number; bySeverity: Record<string, number>; byType: Record<string, number> };
}

/** The windows offered, with a bucket width that gives 90 to 150 points. */
const WINDOWS = [
  { key: '15m', label: '15 min', minutes: 15, bucketSeconds: 10 },
  { key: '1h', label: '1 h', minutes: 60, bucketSeconds: 30 },
  { key: '24h', label: '24 h', minutes: 1440, bucketSeconds: 600 },
] as const;

const POLL_MS = 5000;

const OUTCOMES: readonly (TimeSeries & { key: keyof Omit<Bucket, 'start' | 'latencyMs'> })[] = [
  { key: 'succeeded', label: 'succeeded', color: '#1f8a4c', kind: 'bar' },
  { key: 'quarantined', label: 'quarantined', color: '#e0a030', kind: 'bar' },
  { key: 'failed', label: 'failed', color: '#e8743b', kind: 'bar' },
  { key: 'dead', label: 'dead', color: '#c62f3a', kind: 'bar' },
  { key: 'cancelled', label: 'cancelled', color: '#a3a9b7', kind: 'bar' },
  { key: 'submitted', label: 'submitted', color: '#3358d4', kind: 'line', dash: [4, 3] },
];

const LATENCY: readonly TimeSeries[] = [
  { label: 'p50', color: '#3358d4' },
  { label: 'p95', color: '#a040c0' },
];

const count = (n: number) => n.toLocaleString();

export function OverviewPage() {
  const route = useRoute();
  const win = WINDOWS.find((w) => w.key === route.query.get('window')) ?? WINDOWS[1];
  const { data, error } = useLoad(
    (signal) =>
      api.get<Overview>(
        `/stats/overview${query({ windowMinutes: win.minutes, bucketSeconds: win.bucketSeconds })}`,
        signal,
      ),
    [win.key],
    POLL_MS,
  );
  // A poll of another window still in flight must not be drawn under this one's labels.
  const shown = data && data.bucketMs === win.bucketSeconds * 1000 ? data : undefined;

  return (
    <Page
      title="Overview"
      actions={
        <div class="ov-windows" role="group" aria-label="Time window" data-testid="overview-window">
          {WINDOWS.map((w) => (
            <button
              key={w.key}
              class={w.key === win.key ? 'primary' : ''}
              aria-pressed={w.key === win.key}
              onClick={() => setQuery({ window: w.key === '1h' ? undefined : w.key })}
            >
              {w.label}
            </button>
          ))}
        </div>
      }
    >
      <div data-testid="page-overview" class="ov">
        <ErrorBanner error={error} />
        {!shown && !error && <Loading />}
        {shown && <OverviewBody o={shown} windowLabel={win.label} />}
      </div>
    </Page>
  );
}

function OverviewBody({ o, windowLabel }: { o: Overview; windowLabel: string }) {
  const t = o.totals;
  const finished = t.succeeded + t.failed + t.dead + t.quarantined + t.cancelled;
  const judged = t.succeeded + t.failed + t.dead + t.quarantined;
  const rate = judged === 0 ? null : t.succeeded / judged;
  const open = o.breakers.filter((b) => b.state === 'open').length;

  const times = useMemo(() => o.buckets.map((b) => b.start), [o]);
  const outcomes = useMemo(() => OUTCOMES.map((s) => o.buckets.map((b) => b[s.key])), [o]);
  const latency = useMemo(
    () => [o.buckets.map((b) => b.latencyMs.p50), o.buckets.map((b) => b.latencyMs.p95)],
    [o],
  );

  return (
    <>
      <div class="stats ov-stats" data-testid="overview-stats">
        <Stat label={`Finished · ${windowLabel}`} value={count(finished)} />
        <Stat
          label="Success rate"
          value={rate === null ? '—' : `${(rate * 100).toFixed(rate === 1 ? 0 : 1)}%`}
          tone={rate === null ? undefined : rate >= 0.95 ? 'ok' : rate >= 0.8 ? 'warn' : 'bad'}
          title="succeeded ÷ (succeeded + failed + dead + quarantined); cancelled tasks are left out"
        />
        <Stat label="Dead" value={count(t.dead)} tone={t.dead > 0 ? 'bad' : undefined} />
        <Stat
          label="p95 latency"
          value={formatDuration(t.latencyMs.p95)}
          title={`end to end, submit to finish; p50 ${formatDuration(t.latencyMs.p50)}`}
        />
        <Stat label="Queued now" value={count(o.queue.queued)} />
        <Stat label="Running now" value={count(o.queue.running)} />
        <Stat
          label="Open breakers"
          value={count(open)}
          tone={open > 0 ? 'bad' : o.breakers.length > 0 ? 'warn' : undefined}
          title={`${o.breakers.length - open} half-open`}
        />
        <Stat
          label="Flags (last hour)"
          value={count(o.governance.flagsLastHour)}
          tone={o.governance.flagsLastHour > 0 ? 'warn' : undefined}
        />
      </div>

      <div class="ov-charts">
        <Card title="Throughput">
          <div data-testid="overview-throughput">
            <TimeChart
              label={`Tasks finished per ${formatDuration(o.bucketMs)} by end state, and submitted`}
              times={times}
              values={outcomes}
              series={OUTCOMES}
              stacked
              bucketMs={o.bucketMs}
            />
          </div>
          <p class="muted ov-note">
            Finished per {formatDuration(o.bucketMs)}, stacked by end state; the dashed line is submitted.
          </p>
        </Card>
        <Card title="Latency">
          <div data-testid="overview-latency">
            <TimeChart
              label="End-to-end latency p50 and p95 per bucket"
              times={times}
              values={latency}
              series={LATENCY}
              bucketMs={o.bucketMs}
              format={(v) => formatDuration(v)}
            />
          </div>
          <p class="muted ov-note">Submit to finish of the tasks that finished in each bucket.</p>
        </Card>
      </div>

      <div class="ov-row">
        <Card title="Queue by priority">
          <QueueBars queue={o.queue} />
        </Card>
        <Card title="Circuit breakers">
          <Breakers breakers={o.breakers} />
        </Card>
        <Card title="Governance (last hour)">
          <Flags governance={o.governance} />
        </Card>
      </div>
      <p class="muted ov-updated">
        Tenant <strong>{o.tenant}</strong> · updated {formatTime(o.to)} · refreshes every {POLL_MS / 1000} s
      </p>
    </>
  );
}

function Stat({
  label,
  value,
  tone,
  title,
}: {
  label: string;
  value: string;
  tone?: 'ok' | 'warn' | 'bad' | undefined;
  title?: string;
}) {
  return (
    <div class={`stat${tone ? ` ov-${tone}` : ''}`} title={title}>
      <div class="value">{value}</div>
      <div class="label">{label}</div>
    </div>
  );
}

function QueueBars({ queue }: { queue: Overview['queue'] }) {
  const max = Math.max(1, ...PRIORITIES.map((p) => queue.byPriority[p] ?? 0));
  return (
    <div data-testid="overview-queue">
      <ul class="ov-bars">
        {PRIORITIES.map((p) => {
          const n = queue.byPriority[p] ?? 0;
          return (
            <li key={p}>
              <span class="ov-bar-label">{p}</span>
              <span class="ov-bar-track">
                <span class={`ov-bar ov-p-${p}`} style={{ width: `${(n / max) * 100}%` }} />
              </span>
              <span class="ov-bar-value">{count(n)}</span>
            </li>
          );
        })}
      </ul>
      <p class="muted ov-note">
        {count(queue.queued)} queued, {count(queue.running)} running ·{' '}
        <a href={href('tasks') + '?state=queued'}>see the queue</a>
      </p>
    </div>
  );
}

function Breakers({ breakers }: { breakers: Overview['breakers'] }) {
  if (breakers.length === 0)
    return (
      <div data-testid="overview-breakers">
        <Empty>All circuit breakers are closed.</Empty>
      </div>
    );
  return (
    <div class="table-wrap" data-testid="overview-breakers">
      <table class="table">
        <thead>
          <tr>
            <th>Agent</th>
            <th>State</th>
            <th>Failures</th>
            <th>Next probe</th>
          </tr>
        </thead>
        <tbody>
          {breakers.map((b) => (
            <tr key={b.agent}>
              <td class="mono">
                <a href={href('agents')}>{b.agent}</a>
              </td>
              <td>
                <Badge value={b.state} />
              </td>
              <td>{b.consecutiveFailures}</td>
              <td>{b.state === 'half_open' ? 'now' : formatTime(b.nextProbeAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Flags({ governance }: { governance: Overview['governance'] }) {
  const severities = Object.entries(governance.bySeverity).sort((a, b) => Number(b[0]) - Number(a[0]));
  const types = Object.entries(governance.byType).sort((a, b) => b[1] - a[1]);
  return (
    <div data-testid="overview-flags">
      <p class="ov-flags-total">
        <strong>{count(governance.flagsLastHour)}</strong> flag{governance.flagsLastHour === 1 ? '' : 's'}{' '}
        raised in the last hour
      </p>
      {severities.length > 0 && (
        <dl class="facts">
          <dt>By severity</dt>
          <dd class="ov-chips">
            {severities.map(([s, n]) => (
              <Badge
                key={s}
                value={`${s}: ${n}`}
                kind={Number(s) >= 7 ? 'bad' : Number(s) >= 4 ? 'warn' : 'neutral'}
              />
            ))}
          </dd>
          <dt>By type</dt>
          <dd class="ov-chips">
            {types.map(([t, n]) => (
              <Badge key={t} value={`${t}: ${n}`} kind="info" />
            ))}
          </dd>
        </dl>
      )}
      <p class="muted ov-note">
        <a href={href('governance')}>Open governance</a>
      </p>
    </div>
  );
}
