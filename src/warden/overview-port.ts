/**
 * What one tenant's overview reads from the store (`GET /stats/overview`, docs/api.md): its tasks per time
 * bucket, its queue now, and its governance flags since a time. Every figure is of the tenant's own
 * sessions only: another tenant's load shows nowhere in it.
 */
export interface ActivityQuery {
  tenant: string;
  /** Start of the first bucket (epoch ms, inclusive). */
  from: number;
  /** End of the last bucket (epoch ms, exclusive). */
  to: number;
  bucketMs: number;
  /**
   * How long before `from` a task may have been submitted and still be counted when it finished in the
   * window. Bounds the read: only tasks submitted in [from − lookbackMs, to) are looked at.
   */
  lookbackMs: number;
  /** Count the flags raised at or after this time (epoch ms). */
  flagsSince: number;
}

/** One bucket [start, start + bucketMs): tasks submitted in it, and tasks that finished in it by end state. */
export interface ActivityBucket {
  start: number;
  submitted: number;
  succeeded: number;
  failed: number;
  dead: number;
  cancelled: number;
  quarantined: number;
  /**
   * End to end (result finished_at − task created_at) of the tasks that finished in the bucket, cancelled
   * ones left out, interpolated as percentile_cont; null when none finished.
   */
  latencyMs: { p50: number | null; p95: number | null };
}

export interface TenantActivity {
  /** Every bucket of the window, oldest first, zeros where nothing happened. */
  buckets: ActivityBucket[];
  /** As a bucket's latencyMs, over the whole window (not a figure of the buckets' percentiles). */
  latencyMs: { p50: number | null; p95: number | null };
  /** The tenant's tasks queued and running now; queued ones by priority level (0 critical … 4 background). */
  queue: { queued: number; running: number; queuedByPriority: Record<number, number> };
  /** The tenant's trace flags raised since `flagsSince`, by severity (1–10) and by type. */
  flags: { total: number; bySeverity: Record<string, number>; byType: Record<string, number> };
}

/** The overview's read, one per backend. */
export interface OverviewPort {
  tenantActivity(query: ActivityQuery): Promise<TenantActivity>;
}
