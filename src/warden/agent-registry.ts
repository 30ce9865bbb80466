import {
  DEFAULT_TENANT,
  DEFAULT_BREAKER,
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  WardenError,
  agentKey,
  assertTenantSecrets,
  isSemver,
  parseMemoryPolicy,
  parseRollout,
  type AgentManifest,
  type BreakerPolicy,
  type MemoryInput,
  type ResourceLimits,
  type RetryPolicy,
  type RolloutInput,
} from '../core/index.js';
import {
  timedHealth,
  type AgentHealth,
  type AgentRuntime,
  type InlineHandler,
  type PreparedAgent,
  type RuntimeRegistry,
} from '../sandbox/index.js';
import { systemClock, type AgentDirectory, type Clock } from '../scheduler/index.js';
import { agentCodeDigest, materialiseAgentCode, type AgentCodeFile } from '../store/index.js';
import type { AgentPort, AgentRecord } from './agent-port.js';
import type { ShippableAgent } from '../edge/index.js';
import { DEFAULT_AGENT_CODE_MAX_BYTES, collectAgentFiles } from './agent-code.js';
import { compareVersions } from './version.js';

export interface HandlerOptions {
  /** @default '1.0.0' */
  version?: string;
  capabilities?: string[];
  description?: string;
  /** Requests this handler serves, in users' words: what semantic routing (`intent`) matches against. */
  examples?: string[];
  /** A canary rollout of this version against the previous one (docs/routing.md). */
  rollout?: RolloutInput;
  /** Tasks of this handler running at once in one session. @default 1000 */
  concurrency?: number;
  resources?: Partial<ResourceLimits>;
  retry?: Partial<RetryPolicy>;
  circuitBreaker?: Partial<BreakerPolicy>;
  /** The tenant whose sessions may run it. @default 'default' */
  tenant?: string;
  /** Visible to every tenant's sessions (default tenant only). @default false */
  shared?: boolean;
  /** Cortex memory: retrieval into the input and `remember` from the output (docs/memory.md). */
  memory?: MemoryInput;
}

/** Who registers a version: its tenant, and whether every tenant may use it. */
export interface RegisterOptions {
  /** @default 'default' (the library, the CLI, installation admins) */
  tenant?: string;
  /** Share with every tenant. Only versions of the default tenant can be shared. @default false */
  shared?: boolean;
}

interface Entry {
  manifest: AgentManifest;
  /** The registered code digest; what runs must still have it. */
  digest: string | null;
  shared: boolean;
  prepared?: Promise<PreparedAgent>;
  /** `prepared`'s outcome once it succeeded, for preparedNow(); cleared with it. */
  ready?: { manifest: AgentManifest; agent: PreparedAgent } | undefined;
  /** The manifest the runtime runs: `manifest`, or with baseDir at code materialised from the database. */
  run?: AgentManifest;
  /** The version's code as shipped to edge nodes. */
  shipped?: Promise<ShippableAgent>;
}

/**
 * Agent code in a shared database: registrations store the code (up to `maxBytes`) and a worker that lacks
 * a version's code materialises it under `<root>/agents/sha256-<digest>/`.
 */
export interface AgentCodeOptions {
  /** Whether the store is shared by processes on other machines (PostgreSQL). */
  shared: boolean;
  /** This process's storage root (where uploaded and fetched agent files live). */
  root: string;
  maxBytes: number;
  /** Directories never stored as agent code (the data directory, with its keys). */
  private?: readonly string[];
}

/** Runtimes that read the agent's files from disk at every run: their digest is checked before each run. */
const READS_CODE_EACH_RUN = new Set(['node', 'python', 'process']);

/**
 * The agent versions this process knows, which of them it can run, and name/capability resolution.
 * Versions belong to a tenant; a task resolves only its own tenant's versions and the shared ones.
 */
