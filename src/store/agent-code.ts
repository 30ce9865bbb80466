import { createHash } from 'node:crypto';
import { WardenError } from '../core/index.js';

/** One file of an agent version's code: its path relative to the agent's directory, and its bytes. */
export interface AgentCodeFile {
  path: string;
  bytes: Buffer;
}

/**
 * The content digest of a set of agent files: the SHA-256 of one line per file, `<sha256 of its bytes>  <path>`,
 * sorted by path. The same digest names an upload's directory (`agents/sha256-<digest>/`) and keys the
 * `agent_code` table, so a worker materialises stored code into the very directory name an upload gets.
 */
export function agentCodeDigest(files: readonly AgentCodeFile[]): string {
  const listing = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${createHash('sha256').update(f.bytes).digest('hex')}  ${f.path}\n`)
    .join('');
  return createHash('sha256').update(listing).digest('hex');
}

const MAGIC = Buffer.from('WAC1');

/**
 * The canonical archive stored in one `agent_code` row: `WAC1`, then per file (sorted by path) a 4-byte
 * big-endian path length, the UTF-8 path, an 8-byte big-endian size and the bytes. Paths and bytes exactly
 * as registered, so the digest can be recomputed from the row alone.
 */
export function encodeAgentCode(files: readonly AgentCodeFile[]): Buffer {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [MAGIC];
  for (const f of sorted) {
    const path = Buffer.from(f.path, 'utf8');
    const head = Buffer.alloc(12);
    head.writeUInt32BE(path.length, 0);
    head.writeBigUInt64BE(BigInt(f.bytes.length), 4);
    parts.push(head.subarray(0, 4), path, head.subarray(4), f.bytes);
  }
  return Buffer.concat(parts);
}

export function decodeAgentCode(archive: Buffer): AgentCodeFile[] {
  const bad = (why: string) =>
    new WardenError('STORAGE_ERROR', `A stored agent code archive is malformed (${why})`);
  if (archive.length < 4 || !archive.subarray(0, 4).equals(MAGIC)) throw bad('no header');
  const files: AgentCodeFile[] = [];
  let at = 4;
  while (at < archive.length) {
    if (at + 4 > archive.length) throw bad('truncated path length');
    const pathLength = archive.readUInt32BE(at);
    at += 4;
    if (at + pathLength + 8 > archive.length) throw bad('truncated path');
    const path = archive.subarray(at, at + pathLength).toString('utf8');
    at += pathLength;
    const size = Number(archive.readBigUInt64BE(at));
    at += 8;
    if (at + size > archive.length) throw bad(`truncated file ${path}`);
    files.push({ path, bytes: Buffer.from(archive.subarray(at, at + size)) });
    at += size;
  }
  return files;
}

/** Refuses a put whose files do not have the digest it names (a caller bug, never stored). */
export function checkAgentCodeDigest(digest: string, files: readonly AgentCodeFile[]): number {
  const actual = agentCodeDigest(files);
  if (actual !== digest)
    throw new WardenError(
      'INVALID_INPUT',
      `Agent code digest ${digest.slice(0, 12)}… does not match its files (sha256 ${actual.slice(0, 12)}…)`,
      { details: { digest, actual } },
    );
  return files.reduce((n, f) => n + f.bytes.length, 0);
}

/** The version whose code a put stores: a worker looks the code up by the version's key and code digest. */
export interface AgentCodeVersion {
  agentKey: string;
  moduleDigest: string;
}
