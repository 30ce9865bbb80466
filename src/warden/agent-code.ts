import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { WardenError } from '../core/index.js';
import { agentCodeDigest, type AgentCodeFile } from '../store/index.js';

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

/**
 * Writes stored agent files to `<root>/agents/sha256-<digest>/` if that directory is not there yet: into a
 * temporary directory first, checked against `digest`, then renamed into place (another process doing the
 * same at once is harmless: the first rename wins, both are the same content). Directories 0755 and files
 * 0644: agents run as an unprivileged user in the sandbox.
 */
export async function materialiseAgentCode(
  root: string,
  digest: string,
  load: () => Promise<AgentCodeFile[] | undefined>,
  agent: string,
): Promise<string> {
  const agents = join(root, 'agents');
  const dir = join(agents, `sha256-${digest}`);
  if (
    await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    )
  )
    return dir;
  const files = await load();
  if (!files)
    throw new WardenError(
      'AGENT_CODE_UNAVAILABLE',
      `The code of ${agent} (sha256 ${digest.slice(0, 12)}…) is missing from the database`,
      { details: { agent, codeDigest: digest } },
    );
  const actual = agentCodeDigest(files);
  if (actual !== digest)
    throw new WardenError(
      'AGENT_VERSION_CONFLICT',
      `The code of ${agent} stored in the database does not have its digest (stored as sha256 ${digest.slice(0, 12)}…, its files hash to ${actual.slice(0, 12)}…): it was changed outside Warden and will not run`,
      { details: { agent, codeDigest: digest, digest: actual } },
    );
  await mkdir(agents, { recursive: true, mode: 0o755 });
  const staging = await mkdtemp(join(agents, '.fetch-'));
  try {
    await chmod(staging, 0o755);
    for (const file of files) {
      const target = join(staging, file.path);
      if (relative(staging, target).startsWith('..') || file.path.includes('\0'))
        throw new WardenError(
          'AGENT_VERSION_CONFLICT',
          `Stored code of ${agent} names a file outside its directory`,
          {
            details: { agent, file: file.path },
          },
        );
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, file.bytes, { mode: 0o644, flag: 'wx' });
      await chmod(target, 0o644); // the umask must not take read access from the sandbox user
    }
    await chmodDirs(staging);
    await rename(staging, dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  return dir;
}

async function chmodDirs(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true }))
    if (entry.isDirectory()) await chmodDirs(join(dir, entry.name));
}
