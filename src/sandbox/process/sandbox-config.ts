import { chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findOnPath, installPrefix, type BwrapFeatures } from './bwrap.js';
import { MAX_SANDBOX_PROCESSES, findLauncherShell, type LauncherShell } from './launcher.js';
import { findMemoryCgroupRoot } from './memory-cgroup.js';
import { findPidsCgroupRoot } from './pids-cgroup.js';
import { sandboxIdentity, type SandboxIdentity } from './sandbox-user.js';
import { SpareLaunchers } from './spare-launcher.js';

/** Options of the bubblewrap sandbox; all optional. */
export interface SandboxOptions {
  /** Path of bwrap. @default the first `bwrap` on PATH */
  bwrapPath?: string;
  /** Where per-task work directories are created (and removed). @default `${os.tmpdir()}/warden-sandbox` */
  workRoot?: string;
  /** Processes (and threads) one agent may run at once (RLIMIT_NPROC and a watchdog). @default 64 */
  maxProcesses?: number;
  /** Largest file an agent may write (RLIMIT_FSIZE). @default 64 MiB */
  maxFileBytes?: number;
  /** Open file descriptors (RLIMIT_NOFILE). @default 256 */
  maxOpenFiles?: number;
  /** Host user sandboxes run as when Warden runs as root (as any other user, they run as that user). @default 65534 (nobody) */
  uid?: number;
  /** Host group sandboxes run as when Warden runs as root. @default 65534 (nogroup) */
  gid?: number;
  /**
   * Directories no sandbox may see: where an agent's mount would expose one, an empty read-only directory
   * covers it. Warden.open adds its data directory; the work root is always hidden. @default []
   */
  hiddenPaths?: string[];
}

/** SandboxOptions with defaults applied; what the process runtime sees. */
export interface SandboxConfig {
  bwrapPath: string;
  features: BwrapFeatures;
  workRoot: string;
  maxProcesses: number;
  maxFileBytes: number;
  maxOpenFiles: number;
  /** Who sandboxes run as; null when they run as Warden's own (unprivileged) user. */
  identity: SandboxIdentity | null;
  hidden: string[];
  shell: LauncherShell;
  /** util-linux setpriv, for sources the sandbox user cannot reach (see launcher.ts); null if missing. */
  setprivPath: string | null;
  /** The node binary that runs the egress forwarder, and what must be mounted for it outside /usr. */
  nodePath: string;
  nodeMounts: string[];
  /** Where per-task pids cgroups are made (a hard process limit as root), or null. */
  pidsCgroupRoot: string | null;
  /** Where per-task memory cgroups are made (shared memory counted, a hard backstop, as root), or null. */
  memoryCgroupRoot: string | null;
  /** Launchers started ahead of their tasks (where tasks run in cgroups), or null. */
  spares: SpareLaunchers | null;
}

/** The memory limit of a spare launcher's cgroup until its task sets its own: the launcher is one bash. */
const SPARE_MEMORY_LIMIT_BYTES = 32 * 1024 * 1024;

/** The work root a Warden with these options uses (without creating it). */
export function workRootOf(options: SandboxOptions = {}): string {
  return resolve(options.workRoot ?? join(tmpdir(), 'warden-sandbox'));
}

export function compileSandboxConfig(
  bwrapPath: string,
  features: BwrapFeatures,
  options: SandboxOptions = {},
): SandboxConfig {
  const workRoot = workRootOf(options);
  const identity = sandboxIdentity(options);
  // Searchable, not listable: the sandbox user must reach its task's egress socket in here.
  mkdirSync(workRoot, { recursive: true, mode: 0o711 });
  if (identity) chmodSync(workRoot, 0o711);
  const nodePath = process.execPath;
  const shell = findLauncherShell();
  const maxProcesses = options.maxProcesses ?? 64;
  const pidsCgroupRoot = findPidsCgroupRoot();
  const memoryCgroupRoot = findMemoryCgroupRoot();
  return {
    bwrapPath,
    features,
    workRoot,
    maxProcesses,
    maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024,
    maxOpenFiles: options.maxOpenFiles ?? 256,
    identity,
    hidden: [...(options.hiddenPaths ?? []).map((p) => resolve(p)), workRoot],
    shell,
    setprivPath: identity ? findOnPath('setpriv', '/usr/bin:/bin:/usr/sbin:/sbin') : null,
    nodePath,
    nodeMounts: nodePath.startsWith('/usr/') ? [] : [installPrefix(nodePath)],
    pidsCgroupRoot,
    memoryCgroupRoot,
    spares: SpareLaunchers.supported(shell, [pidsCgroupRoot, memoryCgroupRoot])
      ? new SpareLaunchers({
          shell,
          identity,
          pidsCgroupRoot,
          memoryCgroupRoot,
          pidsMax: maxProcesses + MAX_SANDBOX_PROCESSES + 1,
          memoryLimitBytes: SPARE_MEMORY_LIMIT_BYTES,
        })
      : null,
  };
}
