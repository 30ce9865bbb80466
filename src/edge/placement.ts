import { WardenError, type AgentManifest } from '../core/index.js';
import type { PreparedAgent } from '../sandbox/index.js';
import type { AgentDirectory } from '../scheduler/index.js';
import type { EdgeHub, ShippableAgent } from './control-plane.js';

/** Where the scheduler gets an agent version's code to ship to an edge. */
export interface ShippableSource {
  shippable(key: string): Promise<ShippableAgent>;
}

/**
 * The scheduler's agent directory with edge placement applied. An agent with `placement.edge: required`
 * is claimable here only while a capable edge is connected, and runs there; `allowed` runs on an edge when
 * one has a free slot, else here; `never` (the default) always runs here. The scheduler keeps the lease,
 * its heartbeats and fencing, the governance gate and the result path exactly as for a local run.
 */
export class EdgePlacementDirectory implements AgentDirectory {
  constructor(
    private readonly local: AgentDirectory & ShippableSource,
    private readonly hub: EdgeHub,
  ) {}

  runnableKeys(): readonly string[] {
    const keys = this.local.runnableKeys();
    let kept: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const m = this.local.manifest(keys[i]!);
      const skip = m?.placement?.edge === 'required' && !this.hub.canRun(m);
      if (skip && !kept) kept = keys.slice(0, i) as string[];
      else if (!skip && kept) kept.push(keys[i]!);
    }
    return kept ?? keys;
  }

  manifest(key: string): AgentManifest | undefined {
    return this.local.manifest(key);
  }

  refresh(): Promise<void> {
    return this.local.refresh();
  }

  /** A version placed `never` (the default) runs here as it is: the local directory's, when ready. */
  preparedNow(key: string): { manifest: AgentManifest; agent: PreparedAgent } | undefined {
    const manifest = this.local.manifest(key);
    if ((manifest?.placement?.edge ?? 'never') !== 'never') return undefined;
    return this.local.preparedNow?.(key);
  }

  async prepared(key: string): Promise<{ manifest: AgentManifest; agent: PreparedAgent }> {
    const manifest = this.local.manifest(key);
    const placement = manifest?.placement?.edge ?? 'never';
    if (!manifest || placement === 'never') return this.local.prepared(key);
    const onEdge = (inputJson: string, ctx: Parameters<PreparedAgent['run']>[1]) => {
      if (ctx.placement === 'never') throw placementConflict(key);
      return this.local.shippable(key).then((agent) => this.hub.run(agent, key, inputJson, ctx));
    };
    if (placement === 'required') return { manifest, agent: { isolation: 'edge', run: onEdge } };
    const local = await this.local.prepared(key);
    return {
      manifest: local.manifest,
      agent: {
        // The session decides first (required: an edge; never: here), then a free edge slot.
        run: (inputJson, ctx) =>
          ctx.placement === 'required' || (ctx.placement !== 'never' && this.hub.hasFreeSlot(local.manifest))
            ? onEdge(inputJson, ctx)
            : local.agent.run(inputJson, ctx),
        ...(local.agent.dispose ? { dispose: () => local.agent.dispose!() } : {}),
      },
    };
  }
}

function placementConflict(key: string): WardenError {
  return new WardenError(
    'INVALID_STATE',
    `${key} runs only on edge nodes (placement edge: required) and this task's session allows none (placement: never)`,
    { details: { agent: key } },
  );
}
