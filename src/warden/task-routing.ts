import { WardenError, agentKey, type AgentManifest, type Session } from '../core/index.js';
import {
  HashEmbedder,
  RolloutRouter,
  SemanticRouter,
  openEmbedder,
  type Embedder,
  type EmbeddingsOptions,
  type RolloutPort,
  type RolloutRecord,
  type RouteExplanation,
  type VersionOutcomes,
} from '../routing/index.js';
import type { AgentRegistry } from './agent-registry.js';
import type { KpiPort } from './kpi-port.js';

export interface RoutingOptions {
  /** The embeddings semantic routing compares intents with. @default the built-in hashed n-grams */
  embeddings?: EmbeddingsOptions;
  /** Similarity below which an intent matches no agent (NO_MATCHING_AGENT). @default 0.2 */
  threshold?: number;
  /** How much a version's past success moves the ranking (0: not at all). @default 0.2 */
  fitnessWeight?: number;
  /** The source of chance for canary routing; seed it for reproducible decisions. @default Math.random */
  random?: () => number;
  /** How long version outcomes (KPIs) are reused between routing decisions. @default 1000 */
  outcomeCacheMs?: number;
}

/** The past success that weighs in intent routing: the last day's tasks of each version. */
const FITNESS_WINDOW_MS = 86_400_000;
const FITNESS_CACHE_MS = 10_000;

/** How many nearest candidates a NO_MATCHING_AGENT error names. */
const NEAREST = 3;

/**
 * Which agent version a submit runs: a named agent's highest version, or by intent the best semantic
 * match; then, when that version is a canary, the rollout's choice between it and the version below.
 */
export class TaskRouting {
  private semantic: Promise<SemanticRouter> | undefined;
  private readonly rollouts: RolloutRouter;
  private readonly outcomeCache = new Map<string, { at: number; since: number; outcomes: VersionOutcomes }>();
  private readonly cacheMs: number;

  constructor(
    private readonly agents: AgentRegistry,
    private readonly store: RolloutPort & Pick<KpiPort, 'agentKpis'>,
    private readonly now: () => number,
    private readonly options: RoutingOptions = {},
  ) {
    this.cacheMs = options.outcomeCacheMs ?? 1000;
    this.rollouts = new RolloutRouter(store, (keys, since) => this.outcomes(keys, since), now, {
      ...(options.random ? { random: options.random } : {}),
      outcomeCacheMs: 0, // outcomes() caches
    });
  }

  /** The semantic router, with its embedder opened on first use (a local model loads only if routing is used). */
  private router(): Promise<SemanticRouter> {
    this.semantic ??= (async () => {
      const embedder: Embedder = this.options.embeddings
        ? await openEmbedder(this.options.embeddings)
        : new HashEmbedder();
      return new SemanticRouter(embedder, {
        ...(this.options.threshold !== undefined ? { threshold: this.options.threshold } : {}),
        ...(this.options.fitnessWeight !== undefined ? { fitnessWeight: this.options.fitnessWeight } : {}),
      });
    })();
    this.semantic.catch(() => (this.semantic = undefined));
    return this.semantic;
  }

  /** Scores every agent `tenant` may use against `intent`, best first (`warden route explain`). */
  async explain(intent: string, tenant: string): Promise<RouteExplanation> {
    const text = intent.trim();
    if (text.length === 0 || text.length > 2000)
      throw new WardenError('INVALID_INPUT', 'intent must be 1 to 2000 characters of text', {
        details: { field: 'intent' },
      });
    const latest = await this.agents.latestByName(tenant);
    const outcomes = await this.outcomes(
      latest.map((m) => agentKey(m)),
      // Whole minutes, so that consecutive decisions share one cached read.
      Math.floor((this.now() - FITNESS_WINDOW_MS) / 60_000) * 60_000,
      // Fitness only nudges the ranking: a day's figures a few seconds old are as good, and cheaper.
      Math.max(this.cacheMs, FITNESS_CACHE_MS),
    );
    const router = await this.router();
    return router.explain(
      text,
      latest.map((manifest) => {
        const o = outcomes.get(agentKey(manifest));
        return {
          key: agentKey(manifest),
          manifest,
          ...(o ? { history: { finished: o.succeeded + o.failed, succeeded: o.succeeded } } : {}),
        };
      }),
    );
  }

  /** The agent an intent routes to, or NO_MATCHING_AGENT naming the nearest candidates. */
  async byIntent(intent: string, tenant: string): Promise<AgentManifest> {
    const route = await this.explain(intent, tenant);
    if (!route.chosen) {
      const nearest = route.candidates
        .slice(0, NEAREST)
        .map((c) => ({ agent: c.agent, similarity: round(c.similarity) }));
      throw new WardenError(
        'NO_MATCHING_AGENT',
        nearest.length === 0
          ? 'No agent is registered to route this intent to: register one (warden agents register agent.yaml)'
          : `No agent matches the intent closely enough (threshold ${route.threshold}); nearest: ${nearest.map((n) => `${n.agent} ${n.similarity}`).join(', ')}. Name the agent, or add examples to its agent.yaml (metadata.examples)`,
        { details: { intent: route.intent, threshold: route.threshold, nearest } },
      );
    }
    const manifest = this.agents.manifest(route.chosen.agent);
    return manifest!;
  }

  /**
   * The version a task resolved to `manifest` (by name without a version, by capability or by intent)
   * runs on: `manifest` itself unless it is a canary of a rollout (docs/routing.md).
   */
  async version(
    manifest: AgentManifest,
    session: Session,
  ): Promise<{ manifest: AgentManifest; rollout?: RolloutRecord }> {
    if (!manifest.rollout) return { manifest };
    const versions = this.agents.versionsOf(manifest);
    const at = versions.findIndex((m) => m.version === manifest.version);
    const chosen = await this.rollouts.choose(versions.slice(at), session.tenant, session.id);
    return { manifest: chosen.manifest, ...(chosen.decided ? { rollout: chosen.decided } : {}) };
  }

  /** Canary rollouts and their outcome. */
  listRollouts(filter: { tenant?: string; name?: string }): Promise<RolloutRecord[]> {
    return this.store.listRollouts(filter);
  }

  /**
   * Finished-task outcomes by version of the tasks submitted since `since`, from the KPIs, reused for
   * `outcomeCacheMs` (a window, not the whole history: the KPI read costs ~0.2 s per 100k tasks).
   */
  private async outcomes(
    keys: readonly string[],
    since: number,
    cacheMs = this.cacheMs,
  ): Promise<Map<string, VersionOutcomes>> {
    const now = this.now();
    const out = new Map<string, VersionOutcomes>();
    const stale = keys.filter((k) => {
      const hit = this.outcomeCache.get(k);
      if (hit && hit.since === since && now - hit.at < cacheMs) out.set(k, hit.outcomes);
      return !out.has(k);
    });
    if (stale.length === 0) return out;
    for (const kpi of await this.store.agentKpis({ agentKeys: stale, since })) {
      const outcomes = {
        succeeded: kpi.succeeded,
        failed: kpi.failed + kpi.quarantined,
        flagged: kpi.flaggedTasks,
      };
      this.outcomeCache.set(kpi.agent, { at: now, since, outcomes });
      out.set(kpi.agent, outcomes);
    }
    if (this.outcomeCache.size > 10_000) this.outcomeCache.clear();
    return out;
  }

  async close(): Promise<void> {
    const router = await this.semantic?.catch(() => undefined);
    await router?.embedder.close?.();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
