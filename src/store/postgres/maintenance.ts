import type { Store } from '../store.js';
import { MaintenanceLeader, type LeaderQuery, type MaintenanceDuty } from './maintenance-leader.js';

/** How a node takes part in the maintenance of its PostgreSQL database (see MaintenanceLeader). */
export interface MaintenanceOptions {
  /** How often a follower tries to become the leader (and the leader checks its lock connection). @default 2000 */
  retryMs?: number;
  /** How often the leader returns tasks whose lease ran out to the queue. @default 1000 */
  reapIntervalMs?: number;
}

/** Sessions signed per batch; a batch's sessions are signed SIGN_CONCURRENCY at a time. */
const SIGN_BATCH = 100;
const SIGN_CONCURRENCY = 4;
/** Reap batches per run (each up to the store's batch): a backlog is worked off without starving the rest. */
const REAP_ROUNDS = 10;
/** How long a closing leader may spend signing what is behind. */
const FINAL_BUDGET_MS = 10_000;

/**
 * Sessions whose chain head is past their latest signed tree head and whose head was signed no later than
 * $1 (ms), least recently signed first: one statement over the two one-row-per-session tables, so the
 * leader never walks every session itself.
 */
const BEHIND_SQL = `SELECT ph.session_id FROM provenance_heads ph
  LEFT JOIN tree_heads th ON th.session_id = ph.session_id
  WHERE ph.seq > coalesce(th.tree_size, 0) AND coalesce(th.signed_at, 0) <= $1
  ORDER BY coalesce(th.signed_at, 0), ph.session_id LIMIT $2`;

/**
 * The leader's duties: reaping expired leases for every worker, and signing (with this node's key) every
 * session whose chain grew past its signed head, whoever appended the records, a node killed since
 * included, at most once per `signIntervalMs` per session. Both are safe to run on two nodes at once:
 * reaping locks rows FOR UPDATE SKIP LOCKED and re-checks them; a stored head only ever grows.
 */
export function maintenanceDuties(
  store: Pick<Store, 'reapExpiredLeases' | 'signTreeHead'>,
  options: { signIntervalMs: number; reapIntervalMs?: number },
): MaintenanceDuty[] {
  const signEvery = Math.max(100, options.signIntervalMs);
  return [
    {
      name: 'reap expired leases',
      everyMs: Math.max(50, options.reapIntervalMs ?? 1000),
      run: async () => {
        for (let i = 0; i < REAP_ROUNDS && (await store.reapExpiredLeases(Date.now())) > 0; i++);
      },
    },
    {
      name: 'sign tree heads',
      everyMs: signEvery,
      // The last run before the leader lets go signs everything behind, however recently it was signed.
      run: (query, final) =>
        signBehind(store, query, final ? 0 : options.signIntervalMs, final ? FINAL_BUDGET_MS : signEvery),
    },
  ];
}

async function signBehind(
  store: Pick<Store, 'signTreeHead'>,
  query: LeaderQuery,
  intervalMs: number,
  budgetMs: number,
): Promise<void> {
  const started = Date.now();
  // A full batch means more are waiting: go on within the run's budget, the rest next run.
  for (;;) {
    const rows = await query<{ session_id: string }>(BEHIND_SQL, [Date.now() - intervalMs, SIGN_BATCH]);
    const ids = rows.map((r) => r.session_id);
    await Promise.all(
      Array.from({ length: SIGN_CONCURRENCY }, async () => {
        for (let id = ids.shift(); id !== undefined; id = ids.shift()) await store.signTreeHead(id);
      }),
    );
    if (rows.length < SIGN_BATCH || Date.now() - started > budgetMs) return;
  }
}

/** Starts contending for the maintenance lock of the database at `url` (see MaintenanceLeader). */
export function startMaintenance(
  store: Pick<Store, 'reapExpiredLeases' | 'signTreeHead'>,
  options: MaintenanceOptions & { url: string; nodeName: string; signIntervalMs: number },
): Promise<MaintenanceLeader> {
  return MaintenanceLeader.start({
    url: options.url,
    nodeName: options.nodeName,
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
    duties: maintenanceDuties(store, options),
  });
}
