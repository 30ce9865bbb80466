import type { MemoryRow } from '../memory/index.js';
import type { MemoriesTable } from './schema.js';

// Rows of the `memories` table (migration 0014) as both backends read them; the vector is stored as the
// raw bytes of its float32 components (little-endian, as every platform Node runs on is).

/** A `memories` row as a driver returns it: PostgreSQL's bigint columns may come back as strings. */
export type MemoriesRow = Omit<MemoriesTable, 'key' | 'created_at' | 'expires_at'> & {
  key: number | string;
  created_at: number | string;
  expires_at: number | string | null;
};

export function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function bytesVector(b: Uint8Array): Float32Array {
  // A copy: the driver's buffer may be unaligned for a Float32Array view, or a slice of a shared pool.
  const out = new Float32Array(b.byteLength >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.byteLength));
  return out;
}

export function rowToMemory(r: MemoriesRow): MemoryRow {
  return {
    key: Number(r.key),
    id: r.id,
    tenant: r.tenant,
    sessionId: r.session_id,
    agent: r.agent,
    text: r.text,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    embedder: r.embedder,
    embedding: bytesVector(r.embedding),
    taskId: r.task_id,
    createdAt: Number(r.created_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  };
}