export class AgentRegistry implements AgentDirectory {
  private readonly entries = new Map<string, Entry>();
  private runnable: string[] = [];
  /** When each tenant's agent list was last read from the store (latestByName). */
  private readonly listedAt = new Map<string, number>();
  private runnableAdded: (() => void) | undefined;

  constructor(
    private readonly store: AgentPort,
    private readonly runtimes: RuntimeRegistry,
    /** The scheduler's clock: registration times come from the same source as every other timestamp. */
    private readonly clock: Clock = systemClock,
    private readonly code: AgentCodeOptions = { shared: false, root: '', maxBytes: 0 },
  ) {}

  /**
   * Registers a version. With `codeDir`, the code digest is computed from the files there (uploads still
   * in their staging directory) while the stored manifest keeps its own baseDir; `files` are those uploaded
   * files. On a shared store the code (uploaded, or the files under the manifest's baseDir) is stored in
   * the database before the version is, unless it is larger than the size cap.
   */
  async register(
    manifest: AgentManifest,
    options: RegisterOptions = {},
    codeDir?: string,
    files?: readonly AgentCodeFile[],
  ): Promise<AgentRecord> {
    const owned = withTenant(manifest, options);
    // Refused before anything is stored: a tenant's agent reads only the variables the installation lists.
    assertTenantSecrets(owned, process.env);
    const runtime = this.runtimes.get(owned);
    const digest = runtime.digest
      ? await runtime.digest(codeDir ? { ...owned, baseDir: codeDir } : owned).catch(notAFile)
      : null;
    if (digest && this.code.shared) await this.storeCode(owned, digest, files);
    const record = await this.store.putAgent(owned, digest, this.clock.now(), {
      shared: options.shared === true,
    });
    this.remember(record);
    return record;
  }

  /** Stores a version's code in the shared database (before the version itself: never a version without it). */
  private async storeCode(
    manifest: AgentManifest,
    moduleDigest: string,
    uploaded: readonly AgentCodeFile[] | undefined,
  ): Promise<void> {
    let files: readonly AgentCodeFile[] | null = null;
    if (uploaded)
      files = uploaded.reduce((n, f) => n + f.bytes.length, 0) <= this.code.maxBytes ? uploaded : null;
    else if (manifest.baseDir)
      files = await collectAgentFiles(manifest.baseDir, this.code.maxBytes, this.code.private ?? []);
    // Over the cap (local model weights, say): the version keeps its path, which every worker must have.
    if (!files) return;
    await this.store.putAgentCode(agentCodeDigest(files), files, this.clock.now(), {
      agentKey: agentKey(manifest),
      moduleDigest,
    });
  }

  async registerHandler(
    name: string,
    handler: InlineHandler,
    options: HandlerOptions = {},
  ): Promise<AgentRecord> {
    if (options.version !== undefined && !isSemver(options.version))
      throw new WardenError(
        'INVALID_INPUT',
        `Handler ${name}: version must be a semantic version such as 1.2.0, got ${JSON.stringify(options.version)}`,
        { details: { field: 'version' } },
      );
    const manifest = withTenant(
      {
        name,
        version: options.version ?? '1.0.0',
        ...(options.description ? { description: options.description } : {}),
        ...(options.examples ? { examples: options.examples } : {}),
        ...(options.rollout ? { rollout: parseRollout(options.rollout) } : {}),
        runtime: 'inline',
        capabilities: options.capabilities ?? [],
        resources: { ...DEFAULT_LIMITS, ...options.resources },
        network: { allow: [] },
        env: {},
        secrets: [],
        concurrency: options.concurrency ?? 1000,
        retry: { ...DEFAULT_RETRY, ...options.retry },
        circuitBreaker: { ...DEFAULT_BREAKER, ...options.circuitBreaker },
        ...(options.memory ? { memory: parseMemoryPolicy(options.memory) } : {}),
      },
      options,
    );
    // Store first: a conflicting version must not replace the registered handler.
    const record = await this.store.putAgent(manifest, null, this.clock.now(), {
      shared: options.shared === true,
    });
    const key = agentKey(manifest);
    this.runtimes.inline.register(key, handler);
    const entry = this.entries.get(key);
    if (entry) {
      entry.prepared = undefined; // the next run uses the handler just registered
      entry.ready = undefined;
    }
    this.remember(record, true);
    return record;
  }

