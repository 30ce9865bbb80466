import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { WardenError, canonicalJson } from '../core/index.js';
import { sha256Hex } from '../provenance/index.js';
import { openEmbedder, type Embedder } from '../routing/index.js';
import type { DeletedMemory, MemoryPort, MemoryRow, MemoryScope, NewMemory } from './memory-port.js';
import type { CompiledMemoryOptions } from './options.js';
import { ScopeIndexes } from './scope-index.js';

/** A stored memory item as callers see it (the vector stays inside). */
export interface MemoryItem {
  id: string;
  sessionId: string;
  /** The agent (name) whose memory it is within the session; null: the whole session's. */
  agent: string | null;
  text: string;
  metadata: Record<string, unknown>;
  /** The task whose output asked to remember it (`remember`), if any. */
  taskId: string | null;
  createdAt: number;
  /** When it stops being returned (and is deleted); null: never. */
  expiresAt: number | null;
}

export interface PutMemory {
  sessionId: string;
  tenant: string;
  /** An agent's own memory within the session; absent or null: the session's. */
  agent?: string | null;
  text: string;
  metadata?: Record<string, unknown>;
  /** Expires this long after it is stored. @default never */
  ttlMs?: number;
  taskId?: string;
}

export interface SearchMemory {
  sessionId: string;
  tenant: string;
  agent?: string | null;
  query: string;
  /** @default 5 */
  k?: number;
  /** Cosine similarity below which an item is left out. @default no threshold */
  minScore?: number;
}

export interface MemoryHit {
  item: MemoryItem;
  score: number;
}

const MAX_K = 100;
const MAX_LIST = 1000;
const MAX_TTL_MS = 10 * 365 * 86_400_000;
/** Expired items of a scope are looked for at most this often (by the clock), on its puts and searches. */
const SWEEP_INTERVAL_MS = 1000;
const SWEEP_BATCH = 1000;
/** How long a scope's item count is followed in memory before it is counted again. */
const RECOUNT_MS = 30_000;

export interface CortexParts {
  port: MemoryPort;
  /** Where the scopes' vector indexes are kept (`<data dir>/memory`). */
  dir: string;
  clock: { now(): number };
  options: CompiledMemoryOptions;
  log?: (message: string, cause?: unknown) => void;
}

/**
 * Cortex: a vector memory per session, and per agent within it, with TTLs and size limits. The `memories`
 * table holds the items (every write with its provenance record); each process searches its own copy of a
 * scope's vector index (src/memory/scope-index.ts). Tenants are kept apart by the session, which belongs to
 * one tenant, and by the tenant check on every lookup by id.
 * @example
 * const item = await cortex.put({ sessionId, tenant: 'default', text: 'The user prefers metric units' });
 * const [hit] = await cortex.search({ sessionId, tenant: 'default', query: 'which units?' });
 */
export class Cortex {
  private embedderPromise: Promise<Embedder> | undefined;
  private readonly indexes: ScopeIndexes;
  private sweptAt = -Infinity;
  /** Items per scope as last counted, and when (see evict). */
  private readonly counts = new Map<string, { n: number; at: number }>();
  private readonly log: (message: string, cause?: unknown) => void;

  constructor(private readonly parts: CortexParts) {
    this.log = parts.log ?? ((m, cause) => console.warn(`[warden] ${m}${cause ? `: ${String(cause)}` : ''}`));
    this.indexes = new ScopeIndexes(
      parts.port,
      parts.dir,
      () => this.embedder(),
      parts.options.saveDelayMs,
      this.log,
    );
  }

  /** The embedder in use, opened on first need (a model is not loaded by a process that never uses memory). */
  embedder(): Promise<Embedder> {
    if (!this.embedderPromise) {
      const given = this.parts.options.embedder;
      const opening = given ? Promise.resolve(given) : openEmbedder(this.parts.options.embeddings);
      // A failed open (a model endpoint down) is tried again on the next use.
      opening.catch(() => {
        if (this.embedderPromise === opening) this.embedderPromise = undefined;
      });
      this.embedderPromise = opening;
    }
    return this.embedderPromise;
  }

  async put(p: PutMemory): Promise<MemoryItem> {
    return (await this.putMany([p]))[0]!;
  }

