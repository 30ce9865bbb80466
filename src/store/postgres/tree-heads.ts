import type pg from 'pg';
import {
  MerkleFrontier,
  type HeadWitness,
  type SignedTreeHead,
  type TreeHeadSigner,
  type TreeState,
} from '../../provenance/index.js';
import type { TreeHeadsTable } from '../schema.js';

export function rowToTreeHead(r: TreeHeadsTable): SignedTreeHead {
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
 * Signed tree heads on PostgreSQL. Every node signs, with its own key, the sessions its commits extended:
 * on demand (export, verify), at close and, unless the maintenance leader signs for it (`selfSign` false:
 * see maintenance.ts), coalesced on a timer (at most once per session per `signIntervalMs`), as the
 * embedded store does. The tree is rebuilt from the frontier stored with the session's latest head
 * (tree_heads.frontier, whichever node signed it) plus the records after it, or from this node's cached
 * tree while that still ends on the chain. A head replaces the stored one only if it is at least as large,
 * so nodes signing one session concurrently never move it back.
 */
export class PgTreeHeads {
  private readonly cache = new Map<string, TreeState>();
  /** Sessions this node extended since it last signed them, with the seq its commits reached. */
  private readonly dirty = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastSignAt = 0;
  private closed = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly signer: TreeHeadSigner,
    private readonly signIntervalMs: number,
    readonly witness?: HeadWitness,
    /**
     * Whether this node's timer signs its own commits. A node that contends for maintenance leadership
     * does not: the leader signs every session behind, once per interval, whoever committed (one signer
     * reads each record once, where every node signing its own would each read the records of the others
     * in a shared session and race on its head row). Its timer then only forgets what a head covers.
     */
    private readonly selfSign = true,
  ) {}

  committed(heads: ReadonlyMap<string, { seq: number }>): void {
    if (this.closed) return;
    let any = false;
    for (const [s, head] of heads) {
      this.dirty.set(s, Math.max(head.seq, this.dirty.get(s) ?? 0));
      any = true;
    }
    if (!any || this.timer) return;
    const delay = Math.max(0, this.lastSignAt + this.signIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.selfSign) this.lastSignAt = Date.now();
      (this.selfSign ? this.signDirty() : this.forgetCovered()).catch(() => {
        // PostgreSQL away: the sessions stay dirty and are signed on the next commit, export or close.
      });
    }, delay);
    this.timer.unref();
  }

  /** Signs every dirty session (or just `only`, if it is dirty). Runs one at a time. */
  signDirty(only?: string): Promise<void> {
    const run = this.running.then(async () => {
      // Where the leader signs, a head it stored may already cover this node's commits (at close). A
      // self-signing node signs at the current head as before, covering others' records too; and a
      // verify (`only`) always signs, so it never reports what is signable as unsigned.
      if (only === undefined && !this.selfSign) await this.forgetCovered();
      const sessions = only === undefined ? [...this.dirty.keys()] : this.dirty.has(only) ? [only] : [];
      if (sessions.length === 0) return;
      const signed: SignedTreeHead[] = [];
      for (const s of sessions) {
        const seq = this.dirty.get(s) ?? 0;
        this.dirty.delete(s);
        try {
          const head = await this.sign(s);
          if (head) signed.push(head);
        } catch (err) {
          this.dirty.set(s, Math.max(seq, this.dirty.get(s) ?? 0));
          throw err;
        } finally {
          if (signed.length > 0) this.witness?.record(signed.splice(0));
        }
      }
      if (only === undefined) this.lastSignAt = Date.now();
    });
    this.running = run.catch(() => undefined);
    return run;
  }

  /** Drops the dirty sessions whose stored head already covers what this node committed there. */
  private async forgetCovered(): Promise<void> {
    const ids = [...this.dirty.keys()];
    for (let i = 0; i < ids.length; i += 1000) {
      const { rows } = await this.pool.query<{ session_id: string; tree_size: number }>(
        'SELECT session_id, tree_size FROM tree_heads WHERE session_id = ANY($1::text[])',
        [ids.slice(i, i + 1000)],
      );
      for (const r of rows) {
        const seq = this.dirty.get(r.session_id);
        if (seq !== undefined && Number(r.tree_size) >= seq) this.dirty.delete(r.session_id);
      }
    }
  }

  /** Signs the session's tree at its current chain head; undefined for an empty chain. */
  async signNow(sessionId: string): Promise<SignedTreeHead | undefined> {
    this.dirty.delete(sessionId);
    const head = await this.sign(sessionId);
    if (head) this.witness?.record([head]);
    return head;
  }

  async latest(sessionId: string): Promise<SignedTreeHead | undefined> {
    const { rows } = await this.pool.query<TreeHeadsTable>('SELECT * FROM tree_heads WHERE session_id = $1', [
      sessionId,
    ]);
    return rows[0] ? rowToTreeHead(rows[0]) : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.signDirty();
  }

  private async sign(sessionId: string): Promise<SignedTreeHead | undefined> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      const head = (
        await client.query<{ seq: number; hash: string }>(
          'SELECT seq, hash FROM provenance_heads WHERE session_id = $1',
          [sessionId],
        )
      ).rows[0];
      if (!head) return undefined;
      const seq = Number(head.seq);
      const state = await this.treeAt(client, sessionId, seq);
      if (state.frontier.size !== seq) return undefined; // the head moved on meanwhile: signed next time
      const signed = this.signer.sign({
        sessionId,
        treeSize: state.frontier.size,
        rootHash: state.frontier.root(),
        timestamp: Date.now(),
      });
      await client.query(
        `INSERT INTO tree_heads (session_id, tree_size, root_hash, chain_hash, frontier, signed_at, key_id, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_id) DO UPDATE SET tree_size = excluded.tree_size, root_hash = excluded.root_hash,
           chain_hash = excluded.chain_hash, frontier = excluded.frontier, signed_at = excluded.signed_at,
           key_id = excluded.key_id, signature = excluded.signature
         WHERE excluded.tree_size >= tree_heads.tree_size`,
        [
          sessionId,
          signed.treeSize,
          signed.rootHash,
          state.chainHash ?? '',
          state.frontier.serialize(),
          signed.timestamp,
          signed.keyId,
          signed.signature,
        ],
      );
      this.cache.set(sessionId, state);
      return signed;
    } catch (err) {
      broken = err;
      throw err;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** The session's tree over records 1..seq (seq is a committed chain head). */
  private async treeAt(client: pg.PoolClient, sessionId: string, seq: number): Promise<TreeState> {
    const hashAt = async (n: number) =>
      (
        await client.query<{ hash: string }>(
          'SELECT hash FROM provenance WHERE session_id = $1 AND seq = $2',
          [sessionId, n],
        )
      ).rows[0]?.hash;
    const endsOnChain = async (s: TreeState) =>
      s.frontier.size <= seq && (s.frontier.size === 0 || (await hashAt(s.frontier.size)) === s.chainHash);
    let state = this.cache.get(sessionId);
    if (state && !(await endsOnChain(state))) state = undefined;
    if (!state) {
      const row = (
        await client.query<TreeHeadsTable>(
          'SELECT tree_size, chain_hash, frontier FROM tree_heads WHERE session_id = $1',
          [sessionId],
        )
      ).rows[0];
      const frontier = row && MerkleFrontier.parse(Number(row.tree_size), row.frontier);
      const stored = frontier ? { frontier, chainHash: row.chain_hash } : undefined;
      state = stored && (await endsOnChain(stored)) ? stored : undefined;
    }
    const copy: TreeState = state
      ? { frontier: state.frontier.clone(), chainHash: state.chainHash }
      : { frontier: MerkleFrontier.empty(), chainHash: null };
    while (copy.frontier.size < seq) {
      const { rows } = await client.query<{ record: string; hash: string }>(
        'SELECT record, hash FROM provenance WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT 1000',
        [sessionId, copy.frontier.size, seq],
      );
      if (rows.length === 0) break;
      for (const r of rows) {
        copy.frontier.append(r.record);
        copy.chainHash = r.hash;
      }
    }
    return copy;
  }
}