  private remember(
    record: Pick<AgentRecord, 'manifest' | 'moduleDigest' | 'shared'>,
    recompute = false,
  ): void {
    const key = agentKey(record.manifest);
    const known = this.entries.get(key);
    if (known) known.shared = record.shared;
    if (known && !recompute) return;
    if (!known)
      this.entries.set(key, {
        manifest: record.manifest,
        digest: record.moduleDigest,
        shared: record.shared,
      });
    const before = this.runnable.length;
    this.runnable = [...this.entries.values()]
      .filter((e) => e.manifest.runtime !== 'inline' || this.runtimes.inline.has(agentKey(e.manifest)))
      .map((e) => agentKey(e.manifest));
    if (this.runnable.length > before) this.runnableAdded?.();
  }

  /**
   * Called when a version becomes runnable here (registered, or its inline handler was): tasks of it may
   * already be queued, and a claim loop that found nothing to run must look again now, not a poll later.
   */
  onRunnableAdded(listener: () => void): void {
    this.runnableAdded = listener;
  }

  runnableKeys(): readonly string[] {
    return this.runnable;
  }

  manifest(key: string): AgentManifest | undefined {
    return this.entries.get(key)?.manifest;
  }

  async refresh(): Promise<void> {
    for (const record of await this.store.listAgents()) {
      if (!this.entries.has(record.key) && this.canRun(record.manifest)) this.remember(record);
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
    const preparing = (entry.prepared ??= this.prepareVerified(entry));
    try {
      const ready = { manifest: entry.manifest, agent: await preparing };
      // Only if nothing replaced the preparation meanwhile (a handler registered again).
      if (entry.prepared === preparing) entry.ready = ready;
      return ready;
    } catch (err) {
      if (entry.prepared === preparing) entry.prepared = undefined; // a later attempt tries again (a missing file may be restored)
      throw err;
    }
  }

  /** prepared(key) without waiting, when it is already done: undefined before that. */
  preparedNow(key: string): { manifest: AgentManifest; agent: PreparedAgent } | undefined {
    return this.entries.get(key)?.ready;
  }

  /**
   * A version's manifest and code files, to run on an edge node: the files of its directory (from the
   * database's copy on a shared store when this machine lacks them), checked against the registered digest
   * first, so an edge never runs code other than what was registered. Cached per version.
   */
  async shippable(key: string): Promise<ShippableAgent> {
    const entry = this.entries.get(key) ?? (await this.load(key));
    entry.shipped ??= (async () => {
      const runtime = this.runtimes.get(entry.manifest);
      if (entry.digest && runtime.digest) {
        if (this.code.shared && !entry.run) await this.locateCode(entry, runtime);
        await this.checkDigest(entry, runtime);
      }
      const dir = (entry.run ?? entry.manifest).baseDir;
      const files = dir
        ? await collectAgentFiles(
            dir,
            this.code.maxBytes || DEFAULT_AGENT_CODE_MAX_BYTES,
            this.code.private ?? [],
          )
        : null;
      return {
        manifest: entry.manifest,
        moduleDigest: entry.digest,
        codeDigest: files ? agentCodeDigest(files) : null,
        files,
      };
    })();
    try {
      return await entry.shipped;
    } catch (err) {
      entry.shipped = undefined;
      throw err;
    }
  }

  /**
   * Prepares a version only if its code still has the digest it was registered with, and, for runtimes
   * that read their files at every run, checks again before each run: a version is immutable, so edited
   * code never runs under the old version's name (and provenance) — it needs a new version.
   */
  private async prepareVerified(entry: Entry): Promise<PreparedAgent> {
    const runtime = this.runtimes.get(entry.manifest);
    const check = entry.digest && runtime.digest ? () => this.checkDigest(entry, runtime) : undefined;
    if (check && this.code.shared && !entry.run) await this.locateCode(entry, runtime);
    if (check) await check(); // no extra turn of the event loop when there is nothing to check
    const agent = await runtime.prepare(entry.run ?? entry.manifest);
    if (!check || !READS_CODE_EACH_RUN.has(entry.manifest.runtime)) return agent;
    return {
      ...(agent.isolation ? { isolation: agent.isolation } : {}),
      run: async (inputJson, ctx) => {
        await check();
        return agent.run(inputJson, ctx);
      },
      ...(agent.dispose ? { dispose: () => agent.dispose!() } : {}),
    };
  }

  /**
   * On a shared store: runs a version from its registered path when the code there has the registered
   * digest (code there that differs is AGENT_VERSION_CONFLICT), else, when it is not here, from the copy in
   * the database, materialised under this process's storage root (and
   * checked: stored code whose digest differs is AGENT_VERSION_CONFLICT). Without a copy (code over the size
   * cap, or registered before the database held code) the code must be at its path on every worker.
   */
  private async locateCode(entry: Entry, runtime: AgentRuntime): Promise<void> {
    const key = agentKey(entry.manifest);
    let local: string | null = null;
    let problem: unknown;
    try {
      local = await runtime.digest!(entry.manifest);
    } catch (err) {
      problem = err;
    }
    if (local === entry.digest) {
      entry.run = entry.manifest;
      return;
    }
    // The code is here but differs from what was registered (edited without a new version): checkDigest
    // refuses it with AGENT_VERSION_CONFLICT, as on one machine, rather than quietly run the stored copy.
    if (problem === undefined) return;
    const codeDigest = await this.store.agentCodeFor({ agentKey: key, moduleDigest: entry.digest! });
    if (!codeDigest) {
      throw new WardenError(
        'AGENT_CODE_UNAVAILABLE',
        `This worker cannot find the code of ${key} (${problem instanceof Error ? problem.message : String(problem)}) and the database holds no copy of it: code larger than the size cap (WARDEN_AGENT_CODE_MAX_BYTES, such as local model weights) or registered before the database stored code must be present at the same path on every worker`,
        { cause: problem, details: { agent: key, registeredDigest: entry.digest } },
      );
    }
    const dir = await materialiseAgentCode(
      this.code.root,
      codeDigest,
      () => this.store.getAgentCode(codeDigest),
      key,
    );
    entry.run = { ...entry.manifest, baseDir: dir };
  }

  private async checkDigest(entry: Entry, runtime: AgentRuntime): Promise<void> {
    const now = await runtime.digest!(entry.run ?? entry.manifest);
    if (now === entry.digest) return;
    const key = agentKey(entry.manifest);
    throw new WardenError(
      'AGENT_VERSION_CONFLICT',
      `The code of ${key} changed after it was registered (registered sha256 ${entry.digest?.slice(0, 12)}…, now ${now?.slice(0, 12) ?? 'none'}…): it will not run under that version. Restore the code, or bump metadata.version in agent.yaml and register the new version.`,
      { details: { agent: key, registeredDigest: entry.digest, digest: now } },
    );
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
    this.remember(record);
    return this.entries.get(key)!;
  }

  /**
   * Resolves `name`, `name@version` or a capability to one version `tenant` may use: its own versions,
   * else the shared ones (a tenant's own versions of a name shadow shared versions of that name). The
   * exact version, else the highest version of that name, else the highest version of the first agent
   * (by name) offering the capability. Another tenant's versions are never candidates: asking for one
   * is AGENT_NOT_FOUND, exactly as for a name nobody registered.
   */
  async resolve(
    ref: { agent?: string; capability?: string },
    tenant: string = DEFAULT_TENANT,
  ): Promise<AgentManifest> {
    const notFound = (what: string) =>
      new WardenError('AGENT_NOT_FOUND', what, { details: { agent: ref.agent } });
    const agent = ref.agent === undefined ? undefined : ownRef(ref.agent, tenant);
    if (ref.agent !== undefined && agent === undefined) throw notFound(`No agent ${ref.agent} is registered`);
    await this.refreshIfMissing(agent !== undefined ? { agent } : ref, tenant);
    const { own, shared } = this.visible(tenant);
    if (agent !== undefined) {
      const at = agent.lastIndexOf('@');
      if (at > 0) {
        const [name, version] = [agent.slice(0, at), agent.slice(at + 1)];
        const exact = [...own, ...shared].find((m) => m.name === name && m.version === version);
        if (exact) return exact;
        throw notFound(`No agent ${ref.agent} is registered`);
      }
      const mine = own.filter((m) => m.name === agent);
      const best = highest(mine.length > 0 ? mine : shared.filter((m) => m.name === agent));
      if (best) return best;
      throw notFound(`No agent named ${ref.agent} is registered; register its agent.yaml first`);
    }
    const offering = (list: AgentManifest[]) =>
      list.filter((m) => m.capabilities.includes(ref.capability ?? ''));
    const candidates = offering(own).length > 0 ? offering(own) : offering(shared);
    const firstName = candidates.map((m) => m.name).sort()[0];
    const best = highest(candidates.filter((m) => m.name === firstName));
    if (best) return best;
    throw new WardenError('AGENT_NOT_FOUND', `No registered agent offers capability ${ref.capability}`, {
      details: { capability: ref.capability },
    });
  }

  /**
   * The highest version of every agent name `tenant` may use (its own names shadow shared ones): what
   * semantic routing chooses among. Reads the store's list at most once a second, so versions registered
   * by other processes become candidates too.
   */
  async latestByName(tenant: string = DEFAULT_TENANT): Promise<AgentManifest[]> {
    const now = Date.now();
    const last = this.listedAt.get(tenant) ?? 0;
    if (now - last >= 1000) {
      this.listedAt.set(tenant, now);
      await this.reload(tenant);
    }
    const { own, shared } = this.visible(tenant);
    const byName = new Map<string, AgentManifest[]>();
    for (const m of own) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
    for (const m of shared)
      if (!own.some((o) => o.name === m.name)) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
    return [...byName.values()].map((versions) => highest(versions)!);
  }

  /** Every version this process knows of `manifest`'s agent (same tenant and name), highest first. */
  versionsOf(manifest: AgentManifest): AgentManifest[] {
    const owner = ownerOf(manifest);
    return [...this.entries.values()]
      .map((e) => e.manifest)
      .filter((m) => m.name === manifest.name && ownerOf(m) === owner)
      .sort((a, b) => compareVersions(b.version, a.version));
  }

  /** The versions `tenant` may use: its own, and (other tenants) the shared versions of the default tenant. */
  private visible(tenant: string): { own: AgentManifest[]; shared: AgentManifest[] } {
    const own: AgentManifest[] = [];
    const shared: AgentManifest[] = [];
    for (const e of this.entries.values()) {
      if (ownerOf(e.manifest) === tenant) own.push(e.manifest);
      else if (e.shared) shared.push(e.manifest);
    }
    return { own, shared };
  }

  private async refreshIfMissing(
    ref: { agent?: string; capability?: string },
    tenant: string,
  ): Promise<void> {
    const { own, shared } = this.visible(tenant);
    const known = [...own, ...shared].some((m) =>
      ref.agent
        ? m.name === ref.agent || `${m.name}@${m.version}` === ref.agent
        : m.capabilities.includes(ref.capability ?? ''),
    );
    if (known) return;
    await this.reload(tenant);
  }

  /** Re-reads the versions `tenant` may use from the store (others' registrations). */
  private async reload(tenant: string): Promise<void> {
    for (const record of await this.store.listAgents({ tenant })) {
      const entry = this.entries.get(record.key);
      if (entry) entry.shared = record.shared;
      else
        this.entries.set(record.key, {
          manifest: record.manifest,
          digest: record.moduleDigest,
          shared: record.shared,
        });
    }
    this.runnable = [...this.entries.values()]
      .filter((e) => this.canRun(e.manifest))
      .map((e) => agentKey(e.manifest));
  }
}

/** The tenant a version belongs to. */
export function ownerOf(manifest: AgentManifest): string {
  return manifest.tenant ?? DEFAULT_TENANT;
}

/** The manifest as registered by `options.tenant`; sharing is for the default tenant's versions only. */
function withTenant(manifest: AgentManifest, options: RegisterOptions): AgentManifest {
  const tenant = options.tenant ?? DEFAULT_TENANT;
  if (options.shared && tenant !== DEFAULT_TENANT) {
    throw new WardenError(
      'FORBIDDEN',
      `Only installation-wide agents (tenant ${DEFAULT_TENANT}) can be shared; ${tenant}'s agents stay its own`,
    );
  }
  const { tenant: _ignored, ...rest } = manifest;
  return tenant === DEFAULT_TENANT ? rest : { ...rest, tenant };
}

/**
 * A reference as `tenant` wrote it, without its own tenant prefix (`acme/echo@1` from acme is `echo@1`);
 * undefined for another tenant's prefix, which resolves to nothing.
 */
function ownRef(ref: string, tenant: string): string | undefined {
  const slash = ref.indexOf('/');
  if (slash < 0) return ref;
  return ref.slice(0, slash) === tenant ? ref.slice(slash + 1) : undefined;
}

function highest(manifests: AgentManifest[]): AgentManifest | undefined {
  return manifests.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** `active`: new tasks naming the agent go here; `draining`: an older version finishing its tasks; `idle`: older, nothing queued or running. */
export type AgentVersionState = 'active' | 'draining' | 'idle';

/**
 * The state of every registered version, for `warden agents list`: the highest version of each name is
 * active (with a canary rollout in progress, the stable version too; once rolled back, only the stable
 * version); an older one is draining while it has queued or running tasks (pinned `name@version` or
 * submitted before the newer version was registered), else idle.
 * @example versionStates(await warden.listAgents(), counts) // counts: agentKey → queued + running tasks
 */
export function versionStates(
  records: readonly { key: string; manifest: AgentManifest }[],
  inFlight: ReadonlyMap<string, number>,
  rollouts: readonly { canaryKey: string; stableKey: string; state: string }[] = [],
): { key: string; state: AgentVersionState; inFlight: number }[] {
  // A canary in progress shares new tasks with its stable version; a rolled-back one hands them back.
  const takesNew = new Set<string>();
  const handedBack = new Set<string>();
  for (const r of rollouts) {
    if (r.state === 'canary' || r.state === 'rolled-back') takesNew.add(r.stableKey);
    if (r.state === 'rolled-back') handedBack.add(r.canaryKey);
  }
  // Versions are compared within one tenant's name: two tenants' `echo` are two agents.
  const best = new Map<string, AgentManifest>();
  const nameOf = (m: AgentManifest) => `${ownerOf(m)}/${m.name}`;
  for (const { manifest } of records) {
    const top = best.get(nameOf(manifest));
    if (!top || compareVersions(manifest.version, top.version) > 0) best.set(nameOf(manifest), manifest);
  }
  return records.map(({ key, manifest }) => {
    const n = inFlight.get(key) ?? 0;
    const highest = best.get(nameOf(manifest)) === manifest && !handedBack.has(key);
    const state = highest || takesNew.has(key) ? 'active' : n > 0 ? 'draining' : 'idle';
    return { key, state, inFlight: n };
  });
}

/** A manifest path that names a directory where a file belongs (`entry: ./`) is the manifest's fault. */
function notAFile(err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EISDIR' || code === 'ENOTDIR')
    throw new WardenError(
      'INVALID_MANIFEST',
      `The manifest names a directory where a file belongs: ${(err as Error).message}`,
      { details: { reason: code } },
    );
  throw err;
}
