import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

export const INSTALL_HINT =
  'apt-get install -y bubblewrap (Debian/Ubuntu), dnf install -y bubblewrap (Fedora)';

export interface BwrapProbe {
  ok: boolean;
  path: string | null;
  /** Why the sandbox cannot be used, when ok is false. */
  reason?: string;
}

/**
 * Finds bubblewrap and checks that it can create the namespaces Warden needs here (user namespaces may be
 * disabled by the kernel, AppArmor or a container runtime). Run once per registry: about 5 ms.
 */
export function probeBwrap(explicit?: string): BwrapProbe {
  const path = explicit ?? findOnPath('bwrap');
  if (!path || !existsSync(path)) {
    return {
      ok: false,
      path: null,
      reason: `bubblewrap (bwrap) is not installed; install it: ${INSTALL_HINT}`,
    };
  }
  const probe = spawnSync(path, ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim();
    return {
      ok: false,
      path,
      reason: `bubblewrap at ${path} cannot create namespaces here (${why}); enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the AppArmor profile for bwrap)`,
    };
  }
  return { ok: true, path };
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter)) {
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

export interface SandboxPlan {
  /** The command as seen inside the sandbox (the same paths as on the host). */
  file: string;
  args: string[];
  /** The agent's directory, mounted read-only at the same path and used as the working directory. */
  codeDir: string;
  /** Extra read-only mounts (an interpreter outside /usr, a venv, a command outside codeDir). */
  readOnly: string[];
  /** The per-task writable directory, mounted as /tmp. */
  workDir: string;
  /** The egress proxy's Unix socket, mounted at EGRESS_SOCKET, when the manifest allows network. */
  egressSocket?: string;
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
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
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

/**
 * The bubblewrap command line: new user (mapped to nobody), pid, ipc, uts, net and cgroup namespaces; no
 * capabilities; read-only system directories and code; a private /tmp; a fresh /proc and minimal /dev;
 * rlimits applied by prlimit inside; the sandbox dies with Warden (--die-with-parent).
 */
export function bwrapArgs(plan: SandboxPlan): string[] {
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
  ];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const stat = lstatSync(dir);
    // On merged-/usr systems /bin is a link into /usr: keep it a link.
    if (stat.isSymbolicLink()) args.push('--symlink', `usr${dir}`, dir);
    else args.push('--ro-bind', dir, dir);
  }
  for (const path of ETC_FILES) args.push('--ro-bind-try', path, path);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/run', '--bind', plan.workDir, '/tmp');
  const mounted = new Set<string>();
  for (const path of [plan.codeDir, ...plan.readOnly]) {
    if (mounted.has(path) || SYSTEM_DIRS.some((d) => path === d || path.startsWith(`${d}/`))) continue;
    mounted.add(path);
    args.push('--ro-bind', path, path);
  }
  if (plan.egressSocket) args.push('--bind', plan.egressSocket, EGRESS_SOCKET);
  args.push('--chdir', plan.codeDir, '--');
  const r = plan.rlimits;
  args.push(
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
  );
  return args;
}

/** The directory to mount so that an executable outside the system directories can run (its prefix). */
export function installPrefix(executable: string): string {
  return dirname(dirname(executable));
}
