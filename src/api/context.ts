import type { Warden } from '../warden/index.js';
import type { WardenMetrics } from '../telemetry/index.js';
import type { KeyVerifier } from './keys.js';
import type { requireRole } from './auth.js';

/** What every route module gets: the Warden it serves and the auth guards. */
export interface ApiContext {
  warden: Warden;
  metrics: WardenMetrics;
  verifier: KeyVerifier;
  startedAt: number;
  viewer: ReturnType<typeof requireRole>;
  operator: ReturnType<typeof requireRole>;
  admin: ReturnType<typeof requireRole>;
  /** An installation-wide admin key (default tenant, `warden keys create --installation`). */
  installation: ReturnType<typeof requireRole>;
}
