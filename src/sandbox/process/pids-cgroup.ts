import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxIdentity } from './sandbox-user.js';
import { findV1CgroupRoot, makeTaskCgroup, removeTaskCgroup } from './task-cgroup.js';

/**
 * Finds a pids cgroup hierarchy Warden may create children in (cgroup v1 `pids`, writable: Warden runs as
 * root). RLIMIT_NPROC does not bind root-owned processes, user namespace or not, so as root this is what
 * makes the process limit a hard limit. Returns null where there is none (then RLIMIT_NPROC, which does
 * bind non-root users, and the sampling watchdog apply).
 */
export function findPidsCgroupRoot(): string | null {
  return findV1CgroupRoot('pids');
}

/** One task's pids cgroup: the sandbox's launcher joins it before bwrap starts, so every descendant is counted. */
export class PidsCgroup {
  private constructor(readonly path: string) {}

  /** `joiner`: the user the launcher runs as, who must be able to write cgroup.procs. */
  static async create(root: string, maxPids: number, joiner?: SandboxIdentity | null): Promise<PidsCgroup> {
    const path = await makeTaskCgroup(root, joiner);
    await writeFile(join(path, 'pids.max'), String(maxPids));
    return new PidsCgroup(path);
  }

  /** Sets the process limit (a spare launcher's cgroup gets its task's here, before the task runs). */
  setMax(maxPids: number): Promise<void> {
    return writeFile(join(this.path, 'pids.max'), String(maxPids));
  }

  /** Whether a fork was refused at the limit. */
  limitHit(): boolean {
    try {
      return /max (\d+)/.exec(readFileSync(join(this.path, 'pids.events'), 'utf8'))?.[1] !== '0';
    } catch {
      return false;
    }
  }

  /** The host pids of the processes in the cgroup (empty once they are gone, or if it cannot be read). */
  members(): number[] {
    try {
      return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /**
   * SIGKILLs every process in the cgroup, whatever session, group or namespace it moved to: a process that
   * escaped the sandbox's own teardown (bwrap killed before its child armed --die-with-parent) is still
   * counted here. Repeated a few times to catch forks racing the kill.
   */
  killAll(): void {
    for (let round = 0; round < 5; round++) {
      const pids = this.members();
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }

  remove(): Promise<void> {
    return removeTaskCgroup(this.path);
  }
}
