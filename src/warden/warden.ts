import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import {
  CLOSED_BREAKER,
  DEFAULT_SESSION,
  DEFAULT_TENANT,
  WardenError,
  agentKey,
  breakerStatus,
  isTerminal,
  compilePrompt,
  normalizePrompt,
  parseManifest,
  validateSessionOptions,
  validateSubmit,
  type AgentManifest,
  type BreakerSnapshot,
  type BreakerStatus,
  type CompiledPrompt,
  type Session,
  type SessionOptions,
  type SubmitTask,
  type Task,
  type TaskResult,
} from '../core/index.js';
import {
  exportBundle,
  exportBundleStream,
  readTaskHistory,
  sha256Hex,
  type AnyProvenanceBundle,
  type BundleStream,
  type ChainVerification,
  type ExportKey,
  type LedgerPort,
  type SignedTreeHead,
  type TaskHistory,
} from '../provenance/index.js';
import type { ApiKeyPort } from '../api/index.js';
import type { AgentRecord } from './agent-port.js';
import {
  RuntimeRegistry,
  loadPriceTable,
  type AgentHealth,
  type InlineHandler,
  type LlmRuntimeOptions,
  type LocalModelOptions,
  type PriceTable,
} from '../sandbox/index.js';
import {
  ControlPlaneState,
  EdgeHub,
  EdgePlacementDirectory,
  type ConnectedEdge,
  type CreateInviteOptions,
  type EdgeHubOptions,
  type EdgeNodeInfo,
  type InviteGrant,
} from '../edge/index.js';
import { Governance, type GovernanceOptions } from '../governance/index.js';
import { Scheduler, type SchedulerOptions } from '../scheduler/index.js';
import {
  Cortex,
  WardenMemory,
  compileMemoryOptions,
  memoryDir,
  type MemoryOptions,
} from '../memory/index.js';
import {
  openBackend,
  type Backend,
  type ChangeFeed,
  type DeadLetter,
  type StoreStats,
  type LogLine,
  type MaintenanceOptions,
  type Store,
  type TaskFilter,
} from '../store/index.js';
import {
  AgentRegistry,
  versionStates,
  type AgentVersionState,
  type HandlerOptions,
  type RegisterOptions,
} from './agent-registry.js';
import { assertUploadPaths } from './upload-paths.js';
import { StagedAgentFiles } from './agent-files.js';
import { agentCodeMaxBytes } from './agent-code.js';
import type { DataDirectory } from './data-dir.js';
import { compileStorageOptions, type StorageOptions } from './storage-options.js';
import type { AgentKpi } from './kpi-port.js';
import { TaskRouting, type RoutingOptions } from './task-routing.js';
import { embeddingsOptionsFromEnv, type RolloutRecord, type RouteExplanation } from '../routing/index.js';
import { checkedFeedback, versionsNamed } from './kpis.js';
import { tenantOverview, type OverviewOptions, type TenantOverview } from './overview.js';
import type { SubmitTrace, TracingOptions, WardenTracing } from '../telemetry/index.js';

export interface WardenOptions {
  /** Edge-node timing: heartbeat interval and how long a disconnected edge's runs wait for it. */
  edge?: EdgeHubOptions;
  /**
   * Where the state lives: the embedded SQLite store under a data directory (the default), or a
   * PostgreSQL database shared by many processes (`{ postgres: url }`, or `STORAGE_BACKEND=postgres` with
   * `DATABASE_URL`). See docs/scaling.md.
   */
  storage?: StorageOptions;
  /** Run tasks in this process. false opens Warden for submitting and inspecting only. @default {} */
  workers?: SchedulerOptions | false;
  /**
   * On PostgreSQL, contend for the database's maintenance leadership: the one leader reaps expired leases
   * and signs the tree heads of every session for all nodes (docs/scaling.md). false: this process reaps
   * and signs its own commits as a lone node would. Ignored on SQLite.
   * @default true when workers run here (`workers` is not false)
   */
  maintenance?: boolean | MaintenanceOptions;
  /** Largest accepted task input, in bytes of JSON. @default 1048576 */
  maxInputBytes?: number;
  /** Governance policies and detectors (docs/governance.md). @default { policy: process.env.GOVERNANCE_POLICY ?? 'default' } */
  governance?: GovernanceOptions;
  /** LLM runtimes: the price table for cost accounting (docs/llm.md). */
  llm?: {
    /** USD per million tokens by `provider/model`. @default read from the file named by WARDEN_LLM_PRICES, else {} */
    prices?: PriceTable;
    /** Where API keys are read from. @default process.env */
    env?: NodeJS.ProcessEnv;
    /** Local GGUF models: llama.cpp threads per task. */
    local?: LocalModelOptions;
  };
  /**
   * Agent code in a shared (PostgreSQL) database: registrations store code up to `maxBytes` there, and a
   * worker without a version's files fetches them (docs/scaling.md). Larger code stays a path reference.
   */
  agentCode?: {
    /** @default process.env.WARDEN_AGENT_CODE_MAX_BYTES, else 67108864 (64 MiB) */
    maxBytes?: number;
  };
  /** Cortex memory: item limits and the embedding model (docs/memory.md). */
  memory?: MemoryOptions;
  /**
   * Semantic task matching (`submit({ intent })`) and canary rollouts: embeddings, the match threshold, and
   * the source of chance (docs/routing.md). @default embeddings from WARDEN_EMBEDDINGS, else built in
   */
  routing?: RoutingOptions;
  /**
   * OpenTelemetry traces of every task (docs/telemetry.md): off unless a provider is given here or the
   * standard variables name an exporter (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
   * false: off whatever the environment says.
   * @example Warden.open({ tracing: { tracerProvider } }) // an SDK TracerProvider with your exporter
   */
  tracing?: TracingOptions | false;
  sandbox?: {
    /**
     * Run process agents without bubblewrap when it is missing (a loud warning is printed): only for
     * trusted agents. @default process.env.WARDEN_UNSAFE_NO_SANDBOX === '1'
     */
    unsafeNoSandbox?: boolean;
  };
}

