import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxIdentity } from './sandbox-user.js';
import { OWNER_TAG } from './stale-sweep.js';

/** Where Warden makes its task cgroups in the cgroup v1 hierarchy of `controller`. */
export function v1CgroupRoot(controller: 'pids' | 'memory'): string {
  return join('/sys/fs/cgroup', controller, 'warden');
}

/**
 * The directory Warden may create task cgroups in for a cgroup v1 controller (writable: Warden runs as
 * root), created if needed; null where there is none (cgroup v2 only, or not root).
 */
export function findV1CgroupRoot(controller: 'pids' | 'memory'): string | null {
  const hierarchy = join('/sys/fs/cgroup', controller);
  try {
    if (!existsSync(join(hierarchy, 'cgroup.procs'))) return null;
    accessSync(hierarchy, constants.W_OK);
    mkdirSync(v1CgroupRoot(controller), { recursive: true });
    return v1CgroupRoot(controller);
  } catch {
    return null;
  }
}

/**
 * Makes one task's cgroup under `root`, named after its owner (`task-<pid>-<start>-…`) so that a Warden
 * killed mid-task can be told from a live one when the next one cleans up. `joiner`: the user the launcher
 * runs as, who must be able to write cgroup.procs.
 */
export async function makeTaskCgroup(root: string, joiner?: SandboxIdentity | null): Promise<string> {
  const path = await mkdtemp(join(root, `task-${OWNER_TAG}-`));
  if (joiner) {
    await chmod(path, 0o755); // mkdtemp made it 0700
    await chown(join(path, 'cgroup.procs'), joiner.uid, joiner.gid);
  }
  return path;
}

/** Removes a task cgroup once its processes are gone (they may take a moment to be reaped). */
export async function removeTaskCgroup(path: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
