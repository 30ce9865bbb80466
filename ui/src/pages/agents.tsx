import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, Card, Empty, ErrorBanner, Loading, Page, formatTime } from '../components';
import { useCan } from '../context';
import { useAction, useLoad } from '../hooks';
import { href, type Route } from '../router';
import {
  loadAgents,
  loadKpis,
  type AgentGroup,
  type AgentKpi,
  type HealthReport,
  type Rollout,
} from './agent-data';
import { RegisterAgent } from './agent-register';
import { HealthResult, VERSION_COLUMNS, VersionRow } from './agent-row';

// #/agents lists every version the key's tenant may use, grouped by name; #/agents/<name> shows one name
// with its versions' facts and rollout history.

const POLL_MS = 10_000;

function Summary({ groups }: { groups: AgentGroup[] }) {
  const versions = groups.flatMap((g) => g.versions);
  const stat = (label: string, value: number, kind?: string) => (
    <div class="stat">
      <div class={`value${kind && value > 0 ? ` ${kind}` : ''}`}>{value}</div>
      <div class="label">{label}</div>
    </div>
  );
  return (
    <div class="stats">
      {stat('agents', groups.length)}
      {stat('versions', versions.length)}
      {stat('active versions', versions.filter((v) => v.state === 'active').length)}
      {stat(
        'tasks in flight',
        versions.reduce((n, v) => n + v.inFlight, 0),
      )}
      {stat('breakers not closed', versions.filter((v) => v.circuitBreaker.state !== 'closed').length, 'bad')}
      {stat(
        'canaries',
        versions.filter((v) => v.rollout?.state === 'canary' && v.rollout.canaryKey === v.key).length,
      )}
    </div>
  );
}

function AgentCard({
  group,
  kpis,
  onChanged,
}: {
  group: AgentGroup;
  kpis: Map<string, AgentKpi> | undefined;
  onChanged: (message: string) => void;
}) {
  const described = group.versions.find((v) => v.description)?.description;
  return (
    <div class="card agent-card" data-testid="agent-group" data-name={group.name}>
      <header class="agent-card-head">
        <h3>
          <a href={href('agents', group.name)}>{group.name}</a>
        </h3>
        {described && <span class="muted">{described}</span>}
      </header>
      <div class="table-wrap">
        <table class="table agent-versions">
          <thead>
            <tr>
              {VERSION_COLUMNS.map((c) => (
                <th key={c}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {group.versions.map((v) => (
              <VersionRow key={v.key} version={v} kpi={kpis?.get(v.key)} onChanged={onChanged} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** One name's versions in full, and its rollouts from first to last decision. */
function AgentDetail({ group }: { group: AgentGroup }) {
  const rollouts = useLoad(
    (signal) => api.get<Rollout[]>(`/rollouts?name=${encodeURIComponent(group.name)}`, signal),
    [group.name],
  );
  return (
    <div class="grid">
      <Card title="Versions">
        {group.versions.map((v) => (
          <dl class="facts agent-facts" key={v.key}>
            <dt>version</dt>
            <dd>
              <strong>{v.key}</strong>
            </dd>
            <dt>tenant</dt>
            <dd>
              {v.tenant}
              {v.shared ? ' (shared with every tenant)' : ''}
            </dd>
            <dt>code digest</dt>
            <dd class="mono">{v.moduleDigest ?? '—'}</dd>
            <dt>registered</dt>
            <dd>{formatTime(v.createdAt)}</dd>
            <dt>breaker</dt>
            <dd>
              {v.circuitBreaker.state}, {v.circuitBreaker.consecutiveFailures} consecutive failures
              {v.circuitBreaker.openedAt ? `, opened ${formatTime(v.circuitBreaker.openedAt)}` : ''}
            </dd>
          </dl>
        ))}
      </Card>
      <Card title="Rollouts">
        <ErrorBanner error={rollouts.error} />
        {rollouts.data && rollouts.data.length === 0 && <Empty>No canary rollouts of {group.name}.</Empty>}
        {rollouts.data && rollouts.data.length > 0 && (
          <ul class="agent-rollouts">
            {rollouts.data.map((r) => (
              <li key={`${r.canaryKey}-${r.startedAt}`}>
                <Badge
                  value={r.state}
                  kind={r.state === 'promoted' ? 'ok' : r.state === 'canary' ? 'info' : 'bad'}
                />{' '}
                {r.canaryKey} vs {r.stableKey} at {Math.round(r.share * 100)}%
                <div class="muted small">
                  started {formatTime(r.startedAt)}
                  {r.decidedAt ? `, decided ${formatTime(r.decidedAt)}` : ''}
                  {r.reason ? `: ${r.reason}` : ''}
                </div>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

export function AgentsPage({ route }: { route: Route }) {
  const only = route.parts[1];
  const admin = useCan('admin');
  const [registering, setRegistering] = useState(false);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const agents = useLoad(loadAgents, [], POLL_MS);
  const names = (agents.data ?? []).map((g) => g.name);
  const kpis = useLoad((signal) => loadKpis(names, signal), [names.join('\n')], 30_000);
  const [allHealth, setAllHealth] = useState<HealthReport[] | undefined>(undefined);
  const checkAll = useAction(async () => setAllHealth(await api.get<HealthReport[]>('/agents/health')));
  const changed = (message: string) => {
    setNotice(message);
    agents.reload();
    kpis.reload();
  };
  const groups = (agents.data ?? []).filter((g) => only === undefined || g.name === only);
  return (
    <Page
      title={only ? `Agent ${only}` : 'Agents'}
      actions={
        <>
          {only && <a href={href('agents')}>All agents</a>}
          {!only && (
            <button
              data-testid="health-check-all"
              disabled={checkAll.pending}
              onClick={() => void checkAll.run()}
            >
              {checkAll.pending ? 'Checking…' : 'Check all'}
            </button>
          )}
          {admin && (
            <button
              class="primary"
              data-testid="register-agent"
              data-requires="admin"
              aria-expanded={registering}
              onClick={() => setRegistering((r) => !r)}
            >
              Register agent
            </button>
          )}
        </>
      }
    >
      <div data-testid="page-agents" class="page agents-page">
        {notice && (
          <div class="banner ok" role="status" data-testid="agents-notice">
            <span>{notice}</span>
            <button class="link" aria-label="Dismiss" onClick={() => setNotice(undefined)}>
              ×
            </button>
          </div>
        )}
        {admin && registering && (
          <RegisterAgent
            onClose={() => setRegistering(false)}
            onRegistered={(r) => {
              setRegistering(false);
              changed(
                `Registered ${r.key} (${r.runtime}${r.moduleDigest ? `, code ${r.moduleDigest.slice(0, 12)}…` : ''}).`,
              );
            }}
          />
        )}
        <ErrorBanner error={agents.error} />
        <ErrorBanner error={checkAll.error} onDismiss={checkAll.clear} />
        {allHealth && (
          <Card title="Health of every version">
            <HealthResult reports={allHealth} />
          </Card>
        )}
        {!agents.data && agents.loading && <Loading />}
        {agents.data && !only && <Summary groups={groups} />}
        {agents.data && groups.length === 0 && (
          <Empty>
            {only
              ? `No agent ${only} is registered for this tenant.`
              : 'No agents yet: register one (warden agents register examples/echo/agent.yaml).'}
          </Empty>
        )}
        {groups.map((g) => (
          <AgentCard key={g.name} group={g} kpis={kpis.data} onChanged={changed} />
        ))}
        {only && groups[0] && <AgentDetail group={groups[0]} />}
      </div>
    </Page>
  );
}