/** One agent version's health, as `warden agents health` prints it. */
export interface AgentHealthReport extends AgentHealth {
  agent: string;
  runtime: string;
  provider?: string;
  model?: string;
}

/** A registered agent version as operators see it (`warden agents list`, `GET /agents/status`). */
export interface AgentStatus extends AgentRecord {
  /** `active` gets new tasks; `draining` finishes its own; `idle` has nothing queued or running. */
  state: AgentVersionState;
  /** Its queued plus running tasks. */
  inFlight: number;
  /** Whether this process can run it (an inline handler runs only in the process that registered it). */
  runnable: boolean;
  /** Its circuit breaker as stored, whichever process opened it. */
  breaker: BreakerStatus;
}

/** One agent version's breaker reset: what it was (null: it was closed, nothing was reset). */
export interface BreakerReset {
  agent: string;
  previous: BreakerSnapshot | null;
}

/** A submitted task. `O` is the output type its result will have (see `result`). */
export interface SubmitReceipt<O = unknown> extends Task {
  /** True when an earlier task with the same idempotency key was returned instead of a new one. */
  deduplicated: boolean;
  /** Type only (never set): the output type, so `warden.result(receipt)` is typed. */
  readonly __output?: O;
}

/**
 * A registered agent version whose input and output types are known: what `registerHandler` returns.
 * Pass it as `agent` to `submit` and the input is checked and the result typed.
 * @example
 * const double = await warden.registerHandler('double', (i: { n: number }) => ({ n: i.n * 2 }));
 * const task = await warden.submit({ agent: double, input: { n: 21 } });
 * const r = await warden.result(task); // r.output: { n: number } when r.status is 'succeeded'
 */
export interface TypedAgent<I = unknown, O = unknown> extends AgentRecord {
  /** Type only (never set): the agent's input and output types. */
  readonly __types?: { input: I; output: O };
}

/** A submit that names its agent by a typed record (from `registerHandler` or `registerAgent`). */
export type TypedSubmitTask<I, O> = Omit<SubmitTask<I>, 'agent' | 'capability'> & {
  agent: TypedAgent<I, O>;
};

/**
 * The library entry point.
 * @example
 * const warden = await Warden.open({ storage: { root: './data' } });
 * await warden.registerHandler('double', (input: { n: number }) => ({ n: input.n * 2 }));
 * const task = await warden.submit({ agent: 'double', input: { n: 21 } });
 * console.log(await warden.result(task.id)); // { status: 'succeeded', output: { n: 42 }, ... }
 * await warden.close();
 */
export class Warden {
  private closed = false;
  private readonly sessionCache = new Map<string, Promise<Session>>();
  /** Policies, flags, quarantine release, merge validation and stats (src/governance). */
  governance!: Governance;
  /** The data directory in use, what chose it, and whether this open created its store. */
  dataDirectory!: DataDirectory;
  /** Edge nodes: invites, the connected nodes, revocation, and serving their connections (docs/edge.md). */
  edges!: EdgeNodes;
  /** Cortex memory of sessions and their agents: put, search, list, get, forget (docs/memory.md). */
  memory!: WardenMemory;
  private routing!: TaskRouting;
  private maintenance: Backend['maintenance'];
  /** Set only while tracing is on: submit and the scheduler then make spans. */
  private tracing: WardenTracing | undefined;

  private constructor(
    /** Directory of the embedded store (or on PostgreSQL, of the node key) and of uploaded agent files. */
    readonly storageRoot: string,
    /** Which backend holds the state: 'sqlite' (embedded) or 'postgres' (shared by many processes). */
    readonly backend: Backend['kind'],
    readonly store: Store,
    /**
     * Every process's task changes (PostgreSQL) or this process's (SQLite): what SSE streams and waits
     * follow, re-reading the store when told.
     */
    readonly changes: ChangeFeed,
    private readonly closeBackend: () => Promise<void>,
    /** The public half of this node's tree-head key (the backend's signer): what bundles name. */
    private readonly treeHeadKey: ExportKey,
    readonly scheduler: Scheduler,
    private readonly agents: AgentRegistry,
    private readonly runtimes: RuntimeRegistry,
    private readonly maxInputBytes: number,
    private readonly runsWorkers: boolean,
  ) {}

