import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { SandboxIdentity } from './sandbox-user.js';

export const INSTALL_HINT =
  'apt-get install -y bubblewrap (Debian/Ubuntu), dnf install -y bubblewrap (Fedora)';

/** Options of the installed bubblewrap that Warden uses when they exist (read from `bwrap --help`). */
export interface BwrapFeatures {
  /** `--size` for `--tmpfs` (bubblewrap ≥ 0.7): /tmp and /dev/shm get a hard size. */
  tmpfsSize: boolean;
  /** `--disable-userns` (≥ 0.8): the agent cannot create nested user namespaces. */
  disableUserns: boolean;
  /** `--clearenv` (≥ 0.5). */
  clearEnv: boolean;
}

export interface BwrapProbe {
  ok: boolean;
  path: string | null;
  /** Why the sandbox cannot be used, when ok is false. */
  reason?: string;
  features: BwrapFeatures;
}

const NO_FEATURES: BwrapFeatures = { tmpfsSize: false, disableUserns: false, clearEnv: false };

/**
 * Finds bubblewrap and checks that it can create the namespaces Warden needs here, as the user that will
 * run it (user namespaces may be disabled by the kernel, AppArmor or a container runtime, or only for
 * unprivileged users). Run once per registry: about 5 ms.
 */
export function probeBwrap(explicit?: string, identity?: SandboxIdentity | null): BwrapProbe {
  const path = explicit ?? findOnPath('bwrap');
  if (!path || !existsSync(path)) {
    return {
      ok: false,
      path: null,
      reason: `bubblewrap (bwrap) is not installed; install it: ${INSTALL_HINT}`,
      features: NO_FEATURES,
    };
  }
  const probe = spawnSync(path, ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: '/',
    ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
  });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim();
    const as = identity ? ` as uid ${identity.uid} (the sandbox user)` : '';
    return {
      ok: false,
      path,
      reason: `bubblewrap at ${path} cannot create namespaces here${as} (${why}); enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the AppArmor profile for bwrap)`,
      features: NO_FEATURES,
    };
  }
  const help = spawnSync(path, ['--help'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  return {
    ok: true,
    path,
    features: {
      tmpfsSize: /^\s*--size\b/m.test(help),
      disableUserns: /^\s*--disable-userns\b/m.test(help),
      clearEnv: /^\s*--clearenv\b/m.test(help),
    },
  };
}

/** The first executable `name` on PATH, or null. */
export function findOnPath(name: string, path = process.env['PATH'] ?? '/usr/bin:/bin'): string | null {
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** A read-only bind mount: `source` is the host path bwrap opens, `dest` where the agent sees it. */
export interface Mount {
  source: string;
  dest: string;
}

export interface SandboxPlan {
  /** The command as seen inside the sandbox (the same paths as on the host). */
  file: string;
  args: string[];
  /** The agent's environment: exactly this (passed to bwrap, never to the host-side launcher). */
  env: Record<string, string>;
  /** The agent's directory (the working directory), mounted read-only like the others in `mounts`. */
  codeDir: string;
  /** Read-only mounts outside the system directories: the code directory, a venv, an interpreter. */
  mounts: Mount[];
  /** Paths covered by an empty read-only directory (Warden's data directory under a mounted one). */
  masks: string[];
  /** The egress proxy's Unix socket, mounted at EGRESS_SOCKET, when the manifest allows network. */
  egressSocket?: string;
  /** Size of the private /tmp (a tmpfs). */
  tmpBytes: number;
  /** Size of /dev/shm (a tmpfs). */
  shmBytes: number;
  features: BwrapFeatures;
  rlimits: Rlimits;
}

export interface Rlimits {
  /** RLIMIT_AS in bytes; undefined leaves it unlimited (V8 reserves far more address space than it uses). */
  addressSpaceBytes?: number;
  processes: number;
  fileSizeBytes: number;
  openFiles: number;
  cpuSeconds: number;
}

export const EGRESS_SOCKET = '/run/warden/egress.sock';
export const EGRESS_PORT = 3128;

/** System paths mounted read-only; everything else of the host (home, /etc/shadow, /root, /var) is absent. */
export const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const ETC_FILES = [
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/localtime',
  '/etc/mime.types',
];

/** Whether a path lies in (or is) one of the system directories every sandbox mounts. */
export function inSystemDir(path: string): boolean {
  return SYSTEM_DIRS.some((d) => path === d || path.startsWith(`${d}/`));
}

/**
 * The bubblewrap command line: new user (the agent is nobody), pid, ipc, uts, net and cgroup namespaces,
 * no nested user namespaces; no capabilities; read-only system directories and code; a size-limited
 * private /tmp and /dev/shm (tmpfs) and an otherwise read-only tree; a fresh /proc and minimal /dev;
 * rlimits applied by prlimit inside; the sandbox dies with Warden (--die-with-parent). The options go to
 * bwrap through `--args` (so that the environment, secrets included, never shows in the host's process
 * list or reaches a host-side process); the command follows `--` on its command line.
 */
export function bwrapArgs(plan: SandboxPlan): { options: string[]; command: string[] } {
  const f = plan.features;
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup-try',
    '--uid',
    '65534',
    '--gid',
    '65534',
    '--hostname',
    'warden-sandbox',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    ...(f.disableUserns ? ['--disable-userns'] : []),
    ...(f.clearEnv ? ['--clearenv'] : []),
  ];
  for (const [name, value] of Object.entries(plan.env)) args.push('--setenv', name, value);
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const stat = lstatSync(dir);
    // On merged-/usr systems /bin is a link into /usr: keep it a link.
    if (stat.isSymbolicLink()) args.push('--symlink', `usr${dir}`, dir);
    else args.push('--ro-bind', dir, dir);
  }
  for (const path of ETC_FILES) args.push('--ro-bind-try', path, path);
  const sized = (bytes: number) => (f.tmpfsSize ? ['--size', String(bytes)] : []);
  args.push('--proc', '/proc', '--dev', '/dev', ...sized(plan.shmBytes), '--tmpfs', '/dev/shm');
  args.push('--tmpfs', '/run', ...sized(plan.tmpBytes), '--tmpfs', '/tmp');
  for (const m of plan.mounts) args.push('--ro-bind', m.source, m.dest);
  for (const path of plan.masks) args.push('--tmpfs', path, '--remount-ro', path);
  if (plan.egressSocket) args.push('--bind', plan.egressSocket, EGRESS_SOCKET);
  // Everything but /tmp and /dev/shm is read-only: no unmetered tmpfs is left to fill.
  args.push('--remount-ro', '/dev', '--remount-ro', '/run', '--remount-ro', '/');
  args.push('--chdir', plan.codeDir);
  const r = plan.rlimits;
  const command = [
    '/usr/bin/prlimit',
    `--nproc=${r.processes}`,
    `--fsize=${r.fileSizeBytes}`,
    `--nofile=${r.openFiles}`,
    `--cpu=${r.cpuSeconds}`,
    ...(r.addressSpaceBytes ? [`--as=${r.addressSpaceBytes}`] : []),
    '--',
    // bwrap always sets PWD after --chdir: drop it so the agent sees exactly the environment it was given.
    '/usr/bin/env',
    '-u',
    'PWD',
    '--',
    plan.file,
    ...plan.args,
  ];
  return { options: args, command };
}

/** The directory to mount so that an executable outside the system directories can run (its prefix). */
export function installPrefix(executable: string): string {
  return dirname(dirname(executable));
}
