import { WardenError } from '../../core/index.js';
import type { Store } from '../store.js';

/** How to reach and use the shared PostgreSQL database (issue 13: the scale-out backend). */
export interface PostgresStoreOptions {
  /** A libpq connection string, e.g. postgres://user@127.0.0.1:5432/warden */
  url: string;
  /**
   * Directory holding this node's own Ed25519 tree-head key (created on first use, owner-only). Each node
   * registers its public key in the database; verify accepts heads signed by any registered, unrevoked key.
   */
  keyDir: string;
  /** Stable name of this node in the cluster (defaults to hostname and pid). */
  nodeName?: string;
  pool?: { max?: number; idleTimeoutMs?: number; connectionTimeoutMs?: number };
  /** Server-side statement_timeout for every connection. @default 30000 */
  statementTimeoutMs?: number;
  /** Apply pending migrations on open (the embedded default); false requires `warden migrate` first. @default true */
  migrate?: boolean;
}

/** Opens the PostgreSQL store. Placeholder until the backend lands (issue 13). */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  throw new WardenError(
    'STORAGE_ERROR',
    `The PostgreSQL backend is not available in this build (asked for ${options.url.replace(/:[^:@/]*@/, ':***@')}).`,
  );
}
