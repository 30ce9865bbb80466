import type { AgentManifest } from '../core/index.js';
import type { AgentCodeFile, AgentCodeVersion } from '../store/index.js';

export interface AgentRecord {
  key: string;
  manifest: AgentManifest;
  /** SHA-256 of the version's code (module, entry or command files, model weights); null for inline handlers. */
  moduleDigest: string | null;
  createdAt: number;
  /** The tenant that registered it ('default' for the library, the CLI and installation admins). */
  tenant: string;
  /** Visible to every tenant (only installation admins share agents). */
  shared: boolean;
}

/** Agent versions and their stored code, as the agent registry uses them. */
export interface AgentPort {
  /**
   * Registers an agent version in `manifest.tenant` (default tenant when unset). The same manifest and
   * code again is a no-op (with `shared`, it also shares the version); a different one is
   * AGENT_VERSION_CONFLICT.
   */
  putAgent(
    manifest: AgentManifest,
    moduleDigest: string | null,
    now: number,
    options?: { shared?: boolean },
  ): Promise<AgentRecord>;
  getAgent(key: string): Promise<AgentRecord | undefined>;
  /** Every version, or with `tenant` those it may use: its own and the shared ones. */
  listAgents(filter?: { tenant?: string }): Promise<AgentRecord[]>;

  /**
   * Stores agent files content-addressed by `digest` (see agentCodeDigest; a digest that does not match the
   * files is INVALID_INPUT) and, with `version`, records that this version runs from them, in one
   * transaction. Idempotent: the same files again change nothing, and a version's first record is kept.
   */
  putAgentCode(
    digest: string,
    files: readonly AgentCodeFile[],
    now: number,
    version?: AgentCodeVersion,
  ): Promise<void>;
  /** The files stored under `digest`, exactly as put (not verified here: the caller checks the digest). */
  getAgentCode(digest: string): Promise<AgentCodeFile[] | undefined>;
  /** The code digest recorded for a version (its key and registered module digest), if its code was stored. */
  agentCodeFor(version: AgentCodeVersion): Promise<string | undefined>;
}

/** An agent version as the API and MCP list it: the record's facts and its manifest's headline fields. */
export function agentListing({ key, manifest: m, moduleDigest, createdAt, tenant, shared }: AgentRecord) {
  return {
    key,
    name: m.name,
    version: m.version,
    ...(m.description ? { description: m.description } : {}),
    runtime: m.runtime,
    capabilities: m.capabilities,
    moduleDigest,
    tenant,
    shared,
    createdAt,
  };
}
