import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { WardenError } from '../core/index.js';
import type { AgentCodeFile } from '../store/index.js';

/** Code larger than this is not copied into a shared database. @default 64 MiB */
export const DEFAULT_AGENT_CODE_MAX_BYTES = 64 * 1024 * 1024;

/** The size cap from `WARDEN_AGENT_CODE_MAX_BYTES`, else the default. */
export function agentCodeMaxBytes(option: number | undefined): number {
  if (option !== undefined) return option;
  const env = process.env['WARDEN_AGENT_CODE_MAX_BYTES'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new WardenError(
        'INVALID_INPUT',
        `WARDEN_AGENT_CODE_MAX_BYTES must be a whole number of bytes, got ${JSON.stringify(env)}`,
      );
    return n;
  }
  return DEFAULT_AGENT_CODE_MAX_BYTES;
}

/**
 * The regular files under an agent's directory (a path registration), as relative paths, or null when they
 * add up to more than `maxBytes` or cannot be read (then the code stays a path reference). Symbolic links
 * to files are read through; `.git` directories, links to directories and the `skip` directories (Warden's
 * data directory, with its keys, when it lies inside the agent's) are left out.
 */
export async function collectAgentFiles(
  dir: string,
  maxBytes: number,
  skip: readonly string[] = [],
): Promise<AgentCodeFile[] | null> {
  const skipped = new Set(skip.map((d) => resolve(d)));
  const files: AgentCodeFile[] = [];
  let total = 0;
  const walk = async (at: string): Promise<boolean> => {
    const entries = await readdir(at, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === '.git' || skipped.has(resolve(path))) continue;
        if (!(await walk(path))) return false;
        continue;
      }
      const info = entry.isSymbolicLink() ? await stat(path).catch(() => null) : await lstat(path);
      if (!info?.isFile()) continue;
      total += info.size;
      if (total > maxBytes) return false;
      files.push({ path: relative(dir, path), bytes: await readFile(path) });
    }
    return true;
  };
  try {
    return (await walk(dir)) ? files : null;
  } catch {
    return null;
  }
}
