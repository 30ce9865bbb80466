import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge, ErrorBanner, formatDuration, formatTime } from '../components';
import { useCan, usePrincipal } from '../context';
import { useAction } from '../hooks';
import type { AgentKpi, HealthReport, Rollout, VersionView } from './agent-data';

/** Columns of the versions table; the health result row spans them all. */
export const VERSION_COLUMNS = [
  'Version',
  'Status',
  'Breaker',
  'Rollout',
  'Success',
  'p50 / p95',
  'Cost',
  'Flagged',
  'Reward',
  '',
];

function percent(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  const p = Math.round(x * 1000) / 10;
  return `${Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)}%`;
}

function usd(x: number | undefined): string {
  if (x === undefined) return '—';
  return x === 0 ? '$0' : x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
}

/** "in 9 min" from now, for the breaker's next probe. */
function untilText(at: number): string {
  const ms = at - Date.now();
  return ms <= 0 ? 'due now' : `in ${formatDuration(ms)}`;
}

/** What a rollout means for this version: the canary's share and verdict, or the stable side of one. */
function RolloutCell({ version, rollout }: { version: VersionView; rollout: Rollout | undefined }) {
  if (!rollout) return <span class="muted">—</span>;
  const canary = rollout.canaryKey === version.key;
  const share = percent(rollout.share);
  const title = rollout.reason ?? undefined;
  if (rollout.state === 'canary')
    return canary ? (
      <span title={`started ${formatTime(rollout.startedAt)}`}>
        <Badge value="canary" kind="info" /> {share}
        <div class="muted small">verdict pending</div>
      </span>
    ) : (
      <span class="muted small">
        stable; canary {rollout.canaryKey.split('/').pop()} gets {share}
      </span>
    );
  const verdict = rollout.state === 'promoted' ? 'promoted' : 'rolled back';
  return (
    <span title={title}>
      <Badge value={verdict} kind={rollout.state === 'promoted' ? 'ok' : 'bad'} />
      <div class="muted small">
        {canary ? `was canary at ${share}` : `vs canary ${rollout.canaryKey.split('/').pop()}`}
        {rollout.reason ? `: ${rollout.reason}` : ''}
      </div>
    </span>
  );
}

export function HealthResult({ reports }: { reports: HealthReport[] }) {
  return (
    <div class="agent-health" data-testid="health-result" role="status">
      {reports.map((r) => (
        <div key={r.agent}>
          <Badge value={r.ok ? 'healthy' : 'unhealthy'} kind={r.ok ? 'ok' : 'bad'} /> <code>{r.agent}</code>{' '}
          {r.check} in {formatDuration(r.latencyMs)}
          {r.model ? ` · ${r.provider ?? ''} ${r.model}` : ''}
          {r.code && (
            <>
              {' · '}
              <a class="mono" href={`#/errors/${encodeURIComponent(r.code)}`}>
                {r.code}
              </a>
            </>
          )}
          {r.message ? ` ${r.message}` : ''}
        </div>
      ))}
    </div>
  );
}

/** One agent version: status, breaker, rollout, KPIs; health check and (for operators) breaker reset. */
export function VersionRow({
  version: v,
  kpi,
  onChanged,
}: {
  version: VersionView;
  kpi: AgentKpi | undefined;
  onChanged: (message: string) => void;
}) {
  const principal = usePrincipal();
  const operator = useCan('operator');
  const [health, setHealth] = useState<HealthReport[] | undefined>(undefined);
  const check = useAction(async () => {
    setHealth(undefined);
    setHealth(await api.get<HealthReport[]>(`/agents/health${query({ agent: v.label })}`));
  });
  const reset = useAction(async () => {
    await api.post(`/agents/${encodeURIComponent(v.label)}/breaker/reset`);
    onChanged(`Closed the circuit breaker of ${v.label}; its held tasks run now.`);
  });
  const b = v.circuitBreaker;
  // A shared version's breaker guards every tenant: only the installation may reset it (the API refuses).
  const canReset = operator && b.state !== 'closed' && v.tenant === principal.tenant;
  const cols = VERSION_COLUMNS.length;
  return (
    <>
      <tr data-testid="agent-row" data-agent={v.label}>
        <td>
          <strong>{v.version}</strong>
          {v.shared && (
            <>
              {' '}
              <Badge value="shared" kind="info" />
            </>
          )}
          <div class="muted small">
            {v.runtime}
            {v.capabilities.length > 0 && ` · ${v.capabilities.join(', ')}`}
          </div>
        </td>
        <td>
          <Badge value={v.state} />
          {v.inFlight > 0 && <div class="muted small">{v.inFlight} in flight</div>}
          {!v.runnable && (
            <div class="muted small" title="No worker of this server can run this runtime">
              not runnable here
            </div>
          )}
        </td>
        <td>
          <span data-testid="breaker" title={`${b.consecutiveFailures} consecutive failures`}>
            <Badge value={b.state === 'half_open' ? 'half-open' : b.state} />
          </span>
          {b.state !== 'closed' && b.nextProbeAt !== null && (
            <div class="muted small" title={formatTime(b.nextProbeAt)}>
              {b.state === 'open' ? `probe ${untilText(b.nextProbeAt)}` : 'probing'}
            </div>
          )}
          {b.state === 'closed' && b.consecutiveFailures > 0 && (
            <div class="muted small">{b.consecutiveFailures} failing</div>
          )}
        </td>
        <td>
          <RolloutCell version={v} rollout={v.rollout} />
        </td>
        <td title={kpi ? `${kpi.succeeded ?? '?'} of ${kpi.finished} finished` : undefined}>
          {percent(kpi?.successRate)}
          {kpi && <div class="muted small">{kpi.finished} finished</div>}
        </td>
        <td class="nowrap">
          {formatDuration(kpi?.latencyMs.p50)} / {formatDuration(kpi?.latencyMs.p95)}
        </td>
        <td>{usd(kpi?.costUsd)}</td>
        <td>{kpi?.flaggedTasks ?? '—'}</td>
        <td title={kpi ? `${kpi.reward.count} scores` : undefined}>
          {kpi?.reward.mean === null || kpi?.reward.mean === undefined ? '—' : kpi.reward.mean.toFixed(2)}
        </td>
        <td>
          <div class="row-actions">
            <button data-testid="health-check" disabled={check.pending} onClick={() => void check.run()}>
              {check.pending ? 'Checking…' : 'Health check'}
            </button>
            {canReset && (
              <button
                data-testid="reset-breaker"
                data-requires="operator"
                disabled={reset.pending}
                onClick={() => void reset.run()}
              >
                Reset breaker
              </button>
            )}
          </div>
        </td>
      </tr>
      {(health || check.error || reset.error) && (
        <tr class="agent-detail-row">
          <td colSpan={cols}>
            {health && <HealthResult reports={health} />}
            <ErrorBanner error={check.error} onDismiss={check.clear} />
            <ErrorBanner error={reset.error} onDismiss={reset.clear} />
          </td>
        </tr>
      )}
    </>
  );
}