  /** Stores items (one transaction, one embedding call), then evicts the oldest of a full scope. */
  async putMany(items: readonly PutMemory[]): Promise<MemoryItem[]> {
    if (items.length === 0) return [];
    const now = this.parts.clock.now();
    for (const p of items) this.check(p);
    const embedder = await this.embedder();
    const vectors = await embedder.embed(items.map((p) => p.text));
    const rows: NewMemory[] = items.map((p, i) => ({
      id: uuidv7(),
      tenant: p.tenant,
      sessionId: p.sessionId,
      agent: p.agent ?? null,
      text: p.text,
      metadataJson: canonicalJson(p.metadata ?? {}),
      embedder: embedder.id,
      embedding: vectors[i]!,
      taskId: p.taskId ?? null,
      createdAt: now,
      expiresAt: p.ttlMs === undefined ? null : now + p.ttlMs,
      textDigest: sha256Hex(p.text),
    }));
    await this.parts.port.insertMemories(rows);
    const scopes = new Map<string, { scope: MemoryScope; added: number }>();
    for (const r of rows) {
      const entry = scopes.get(scopeKey(r));
      if (entry) entry.added++;
      else scopes.set(scopeKey(r), { scope: { sessionId: r.sessionId, agent: r.agent }, added: 1 });
    }
    await this.sweep(now);
    for (const { scope, added } of scopes.values()) await this.evict(scope, added, now);
    return rows.map((r) => ({
      id: r.id,
      sessionId: r.sessionId,
      agent: r.agent,
      text: r.text,
      metadata: p(r.metadataJson),
      taskId: r.taskId,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
    }));
  }

  /** The `k` items of the scope nearest the query (cosine similarity, highest first), expired ones never. */
  async search(s: SearchMemory): Promise<MemoryHit[]> {
    const k = s.k ?? 5;
    if (!Number.isSafeInteger(k) || k < 1 || k > MAX_K)
      throw invalid('k', `k must be an integer from 1 to ${MAX_K}`);
    if (s.minScore !== undefined && !(s.minScore >= -1 && s.minScore <= 1))
      throw invalid('minScore', 'minScore must be from -1 to 1');
    if (typeof s.query !== 'string') throw invalid('query', 'query must be a string');
    const scope = { sessionId: s.sessionId, agent: s.agent ?? null };
    const now = this.parts.clock.now();
    await this.sweep(now);
    const si = await this.indexes.get(scope, now);
    if (si.index.size === 0) return [];
    const [q] = await (await this.embedder()).embed([s.query]);
    // Ask for more than k: some hits may have been deleted by another process or have just expired.
    const hits = si.index.search(q!, Math.min(si.index.size, k * 2 + 8));
    const rows = new Map(
      (await this.parts.port.memoriesByKeys(hits.map((h) => h.key))).map((r) => [r.key, r] as const),
    );
    const gone = hits.filter((h) => !rows.has(h.key)).map((h) => h.key);
    if (gone.length) await this.indexes.remove(scope, gone);
    const out: MemoryHit[] = [];
    for (const h of hits) {
      const row = rows.get(h.key);
      // The tenant check is a second wall: a session (hence a scope) belongs to one tenant already.
      if (!row || row.tenant !== s.tenant || expired(row, now)) continue;
      if (s.minScore !== undefined && h.score < s.minScore) continue;
      out.push({ item: toItem(row), score: h.score });
      if (out.length === k) break;
    }
    return out;
  }

  /** The item, unless it is another tenant's, gone, or expired (then MEMORY_NOT_FOUND). No tenant: any. */
  async get(id: string, tenant?: string): Promise<MemoryItem> {
    const row = await this.parts.port.getMemory(id, tenant);
    if (!row || expired(row, this.parts.clock.now())) throw notFound(id);
    return toItem(row);
  }

