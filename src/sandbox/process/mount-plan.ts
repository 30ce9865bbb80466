import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../../core/index.js';
import { SYSTEM_DIRS, inSystemDir, type Mount } from './bwrap.js';
import { canOpenDir, canReach, type SandboxIdentity } from './sandbox-user.js';

/** Where the staging helper mounts its tmpfs: /tmp exists and is searchable by everyone. */
export const STAGE_DIR = '/tmp';

/** What one attempt of an agent mounts. */
export interface MountPlan {
  /** Read-only mounts of the sandbox; a source the sandbox user cannot reach is a path under the stage. */
  mounts: Mount[];
  /** Destinations covered by an empty read-only directory (hidden paths under a mounted directory). */
  masks: string[];
  /** The egress proxy's socket as the sandbox's bwrap opens it (staged or not). */
  egressSocket?: string;
  /**
   * Host paths the sandbox user cannot look up (under a 0700 /root, say): a root bubblewrap bind-mounts
   * each at `dest` under the stage first, and starts the sandbox from there as the sandbox user.
   */
  staged: Mount[];
}

export interface MountInput {
  /** The agent's directory: mounted read-only and the working directory, so it must be readable. */
  codeDir: string;
  /** Other paths to mount read-only (entry outside codeDir, venv, interpreter prefix). */
  readOnly: string[];
  /** Paths no sandbox may see (Warden's data directory, the work root). */
  hidden: string[];
  /** The egress proxy's socket for this attempt, if it has network. */
  egressSocket?: string;
  /** Who the sandbox runs as; null when it is Warden's own user (who can reach whatever Warden can). */
  identity: SandboxIdentity | null;
  /**
   * Where staged paths are bind-mounted: covered by a tmpfs in the staging helper's mount namespace, so it
   * must exist and be reachable by the sandbox user (STAGE_DIR).
   */
  stageDir: string;
}

/**
 * Plans an agent's mounts: resolves each path, stages what the sandbox user cannot reach, and masks every
 * hidden path that a mount (or a system directory) would expose. Refuses, with SANDBOX_MOUNT_REFUSED, an
 * agent whose directory the sandbox user cannot read or that is itself a hidden directory.
 */
export function planMounts(input: MountInput): MountPlan {
  const { identity } = input;
  const plan: MountPlan = { mounts: [], masks: [], staged: [] };
  const seen = new Set<string>();
  const sources: { real: string; dest: string }[] = [];
  for (const dest of [input.codeDir, ...input.readOnly]) {
    if (seen.has(dest) || inSystemDir(dest)) continue;
    seen.add(dest);
    sources.push({ real: realpathOf(dest), dest });
  }
  // The staging helper covers the stage with a tmpfs of its own, hiding what was there: when one source
  // needs staging, all are staged.
  const reached = [...sources.map((s) => s.real), ...(input.egressSocket ? [input.egressSocket] : [])];
  const stage = identity !== null && reached.some((path) => !canReach(path, identity));
  const staged = (source: string) => {
    const at = join(input.stageDir, String(plan.staged.length));
    plan.staged.push({ source, dest: at });
    return at;
  };
  for (const { real, dest } of sources) plan.mounts.push({ source: stage ? staged(real) : real, dest });
  if (input.egressSocket) plan.egressSocket = stage ? staged(input.egressSocket) : input.egressSocket;
  const code = sources[0]!;
  if (identity && !canOpenDir(code.real, identity)) {
    throw new WardenError(
      'SANDBOX_MOUNT_REFUSED',
      `The agent's directory ${input.codeDir} is not readable by the sandbox user (uid ${identity.uid}): Warden runs as root and runs agents as an unprivileged user. Make it readable: chmod o+rx ${input.codeDir} (and o+r the files the agent needs)`,
      { details: { path: input.codeDir, uid: identity.uid } },
    );
  }
  for (const dir of SYSTEM_DIRS) {
    if (existsSync(dir) && !lstatSync(dir).isSymbolicLink()) sources.push({ real: dir, dest: dir });
  }
  for (const hidden of input.hidden) {
    if (!existsSync(hidden)) continue;
    const h = realpathSync(hidden);
    for (const { real, dest } of sources) {
      if (h === real) {
        throw new WardenError(
          'SANDBOX_MOUNT_REFUSED',
          `${dest} is Warden's data directory (or its sandbox work root) and is never mounted into a sandbox: move the agent's files out of it`,
          { details: { path: dest } },
        );
      }
      if (h.startsWith(`${real}/`)) plan.masks.push(dest + h.slice(real.length));
    }
  }
  return plan;
}

function realpathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch (cause) {
    throw new WardenError('FILE_NOT_FOUND', `${path}, needed inside the sandbox, does not exist`, {
      cause,
      details: { path },
    });
  }
}
