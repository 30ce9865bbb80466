import type BetterSqlite3 from 'better-sqlite3';
import { WardenError } from '../../core/index.js';
import {
  checkAgentCodeDigest,
  decodeAgentCode,
  encodeAgentCode,
  type AgentCodeFile,
  type AgentCodeVersion,
} from '../agent-code.js';

/** Agent code in SQLite (migration 0008): one archive row per digest, one link row per version. */
export function putAgentCode(
  db: BetterSqlite3.Database,
  digest: string,
  files: readonly AgentCodeFile[],
  now: number,
  version?: AgentCodeVersion,
): void {
  const totalBytes = checkAgentCodeDigest(digest, files);
  guard(() =>
    db
      .transaction(() => {
        const known = db.prepare('SELECT 1 FROM agent_code WHERE digest = ?').get(digest);
        if (!known)
          db.prepare(
            'INSERT INTO agent_code (digest, archive, total_bytes, file_count, created_at) VALUES (?, ?, ?, ?, ?)',
          ).run(digest, encodeAgentCode(files), totalBytes, files.length, now);
        if (version)
          db.prepare(
            'INSERT INTO agent_code_versions (agent_key, module_digest, code_digest, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent_key, module_digest) DO NOTHING',
          ).run(version.agentKey, version.moduleDigest, digest, now);
      })
      .immediate(),
  );
}

export function getAgentCode(db: BetterSqlite3.Database, digest: string): AgentCodeFile[] | undefined {
  const row = guard(
    () =>
      db.prepare('SELECT archive FROM agent_code WHERE digest = ?').get(digest) as
        { archive: Buffer } | undefined,
  );
  return row ? decodeAgentCode(row.archive) : undefined;
}

export function agentCodeFor(db: BetterSqlite3.Database, version: AgentCodeVersion): string | undefined {
  const row = guard(
    () =>
      db
        .prepare('SELECT code_digest FROM agent_code_versions WHERE agent_key = ? AND module_digest = ?')
        .get(version.agentKey, version.moduleDigest) as { code_digest: string } | undefined,
  );
  return row?.code_digest;
}

function guard<T>(body: () => T): T {
  try {
    return body();
  } catch (cause) {
    if (cause instanceof WardenError) throw cause;
    throw new WardenError('STORAGE_ERROR', `Agent code store failed: ${(cause as Error).message}`, { cause });
  }
}
