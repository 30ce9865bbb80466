import { api, query } from '../api';
import { Card, ErrorBanner, Page } from '../components';
import { useLoad } from '../hooks';
import { setQuery, type Route } from '../router';
import { Bars, severityKind } from './gov-bars';
import { MergeCard, type SessionOption } from './gov-merge';
import { QuarantineCard } from './gov-quarantine';
import { ScreenCard } from './gov-screen';

interface GovernanceStats {
  total: number;
  byFlag: Record<string, number>;
  bySeverity: Record<string, number>;
  byAgent: Record<string, number>;
}

const byCount = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label, value]) => ({ label, value }));

/** Governance: flags by type and severity, quarantined tasks with release, text screening, validate_merge. */
export function GovernancePage({ route }: { route: Route }) {
  const session = route.query.get('session') ?? '';
  const sessions = useLoad(
    (signal) => api.get<{ sessions: SessionOption[] }>('/sessions', signal).then((r) => r.sessions),
    [],
  );
  const stats = useLoad(
    (signal) => api.get<GovernanceStats>(`/governance/stats${query({ session })}`, signal),
    [session],
    15_000,
  );
  const names = new Map((sessions.data ?? []).map((s) => [s.id, s.name]));
  const s = stats.data;
  const severities = s
    ? Object.entries(s.bySeverity)
        .sort((a, b) => Number(b[0]) - Number(a[0]))
        .map(([sev, value]) => ({ label: `severity ${sev}`, value, kind: severityKind(Number(sev)) }))
    : [];
  return (
    <Page
      title="Governance"
      actions={
        <label class="gov-session">
          Session
          <select
            name="session"
            value={session}
            onChange={(e) => setQuery({ session: (e.target as HTMLSelectElement).value || undefined })}
          >
            <option value="">All sessions</option>
            {(sessions.data ?? []).map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <div class="gov-page" data-testid="page-governance">
        <ErrorBanner error={sessions.error ?? stats.error} />
        <div class="grid gov-stats">
          <Card title="Flags by type">
            <p class="gov-total">
              <strong data-testid="flags-total">{s ? s.total.toLocaleString() : '…'}</strong> flags
              {session ? ' in this session' : ' in all sessions'}
            </p>
            <Bars bars={s ? byCount(s.byFlag) : []} empty="No flags yet." testId="flags-by-type" />
          </Card>
          <Card title="Flags by severity">
            <Bars bars={severities} empty="No flags yet." testId="flags-by-severity" />
          </Card>
          <Card title="Flags by agent">
            <Bars bars={s ? byCount(s.byAgent).slice(0, 10) : []} empty="No flags yet." />
          </Card>
        </div>
        <QuarantineCard session={session} sessionNames={names} onChange={stats.reload} />
        <div class="grid gov-tools">
          <ScreenCard />
          <MergeCard sessions={sessions.data ?? []} session={session} />
        </div>
      </div>
    </Page>
  );
}
