import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { WardenError } from '../core/index.js';
import { agentCodeDigest, type AgentCodeFile } from '../store/index.js';

/**
 * Uploaded agent files, content-addressed: a version's files live in `agents/sha256-<digest>/`, named
 * by the digest of every file's path and content. A directory is written once, under a temporary name,
 * and renamed into place only after the version's registration committed, so no upload can change the
 * files of a version already registered (another version with the same files shares the directory).
 */
export class StagedAgentFiles {
  private constructor(
    /** Where the files are now, for computing the code digest before registration. */
    readonly stagingDir: string,
    /** Where they live once registered (the manifest's baseDir). */
    readonly dir: string,
    /** The files as relative paths (what a shared database stores). */
    readonly files: readonly AgentCodeFile[],
  ) {}

  /** Writes `files` (relative paths) to a fresh staging directory under `<root>/agents`. */
  static async stage(storageRoot: string, files: ReadonlyMap<string, Buffer>): Promise<StagedAgentFiles> {
    const entries = [...files].map(([name, bytes]) => [relativePath(name), bytes] as const);
    const seen = new Set<string>();
    for (const [path] of entries) {
      if (seen.has(path))
        throw new WardenError('INVALID_INPUT', `File ${path} is named twice`, { details: { file: path } });
      seen.add(path);
    }
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const codeFiles = entries.map(([path, bytes]) => ({ path, bytes }));
    const digest = agentCodeDigest(codeFiles);
    const root = join(storageRoot, 'agents');
    // Readable by the sandbox user (agents run as nobody, never as Warden's user); what must stay private
    // in the data directory (warden.db, keys/) has owner-only modes of its own.
    await mkdir(root, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(join(root, '.upload-'));
    let current = '';
    try {
      await chmod(staging, 0o755);
      for (const [path, bytes] of entries) {
        current = path;
        const file = join(staging, path);
        await mkdir(dirname(file), { recursive: true, mode: 0o755 });
        await writeFile(file, bytes, { mode: 0o644, flag: 'wx' });
      }
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // The upload's own shape (a file and a directory of one name, a name too long), not the server's.
      if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG')
        throw new WardenError(
          'INVALID_INPUT',
          `Uploaded file ${current} cannot be stored (${code}): is the same name both a file and a directory, or too long?`,
          { details: { file: current, reason: code } },
        );
      throw err;
    }
    return new StagedAgentFiles(staging, join(root, `sha256-${digest}`), codeFiles);
  }

  /** Moves the staged files to their content-addressed directory (kept as is if it already exists). */
  async commit(): Promise<void> {
    try {
      await rename(this.stagingDir, this.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // The same content is already in place (same digest): nothing to replace.
      await this.discard();
    }
  }

  async discard(): Promise<void> {
    await rm(this.stagingDir, { recursive: true, force: true });
  }
}

/** An uploaded file name as a normalised relative path, refusing absolute paths and `..`. */
function relativePath(name: string): string {
  const cleaned = normalize(name);
  const probe = resolve('/base', cleaned);
  if (
    name.length === 0 ||
    isAbsolute(name) ||
    cleaned.startsWith('..') ||
    !probe.startsWith('/base/') ||
    name.includes('\0')
  ) {
    throw new WardenError(
      'INVALID_INPUT',
      `File name ${JSON.stringify(name)} must be a relative path inside the agent's directory`,
      { details: { file: name } },
    );
  }
  return probe.slice('/base/'.length);
}
