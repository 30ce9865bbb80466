import type pg from 'pg';
import {
  checkAgentCodeDigest,
  decodeAgentCode,
  encodeAgentCode,
  type AgentCodeFile,
  type AgentCodeVersion,
} from '../agent-code.js';
import { storageError } from './tx.js';

/** Agent code in PostgreSQL (migration 0008): one archive row per digest, one link row per version. */
export async function putAgentCode(
  pool: pg.Pool,
  target: string,
  digest: string,
  files: readonly AgentCodeFile[],
  now: number,
  version?: AgentCodeVersion,
): Promise<void> {
  const totalBytes = checkAgentCodeDigest(digest, files);
  const client = await pool.connect().catch((cause: unknown) => {
    throw storageError(cause, 'putAgentCode', target);
  });
  try {
    await client.query('BEGIN');
    // The archive is sent only when this digest is new: re-registering the same code uploads nothing.
    const known = await client.query('SELECT 1 FROM agent_code WHERE digest = $1', [digest]);
    if (known.rowCount === 0)
      await client.query(
        `INSERT INTO agent_code (digest, archive, total_bytes, file_count, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING`,
        [digest, encodeAgentCode(files), totalBytes, files.length, now],
      );
    if (version)
      await client.query(
        `INSERT INTO agent_code_versions (agent_key, module_digest, code_digest, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (agent_key, module_digest) DO NOTHING`,
        [version.agentKey, version.moduleDigest, digest, now],
      );
    await client.query('COMMIT');
  } catch (cause) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw storageError(cause, 'putAgentCode', target);
  } finally {
    client.release();
  }
}

export async function getAgentCode(
  pool: pg.Pool,
  target: string,
  digest: string,
): Promise<AgentCodeFile[] | undefined> {
  const { rows } = await pool
    .query<{ archive: Buffer }>('SELECT archive FROM agent_code WHERE digest = $1', [digest])
    .catch((cause: unknown) => {
      throw storageError(cause, 'getAgentCode', target);
    });
  return rows[0] ? decodeAgentCode(rows[0].archive) : undefined;
}

export async function agentCodeFor(
  pool: pg.Pool,
  target: string,
  version: AgentCodeVersion,
): Promise<string | undefined> {
  const { rows } = await pool
    .query<{ code_digest: string }>(
      'SELECT code_digest FROM agent_code_versions WHERE agent_key = $1 AND module_digest = $2',
      [version.agentKey, version.moduleDigest],
    )
    .catch((cause: unknown) => {
      throw storageError(cause, 'agentCodeFor', target);
    });
  return rows[0]?.code_digest;
}
