import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { WardenError } from '../core/index.js';
import { agentCodeDigest, type AgentCodeFile } from './agent-code.js';

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
