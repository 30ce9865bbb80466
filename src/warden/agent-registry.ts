import {
  DEFAULT_BREAKER,
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  WardenError,
  agentKey,
  type AgentManifest,
  type BreakerPolicy,
  type ResourceLimits,
  type RetryPolicy,
} from '../core/index.js';
import {
  timedHealth,
  type AgentHealth,
  type InlineHandler,
  type PreparedAgent,
  type RuntimeRegistry,
} from '../sandbox/index.js';
import type { AgentDirectory } from '../scheduler/index.js';
import type { AgentRecord, Store } from '../store/index.js';
import { compareVersions } from './version.js';

export interface HandlerOptions {
  /** @default '1.0.0' */
  version?: string;
  capabilities?: string[];
  description?: string;
  /** Tasks of this handler running at once in one session. @default 1000 */
  concurrency?: number;
  resources?: Partial<ResourceLimits>;
  retry?: Partial<RetryPolicy>;
  circuitBreaker?: Partial<BreakerPolicy>;
}

interface Entry {
  manifest: AgentManifest;
  prepared?: Promise<PreparedAgent>;
}

/** The agent versions this process knows, which of them it can run, and name/capability resolution. */
export class AgentRegistry implements AgentDirectory {
  private readonly entries = new Map<string, Entry>();
  private runnable: string[] = [];

  constructor(
    private readonly store: Store,
    private readonly runtimes: RuntimeRegistry,
  ) {}

  async register(manifest: AgentManifest): Promise<AgentRecord> {
    const runtime = this.runtimes.get(manifest);
    const digest = runtime.digest ? await runtime.digest(manifest) : null;
    const record = await this.store.putAgent(manifest, digest, Date.now());
    this.remember(record.manifest);
    return record;
  }

  async registerHandler(
    name: string,
    handler: InlineHandler,
    options: HandlerOptions = {},
  ): Promise<AgentRecord> {
    const manifest: AgentManifest = {
      name,
      version: options.version ?? '1.0.0',
      ...(options.description ? { description: options.description } : {}),
      runtime: 'inline',
      capabilities: options.capabilities ?? [],
      resources: { ...DEFAULT_LIMITS, ...options.resources },
      network: { allow: [] },
      env: {},
      secrets: [],
      concurrency: options.concurrency ?? 1000,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      circuitBreaker: { ...DEFAULT_BREAKER, ...options.circuitBreaker },
    };
    // Store first: a conflicting version must not replace the registered handler.
    const record = await this.store.putAgent(manifest, null, Date.now());
    const key = agentKey(manifest);
    this.runtimes.inline.register(key, handler);
    const entry = this.entries.get(key);
    if (entry) entry.prepared = undefined; // the next run uses the handler just registered
    this.remember(record.manifest, true);
    return record;
  }

  private remember(manifest: AgentManifest, recompute = false): void {
    const key = agentKey(manifest);
    if (this.entries.has(key) && !recompute) return;
    if (!this.entries.has(key)) this.entries.set(key, { manifest });
    this.runnable = [...this.entries.values()]
      .filter((e) => e.manifest.runtime !== 'inline' || this.runtimes.inline.has(agentKey(e.manifest)))
      .map((e) => agentKey(e.manifest));
  }

  runnableKeys(): readonly string[] {
    return this.runnable;
  }

  manifest(key: string): AgentManifest | undefined {
    return this.entries.get(key)?.manifest;
  }

  async refresh(): Promise<void> {
    for (const record of await this.store.listAgents()) {
      if (!this.entries.has(record.key) && this.canRun(record.manifest)) this.remember(record.manifest);
    }
  }

  private canRun(manifest: AgentManifest): boolean {
    if (manifest.runtime === 'inline') return this.runtimes.inline.has(agentKey(manifest));
    try {
      this.runtimes.get(manifest);
      return true;
    } catch {
      return false;
    }
  }

  async prepared(key: string): Promise<{ manifest: AgentManifest; agent: PreparedAgent }> {
    const entry = this.entries.get(key) ?? (await this.load(key));
    entry.prepared ??= this.runtimes.get(entry.manifest).prepare(entry.manifest);
    try {
      return { manifest: entry.manifest, agent: await entry.prepared };
    } catch (err) {
      entry.prepared = undefined; // let a later attempt try again (a missing file may be restored)
      throw err;
    }
  }

