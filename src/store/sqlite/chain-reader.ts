import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import type {
  ChainHead,
  ChainReader,
  SignedTreeHead,
  StoredLink,
  StoredTaskRow,
} from '../../provenance/index.js';
import type { Database as Schema } from '../schema.js';
import { rowToStoredTask, type TaskJoinRow } from '../rows.js';
import { rowToTreeHead } from './tree-heads.js';

const SQL = {
  chainHead: 'SELECT seq, hash FROM provenance_heads WHERE session_id = ?',
  treeHead: 'SELECT * FROM tree_heads WHERE session_id = ?',
  links: `SELECT seq, prev_hash, hash, record FROM provenance
    WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
  tasks: `SELECT t.id, t.state, r.status, r.output, r.output_digest, r.error, r.record_seq, r.task_id AS result_of
    FROM tasks t INDEXED BY tasks_session LEFT JOIN results r ON r.task_id = t.id
    WHERE t.session_id = ? AND t.id > ? ORDER BY t.id LIMIT ?`,
} as const;

/**
 * The embedded store's ChainReader. On a database file it opens its own read-only connection and holds one
 * read transaction for its whole life: the pages it returns all come from one snapshot, and in WAL mode that
 * snapshot never blocks the writers (only checkpoints wait for it to end). A ':memory:' database has no
 * second connection: there it reads the main one without a transaction, and records, being append-only,
 * still read consistently; task rows may then move on between pages.
 */
export class SqliteChainReader implements ChainReader {
  private readonly stmt: { [K in keyof typeof SQL]: Statement };
  private closed = false;

  private constructor(
    private readonly db: Database,
    private readonly owned: boolean,
  ) {
    const stmt = {} as Record<string, Statement>;
    for (const [name, sql] of Object.entries(SQL)) stmt[name] = db.prepare(sql);
    this.stmt = stmt as typeof this.stmt;
  }

  static open(path: string, main: Database): SqliteChainReader {
    if (path === ':memory:') return new SqliteChainReader(main, false);
    const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      db.exec('BEGIN');
      // The snapshot starts at the first read: take it now, before anything is appended meanwhile.
      db.prepare('SELECT count(*) FROM sessions').get();
      return new SqliteChainReader(db, true);
    } catch (cause) {
      db.close();
      throw cause;
    }
  }

  chainHead(sessionId: string): ChainHead | null {
    const row = this.stmt.chainHead.get(sessionId) as { seq: number; hash: string } | undefined;
    return row ? { seq: Number(row.seq), hash: row.hash } : null;
  }

  treeHead(sessionId: string): { head: SignedTreeHead; frontier: string } | undefined {
    const row = this.stmt.treeHead.get(sessionId) as Schema['tree_heads'] | undefined;
    return row ? { head: rowToTreeHead(row), frontier: row.frontier } : undefined;
  }

  links(sessionId: string, afterSeq: number, uptoSeq: number, limit: number): StoredLink[] {
    const rows = this.stmt.links.all(sessionId, afterSeq, uptoSeq, limit) as {
      seq: number;
      prev_hash: string;
      hash: string;
      record: string;
    }[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recordJson: r.record,
    }));
  }

  tasks(sessionId: string, afterId: string, limit: number): StoredTaskRow[] {
    const rows = this.stmt.tasks.all(sessionId, afterId, limit) as TaskJoinRow[];
    return rows.map(rowToStoredTask);
  }

  close(): void {
    if (this.closed || !this.owned) return;
    this.closed = true;
    try {
      this.db.exec('COMMIT');
    } finally {
      this.db.close();
    }
  }
}
