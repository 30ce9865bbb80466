import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); null once it is gone. */
function startTicks(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** This process as its per-task leftovers name it: `<pid>-<start time>` (a pid alone may be reused). */
export const OWNER_TAG = `${process.pid}-${startTicks('self') ?? 0}`;

const OWNED = /^task-(\d+)-(\d+)-/;

/** Whether the process that made `task-<pid>-<start>-…` is gone; false for names without an owner. */
export function ownerGone(name: string): boolean {
  const m = OWNED.exec(name);
  return m !== null && startTicks(Number(m[1])) !== m[2];
}

/**
 * Removes what Wardens killed mid-task (kill -9, OOM, power loss) left behind: task work directories under
 * `workRoot` and task cgroups (pids, memory) under `cgroupRoots`. Several Warden processes share one machine, work
 * root and cgroup root, so only entries whose owner process is gone are touched, and a cgroup only once it
 * is empty (its sandbox dies with its owner, but the kernel may take a moment to reap it). Entries made in
 * another pid namespace (a container sharing this /tmp) look ownerless here: give each its own work root.
 * Best effort; returns how many entries were removed.
 */
export async function sweepStale(workRoot: string, cgroupRoots: string[]): Promise<number> {
  let removed = 0;
  for (const name of await list(workRoot)) {
    if (!ownerGone(name)) continue;
    await rm(join(workRoot, name), { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  for (const root of cgroupRoots) {
    for (const name of await list(root)) {
      if (!ownerGone(name)) continue;
      try {
        if (readFileSync(join(root, name, 'cgroup.procs'), 'utf8').trim() !== '') continue;
        await rmdir(join(root, name));
        removed++;
      } catch {
        // Still busy, or removed by another Warden meanwhile.
      }
    }
  }
  return removed;
}

async function list(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return readdir(dir).catch(() => []);
}
