import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installPrefix } from './bwrap.js';
import { findPidsCgroupRoot } from './pids-cgroup.js';

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
}

/** SandboxOptions with defaults applied; what the process runtime sees. */
export interface SandboxConfig {
  bwrapPath: string;
  workRoot: string;
  maxProcesses: number;
  maxFileBytes: number;
  maxOpenFiles: number;
  /** The node binary that runs the egress forwarder, and what must be mounted for it outside /usr. */
  nodePath: string;
  nodeMounts: string[];
  /** Where per-task pids cgroups are made (a hard process limit as root), or null. */
  pidsCgroupRoot: string | null;
}

export function compileSandboxConfig(bwrapPath: string, options: SandboxOptions = {}): SandboxConfig {
  const workRoot = options.workRoot ?? join(tmpdir(), 'warden-sandbox');
  mkdirSync(workRoot, { recursive: true, mode: 0o700 });
  const nodePath = process.execPath;
  return {
    bwrapPath,
    workRoot,
    maxProcesses: options.maxProcesses ?? 64,
    maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024,
    maxOpenFiles: options.maxOpenFiles ?? 256,
    nodePath,
    nodeMounts: nodePath.startsWith('/usr/') ? [] : [installPrefix(nodePath)],
    pidsCgroupRoot: findPidsCgroupRoot(),
  };
}
