import { existsSync } from 'node:fs';
import type { Mount } from './bwrap.js';
import type { SandboxIdentity } from './sandbox-user.js';

/** At most this many processes of a sandbox are its own (bwraps and pid-namespace inits), not the agent's. */
export const MAX_SANDBOX_PROCESSES = 4;

/** The descriptor on which bwrap reads its arguments (`--args 3`); every other one above 2 is closed. */
export const ARGS_FD = 3;

/** The shell that starts sandboxes: bash can close any descriptor, a POSIX sh only 0-9. */
export interface LauncherShell {
  path: string;
  bash: boolean;
}

export function findLauncherShell(): LauncherShell {
  return existsSync('/bin/bash') ? { path: '/bin/bash', bash: true } : { path: '/bin/sh', bash: false };
}

export interface LaunchInput {
  shell: LauncherShell;
  bwrapPath: string;
  /** What the sandbox runs (after bwrap's options, which it reads from ARGS_FD). */
  command: string[];
  /** util-linux setpriv, which drops to the sandbox user after staging; null when not installed. */
  setprivPath: string | null;
  /** Who the sandbox runs as (null: Warden's own user). */
  identity: SandboxIdentity | null;
  /** The task's cgroups (pids, memory), joined before bwrap starts so that every descendant is counted. */
  cgroups: string[];
  /** Paths to bind-mount under `stageDir` first, as root, for a sandbox user who cannot reach them. */
  staged: Mount[];
  stageDir: string;
}

export interface Launch {
  file: string;
  args: string[];
  /** Spawn as this user: bwrap then maps the agent to it. */
  uid?: number;
  gid?: number;
  /** How deep below the spawned process the sandbox's init runs (its /tmp and /dev/shm are read there). */
  initDepth: number;
}

/**
 * The command that starts one sandbox. A shell started with an empty environment closes every descriptor
 * Warden inherited without O_CLOEXEC (bwrap passes them all on; only stdio and the argument pipe stay),
 * joins the task's cgroups, and execs bubblewrap, which reads its arguments from fd 3 — so that the
 * agent's environment reaches only the agent, never a host-side process (no LD_PRELOAD on the host, no
 * secrets in `ps`).
 *
 * As root, the sandbox runs as an unprivileged user: spawned as that user directly, or, when a mount
 * source is out of its reach, through a root bubblewrap that only bind-mounts those sources under the
 * stage (in a mount namespace of its own) and setpriv, which drops to the user before the sandbox starts.
 */
export function launchCommand(input: LaunchInput): Launch {
  const sandbox = sandboxCommand(input.bwrapPath, input.command);
  const shell = (command: string[]) => launcherArgs(input.shell, input.cgroups, command);
  const id = input.identity;
  if (!id) return { file: input.shell.path, args: shell(sandbox), initDepth: 1 };
  if (input.staged.length === 0) {
    return { file: input.shell.path, args: shell(sandbox), uid: id.uid, gid: id.gid, initDepth: 1 };
  }
  if (!input.setprivPath) throw new Error('staging needs setpriv (checked before launching)');
  // A pid namespace of its own: the staging bwrap drops its capabilities, so its death signal could not
  // reach the sandbox's bwrap (another user); its init's death kills every process of the namespace.
  const stage = [input.bwrapPath, '--unshare-pid', '--dev-bind', '/', '/', '--tmpfs', input.stageDir];
  for (const m of input.staged) stage.push('--bind', m.source, m.dest);
  stage.push('--die-with-parent', '--', input.setprivPath, `--reuid=${id.uid}`, `--regid=${id.gid}`);
  stage.push('--clear-groups', '--', ...sandbox);
  return { file: input.shell.path, args: shell(stage), initDepth: 3 };
}

/** bubblewrap, reading its options from ARGS_FD, running `command` (what follows its options). */
export function sandboxCommand(bwrapPath: string, command: string[]): string[] {
  return [bwrapPath, '--args', String(ARGS_FD), '--', ...command];
}

/** Shell code that joins the cgroups named by its positional parameters ($1: how many), then shifts them off. */
const JOIN_CGROUPS =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; n=$((n - 1)); done';

/** Bash code that closes every descriptor above `fd` (inherited ones an agent must not get). */
const closeAbove = (fd: number) =>
  `for f in /proc/$$/fd/*; do f=\${f##*/}; [ "$f" -gt ${fd} ] && eval "exec $f>&-"; done`;

/** The descriptor on which a spare launcher waits for the command it execs (see spareLauncherArgs). */
export const COMMAND_FD = 4;

/**
 * A spare launcher's arguments: like launcherArgs, but started before its task is known. It closes every
 * descriptor above COMMAND_FD and joins `cgroups` at once — moving a process into a cgroup waits for an RCU
 * grace period, milliseconds on a busy machine, which is better spent before the task than in it — then
 * reads the NUL-separated command from COMMAND_FD until end of file, closes it, and execs the command. An
 * empty command (Warden closed the pipe, or exited) ends it. Needs bash ≥ 4.4 (`mapfile -d ''`).
 */
export function spareLauncherArgs(cgroups: string[]): string[] {
  return [
    '--norc',
    '--noprofile',
    '-c',
    `${closeAbove(COMMAND_FD)}; ${JOIN_CGROUPS}; ` +
      `mapfile -d '' -u ${COMMAND_FD} cmd; exec ${COMMAND_FD}<&-; [ \${#cmd[@]} -gt 0 ] || exit 125; exec "\${cmd[@]}"`,
    'warden-launch',
    String(cgroups.length),
    ...cgroups,
  ];
}

/**
 * The launcher shell's arguments: close every descriptor above ARGS_FD, join `cgroups`, exec `command`.
 * Paths travel as positional parameters, never inside the script.
 */
export function launcherArgs(shell: LauncherShell, cgroups: string[], command: string[]): string[] {
  const close = shell.bash
    ? closeAbove(ARGS_FD)
    : `for f in /proc/$$/fd/*; do f=\${f##*/}; case $f in [${ARGS_FD + 1}-9]) eval "exec $f>&-";; esac; done`;
  return [
    // Started over a socket pair with no SHLVL, bash would read the host user's ~/.bashrc as if run by sshd
    // (Debian builds it that way): host code in every launch, and its noise in the agent's logs.
    ...(shell.bash ? ['--norc', '--noprofile'] : []),
    '-c',
    `${close}; ${JOIN_CGROUPS}; exec "$@"`,
    'warden-launch',
    String(cgroups.length),
    ...cgroups,
    ...command,
  ];
}
