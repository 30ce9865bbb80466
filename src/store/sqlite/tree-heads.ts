import type { Database, Statement } from 'better-sqlite3';
import {
  SessionTrees,
  type ChainHead,
  type HeadWitness,
  type SignedTreeHead,
  type TreeHeadSigner,
  type TreeState,
} from '../../provenance/index.js';
import type { Database as Schema } from '../schema.js';

const SQL = {
  getHead: 'SELECT seq, hash FROM provenance_heads WHERE session_id = ?',
  chainHashAt: 'SELECT hash FROM provenance WHERE session_id = ? AND seq = ?',
  recordsBetween:
    'SELECT record, hash FROM provenance WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq',
  getTreeHead: 'SELECT * FROM tree_heads WHERE session_id = ?',
  // Never replace a head with an older one: another process may have signed a longer tree meanwhile.
  putTreeHead: `INSERT INTO tree_heads (session_id, tree_size, root_hash, chain_hash, frontier, signed_at, key_id, signature)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET tree_size = excluded.tree_size, root_hash = excluded.root_hash,
      chain_hash = excluded.chain_hash, frontier = excluded.frontier, signed_at = excluded.signed_at,
      key_id = excluded.key_id, signature = excluded.signature
    WHERE excluded.tree_size >= tree_heads.tree_size`,
} as const;

type TreeHeadRow = Schema['tree_heads'];

export function rowToTreeHead(r: TreeHeadRow): SignedTreeHead {
  return {
    sessionId: r.session_id,
    treeSize: Number(r.tree_size),
    rootHash: r.root_hash,
    timestamp: Number(r.signed_at),
    keyId: r.key_id,
    signature: r.signature,
  };
}

/**
 * Signed tree heads of the embedded store. Commits extend each session's Merkle frontier inside their
 * transaction (ChainWriter); signing is coalesced: after a commit, the dirty sessions are signed on a timer,
 * at most once per session per `signIntervalMs`, and on demand (export) and at close. An Ed25519 signature
 * costs ~30 µs, more than a whole small commit: one per commit would slow single-task latency by a quarter.
 */
export class SqliteTreeHeads {
  readonly trees: SessionTrees;
  private readonly stmt: { [K in keyof typeof SQL]: Statement };
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastSignAt = 0;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly signer: TreeHeadSigner,
    private readonly signIntervalMs: number,
    /** Where each signed head is also written, outside the database (see HeadWitness). */
    readonly witness?: HeadWitness,
  ) {
    const stmt = {} as Record<string, Statement>;
    for (const [name, sql] of Object.entries(SQL)) stmt[name] = db.prepare(sql);
    this.stmt = stmt as typeof this.stmt;
    this.trees = new SessionTrees({
      chainHashAt: (s, seq) => (this.stmt.chainHashAt.get(s, seq) as { hash: string } | undefined)?.hash,
      recordsBetween: (s, after, upto) =>
        this.stmt.recordsBetween.all(s, after, upto) as { record: string; hash: string }[],
      storedFrontier: (s) => {
        const row = this.stmt.getTreeHead.get(s) as TreeHeadRow | undefined;
        return row
          ? { size: Number(row.tree_size), chainHash: row.chain_hash, frontier: row.frontier }
          : undefined;
      },
    });
  }

  /** Called after a commit that extended these sessions' trees. */
  committed(sessionIds: readonly string[]): void {
    if (sessionIds.length === 0 || this.closed) return;
    for (const s of sessionIds) this.dirty.add(s);
    if (this.timer) return;
    const delay = Math.max(0, this.lastSignAt + this.signIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.signDirty();
      } catch {
        // Busy or closed: the sessions stay dirty and are signed on the next commit, export or close.
      }
    }, delay);
    this.timer.unref();
  }

  /** Signs every session whose tree grew since its last signature (or just `only`, if it did). */
  signDirty(only?: string): void {
    const sessions = only === undefined ? [...this.dirty] : this.dirty.has(only) ? [only] : [];
    if (sessions.length === 0) return;
    const now = Date.now();
    const signed = this.db
      .transaction(() => {
        const out: SignedTreeHead[] = [];
        for (const s of sessions) {
          const state = this.trees.current(s);
          if (state) out.push(this.write(s, state, now));
        }
        return out;
      })
      .immediate();
    for (const s of sessions) this.dirty.delete(s);
    if (only === undefined) this.lastSignAt = now;
    // Only once the heads are committed: a witness ahead of the database would look like a rollback.
    this.witness?.record(signed);
  }

  /** Signs the session's tree at the store's current chain head now; undefined for an empty chain. */
  signNow(sessionId: string): SignedTreeHead | undefined {
    const signed = this.db
      .transaction(() => {
        const head = (this.stmt.getHead.get(sessionId) as ChainHead | undefined) ?? null;
        if (!head) return undefined;
        const state = this.trees.at(sessionId, head);
        // The records are already committed, so the caught-up tree is valid whatever happens to this write.
        this.trees.install(sessionId, state);
        this.dirty.delete(sessionId);
        return this.write(sessionId, state, Date.now());
      })
      .immediate();
    if (signed) this.witness?.record([signed]);
    return signed;
  }

  latest(sessionId: string): SignedTreeHead | undefined {
    const row = this.stmt.getTreeHead.get(sessionId) as TreeHeadRow | undefined;
    return row ? rowToTreeHead(row) : undefined;
  }

  /** The stored frontier (complete-subtree roots) of the latest head, to locate a mismatch. */
  latestFrontier(sessionId: string): string | undefined {
    return (this.stmt.getTreeHead.get(sessionId) as TreeHeadRow | undefined)?.frontier;
  }

  /** Stops the timer and signs what is still unsigned. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.signDirty();
  }

  private write(sessionId: string, state: TreeState, now: number): SignedTreeHead {
    const signed = this.signer.sign({
      sessionId,
      treeSize: state.frontier.size,
      rootHash: state.frontier.root(),
      timestamp: now,
    });
    this.stmt.putTreeHead.run(
      sessionId,
      signed.treeSize,
      signed.rootHash,
      state.chainHash ?? '',
      state.frontier.serialize(),
      signed.timestamp,
      signed.keyId,
      signed.signature,
    );
    return signed;
  }
}
