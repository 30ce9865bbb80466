// The store port Cortex memory needs (owned here, implemented by each backend in src/store/*/memories.ts).
// Every write appends its provenance record (records.memoryPut / records.memoryForget) to the session's
// chain in the same transaction, so both backends write identical chains.

/** Whose memory: one agent's within a session (by name), or the whole session's (agent null). */
export interface MemoryScope {
  sessionId: string;
  agent: string | null;
}

/** Why an item left memory: asked to (`forget`), its TTL passed, or its scope was over its item limit. */
export type ForgetReason = 'forgotten' | 'expired' | 'evicted';

/** A memory item to store. `key` is assigned by the store. */
export interface NewMemory extends MemoryScope {
  id: string;
  tenant: string;
  text: string;
  /** Canonical JSON of the item's metadata object. */
  metadataJson: string;
  /** The Embedder id that made `embedding`. */
  embedder: string;
  embedding: Float32Array;
  taskId: string | null;
  createdAt: number;
  expiresAt: number | null;
  /** SHA-256 (hex) of `text`: what the provenance record names instead of the text. */
  textDigest: string;
}

/** A stored memory item. */
export interface MemoryRow extends MemoryScope {
  /** The numeric key the vector index uses (ascending with insertion). */
  key: number;
  id: string;
  tenant: string;
  text: string;
  metadata: Record<string, unknown>;
  embedder: string;
  embedding: Float32Array;
  taskId: string | null;
  createdAt: number;
  expiresAt: number | null;
}

/** A deleted item: which, and the scope whose vector index held it. */
export interface DeletedMemory extends MemoryScope {
  id: string;
  key: number;
}

export interface MemoryPort {
  /** Stores the items (each with its `memory.put` record, in one transaction); returns their keys in order. */
  insertMemories(items: readonly NewMemory[]): Promise<number[]>;
  /**
   * Deletes the items that still exist (each with a `memory.forget` record naming `reason`, in one
   * transaction); returns the deleted ones, in the order given. With `tenant`, only that tenant's items.
   */
  deleteMemories(
    ids: readonly string[],
    reason: ForgetReason,
    now: number,
    tenant?: string,
  ): Promise<DeletedMemory[]>;
  /** One item by id; with `tenant`, only if it is that tenant's. */
  getMemory(id: string, tenant?: string): Promise<MemoryRow | undefined>;
  /** Items by index key (the ones that still exist, in no particular order). */
  memoriesByKeys(keys: readonly number[]): Promise<MemoryRow[]>;
  /** The scope's items not expired at `now`, newest first, at most `limit`. */
  listMemories(scope: MemoryScope, now: number, limit: number): Promise<MemoryRow[]>;
  /** The scope's items with key > `afterKey`, by ascending key, at most `limit` (to catch an index up). */
  memoriesAfter(scope: MemoryScope, afterKey: number, limit: number): Promise<MemoryRow[]>;
  /** How many items the scope holds (expired ones included until they are deleted). */
  countMemories(scope: MemoryScope): Promise<number>;
  /** Ids of the scope's oldest items beyond its newest `keep` (those to evict). */
  memoriesBeyond(scope: MemoryScope, keep: number): Promise<string[]>;
  /** Ids of items of any scope expired at `now`, soonest expired first, at most `limit` (the expiry index). */
  expiredMemories(now: number, limit: number): Promise<string[]>;
}
