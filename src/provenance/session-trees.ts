import type { ChainHead } from './chain.js';
import { MerkleFrontier } from './frontier.js';

/** Where a stale in-memory tree catches up from: the store's records and its last stored frontier. */
export interface TreeStateSource {
  /** The chain hash of record `seq` of the session, if it exists. */
  chainHashAt(sessionId: string, seq: number): string | undefined;
  /** Records with afterSeq < seq <= uptoSeq, in seq order: their canonical JSON and chain hash. */
  recordsBetween(sessionId: string, afterSeq: number, uptoSeq: number): { record: string; hash: string }[];
  /** The frontier stored with the session's last signed tree head. */
  storedFrontier(sessionId: string): { size: number; chainHash: string; frontier: string } | undefined;
}

/** A session's Merkle tree at `frontier.size` records, the last of which has chain hash `chainHash`. */
export interface TreeState {
  frontier: MerkleFrontier;
  chainHash: string | null;
}

/**
 * The Merkle tree of every session this process appends to, kept as an O(log n) frontier so each commit
 * extends it by its own records only. A cached tree is trusted only while it ends at the record the store
 * says (same seq and chain hash); otherwise (another process appended, a transaction rolled back, a
 * restart) it catches up from the stored frontier and the records after it.
 */
export class SessionTrees {
  private readonly cache = new Map<string, TreeState>();

  constructor(private readonly source: TreeStateSource) {}

  /** A private copy of the session's tree at exactly `head` (the chain head in the store), to extend. */
  at(sessionId: string, head: ChainHead | null): TreeState {
    const want = head?.seq ?? 0;
    let state = this.cache.get(sessionId);
    if (state && !this.endsOnChain(sessionId, state, head)) state = undefined;
    if (!state) {
      const stored = this.source.storedFrontier(sessionId);
      const frontier = stored && MerkleFrontier.parse(stored.size, stored.frontier);
      const candidate = frontier ? { frontier, chainHash: stored.chainHash } : undefined;
      state = candidate && this.endsOnChain(sessionId, candidate, head) ? candidate : undefined;
    }
    const copy: TreeState = state
      ? { frontier: state.frontier.clone(), chainHash: state.chainHash }
      : { frontier: MerkleFrontier.empty(), chainHash: null };
    if (copy.frontier.size < want) {
      for (const r of this.source.recordsBetween(sessionId, copy.frontier.size, want)) {
        copy.frontier.append(r.record);
        copy.chainHash = r.hash;
      }
    }
    return copy;
  }

  /** Makes `state` the session's current tree; call only once the records it covers are committed. */
  install(sessionId: string, state: TreeState): void {
    this.cache.set(sessionId, state);
  }

  current(sessionId: string): TreeState | undefined {
    return this.cache.get(sessionId);
  }

  forget(sessionId: string): void {
    this.cache.delete(sessionId);
  }

  private endsOnChain(sessionId: string, state: TreeState, head: ChainHead | null): boolean {
    const size = state.frontier.size;
    const want = head?.seq ?? 0;
    if (size > want) return false;
    if (size === 0) return true;
    const hash = size === want ? head?.hash : this.source.chainHashAt(sessionId, size);
    return hash === state.chainHash;
  }
}
