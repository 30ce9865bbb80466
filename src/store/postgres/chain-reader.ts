import type pg from 'pg';
import type {
  ChainHead,
  ChainReader,
  SignedTreeHead,
  StoredLink,
  StoredTaskRow,
} from '../../provenance/index.js';
import type { TreeHeadsTable } from '../schema.js';
import { rowToStoredTask, type TaskJoinRow } from '../rows.js';
import { rowToTreeHead } from './tree-heads.js';

/**
 * The PostgreSQL ChainReader: its own pooled connection holding one REPEATABLE READ, READ ONLY
 * transaction for its whole life, so every page comes from one snapshot and writers are never blocked.
 */
export class PgChainReader implements ChainReader {
  private closed = false;

  private constructor(private readonly client: pg.PoolClient) {}

  static async open(pool: pg.Pool): Promise<PgChainReader> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // The snapshot is taken at the first statement: take it now.
      await client.query('SELECT 1 FROM sessions LIMIT 1');
      return new PgChainReader(client);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
  }

  async chainHead(sessionId: string): Promise<ChainHead | null> {
    const { rows } = await this.client.query<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM provenance_heads WHERE session_id = $1',
      [sessionId],
    );
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  }

  async treeHead(sessionId: string): Promise<{ head: SignedTreeHead; frontier: string } | undefined> {
    const { rows } = await this.client.query<TreeHeadsTable>(
      'SELECT * FROM tree_heads WHERE session_id = $1',
      [sessionId],
    );
    return rows[0] ? { head: rowToTreeHead(rows[0]), frontier: rows[0].frontier } : undefined;
  }

  async links(sessionId: string, afterSeq: number, uptoSeq: number, limit: number): Promise<StoredLink[]> {
    const { rows } = await this.client.query<{
      seq: number;
      prev_hash: string;
      hash: string;
      record: string;
    }>(
      `SELECT seq, prev_hash, hash, record FROM provenance
       WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
      [sessionId, afterSeq, Math.min(uptoSeq, Number.MAX_SAFE_INTEGER), limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recordJson: r.record,
    }));
  }

  async tasks(sessionId: string, afterId: string, limit: number): Promise<StoredTaskRow[]> {
    const { rows } = await this.client.query<TaskJoinRow>(
      `SELECT t.id, t.state, r.status, r.output, r.output_digest, r.error, r.record_seq, r.task_id AS result_of
       FROM tasks t LEFT JOIN results r ON r.task_id = t.id
       WHERE t.session_id = $1 AND t.id > $2 ORDER BY t.id LIMIT $3`,
      [sessionId, afterId, limit],
    );
    return rows.map(rowToStoredTask);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.query('COMMIT').then(
      () => this.client.release(),
      (err: Error) => this.client.release(err),
    );
  }
}
