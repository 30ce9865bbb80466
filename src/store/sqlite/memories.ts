import type BetterSqlite3 from 'better-sqlite3';
import { records } from '../../provenance/index.js';
import type {
  DeletedMemory,
  ForgetReason,
  MemoryPort,
  MemoryRow,
  MemoryScope,
  NewMemory,
} from '../../memory/index.js';
import { rowToMemory, vectorBytes, type MemoriesRow } from '../memory-rows.js';
import type { ChainWriter } from './chain-writer.js';

/** Runs a body in the store's write transaction, with the chain its provenance records go to. */
export type SqliteTx = <T>(body: (chain: ChainWriter) => T) => T;

// `agent IS ?` matches NULL to NULL (the session scope) and a name to itself, and still uses the
// (session_id, agent, key) index.
const SCOPE = 'session_id = ? AND agent IS ?';

/** Cortex memory items in the embedded store (the MemoryPort of src/memory). */
export class SqliteMemories implements MemoryPort {
  private readonly insert: BetterSqlite3.Statement;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly tx: SqliteTx,
  ) {
    this.insert = db.prepare(
      `INSERT INTO memories (id, tenant, session_id, agent, text, metadata, embedder, embedding, task_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  async insertMemories(items: readonly NewMemory[]): Promise<number[]> {
    return this.tx((chain) =>
      items.map((m) => {
        const { lastInsertRowid } = this.insert.run(
          m.id,
          m.tenant,
          m.sessionId,
          m.agent,
          m.text,
          m.metadataJson,
          m.embedder,
          vectorBytes(m.embedding),
          m.taskId,
          m.createdAt,
          m.expiresAt,
        );
        chain.add(m.sessionId, records.memoryPut(m));
        return Number(lastInsertRowid);
      }),
    );
  }

  async deleteMemories(
    ids: readonly string[],
    reason: ForgetReason,
    now: number,
    tenant?: string,
  ): Promise<DeletedMemory[]> {
    if (ids.length === 0) return [];
    return this.tx((chain) => {
      const find = this.db.prepare(
        `SELECT key, id, session_id, agent FROM memories WHERE id = ?${tenant === undefined ? '' : ' AND tenant = ?'}`,
      );
      const remove = this.db.prepare('DELETE FROM memories WHERE key = ?');
      const out: DeletedMemory[] = [];
      for (const id of ids) {
        const row = (tenant === undefined ? find.get(id) : find.get(id, tenant)) as
          Pick<MemoriesRow, 'key' | 'id' | 'session_id' | 'agent'> | undefined;
        if (!row) continue;
        remove.run(row.key);
        chain.add(row.session_id, records.memoryForget({ id, agent: row.agent, reason, at: now }));
        out.push({ id, key: Number(row.key), sessionId: row.session_id, agent: row.agent });
      }
      return out;
    });
  }

  async getMemory(id: string, tenant?: string): Promise<MemoryRow | undefined> {
    const row = (
      tenant === undefined
        ? this.db.prepare('SELECT * FROM memories WHERE id = ?').get(id)
        : this.db.prepare('SELECT * FROM memories WHERE id = ? AND tenant = ?').get(id, tenant)
    ) as MemoriesRow | undefined;
    return row ? rowToMemory(row) : undefined;
  }

  async memoriesByKeys(keys: readonly number[]): Promise<MemoryRow[]> {
    if (keys.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT * FROM memories WHERE key IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(keys)) as MemoriesRow[];
    return rows.map(rowToMemory);
  }

  async listMemories(scope: MemoryScope, now: number, limit: number): Promise<MemoryRow[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM memories WHERE ${SCOPE} AND (expires_at IS NULL OR expires_at > ?) ORDER BY key DESC LIMIT ?`,
      )
      .all(scope.sessionId, scope.agent, now, limit) as MemoriesRow[];
    return rows.map(rowToMemory);
  }

  async memoriesAfter(scope: MemoryScope, afterKey: number, limit: number): Promise<MemoryRow[]> {
    const rows = this.db
      .prepare(`SELECT * FROM memories WHERE ${SCOPE} AND key > ? ORDER BY key LIMIT ?`)
      .all(scope.sessionId, scope.agent, afterKey, limit) as MemoriesRow[];
    return rows.map(rowToMemory);
  }

  async countMemories(scope: MemoryScope): Promise<number> {
    const row = this.db
      .prepare(`SELECT count(*) AS n FROM memories WHERE ${SCOPE}`)
      .get(scope.sessionId, scope.agent) as { n: number };
    return Number(row.n);
  }

  async memoriesBeyond(scope: MemoryScope, keep: number): Promise<string[]> {
    const rows = this.db
      .prepare(`SELECT id FROM memories WHERE ${SCOPE} ORDER BY key DESC LIMIT -1 OFFSET ?`)
      .all(scope.sessionId, scope.agent, keep) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async expiredMemories(now: number, limit: number): Promise<string[]> {
    const rows = this.db
      .prepare('SELECT id FROM memories WHERE expires_at <= ? ORDER BY expires_at, key LIMIT ?')
      .all(now, limit) as { id: string }[];
    return rows.map((r) => r.id);
  }
}
