import {
  DEFAULT_TENANT,
  PRIORITIES,
  WardenError,
  breakerStatus,
  type BreakerSnapshot,
  type PriorityName,
} from '../core/index.js';
import type { AgentPort } from './agent-port.js';
import type { ActivityBucket, OverviewPort } from './overview-port.js';

// `Warden.overview` (GET /stats/overview, the dashboard's first page): one tenant's throughput, outcomes and
// latency per time bucket, its queue now, the breakers of the versions it may use that are not closed, and
// its governance flags of the last hour. Nothing in it is counted over another tenant's sessions.

/** The bounds of an overview's window and buckets; outside them, INVALID_INPUT. */
export const OVERVIEW_LIMITS = Object.freeze({
  minWindowMs: 5 * 60_000,
  maxWindowMs: 24 * 60 * 60_000,
  minBucketMs: 10_000,
  maxBucketMs: 60 * 60_000,
  maxBuckets: 300,
});

/** Tasks submitted this long before the window (at least) are still counted when they finish in it. */
const MIN_LOOKBACK_MS = 60 * 60_000;
const HOUR_MS = 60 * 60_000;

export interface OverviewOptions {
  /** Whose sessions are counted. @default 'default' */
  tenant?: string;
  /** How far back the buckets reach, 5 minutes to 24 hours. @default 3600000 (1 h) */
  windowMs?: number;
  /** Width of a bucket, 10 s to 1 h, at most 300 buckets per window. @default 60000 */
  bucketMs?: number;
}

/** A circuit breaker that is not closed, of a version the tenant may use. */
export interface OverviewBreaker {
  agent: string;
  state: 'open' | 'half_open';
  consecutiveFailures: number;
  openedAt: number | null;
  /** When an open breaker lets its probe through. */
  nextProbeAt: number | null;
}

export interface TenantOverview {
  tenant: string;
  /** Start of the first bucket (epoch ms). Buckets are aligned to multiples of bucketMs. */
  from: number;
  /** When the figures were read; the last bucket, which holds it, is still filling. */
  to: number;
  bucketMs: number;
  buckets: ActivityBucket[];
  /** Totals of the buckets, and latency percentiles over the whole window. */
  totals: Omit<ActivityBucket, 'start'>;
  queue: { queued: number; running: number; byPriority: Record<PriorityName, number> };
  breakers: OverviewBreaker[];
  governance: { flagsLastHour: number; bySeverity: Record<string, number>; byType: Record<string, number> };
}

export type OverviewStore = OverviewPort &
  Pick<AgentPort, 'listAgents'> & { getBreakers(): Promise<Map<string, BreakerSnapshot>> };

/** Checks the options against OVERVIEW_LIMITS and returns the window and bucket widths. */
export function overviewWindow(options: OverviewOptions): { windowMs: number; bucketMs: number } {
  const windowMs = options.windowMs ?? HOUR_MS;
  const bucketMs = options.bucketMs ?? 60_000;
  const L = OVERVIEW_LIMITS;
  const problems: string[] = [];
  if (!Number.isInteger(windowMs) || windowMs < L.minWindowMs || windowMs > L.maxWindowMs)
    problems.push(`the window must be from 5 to 1440 minutes, got ${windowMs / 60_000}`);
  if (!Number.isInteger(bucketMs) || bucketMs < L.minBucketMs || bucketMs > L.maxBucketMs)
    problems.push(`a bucket must be from 10 to 3600 seconds, got ${bucketMs / 1000}`);
  else if (Math.ceil(windowMs / bucketMs) > L.maxBuckets)
    problems.push(
      `at most ${L.maxBuckets} buckets per window, got ${Math.ceil(windowMs / bucketMs)}; use wider buckets`,
    );
  if (problems.length)
    throw new WardenError('INVALID_INPUT', `Invalid overview: ${problems.join('; ')}`, {
      details: { windowMs, bucketMs, limits: L },
    });
  return { windowMs, bucketMs };
}

export async function tenantOverview(
  store: OverviewStore,
  options: OverviewOptions,
  now: number,
): Promise<TenantOverview> {
  const { windowMs, bucketMs } = overviewWindow(options);
  const tenant = options.tenant ?? DEFAULT_TENANT;
  // Aligned buckets: successive polls see the same bucket edges, and only the last bucket changes.
  const end = (Math.floor(now / bucketMs) + 1) * bucketMs;
  const from = end - Math.ceil(windowMs / bucketMs) * bucketMs;
  const [activity, agents, stored] = await Promise.all([
    store.tenantActivity({
      tenant,
      from,
      to: end,
      bucketMs,
      lookbackMs: Math.max(windowMs, MIN_LOOKBACK_MS),
      flagsSince: now - HOUR_MS,
    }),
    store.listAgents({ tenant }),
    store.getBreakers(),
  ]);
  const breakers: OverviewBreaker[] = [];
  for (const a of agents) {
    const b = stored.get(a.key);
    if (!b || b.state === 'closed') continue;
    const s = breakerStatus(b, a.manifest.circuitBreaker, now);
    if (s.state === 'closed') continue;
    breakers.push({ agent: a.key, ...s, state: s.state });
  }
  const byPriority = Object.fromEntries(
    Object.entries(PRIORITIES).map(([name, level]) => [name, activity.queue.queuedByPriority[level] ?? 0]),
  ) as Record<PriorityName, number>;
  return {
    tenant,
    from,
    to: now,
    bucketMs,
    buckets: activity.buckets,
    totals: totalsOf(activity.buckets, activity.latencyMs),
    queue: { queued: activity.queue.queued, running: activity.queue.running, byPriority },
    breakers,
    governance: {
      flagsLastHour: activity.flags.total,
      bySeverity: activity.flags.bySeverity,
      byType: activity.flags.byType,
    },
  };
}

function totalsOf(
  buckets: readonly ActivityBucket[],
  latencyMs: ActivityBucket['latencyMs'],
): Omit<ActivityBucket, 'start'> {
  const sum = (k: 'submitted' | 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'quarantined') =>
    buckets.reduce((n, b) => n + b[k], 0);
  return {
    submitted: sum('submitted'),
    succeeded: sum('succeeded'),
    failed: sum('failed'),
    dead: sum('dead'),
    cancelled: sum('cancelled'),
    quarantined: sum('quarantined'),
    latencyMs,
  };
}
