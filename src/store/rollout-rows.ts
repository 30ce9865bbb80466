import type { RolloutRecord, RolloutState } from '../routing/index.js';
import type { AgentRolloutsTable } from './schema.js';

export function rowToRollout(r: AgentRolloutsTable): RolloutRecord {
  return {
    tenant: r.tenant,
    name: r.name,
    canaryKey: r.canary_key,
    stableKey: r.stable_key,
    state: r.state as RolloutState,
    share: Number(r.share),
    startedAt: Number(r.started_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    reason: r.reason,
  };
}
