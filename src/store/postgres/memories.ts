import type pg from 'pg';
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
import type { PgTx } from './tx.js';

/** The store's transaction runner and single-statement query (PgStore's own, handed in). */
export interface PgMemoryAccess {
  tx<T>(what: string, body: (tx: PgTx) => Promise<T>): Promise<T>;
  q<R extends pg.QueryResultRow>(what: string, text: string, values?: unknown[]): Promise<R[]>;
}

// The session scope is `agent IS NULL` (not `IS NOT DISTINCT FROM`, which no index serves); $2 stays
// bound either way so both shapes take the same parameters.
const scopeSql = (s: MemoryScope): string =>
  s.agent === null
    ? 'session_id = $1 AND agent IS NULL AND $2::text IS NULL'
    : 'session_id = $1 AND agent = $2';

/** Cortex memory items in the PostgreSQL store (the MemoryPort of src/memory). */
export class PgMemories implements MemoryPort {
  constructor(private readonly db: PgMemoryAccess) {}

  async insertMemories(items: readonly NewMemory[]): Promise<number[]> {
    if (items.length === 0) return [];
    return this.db.tx('insertMemories', async (tx) => {
      // One statement for the batch: columns as arrays, unnested in order.
      const rows = await tx.q<{ id: string; key: string }>(
        `INSERT INTO memories (id, tenant, session_id, agent, text, metadata, embedder, embedding, task_id, created_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::bytea[], $9::text[], $10::bigint[], $11::bigint[])
         RETURNING id, key`,
        [
          items.map((m) => m.id),
          items.map((m) => m.tenant),
          items.map((m) => m.sessionId),
          items.map((m) => m.agent),
          items.map((m) => m.text),
          items.map((m) => m.metadataJson),
          items.map((m) => m.embedder),
          items.map((m) => vectorBytes(m.embedding)),
          items.map((m) => m.taskId),
          items.map((m) => m.createdAt),
          items.map((m) => m.expiresAt),
        ],
      );
      for (const m of items) tx.chain.add(m.sessionId, records.memoryPut(m));
      const keys = new Map(rows.map((r) => [r.id, Number(r.key)]));
      return items.map((m) => keys.get(m.id)!);
    });
  }

  async deleteMemories(
    ids: readonly string[],
    reason: ForgetReason,
    now: number,
    tenant?: string,
  ): Promise<DeletedMemory[]> {
    if (ids.length === 0) return [];
    return this.db.tx('deleteMemories', async (tx) => {
      const rows = await tx.q<{ id: string; key: string; session_id: string; agent: string | null }>(
        `DELETE FROM memories WHERE id = ANY($1::text[]) AND ($2::text IS NULL OR tenant = $2)
         RETURNING id, key, session_id, agent`,
        [ids, tenant ?? null],
      );
      // Records in the order the ids were given, as the SQLite store writes them.
      const byId = new Map(rows.map((r) => [r.id, r]));
      const out: DeletedMemory[] = [];
      for (const id of ids) {
        const r = byId.get(id);
        if (!r) continue;
        byId.delete(id);
        tx.chain.add(r.session_id, records.memoryForget({ id, agent: r.agent, reason, at: now }));
        out.push({ id, key: Number(r.key), sessionId: r.session_id, agent: r.agent });
      }
      return out;
    });
  }

  async getMemory(id: string, tenant?: string): Promise<MemoryRow | undefined> {
    const rows = await this.db.q<MemoriesRow>(
      'getMemory',
      'SELECT * FROM memories WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)',
      [id, tenant ?? null],
    );
    return rows[0] ? rowToMemory(rows[0]) : undefined;
  }

  async memoriesByKeys(keys: readonly number[]): Promise<MemoryRow[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.q<MemoriesRow>(
      'memoriesByKeys',
      'SELECT * FROM memories WHERE key = ANY($1::bigint[])',
      [keys],
    );
    return rows.map(rowToMemory);
  }

  async listMemories(scope: MemoryScope, now: number, limit: number): Promise<MemoryRow[]> {
    const rows = await this.db.q<MemoriesRow>(
      'listMemories',
      `SELECT * FROM memories WHERE ${scopeSql(scope)} AND (expires_at IS NULL OR expires_at > $3) ORDER BY key DESC LIMIT $4`,
      [scope.sessionId, scope.agent, now, limit],
    );
    return rows.map(rowToMemory);
  }

  async memoriesAfter(scope: MemoryScope, afterKey: number, limit: number): Promise<MemoryRow[]> {
    const rows = await this.db.q<MemoriesRow>(
      'memoriesAfter',
      `SELECT * FROM memories WHERE ${scopeSql(scope)} AND key > $3 ORDER BY key LIMIT $4`,
      [scope.sessionId, scope.agent, afterKey, limit],
    );
    return rows.map(rowToMemory);
  }

  async countMemories(scope: MemoryScope): Promise<number> {
    const rows = await this.db.q<{ n: string }>(
      'countMemories',
      `SELECT count(*) AS n FROM memories WHERE ${scopeSql(scope)}`,
      [scope.sessionId, scope.agent],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async memoriesBeyond(scope: MemoryScope, keep: number): Promise<string[]> {
    const rows = await this.db.q<{ id: string }>(
      'memoriesBeyond',
      `SELECT id FROM memories WHERE ${scopeSql(scope)} ORDER BY key DESC OFFSET $3`,
      [scope.sessionId, scope.agent, keep],
    );
    return rows.map((r) => r.id);
  }

  async expiredMemories(now: number, limit: number): Promise<string[]> {
    const rows = await this.db.q<{ id: string }>(
      'expiredMemories',
      'SELECT id FROM memories WHERE expires_at <= $1 ORDER BY expires_at, key LIMIT $2',
      [now, limit],
    );
    return rows.map((r) => r.id);
  }
}
