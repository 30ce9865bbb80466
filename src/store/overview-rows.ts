import type { ActivityBucket, ActivityQuery, TenantActivity } from './store.js';

// What both backends share for the tenant overview (docs/api.md, GET /stats/overview): the id bounds that
// turn a time range into a primary-key range, the end states counted, and how grouped rows become buckets.

/** End states a bucket counts; the latency percentiles leave cancelled tasks out. */
export const FINISHED_STATES = ['succeeded', 'failed', 'dead', 'cancelled', 'quarantined'] as const;
export const FINISHED_STATES_SQL = FINISHED_STATES.map((s) => `'${s}'`).join(', ');
export const LATENCY_STATES_SQL = FINISHED_STATES.filter((s) => s !== 'cancelled')
  .map((s) => `'${s}'`)
  .join(', ');

/**
 * Task ids are minted (UUIDv7) by the process that sets created_at, from the same wall clock; this much slack
 * on each id bound keeps a task whose id was minted a little before or after its created_at in the range.
 */
const ID_SLACK_MS = 60_000;

/**
 * The smallest UUIDv7 of millisecond `ms` (its 48-bit time prefix, the rest zeros): every id minted at or
 * after `ms` compares greater or equal, in bytes as in any collation (the hyphens sit at the same places).
 */
export function uuidV7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** Id bounds [lo, hi) of the submitted read (created in the window) and of the finished read (lookback). */
export function idBounds(q: ActivityQuery): { submittedLo: string; finishedLo: string; hi: string } {
  return {
    submittedLo: uuidV7Floor(q.from - ID_SLACK_MS),
    finishedLo: uuidV7Floor(q.from - q.lookbackMs - ID_SLACK_MS),
    hi: uuidV7Floor(q.to + ID_SLACK_MS),
  };
}

/** A count as a driver returns it: PostgreSQL's bigint counts come as strings. */
type Count = number | string;

export interface SubmittedRow {
  b: Count;
  n: Count;
}

export interface FinishedRow {
  b: Count;
  succeeded: Count;
  failed: Count;
  dead: Count;
  cancelled: Count;
  quarantined: Count;
  p50: number | null;
  p95: number | null;
}

const nullable = (v: number | string | null | undefined) =>
  v === null || v === undefined ? null : Number(v);

/** Every bucket of the window, oldest first, from the grouped rows (bucket index b from `from`). */
export function assembleBuckets(
  q: ActivityQuery,
  submitted: readonly SubmittedRow[],
  finished: readonly FinishedRow[],
): ActivityBucket[] {
  const n = Math.max(0, Math.ceil((q.to - q.from) / q.bucketMs));
  const buckets: ActivityBucket[] = Array.from({ length: n }, (_, i) => ({
    start: q.from + i * q.bucketMs,
    submitted: 0,
    succeeded: 0,
    failed: 0,
    dead: 0,
    cancelled: 0,
    quarantined: 0,
    latencyMs: { p50: null, p95: null },
  }));
  for (const r of submitted) {
    const b = buckets[Number(r.b)];
    if (b) b.submitted = Number(r.n);
  }
  for (const r of finished) {
    const b = buckets[Number(r.b)];
    if (!b) continue;
    Object.assign(b, {
      succeeded: Number(r.succeeded),
      failed: Number(r.failed),
      dead: Number(r.dead),
      cancelled: Number(r.cancelled),
      quarantined: Number(r.quarantined),
      latencyMs: { p50: nullable(r.p50), p95: nullable(r.p95) },
    });
  }
  return buckets;
}

/** The queue figures from (state, priority, n) groups of queued and running tasks. */
export function assembleQueue(
  rows: readonly { state: string; priority: Count; n: Count }[],
): TenantActivity['queue'] {
  const out: TenantActivity['queue'] = { queued: 0, running: 0, queuedByPriority: {} };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.state === 'running') out.running += n;
    else if (r.state === 'queued') {
      out.queued += n;
      const p = Number(r.priority);
      out.queuedByPriority[p] = (out.queuedByPriority[p] ?? 0) + n;
    }
  }
  return out;
}

/** The flag counts of the (severity, type) groups. */
export function assembleFlags(
  rows: readonly { severity: Count; type: string; n: Count }[],
): TenantActivity['flags'] {
  const out: TenantActivity['flags'] = { total: 0, bySeverity: {}, byType: {} };
  for (const r of rows) {
    const n = Number(r.n);
    const severity = String(Number(r.severity));
    out.total += n;
    out.bySeverity[severity] = (out.bySeverity[severity] ?? 0) + n;
    out.byType[r.type] = (out.byType[r.type] ?? 0) + n;
  }
  return out;
}
