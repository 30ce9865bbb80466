import { agentKey, type AgentManifest } from '../core/index.js';
import { decideCanary, type VersionOutcomes } from './canary.js';

export type RolloutState = 'canary' | 'promoted' | 'rolled-back';

/** A canary between two versions of one agent name, as the backend keeps it (every process routes alike). */
export interface RolloutRecord {
  tenant: string;
  name: string;
  canaryKey: string;
  stableKey: string;
  state: RolloutState;
  share: number;
  startedAt: number;
  decidedAt: number | null;
  reason: string | null;
}

/**
 * What rollouts need from a store. Each change appends its provenance record (`agent.rollout_started`,
 * `agent.rollout_promoted`, `agent.rollout_rolled_back`) to the chain of the session whose submit made it,
 * in the same transaction.
 */
export interface RolloutPort {
  getRollout(tenant: string, name: string, canaryKey: string): Promise<RolloutRecord | undefined>;
  listRollouts(filter: { tenant?: string; name?: string }): Promise<RolloutRecord[]>;
  /**
   * Starts a rollout (`state: 'canary'`: inserted unless one exists) or records its verdict (only while it is
   * still a canary: the first process to decide wins). Returns the rollout as stored afterwards.
   */
  recordRollout(
    rollout: RolloutRecord,
    sessionId: string,
    data: Record<string, unknown>,
  ): Promise<RolloutRecord>;
}

/** Finished-task outcomes per version key (from the KPIs), of tasks submitted at or after `since`. */
export type OutcomeSource = (keys: readonly string[], since: number) => Promise<Map<string, VersionOutcomes>>;

export interface RolloutRouterOptions {
  /** The source of chance for canary routing; seed it to make decisions reproducible. @default Math.random */
  random?: () => number;
  /** How long version outcomes are reused between routing decisions. @default 1000 */
  outcomeCacheMs?: number;
}

const NONE: VersionOutcomes = { succeeded: 0, failed: 0, flagged: 0 };

/**
 * Picks the version a task naming an agent without a version runs on, when the highest version declares a
 * canary rollout against the one below it; otherwise the highest version, as always.
 */
export class RolloutRouter {
  private readonly random: () => number;
  private readonly cacheMs: number;
  private readonly outcomeCache = new Map<string, { at: number; outcomes: Map<string, VersionOutcomes> }>();

  constructor(
    private readonly port: RolloutPort,
    private readonly outcomes: OutcomeSource,
    private readonly now: () => number,
    options: RolloutRouterOptions = {},
  ) {
    this.random = options.random ?? Math.random;
    this.cacheMs = options.outcomeCacheMs ?? 1000;
  }

  /**
   * `versions` are the tenant's versions of one name, highest first. Returns the version to run and, when
   * this call started or decided the rollout, the record it stored.
   */
  async choose(
    versions: readonly AgentManifest[],
    tenant: string,
    sessionId: string,
  ): Promise<{ manifest: AgentManifest; decided?: RolloutRecord }> {
    const [canary, stable] = versions;
    if (!canary?.rollout || !stable) return { manifest: canary! };
    const canaryKey = agentKey(canary);
    let rollout = await this.port.getRollout(tenant, canary.name, canaryKey);
    let decided: RolloutRecord | undefined;
    if (!rollout) {
      const started: RolloutRecord = {
        tenant,
        name: canary.name,
        canaryKey,
        stableKey: agentKey(stable),
        state: 'canary',
        share: canary.rollout.canary,
        startedAt: this.now(),
        decidedAt: null,
        reason: null,
      };
      rollout = await this.port.recordRollout(started, sessionId, {
        strategy: canary.rollout.strategy,
        minSamples: canary.rollout.minSamples,
      });
      decided = rollout;
    }
    const byKey = new Map(versions.map((v) => [agentKey(v), v]));
    const stableVersion = byKey.get(rollout.stableKey) ?? stable;
    if (rollout.state === 'promoted') return { manifest: canary, ...(decided ? { decided } : {}) };
    if (rollout.state === 'rolled-back') return { manifest: stableVersion, ...(decided ? { decided } : {}) };

    // Both versions are compared on the tasks since the canary started: the same period, the same traffic.
    const outcomes = await this.outcomesOf([canaryKey, rollout.stableKey], rollout.startedAt);
    const c = outcomes.get(canaryKey) ?? NONE;
    const s = outcomes.get(rollout.stableKey) ?? NONE;
    const decision = decideCanary(canary.rollout, c, s, this.random);
    if (decision.verdict) {
      const stored = await this.port.recordRollout(
        { ...rollout, state: decision.verdict.kind, decidedAt: this.now(), reason: decision.verdict.reason },
        sessionId,
        {
          canaryOutcomes: c,
          stableOutcomes: s,
          ...(decision.pCanaryBetter !== undefined ? { pCanaryBetter: decision.pCanaryBetter } : {}),
        },
      );
      // Another process may have decided first: follow what is stored.
      const manifest = stored.state === 'rolled-back' ? stableVersion : canary;
      return { manifest, decided: stored };
    }
    return {
      manifest: decision.route === 'canary' ? canary : stableVersion,
      ...(decided ? { decided } : {}),
    };
  }

  private async outcomesOf(keys: readonly string[], since: number): Promise<Map<string, VersionOutcomes>> {
    const id = `${since}\n${keys.join('\n')}`;
    const cached = this.outcomeCache.get(id);
    const now = this.now();
    if (cached && now - cached.at < this.cacheMs) return cached.outcomes;
    const outcomes = await this.outcomes(keys, since);
    this.outcomeCache.set(id, { at: now, outcomes });
    return outcomes;
  }
}