  static async open(options: WardenOptions = {}): Promise<Warden> {
    // The one place where the parts are assembled: the backend's store and feed, then what runs on them.
    const storage = compileStorageOptions(options.storage);
    const maintenance = options.maintenance ?? options.workers !== false;
    const backend = await openBackend(
      'postgres' in storage.backend && maintenance
        ? { postgres: { ...storage.backend.postgres, maintenance } }
        : storage.backend,
    );
    try {
      return await Warden.assemble(options, storage.directory, storage.root, backend);
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
  }

  private static async assemble(
    options: WardenOptions,
    directory: DataDirectory,
    root: string,
    backend: Backend,
  ): Promise<Warden> {
    const dataDir = directory.path;
    const runtimes = new RuntimeRegistry({
      ...(options.sandbox?.unsafeNoSandbox !== undefined
        ? { unsafeNoSandbox: options.sandbox.unsafeNoSandbox }
        : {}),
      // The store and the signing key are never visible to an agent, even one whose directory holds them.
      sandbox: { hiddenPaths: [...new Set([dataDir, root])] },
      llm: llmOptions(options.llm),
    });
    // What a Warden killed mid-task left behind (work directories, pids cgroups), if its owner is gone.
    await runtimes.sweepStale();
    const store = backend.store;
    const workerOptions = options.workers || {};
    const agents = new AgentRegistry(store, runtimes, workerOptions.clock, {
      shared: backend.kind === 'postgres',
      root: dataDir, // where uploads live too
      private: [...new Set([dataDir, root])],
      maxBytes: agentCodeMaxBytes(options.agentCode?.maxBytes),
    });
    // Edge nodes join this process's control plane; its identity, registry and invites live in <data>/edge.
    let edgeState: Promise<ControlPlaneState> | undefined;
    const openEdgeState = () => (edgeState ??= ControlPlaneState.open(join(dataDir, 'edge')));
    const hub = new EdgeHub(openEdgeState, options.edge);
    // Where a maintenance leader reaps for every node, this scheduler does not.
    const scheduler = new Scheduler(
      store,
      new EdgePlacementDirectory(agents, hub),
      backend.maintenance ? { ...workerOptions, reapLeases: false } : workerOptions,
      backend.feed,
    );
    agents.onRunnableAdded(() => scheduler.wake());
    const warden = new Warden(
      dataDir,
      backend.kind,
      store,
      backend.feed,
      () => backend.close(),
      { keyId: backend.signer.keyId, publicKeyPem: backend.signer.publicKeyPem },
      scheduler,
      agents,
      runtimes,
      options.maxInputBytes ?? 1024 * 1024,
      options.workers !== false,
    );
    warden.dataDirectory = directory;
    warden.maintenance = backend.maintenance;
    // Decided once: off, no tracing module is even loaded and the hot path makes no tracing call.
    warden.tracing = await openTracingIfWanted(options.tracing);
    scheduler.tracer = warden.tracing;
    warden.edges = new EdgeNodes(hub, openEdgeState);
    warden.governance = await Governance.open(store, options.governance);
    scheduler.gate = warden.governance.gate;
    const memoryLog = (message: string, cause?: unknown) =>
      console.warn(`[warden] ${message}${cause ? `: ${(cause as Error).message ?? String(cause)}` : ''}`);
    warden.memory = new WardenMemory(
      new Cortex({
        port: store.memories,
        dir: memoryDir(dataDir),
        clock: scheduler.options.clock,
        options: compileMemoryOptions(options.memory),
        log: memoryLog,
      }),
      (idOrName, tenant) => store.getSession(idOrName, tenant),
      (key) => agents.manifest(key),
      memoryLog,
    );
    scheduler.afterSucceeded = (t) => warden.memory.afterSucceeded(t);
    const embeddings = options.routing?.embeddings ?? embeddingsOptionsFromEnv(process.env);
    warden.routing = new TaskRouting(agents, store, () => scheduler.options.clock.now(), {
      ...options.routing,
      ...(embeddings ? { embeddings } : {}),
    });
    await warden.ensureSession({ name: DEFAULT_SESSION, maxConcurrency: 1000 });
    await agents.refresh();
    if (warden.runsWorkers) await scheduler.start();
    return warden;
  }

  /** Creates a session, or returns the existing one of that name. */
  async ensureSession(options: SessionOptions): Promise<Session> {
    const o = validateSessionOptions(options);
    const existing = await this.store.getSession(o.name, o.tenant);
    if (existing) return existing;
    // Resolved and validated now, and stored with the session: every process applies this policy, whatever
    // its own GOVERNANCE_POLICY, and a policy file is read once, here, not on whichever machine runs a task.
    const policy = await this.governance.sessionPolicy(o.policy);
    return this.store.createSession({
      id: randomUUID(),
      ...o,
      policy: policy.name,
      policyDocument: policy as unknown as Record<string, unknown>,
      createdAt: this.scheduler.options.clock.now(),
    });
  }

  async getSession(idOrName: string): Promise<Session> {
    let pending = this.sessionCache.get(idOrName);
    if (!pending) {
      // Cache the lookup itself, so a burst of submits to one session reads it once.
      pending = this.store.getSession(idOrName).then((session) => {
        if (session) return session;
        this.sessionCache.delete(idOrName);
        throw new WardenError(
          'SESSION_NOT_FOUND',
          `No session named ${idOrName}; create it first (warden.ensureSession, or --session with warden run)`,
          {
            details: { session: idOrName },
          },
        );
      });
      this.sessionCache.set(idOrName, pending);
    }
    return pending;
  }

  /**
   * Registers an agent version from a validated manifest or an agent.yaml path, in the default tenant
   * unless `options.tenant` says otherwise; `options.shared` makes a default-tenant version usable by
   * every tenant. A version is immutable: the same name@version with other code is AGENT_VERSION_CONFLICT.
   */
  async registerAgent(
    manifest: AgentManifest | { path: string },
    options: RegisterOptions = {},
  ): Promise<AgentRecord> {
    const m = 'path' in manifest ? await loadManifest(manifest.path) : manifest;
    return this.agents.register(m, options);
  }

  /**
   * Registers a version whose files are given (an upload): they are stored content-addressed under
   * `<storage root>/agents/sha256-<digest>/`, written under a temporary name and moved into place only
   * once the registration committed — a conflicting upload (AGENT_VERSION_CONFLICT) changes no file.
   */
  async registerAgentFiles(
    manifest: AgentManifest,
    files: ReadonlyMap<string, Buffer>,
    options: RegisterOptions = {},
  ): Promise<AgentRecord> {
    assertUploadPaths(manifest);
    const staged = await StagedAgentFiles.stage(this.storageRoot, files);
    let record: AgentRecord;
    try {
      record = await this.agents.register(
        { ...manifest, baseDir: staged.dir },
        options,
        staged.stagingDir,
        staged.files,
      );
    } catch (err) {
      await staged.discard();
      throw err;
    }
    // Committed first, moved second: a crash in between leaves a version whose files are missing
    // (its tasks fail FILE_NOT_FOUND and retry), which uploading the same files again repairs.
    await staged.commit();
    return record;
  }

  /** Registers a trusted in-process handler as an agent (runtime `inline`). */
  /**
   * Registers a trusted in-process handler as an agent (runtime `inline`). The returned record carries
   * the handler's input and output types: submit with `agent: record` and its result is typed.
   */
  async registerHandler<I = unknown, O = unknown>(
    name: string,
    handler: InlineHandler<I, O>,
    options?: HandlerOptions,
  ): Promise<TypedAgent<I, O>> {
    return this.agents.registerHandler(name, handler as InlineHandler, options);
  }

  /** Every registered version, or with `tenant` the versions that tenant may use (its own and shared ones). */
  async listAgents(filter: { tenant?: string } = {}): Promise<AgentRecord[]> {
    return this.store.listAgents(filter);
  }

  /**
   * Every registered version (with `tenant`: those the tenant may use) with its rollout state and its
   * circuit breaker, read from the store.
   */
  async agentStatus(filter: { tenant?: string } = {}): Promise<AgentStatus[]> {
    this.assertOpen();
    const [records, inFlight, breakers, rollouts] = await Promise.all([
      this.store.listAgents(filter),
      this.store.inFlightByAgent(filter.tenant),
      this.store.getBreakers(),
      this.store.listRollouts(filter.tenant === undefined ? {} : { tenant: filter.tenant }),
    ]);
    const states = new Map(versionStates(records, inFlight, rollouts).map((v) => [v.key, v]));
    const runnable = new Set(this.scheduler.runnableKeys());
    const now = this.scheduler.options.clock.now();
    return records.map((r) => ({
      ...r,
      state: states.get(r.key)?.state ?? 'idle',
      inFlight: states.get(r.key)?.inFlight ?? 0,
      runnable: runnable.has(r.key),
      breaker: breakerStatus(breakers.get(r.key) ?? CLOSED_BREAKER, r.manifest.circuitBreaker, now),
    }));
  }

  /**
   * Closes the circuit breaker of `name@version`, or of every version of `name`, at once: their held tasks
   * run now instead of after the cooldown (in every worker: they re-read breakers from the store). Recorded
   * in the provenance chain of each session with queued tasks of that version; `via` says who asked.
   * With `tenant`, only that tenant's own versions can be reset (a shared version's breaker guards every
   * tenant: resetting it is for the installation).
   * @example await warden.resetBreaker('echo@1.0.0', { via: 'cli' })
   */
  async resetBreaker(
    agent: string,
    options: { via?: string; tenant?: string } = {},
  ): Promise<BreakerReset[]> {
    this.assertOpen();
    const { tenant } = options;
    const records = (await this.store.listAgents(tenant === undefined ? {} : { tenant })).filter(
      (r) => tenant === undefined || r.tenant === tenant,
    );
    const exact = agent.lastIndexOf('@') > 0;
    const keys = records
      .filter((r) =>
        exact
          ? r.key === agent || `${r.manifest.name}@${r.manifest.version}` === agent
          : r.manifest.name === agent,
      )
      .map((r) => r.key);
    if (keys.length === 0)
      throw new WardenError(
        'AGENT_NOT_FOUND',
        `No agent ${agent} is registered; \`warden agents list\` shows the registered versions`,
        { details: { agent } },
      );
    const now = this.scheduler.options.clock.now();
    const out: BreakerReset[] = [];
    for (const key of keys) {
      const previous = await this.store.resetBreaker(key, now, { via: options.via ?? 'library' });
      this.scheduler.breakerReset(key); // also when only this process still thought it open
      out.push({ agent: key, previous: previous ?? null });
    }
    return out;
  }

  /**
   * KPIs of agent versions over their finished tasks (docs/kpi.md): success rate, run-time p50/p95, LLM
   * cost, flagged tasks and user reward. `agent` is a name (every version) or name@version, else every
   * version; with `tenant`, only versions it may use, counted over its own sessions' tasks (AGENT_NOT_FOUND
   * when `agent` names none of them). `since`: tasks submitted at or after it (epoch ms).
   * @example const [kpi] = await warden.agentKpis({ agent: 'echo@1.0.0' }); // kpi.successRate, kpi.latencyMs.p95
   */
  async agentKpis(options: { agent?: string; tenant?: string; since?: number } = {}): Promise<AgentKpi[]> {
    this.assertOpen();
    const { agent, tenant, since } = options;
    const visible = await this.store.listAgents(tenant === undefined ? {} : { tenant });
    const records = agent === undefined ? visible : versionsNamed(visible, agent);
    if (agent !== undefined && records.length === 0)
      throw new WardenError(
        'AGENT_NOT_FOUND',
        `No agent ${agent} is registered; \`warden agents list\` shows the registered versions`,
        { details: { agent } },
      );
    return this.store.agentKpis({
      agentKeys: records.map((r) => r.key),
      ...(since !== undefined ? { since } : {}),
      ...(tenant !== undefined ? { tenant } : {}),
    });
  }

  /**
   * Records a user's score in [0, 1] of a finished task (a later score replaces it), for its agent
   * version's reward KPI, and appends a 'task.feedback' record to the task's session chain. INVALID_INPUT
   * for another score, INVALID_STATE while the task is not finished; with `tenant`, another tenant's task
   * is TASK_NOT_FOUND, as a missing one is.
   * @example await warden.feedback(task.id, { score: 0.8, comment: 'good summary' })
   */
  async feedback(
    taskId: string,
    input: { score: number; comment?: string },
    options: { tenant?: string; via?: string } = {},
  ): Promise<{ taskId: string; agent: string; score: number }> {
    this.assertOpen();
    const checked = checkedFeedback(input);
    const notFound = new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
    const task = await this.store.getTask(taskId);
    if (!task) throw notFound;
    if (options.tenant !== undefined) {
      const session = await this.store.getSession(task.sessionId, options.tenant);
      if (session?.id !== task.sessionId || session.tenant !== options.tenant) throw notFound;
    }
    // The store checks the state again inside its transaction; this is the message without a write.
    if (!isTerminal(task.state))
      throw new WardenError(
        'INVALID_STATE',
        `Task ${taskId} is ${task.state}: feedback is for finished tasks; wait for its result`,
        { details: { taskId, state: task.state } },
      );
    await this.store.putFeedback({
      taskId,
      agentKey: task.agent,
      ...checked,
      createdAt: this.scheduler.options.clock.now(),
      via: options.via ?? 'library',
    });
    return { taskId, agent: task.agent, score: checked.score };
  }

  /**
   * Health of registered agents (all, or the versions `agent` resolves to): LLM endpoints are asked for
   * their model list, local models are loaded and evaluate a token, other runtimes prepare.
   */
  async agentHealth(
    options: { agent?: string; timeoutMs?: number; tenant?: string } = {},
  ): Promise<AgentHealthReport[]> {
    this.assertOpen();
    const tenant = options.tenant;
    const records = options.agent
      ? [await this.agents.resolve({ agent: options.agent }, tenant)]
      : (await this.store.listAgents(tenant === undefined ? {} : { tenant })).map((r) => r.manifest);
    const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    return Promise.all(
      records.map(async (manifest) => ({
        agent: `${manifest.name}@${manifest.version}`,
        runtime: manifest.runtime,
        ...(manifest.model ? { provider: manifest.model.provider, model: manifest.model.model } : {}),
        ...(await this.agents.health(manifest, signal)),
      })),
    );
  }

  /** Validates, resolves the agent and durably enqueues the task; resolves once it is committed. */
  async submit<I, O>(task: TypedSubmitTask<I, O>): Promise<SubmitReceipt<O>>;
  /** `O` types the result when the agent is named by a string: `warden.submit<MyOutput>({ agent: 'x' })`. */
  async submit<O = unknown>(task: SubmitTask): Promise<SubmitReceipt<O>>;
  async submit(task: SubmitTask | TypedSubmitTask<unknown, unknown>): Promise<SubmitReceipt> {
    this.assertOpen();
    const tracing = this.tracing;
    if (!tracing) return this.submitTask(task, undefined);
    // A child of the caller's traceparent (metadata.traceparent, or the HTTP header put there by the API).
    const st = tracing.startSubmit(task.metadata);
    try {
      const receipt = await this.submitTask(task, st);
      st.end();
      return receipt;
    } catch (err) {
      st.end(err);
      throw err;
    }
  }

  private async submitTask(
    task: SubmitTask | TypedSubmitTask<unknown, unknown>,
    st: SubmitTrace | undefined,
  ): Promise<SubmitReceipt> {
    const { agent } = task;
    // A typed record names its exact version; a string is resolved below.
    const named: SubmitTask =
      typeof agent === 'object' ? { ...task, agent: agent.key } : (task as SubmitTask);
    const t = validateSubmit(named, this.maxInputBytes);
    const session = await this.getSession(t.session);
    // The session's tenant decides which agents the name can mean: never another tenant's.
    const resolved =
      t.intent !== undefined
        ? await this.routing.byIntent(t.intent, session.tenant)
        : await this.agents.resolve(agentQuery(t), session.tenant);
    // A name@version is exactly that version; otherwise a canary rollout may pick the version below.
    const pinned = t.agent !== undefined && t.agent.lastIndexOf('@') > 0;
    const manifest = pinned ? resolved : (await this.routing.version(resolved, session)).manifest;
    assertPlacement(session, manifest);
    const id = uuidv7();
    st?.resolved({ taskId: id, session, agent: agentKey(manifest), priority: t.priority });
    const now = this.scheduler.options.clock.now();
    // Memories asked for by the manifest join the input now, so its digest covers what the agent will see.
    const inputJson = manifest.memory?.retrieve
      ? await this.memory.inputFor(session, manifest, t.inputJson)
      : t.inputJson;
    // An LLM agent's prompt is rendered now: a missing input field is a 400 here, not a dead task later,
    // and governance screens the messages the model will actually be sent.
    const texts = manifest.runtime === 'llm' ? promptTexts(manifest, inputJson) : undefined;
    // Governance screens the input under the session's policy: flags go in with the task, or it is blocked.
    const screenStart = st ? performance.now() : 0;
    let flags: Awaited<ReturnType<Governance['screenSubmit']>>;
    try {
      const screened = this.governance.screenSubmit({
        taskId: id,
        session,
        manifest,
        inputJson,
        now,
        ...(texts ? { texts } : {}),
      });
      flags = screened instanceof Promise ? await screened : screened;
    } catch (err) {
      st?.screened(screenStart, undefined, err);
      throw err;
    }
    let metadata = t.metadata;
    let commitStart = 0;
    if (st) {
      st.screened(screenStart, flags);
      // The task keeps the submit span's context: whichever process runs an attempt joins this trace.
      metadata = st.metadata(t.metadata);
      commitStart = performance.now();
      st.queued(id, commitStart);
    }
    const outcome = await this.scheduler.enqueue({
      id,
      sessionId: session.id,
      agentKey: agentKey(manifest),
      priority: t.priority,
      maxAttempts: manifest.retry.maxAttempts,
      inputJson,
      inputDigest: sha256Hex(inputJson),
      deadline: t.deadline,
      timeoutMs: t.timeoutMs,
      idempotencyKey: t.idempotencyKey,
      metadata,
      now,
      ...(flags ? { flags } : {}),
    });
    st?.committed(id, commitStart, outcome.deduplicated);
    // Object.assign: V8 (Node 20) builds `{ ...x, more }` slowly, and this runs for every submit.
    return Object.assign({}, outcome.task, { deduplicated: outcome.deduplicated });
  }

  /**
   * How an intent would be routed for `tenant`'s sessions: every agent it may use, scored, best first, and
   * the one chosen (null: the submit would fail with NO_MATCHING_AGENT). docs/routing.md.
   * @example (await warden.explainRoute({ intent: 'count the words in this text' })).chosen?.agent
   */
  async explainRoute(options: { intent: string; tenant?: string }): Promise<RouteExplanation> {
    this.assertOpen();
    return this.routing.explain(options.intent, options.tenant ?? DEFAULT_TENANT);
  }

  /** Canary rollouts (`rollout:` in agent.yaml) and their outcome, newest first; `tenant`: its own. */
  async listRollouts(filter: { tenant?: string; name?: string } = {}): Promise<RolloutRecord[]> {
    this.assertOpen();
    return this.routing.listRollouts(filter);
  }

  /**
   * Waits for the task's terminal result (from any process). Undefined if timeoutMs passes first, or if
   * close() ends the wait (after running tasks had their grace period). The wait keeps the process alive.
   * A stored result that does not match the provenance record that commits to it is never returned: it
   * throws PROVENANCE_RESULT_MISMATCH.
   * `task` is a receipt from `submit` (its output type carries over) or a task id (type the output with
   * `warden.result<MyOutput>(id)`). The output is not checked against `O`: it is what the agent returned.
   */
  async result<O = unknown>(
    task: string | SubmitReceipt<O>,
    options: { timeoutMs?: number } = {},
  ): Promise<TaskResult<O> | undefined> {
    const taskId = typeof task === 'string' ? task : task.id;
    return (await this.resultOf(taskId, options)) as TaskResult<O> | undefined;
  }

  private async resultOf(taskId: string, options: { timeoutMs?: number }): Promise<TaskResult | undefined> {
    this.assertOpen();
    // Running here: the scheduler settles the wait when the finish commits, without a look in the store.
    const task = this.scheduler.runsHere(taskId) ? undefined : await this.getTask(taskId);
    if (task && task.state !== 'queued' && task.state !== 'running') {
      const stored = await this.store.getResult(taskId);
      if (stored) return stored;
    }
    const result = await this.scheduler.waitForResult(taskId, options.timeoutMs);
    // Results another process committed come from a batch read, which marks a mismatch instead of throwing.
    if (result?.error?.code === 'PROVENANCE_RESULT_MISMATCH')
      throw new WardenError('PROVENANCE_RESULT_MISMATCH', result.error.message, {
        ...(result.error.details ? { details: result.error.details } : {}),
      });
    return result;
  }

  /**
   * This process's task events: state changes of the tasks it submits or runs (`task`, with the result
   * when terminal), their log lines (`log`) and LLM tokens (`token`). Other processes' changes reach
   * `result()` and SSE through the change feed (`changes`).
   * @example warden.events.on('task', (e) => console.log(e.taskId, e.state));
   */
  get events(): Scheduler['events'] {
    return this.scheduler.events;
  }

  /** What this process's workers are doing now (for health, stats and metrics). */
  workerStatus(): {
    workerId: string;
    concurrency: number;
    inFlight: number;
    runnableAgents: number;
    breakers: Map<string, BreakerSnapshot>;
    /**
     * Whether this process does the database's maintenance (reaping expired leases, and on PostgreSQL
     * signing every node's tree heads): on PostgreSQL, whether it holds the maintenance lock now; on
     * SQLite, whether its workers run (each process reaps for itself there).
     */
    maintenanceLeader: boolean;
  } {
    return {
      workerId: this.scheduler.options.workerId,
      concurrency: this.scheduler.options.concurrency,
      inFlight: this.scheduler.inFlightCount,
      runnableAgents: this.scheduler.runnableAgentCount,
      breakers: this.scheduler.breakerSnapshot(),
      maintenanceLeader: this.maintenance ? this.maintenance.isLeader : this.runsWorkers,
    };
  }

  /** API key records (only hashes are stored): what the HTTP API's key checks and `warden keys` use. */
  get apiKeys(): ApiKeyPort {
    const s = this.store;
    return {
      createApiKey: (key, hash) => s.createApiKey(key, hash),
      findApiKey: (hash) => s.findApiKey(hash),
      listApiKeys: (tenant) => s.listApiKeys(tenant),
      revokeApiKey: (id, now) => s.revokeApiKey(id, now),
    };
  }

  /** Stored traces and their provenance links (the HTTP API's /traces). */
  get traces(): Pick<
    LedgerPort,
    'createTrace' | 'getTrace' | 'listTraces' | 'readTraceProvenance' | 'appendTraceProvenance'
  > {
    const s = this.store;
    return {
      createTrace: (t) => s.createTrace(t),
      getTrace: (id) => s.getTrace(id),
      listTraces: (f) => s.listTraces(f),
      readTraceProvenance: (sessionId, traceId) => s.readTraceProvenance(sessionId, traceId),
      appendTraceProvenance: (...args) => s.appendTraceProvenance(...args),
    };
  }

  /** The runtime of an agent version this process knows, if any. */
  runtimeOf(agentKey: string): string | undefined {
    return this.scheduler.runtimeOf(agentKey);
  }

  /** The stored result of a finished task, without waiting (undefined while it is not finished). */
  async storedResult(taskId: string): Promise<TaskResult | undefined> {
    return this.store.getResult(taskId);
  }

  /**
   * A task's provenance records (submitted, each attempt's start and outcome, replays…) in chain order,
   * read backwards from its session's head until its task.submitted record, at most `maxScan` records.
   * @example const { records } = await warden.taskHistory(task.id); // records[0].type === 'task.submitted'
   */
  async taskHistory(taskId: string, options: { maxScan?: number } = {}): Promise<TaskHistory> {
    const task = await this.getTask(taskId);
    const reader = await this.store.openChainReader();
    try {
      return await readTaskHistory(reader, task, options);
    } finally {
      reader.close();
    }
  }

  /** The task, or undefined when there is none (getTask throws TASK_NOT_FOUND instead). */
  async findTask(taskId: string): Promise<Task | undefined> {
    return this.store.getTask(taskId);
  }

  /** A session by id or name (within `tenant` if given), or undefined; uncached, unlike getSession. */
  async findSession(idOrName: string, tenant?: string): Promise<Session | undefined> {
    return this.store.getSession(idOrName, tenant);
  }

  /** Every session, or a tenant's. */
  async listSessions(tenant?: string): Promise<Session[]> {
    return this.store.listSessions(tenant);
  }

  /**
   * Every agent version's circuit breaker as stored: what all workers on this database see (workerStatus's
   * breakers are this process's copy, refreshed only while it runs tasks).
   */
  async storedBreakers(): Promise<Map<string, BreakerSnapshot>> {
    return this.store.getBreakers();
  }

  /**
   * One tenant's overview (GET /stats/overview): tasks submitted and finished per time bucket by end state,
   * end-to-end latency p50/p95 per bucket, its queue now by priority, the breakers of the versions it may
   * use that are not closed, and its governance flags of the last hour. INVALID_INPUT outside
   * OVERVIEW_LIMITS (window 5 min to 24 h, buckets 10 s to 1 h, at most 300 of them).
   * @example const o = await warden.overview({ tenant: 'acme', windowMs: 3_600_000, bucketMs: 60_000 }); // o.buckets
   */
  async overview(options: OverviewOptions = {}): Promise<TenantOverview> {
    this.assertOpen();
    return tenantOverview(this.store, options, this.scheduler.options.clock.now());
  }

  /** Queue counts by state and priority and the dead-letter count (`light`: the cheap ones only). */
  async queueStats(options?: { light?: boolean }): Promise<StoreStats> {
    return this.store.stats(options);
  }

  async getTask(taskId: string): Promise<Task> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
    return task;
  }

