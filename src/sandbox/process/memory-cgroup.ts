import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxIdentity } from './sandbox-user.js';
import { findV1CgroupRoot, makeTaskCgroup, removeTaskCgroup } from './task-cgroup.js';

/**
 * Finds a memory cgroup (v1) hierarchy Warden may create children in, or null (cgroup v2 only, not root).
 * There, memory an agent holds outside any process's resident set — SysV shared memory segments and memfd
 * files, which live in no file system the sampler can see — is charged to the task and bounded.
 */
export function findMemoryCgroupRoot(): string | null {
  return findV1CgroupRoot('memory');
}

/**
 * One task's memory cgroup, joined by the sandbox's launcher with the pids one: it counts what the task's
 * processes hold (anonymous and shared memory: tmpfs, SysV, memfd), and its limit is a hard backstop
 * above memoryMb for what sampling would catch too late.
 */
export class MemoryCgroup {
  private constructor(readonly path: string) {}

  static async create(
    root: string,
    limitBytes: number,
    joiner?: SandboxIdentity | null,
  ): Promise<MemoryCgroup> {
    const path = await makeTaskCgroup(root, joiner);
    await writeFile(join(path, 'memory.limit_in_bytes'), String(limitBytes));
    return new MemoryCgroup(path);
  }

  /** Sets the hard limit (a spare launcher's cgroup gets its task's here, before the task runs). */
  setLimit(limitBytes: number): Promise<void> {
    return writeFile(join(this.path, 'memory.limit_in_bytes'), String(limitBytes));
  }

  /** Anonymous plus shared memory charged to the task; the page cache of files it read is left out. */
  usedBytes(): number {
    try {
      const stat = readFileSync(join(this.path, 'memory.stat'), 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
      return field('total_rss') + field('total_shmem');
    } catch {
      return 0;
    }
  }

  /** Whether the kernel killed one of the task's processes at the limit. */
  oomKilled(): boolean {
    try {
      const control = readFileSync(join(this.path, 'memory.oom_control'), 'utf8');
      return Number(/^oom_kill (\d+)$/m.exec(control)?.[1] ?? 0) > 0;
    } catch {
      return false;
    }
  }

  remove(): Promise<void> {
    return removeTaskCgroup(this.path);
  }
}
