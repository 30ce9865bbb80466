import {
  DEFAULT_TENANT,
  WardenError,
  assertJsonValue,
  type AgentManifest,
  type Session,
} from '../core/index.js';
import type { Cortex, MemoryHit, MemoryItem } from './cortex.js';
import { inputWithMemories, memoryQuery, rememberItems } from './retrieval.js';

/** Finds a session by id or name within a tenant (undefined tenant: the default tenant's names, any id). */
export type SessionFinder = (idOrName: string, tenant?: string) => Promise<Session | undefined>;

/** Which tenant a call acts for. Absent: the installation (any session id, default-tenant names). */
export interface TenantOption {
  tenant?: string;
}

/** What a succeeded task's finish tells memory (the scheduler's afterSucceeded hook). */
export interface SucceededTask {
  taskId: string;
  sessionId: string;
  agentKey: string;
  outputJson: string;
}

/**
 * `warden.memory`: Cortex for a session named by id or name, the way the other facade methods take them.
 * A session of another tenant is SESSION_NOT_FOUND; another tenant's item id is MEMORY_NOT_FOUND.
 * @example
 * await warden.memory.put('support', { text: 'Customer 42 prefers email' });
 * const hits = await warden.memory.search('support', { query: 'how to contact customer 42?' });
 */
export class WardenMemory {
  constructor(
    /** The service itself (for the library's own wiring and benchmarks). */
    readonly cortex: Cortex,
    private readonly findSession: SessionFinder,
    private readonly manifestOf: (agentKey: string) => AgentManifest | undefined,
    private readonly log: (message: string, cause?: unknown) => void,
  ) {}

  async put(
    session: string,
    item: { text: string; agent?: string; metadata?: Record<string, unknown>; ttlMs?: number },
    options: TenantOption = {},
  ): Promise<MemoryItem> {
    // Checked here as the API checks a request: the CLI and the library reach put() without the API.
    assertJsonValue(item.text, 'text');
    if (item.metadata !== undefined) assertJsonValue(item.metadata, 'metadata');
    const s = await this.session(session, options);
    return this.cortex.put({ ...item, sessionId: s.id, tenant: s.tenant });
  }

  async search(
    session: string,
    query: { query: string; agent?: string; k?: number; minScore?: number },
    options: TenantOption = {},
  ): Promise<MemoryHit[]> {
    const s = await this.session(session, options);
    return this.cortex.search({ ...query, sessionId: s.id, tenant: s.tenant });
  }

  async list(
    session: string,
    filter: { agent?: string; limit?: number } = {},
    options: TenantOption = {},
  ): Promise<MemoryItem[]> {
    const s = await this.session(session, options);
    return this.cortex.list({ ...filter, sessionId: s.id });
  }

  async get(id: string, options: TenantOption = {}): Promise<MemoryItem> {
    return this.cortex.get(id, options.tenant);
  }

  async forget(id: string, options: TenantOption = {}): Promise<void> {
    return this.cortex.forget(id, options.tenant);
  }

  /**
   * The input a task of `manifest` runs with: with `spec.memory.retrieve`, the input plus the top-k memories
   * of its scope nearest it (`memories`, see docs/memory.md); else the input unchanged. Called at submit, so
   * the input digest in provenance covers what the agent saw.
   */
  async inputFor(session: Session, manifest: AgentManifest, inputJson: string): Promise<string> {
    const retrieve = manifest.memory?.retrieve;
    if (!retrieve) return inputJson;
    const input = JSON.parse(inputJson) as unknown;
    const hits = await this.cortex.search({
      sessionId: session.id,
      tenant: session.tenant,
      agent: manifest.memory!.scope === 'session' ? null : manifest.name,
      query: memoryQuery(input),
      k: retrieve.topK,
      minScore: retrieve.minScore,
    });
    return inputWithMemories(
      input,
      hits.map((h) => ({
        id: h.item.id,
        text: h.item.text,
        score: h.score,
        metadata: h.item.metadata,
        createdAt: h.item.createdAt,
      })),
    );
  }

  /**
   * Stores the `remember` items of a succeeded task's output when its manifest says `memory.remember`
   * (the scheduler's afterSucceeded hook). Never throws: the task is committed whatever happens here.
   */
  afterSucceeded(task: SucceededTask): Promise<void> | undefined {
    const manifest = this.manifestOf(task.agentKey);
    if (!manifest?.memory?.remember) return undefined;
    return this.remember(task, manifest).catch((err: unknown) =>
      this.log(`task ${task.taskId}: storing its remember items failed`, err),
    );
  }

  private async remember(task: SucceededTask, manifest: AgentManifest): Promise<void> {
    const items = rememberItems(JSON.parse(task.outputJson) as unknown);
    if (items.length === 0) return;
    const session = await this.findSession(task.sessionId);
    if (!session) return;
    const policy = manifest.memory!;
    await this.cortex.putMany(
      items.map((item) => {
        const ttlMs = item.ttlMs ?? policy.ttlMs;
        return {
          sessionId: session.id,
          tenant: session.tenant,
          agent: policy.scope === 'session' ? null : manifest.name,
          text: item.text,
          taskId: task.taskId,
          ...(item.metadata ? { metadata: item.metadata } : {}),
          ...(ttlMs !== undefined ? { ttlMs } : {}),
        };
      }),
    );
  }

  private async session(idOrName: string, options: TenantOption): Promise<Session> {
    const s = await this.findSession(idOrName, options.tenant);
    if (!s)
      throw new WardenError(
        'SESSION_NOT_FOUND',
        `No session named ${idOrName}${options.tenant && options.tenant !== DEFAULT_TENANT ? ` in tenant ${options.tenant}` : ''}`,
        { details: { session: idOrName } },
      );
    return s;
  }
}