  async listTasks(filter: Omit<TaskFilter, 'sessionId'> & { session?: string } = {}): Promise<Task[]> {
    const { session, ...rest } = filter;
    return this.store.listTasks({
      ...rest,
      ...(session ? { sessionId: (await this.getSession(session)).id } : {}),
    });
  }

  async cancel(taskId: string): Promise<{ state: string; cancelledNow: boolean }> {
    return this.scheduler.cancel(taskId);
  }

  /** The task's log lines after `after`: those in the store, then those this process has not written yet. */
  async logs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]> {
    const stored = await this.store.readLogs(taskId, after);
    const last = stored.at(-1) ?? after;
    const newer = (l: LogLine) =>
      !last || l.attempt > last.attempt || (l.attempt === last.attempt && l.line > last.line);
    return [...stored, ...this.scheduler.pendingLogs(taskId).filter(newer)];
  }

  /** The dead-letter queue; `tenant` limits listing and purging to that tenant's sessions. */
  readonly dlq = {
    list: async (filter: { session?: string; limit?: number; tenant?: string } = {}): Promise<DeadLetter[]> =>
      this.store.listDeadLetters({
        ...(filter.limit ? { limit: filter.limit } : {}),
        ...(filter.tenant !== undefined ? { tenant: filter.tenant } : {}),
        ...(filter.session ? { sessionId: (await this.getSession(filter.session)).id } : {}),
      }),
    replay: async (taskId: string): Promise<Task> => {
      // A fresh retry budget of the version's own size; attempt numbers go on from the dead run's.
      const dead = await this.store.getTask(taskId);
      const budget = dead ? this.agents.manifest(dead.agent)?.retry.maxAttempts : undefined;
      const task = await this.store.replayDeadLetter(taskId, this.scheduler.options.clock.now(), budget);
      this.changes.publishTask({ taskId: task.id, state: task.state, sessionId: task.sessionId });
      this.scheduler.wake();
      return task;
    },
    purge: async (taskIds: string[] | 'all', options: { tenant?: string } = {}): Promise<number> =>
      this.store.purgeDeadLetters(taskIds, this.scheduler.options.clock.now(), options.tenant),
  };

  /**
   * Verifies a session's provenance end to end: the chain, its signed tree head, the witness outside the
   * database, and every task's result against its records. `ok` only when every record is vouched for;
   * `broken` names the first record where something was changed, `unsigned` counts records after the last
   * signed head. A session that is gone from the database but known to the witness (by id) is broken.
   */
  async verify(session: string): Promise<ChainVerification> {
    const found = await this.getSession(session).catch(async (e: unknown) => {
      const witnessed = (await this.store.witnessedHeads()).find((h) => h.sessionId === session);
      if (witnessed) return undefined;
      throw e;
    });
    return found
      ? this.store.verifyChain(found.id)
      : wipedSession(session, await this.store.witnessedHeads());
  }

  /** verify() for every session in the database, and for every session the witness knows that is not. */
  async verifyAll(): Promise<(ChainVerification & { session: string })[]> {
    const sessions = await this.store.listSessions();
    const out: (ChainVerification & { session: string })[] = [];
    for (const s of sessions) out.push({ session: s.name, ...(await this.store.verifyChain(s.id)) });
    const known = new Set(sessions.map((s) => s.id));
    const witnessed = await this.store.witnessedHeads();
    for (const h of witnessed)
      if (!known.has(h.sessionId))
        out.push({ session: h.sessionId, ...wipedSession(h.sessionId, witnessed) });
    return out;
  }

  /**
   * Exports a session's provenance as a self-contained bundle: its records, a tree head signed now, the
   * node's public key and one in-toto statement per succeeded task. Write it with serializeBundle and check
   * it offline with verifyBundleText or `warden verify <bundle>`. Holds the whole bundle in memory: for a
   * large session, stream it with exportProvenanceStream. `since` (an earlier export's treeHead.treeSize)
   * makes an incremental bundle of the records after it.
   * @example
   * writeFileSync('bundle.json', serializeBundle(await warden.exportProvenance('default')));
   */
  async exportProvenance(session: string, options: { since?: number } = {}): Promise<AnyProvenanceBundle> {
    return exportBundle(this.store, this.treeHeadKey, await this.getSession(session), options);
  }

  /**
   * Exports a session's provenance as a stream of the bundle's canonical text, with bounded memory and
   * without holding up the event loop (it pauses every few milliseconds of work): the records are verified
   * on a snapshot first, then read again as the chunks are consumed. `summary` is known at once.
   * @example
   * const bundle = await warden.exportProvenanceStream('default', { since: 1200 });
   * await pipeline(Readable.from(bundle.chunks()), createWriteStream('bundle-2.json'));
   */
  async exportProvenanceStream(session: string, options: { since?: number } = {}): Promise<BundleStream> {
    this.assertOpen();
    return exportBundleStream(this.store, this.treeHeadKey, await this.getSession(session), options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.scheduler.stop();
    await this.edges.close();
    await this.routing.close();
    await this.runtimes.close();
    await this.memory.cortex.close().catch(() => undefined);
    await this.closeBackend();
    // Last: every attempt's span has ended; buffered spans are exported (and Warden's own provider shut down).
    await this.tracing?.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new WardenError('CLOSED', 'This Warden instance is closed');
  }
}

