import { api } from '../api';

// The shapes of GET /agents, /agents/status, /rollouts and /agents/:name/kpi (src/api/routes/agents.ts,
// kpi.ts, routing.ts), and one loader that joins them into agent versions grouped by name.

export interface BreakerStatus {
  state: 'closed' | 'open' | 'half_open';
  consecutiveFailures: number;
  openedAt: number | null;
  nextProbeAt: number | null;
}

export interface AgentStatus {
  key: string;
  name: string;
  version: string;
  runtime: string;
  capabilities: string[];
  moduleDigest: string | null;
  tenant: string;
  shared: boolean;
  runnable: boolean;
  createdAt: number;
  state: 'active' | 'draining' | 'idle';
  inFlight: number;
  circuitBreaker: BreakerStatus;
}

interface AgentVersion {
  key: string;
  description?: string;
}

export interface Rollout {
  name: string;
  canaryKey: string;
  stableKey: string;
  state: 'canary' | 'promoted' | 'rolled-back';
  share: number;
  startedAt: number;
  decidedAt: number | null;
  reason: string | null;
}

export interface AgentKpi {
  agent: string;
  name: string;
  version: string;
  finished: number;
  succeeded?: number;
  failed?: number;
  quarantined?: number;
  successRate: number | null;
  latencyMs: { p50: number | null; p95: number | null };
  costUsd: number;
  flaggedTasks?: number;
  reward: { count: number; mean: number | null };
}

export interface HealthReport {
  agent: string;
  runtime: string;
  provider?: string;
  model?: string;
  ok: boolean;
  check: string;
  latencyMs: number;
  code?: string;
  message?: string;
}

/** One registered version with what the dashboard shows about it. */
export interface VersionView extends AgentStatus {
  /** name@version: the test id and what health checks and breaker resets take. */
  label: string;
  description?: string;
  /** The newest rollout this version is the canary or the stable side of. */
  rollout?: Rollout;
}

export interface AgentGroup {
  name: string;
  versions: VersionView[];
}

/** Semantic-version order, newest first (pre-releases before their release; good enough for display). */
function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split('-', 2) as [string?, string?];
    return { nums: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (y.nums[i] ?? 0) - (x.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return -1;
  if (y.pre === undefined) return 1;
  return y.pre.localeCompare(x.pre, undefined, { numeric: true });
}

/** The tenant's agent versions grouped by name (names in order), with their rollouts. */
export async function loadAgents(signal: AbortSignal): Promise<AgentGroup[]> {
  const [status, versions, rollouts] = await Promise.all([
    api.get<AgentStatus[]>('/agents/status', signal),
    api.get<AgentVersion[]>('/agents', signal),
    api.get<Rollout[]>('/rollouts', signal),
  ]);
  const described = new Map(versions.map((v) => [v.key, v.description]));
  const groups = new Map<string, VersionView[]>();
  for (const s of status) {
    // /rollouts is newest first: the first match is the one that matters now.
    const rollout = rollouts.find((r) => r.canaryKey === s.key || r.stableKey === s.key);
    const description = described.get(s.key);
    const view: VersionView = {
      ...s,
      label: `${s.name}@${s.version}`,
      ...(description ? { description } : {}),
      ...(rollout ? { rollout } : {}),
    };
    groups.set(s.name, [...(groups.get(s.name) ?? []), view]);
  }
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, vs]) => ({ name, versions: vs.sort((a, b) => compareVersions(a.version, b.version)) }));
}

/** KPIs of every version of each name, by version key; a name whose KPIs fail to load is left out. */
export async function loadKpis(names: string[], signal: AbortSignal): Promise<Map<string, AgentKpi>> {
  const answers = await Promise.all(
    names.map((n) =>
      api
        .get<{ versions: AgentKpi[] }>(`/agents/${encodeURIComponent(n)}/kpi`, signal)
        .then((r) => r.versions)
        .catch((err: Error) => {
          if (err.name === 'AbortError') throw err;
          return [];
        }),
    ),
  );
  return new Map(answers.flat().map((k) => [k.agent, k]));
}