  /** The scope's items, newest first. */
  async list(l: { sessionId: string; agent?: string | null; limit?: number }): Promise<MemoryItem[]> {
    const limit = l.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST)
      throw invalid('limit', `limit must be an integer from 1 to ${MAX_LIST}`);
    const rows = await this.parts.port.listMemories(
      { sessionId: l.sessionId, agent: l.agent ?? null },
      this.parts.clock.now(),
      limit,
    );
    return rows.map(toItem);
  }

  /** Deletes the item (recorded as 'forgotten'); another tenant's or a missing one is MEMORY_NOT_FOUND. */
  async forget(id: string, tenant?: string): Promise<void> {
    const gone = await this.parts.port.deleteMemories([id], 'forgotten', this.parts.clock.now(), tenant);
    if (gone.length === 0) throw notFound(id);
    await this.removed(gone);
  }

  /** Saves the changed indexes (the items themselves are already in the store). */
  async close(): Promise<void> {
    await this.indexes.flush();
    const embedder =
      this.embedderPromise && !this.parts.options.embedder
        ? await this.embedderPromise.catch(() => undefined)
        : undefined;
    await embedder?.close?.();
  }

  private check(p: PutMemory): void {
    if (typeof p.text !== 'string' || p.text.trim() === '')
      throw invalid('text', 'text must be a non-empty string');
    const bytes = Buffer.byteLength(p.text, 'utf8');
    if (bytes > this.parts.options.maxTextBytes)
      throw invalid('text', `text is ${bytes} bytes; at most ${this.parts.options.maxTextBytes} are allowed`);
    if (p.ttlMs !== undefined && (!Number.isSafeInteger(p.ttlMs) || p.ttlMs < 1 || p.ttlMs > MAX_TTL_MS))
      throw invalid('ttlMs', `ttlMs must be an integer from 1 to ${MAX_TTL_MS}`);
    if (
      p.metadata !== undefined &&
      (typeof p.metadata !== 'object' || p.metadata === null || Array.isArray(p.metadata))
    )
      throw invalid('metadata', 'metadata must be an object');
    if (p.agent !== undefined && p.agent !== null && (typeof p.agent !== 'string' || p.agent === ''))
      throw invalid('agent', 'agent must be an agent name');
  }

  /**
   * Deletes expired items (recorded as 'expired'), of every scope: at most once a second by the clock, on a
   * put or search. The expiry index finds them however large the scopes are.
   */
  private async sweep(now: number): Promise<void> {
    if (now - this.sweptAt < SWEEP_INTERVAL_MS && now >= this.sweptAt) return;
    this.sweptAt = now;
    for (;;) {
      const ids = await this.parts.port.expiredMemories(now, SWEEP_BATCH);
      if (ids.length === 0) return;
      await this.removed(await this.parts.port.deleteMemories(ids, 'expired', now));
      if (ids.length < SWEEP_BATCH) return;
    }
  }

  /**
   * Deletes the oldest items beyond the scope's limit (recorded as 'evicted'). The scope's size is counted
   * in the table now and then and followed here in between, so a put does not count the scope each time.
   */
  private async evict(scope: MemoryScope, added: number, now: number): Promise<void> {
    const key = scopeKey(scope);
    let c = this.counts.get(key);
    if (!c || now - c.at >= RECOUNT_MS || now < c.at) {
      if (this.counts.size > 10_000) this.counts.clear();
      c = { n: await this.parts.port.countMemories(scope), at: now };
      this.counts.set(key, c);
    } else c.n += added;
    if (c.n <= this.parts.options.maxItemsPerScope) return;
    const ids = await this.parts.port.memoriesBeyond(scope, this.parts.options.maxItemsPerScope);
    // The table's answer corrects the followed count (removed() takes the evicted off it).
    c.n = this.parts.options.maxItemsPerScope + ids.length;
    if (ids.length) await this.removed(await this.parts.port.deleteMemories(ids, 'evicted', now));
  }

  /** After a delete: the keys leave their loaded indexes, the counts follow. */
  private async removed(gone: readonly DeletedMemory[]): Promise<void> {
    const byScope = new Map<string, { scope: MemoryScope; keys: number[] }>();
    for (const g of gone) {
      const key = scopeKey(g);
      let entry = byScope.get(key);
      if (!entry) byScope.set(key, (entry = { scope: { sessionId: g.sessionId, agent: g.agent }, keys: [] }));
      entry.keys.push(g.key);
    }
    for (const [key, { scope, keys }] of byScope) {
      const c = this.counts.get(key);
      if (c) c.n = Math.max(0, c.n - keys.length);
      await this.indexes.remove(scope, keys);
    }
  }
}

const scopeKey = (s: MemoryScope): string => `${s.sessionId}\u0000${s.agent ?? ''}`;

/** Where Cortex keeps its indexes inside a data directory. */
export const memoryDir = (dataDir: string): string => join(dataDir, 'memory');

function toItem(r: MemoryRow): MemoryItem {
  return {
    id: r.id,
    sessionId: r.sessionId,
    agent: r.agent,
    text: r.text,
    metadata: r.metadata,
    taskId: r.taskId,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
  };
}

const expired = (r: MemoryRow, now: number): boolean => r.expiresAt !== null && r.expiresAt <= now;

const p = (json: string): Record<string, unknown> => JSON.parse(json) as Record<string, unknown>;

function notFound(id: string): WardenError {
  return new WardenError('MEMORY_NOT_FOUND', `No memory item with id ${id}`, { details: { memoryId: id } });
}

function invalid(field: string, message: string): WardenError {
  return new WardenError('INVALID_INPUT', message, { details: { field } });
}