/** The variables that can turn tracing on: without one of them (or the option), nothing is loaded for it. */
const TRACING_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_TRACES_EXPORTER',
];

async function openTracingIfWanted(
  options: TracingOptions | false | undefined,
): Promise<WardenTracing | undefined> {
  if (options === false || (!options && !TRACING_VARIABLES.some((v) => process.env[v]))) return undefined;
  const { openTracing } = await import('../telemetry/index.js');
  return openTracing(options, process.env);
}

/** The report for a session the witness knows but the database no longer has. */
function wipedSession(sessionId: string, witnessed: readonly SignedTreeHead[]): ChainVerification {
  const h = witnessed.find((w) => w.sessionId === sessionId)!;
  return {
    ok: false,
    sessionId,
    length: 0,
    headHash: null,
    broken: {
      seq: 1,
      reason: `the session is gone from the database, but the witness holds its signed tree head of size ${h.treeSize} (signed ${new Date(h.timestamp).toISOString()}): it was wiped`,
    },
    signedSize: 0,
    unsigned: 0,
    witnessedSize: h.treeSize,
  };
}

/** Reads and validates an agent.yaml; relative paths in it resolve against its directory. */
export async function loadManifest(path: string): Promise<AgentManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new WardenError(
      'FILE_NOT_FOUND',
      `Cannot read agent manifest ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      {
        cause,
        details: { path },
      },
    );
  }
  return { ...parseManifest(text, path), baseDir: dirname(resolve(path)) };
}

function llmOptions(options: WardenOptions['llm']): LlmRuntimeOptions {
  const pricesFile = process.env['WARDEN_LLM_PRICES'];
  return {
    prices: options?.prices ?? (pricesFile ? loadPriceTable(pricesFile) : {}),
    ...(options?.env ? { env: options.env } : {}),
    ...(options?.local ? { local: options.local } : {}),
  };
}

const compiledPrompts = new WeakMap<AgentManifest, CompiledPrompt>();

/** The rendered messages of an LLM agent that carry input (a template without placeholders is trusted text). */
function promptTexts(manifest: AgentManifest, inputJson: string): string[] {
  let prompt = compiledPrompts.get(manifest);
  if (!prompt) {
    prompt = compilePrompt(normalizePrompt(manifest.prompt));
    compiledPrompts.set(manifest, prompt);
  }
  const rendered = prompt.render(JSON.parse(inputJson));
  const texts: string[] = [];
  if (prompt.system && prompt.system.fields.length > 0 && rendered.system !== undefined)
    texts.push(rendered.system);
  if (prompt.user.fields.length > 0) texts.push(rendered.user);
  return texts;
}

/**
 * Edge nodes of this control plane (docs/edge.md): `invite` issues a one-time, expiring, signed invite;
 * `list` and `revoke` manage the admitted nodes (also from another process on the same data directory);
 * `attach` serves their WebSocket connections on an HTTP server (`warden serve` does).
 */
export class EdgeNodes {
  constructor(
    private readonly hub: EdgeHub,
    private readonly state: () => Promise<ControlPlaneState>,
  ) {}

  async invite(options: CreateInviteOptions = {}): Promise<{ token: string; grant: InviteGrant }> {
    return (await this.state()).createInvite(options);
  }

  /** Admitted nodes, with whether each is connected to this process now. */
  async list(): Promise<(EdgeNodeInfo & { connected: ConnectedEdge | null })[]> {
    const state = await this.state();
    await state.reload();
    const live = new Map(this.hub.connected().map((c) => [c.nodeId, c]));
    return state.nodes().map((n) => ({ ...n, connected: live.get(n.nodeId) ?? null }));
  }

  async revoke(nodeId: string, reason?: string): Promise<void> {
    await (await this.state()).revoke(nodeId, reason);
  }

  attach(server: Parameters<EdgeHub['attach']>[0]): void {
    this.hub.attach(server);
  }

  connected(): ConnectedEdge[] {
    return this.hub.connected();
  }

  close(): Promise<void> {
    return this.hub.close();
  }
}

/** A session that forbids edges cannot run an edge-only agent, and an edge-only session a local-only one. */
function assertPlacement(session: Session, manifest: AgentManifest): void {
  const agent = manifest.placement?.edge ?? 'never';
  const conflict =
    (session.placement === 'never' && agent === 'required') ||
    (session.placement === 'required' && agent === 'never');
  if (conflict)
    throw new WardenError(
      'INVALID_INPUT',
      `${agentKey(manifest)} has placement edge: ${agent} and session ${session.name} has placement: ${session.placement}: its tasks could run nowhere. Use another session, or change the agent's placement in a new version.`,
      { details: { field: 'agent', agent: agentKey(manifest), session: session.name } },
    );
}

/** What a submit names its agent by (a name, a name@version or a capability), without empty keys. */
function agentQuery(t: { agent?: string | undefined; capability?: string | undefined }): {
  agent?: string;
  capability?: string;
} {
  const query: { agent?: string; capability?: string } = {};
  if (t.agent) query.agent = t.agent;
  if (t.capability) query.capability = t.capability;
  return query;
}