  /**
   * Checks that an agent version can run here without running a task: the runtime's own probe (an LLM
   * endpoint answers, a local model loads), else that it prepares (module compiles, entry file exists).
   */
  health(manifest: AgentManifest, signal: AbortSignal): Promise<AgentHealth> {
    return timedHealth(`prepare (${manifest.runtime})`, async () => {
      const runtime = this.runtimes.get(manifest);
      if (runtime.health) return runtime.health(manifest, signal);
      await this.prepared(agentKey(manifest));
    });
  }

  private async load(key: string): Promise<Entry> {
    const record = await this.store.getAgent(key);
    if (!record)
      throw new WardenError('AGENT_NOT_FOUND', `No agent ${key} is registered`, { details: { agent: key } });
    this.remember(record.manifest);
    return this.entries.get(key)!;
  }

  /**
   * Resolves `name`, `name@version` or a capability to one registered version: the exact version, else
   * the highest version of that name, else the highest version of the first agent (by name) offering it.
   */
  async resolve(ref: { agent?: string; capability?: string }): Promise<AgentManifest> {
    await this.refreshIfMissing(ref);
    const all = [...this.entries.values()].map((e) => e.manifest);
    if (ref.agent) {
      const at = ref.agent.lastIndexOf('@');
      if (at > 0) {
        const exact = this.entries.get(ref.agent);
        if (exact) return exact.manifest;
        throw new WardenError('AGENT_NOT_FOUND', `No agent ${ref.agent} is registered`, {
          details: { agent: ref.agent },
        });
      }
      const versions = all.filter((m) => m.name === ref.agent);
      const best = highest(versions);
      if (best) return best;
      throw new WardenError(
        'AGENT_NOT_FOUND',
        `No agent named ${ref.agent} is registered; register its agent.yaml first`,
        {
          details: { agent: ref.agent },
        },
      );
    }
    const offering = all.filter((m) => m.capabilities.includes(ref.capability ?? ''));
    const firstName = offering.map((m) => m.name).sort()[0];
    const best = highest(offering.filter((m) => m.name === firstName));
    if (best) return best;
    throw new WardenError('AGENT_NOT_FOUND', `No registered agent offers capability ${ref.capability}`, {
      details: { capability: ref.capability },
    });
  }

  private async refreshIfMissing(ref: { agent?: string; capability?: string }): Promise<void> {
    const known = [...this.entries.values()].some((e) =>
      ref.agent
        ? e.manifest.name === ref.agent || agentKey(e.manifest) === ref.agent
        : e.manifest.capabilities.includes(ref.capability ?? ''),
    );
    if (known) return;
    for (const record of await this.store.listAgents()) {
      if (!this.entries.has(record.key)) this.entries.set(record.key, { manifest: record.manifest });
    }
    this.runnable = [...this.entries.values()]
      .filter((e) => this.canRun(e.manifest))
      .map((e) => agentKey(e.manifest));
  }
}

function highest(manifests: AgentManifest[]): AgentManifest | undefined {
  return manifests.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** `active`: new tasks naming the agent go here; `draining`: an older version finishing its tasks; `idle`: older, nothing queued or running. */
export type AgentVersionState = 'active' | 'draining' | 'idle';

/**
 * The state of every registered version, for `warden agents list`: the highest version of each name is
 * active; an older one is draining while it has queued or running tasks (pinned `name@version` or
 * submitted before the newer version was registered), else idle.
 * @example versionStates(await warden.listAgents(), counts) // counts: agentKey → queued + running tasks
 */
export function versionStates(
  records: readonly { key: string; manifest: AgentManifest }[],
  inFlight: ReadonlyMap<string, number>,
): { key: string; state: AgentVersionState; inFlight: number }[] {
  const best = new Map<string, AgentManifest>();
  for (const { manifest } of records) {
    const top = best.get(manifest.name);
    if (!top || compareVersions(manifest.version, top.version) > 0) best.set(manifest.name, manifest);
  }
  return records.map(({ key, manifest }) => {
    const n = inFlight.get(key) ?? 0;
    const state = best.get(manifest.name) === manifest ? 'active' : n > 0 ? 'draining' : 'idle';
    return { key, state, inFlight: n };
  });
}
