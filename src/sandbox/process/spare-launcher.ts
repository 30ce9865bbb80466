import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { COMMAND_FD, spareLauncherArgs, type LauncherShell } from './launcher.js';
import { MemoryCgroup } from './memory-cgroup.js';
import { PidsCgroup } from './pids-cgroup.js';
import type { SandboxIdentity } from './sandbox-user.js';

/** A launcher started ahead of its task: in its task's cgroups already, waiting for its command. */
export interface SpareLauncher {
  /** Spawned with pipes on 0-2 (and on ARGS_FD and COMMAND_FD). */
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  pids: PidsCgroup | undefined;
  memory: MemoryCgroup | undefined;
  /** Hands the launcher its command (NUL-separated on COMMAND_FD): it execs it at once. */
  start(command: string[]): void;
  /** Whether start() was called. */
  readonly started: boolean;
}

export interface SpareLaunchersConfig {
  shell: LauncherShell;
  /** Who the launcher runs as (the sandbox user), null for Warden's own user. */
  identity: SandboxIdentity | null;
  pidsCgroupRoot: string | null;
  memoryCgroupRoot: string | null;
  /** The limits a spare's cgroups get until its task sets its own. */
  pidsMax: number;
  memoryLimitBytes: number;
}

interface Spare extends SpareLauncher {
  dead: boolean;
  started: boolean;
}

/**
 * Keeps one sandbox launcher started ahead of time, for the sandboxes that need no staging. Where Warden
 * runs tasks in cgroups (as root), a launcher moving into its task's cgroups waits for an RCU grace period
 * (`cgroup.procs` writes synchronise the kernel's cgroup threadgroup lock): 10–20 ms on a busy two-core
 * machine, most of a python agent's sandbox overhead. A spare pays it while no task waits. It is exactly
 * the launcher a task would start — same user, empty environment, inherited descriptors closed, fresh
 * cgroups of its own (their limits are set for the task before it runs anything) — only started earlier;
 * it runs nothing until it is handed its command, and ends if Warden goes away first (end of file).
 */
export class SpareLaunchers {
  private spare: Spare | undefined;
  private filling: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly config: SpareLaunchersConfig) {}

  /** Whether spares can be used here: bash ≥ 4.4 (mapfile -d) and a cgroup to join. */
  static supported(shell: LauncherShell, cgroupRoots: (string | null)[]): boolean {
    if (!shell.bash || cgroupRoots.every((r) => r === null)) return false;
    const probe = spawnSync(shell.path, ['--norc', '--noprofile', '-c', "mapfile -d '' -u 0 x"], {
      input: '',
      env: {},
      timeout: 5000,
    });
    return probe.status === 0;
  }

  /** The ready spare, if there is one (and starts the next); undefined: launch as usual. */
  take(): SpareLauncher | undefined {
    const spare = this.spare;
    this.spare = undefined;
    this.fill();
    if (!spare) return undefined;
    if (spare.dead || spare.child.exitCode !== null || spare.child.signalCode !== null) {
      void discard(spare);
      return undefined;
    }
    setRef(spare.child, true);
    return spare;
  }

  /** Starts a spare unless one is ready or on its way. */
  fill(): void {
    if (this.closed || this.spare || this.filling) return;
    this.filling = this.start()
      .then((spare) => {
        if (this.closed) void discard(spare);
        else this.spare = spare;
      })
      .catch(() => undefined) // no spare this time: tasks launch as usual
      .finally(() => (this.filling = undefined));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    const spare = this.spare;
    this.spare = undefined;
    if (spare) await discard(spare);
  }

  private async start(): Promise<Spare> {
    const c = this.config;
    const [pids, memory] = await Promise.all([
      c.pidsCgroupRoot ? PidsCgroup.create(c.pidsCgroupRoot, c.pidsMax, c.identity) : undefined,
      c.memoryCgroupRoot
        ? MemoryCgroup.create(c.memoryCgroupRoot, c.memoryLimitBytes, c.identity)
        : undefined,
    ]);
    const cgroups = [pids, memory].flatMap((g) => (g ? [g.path] : []));
    const child = spawn(c.shell.path, spareLauncherArgs(cgroups), {
      cwd: '/',
      env: {},
      detached: true, // its own process group, as every launcher: one kill reaches the whole sandbox
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      ...(c.identity ? { uid: c.identity.uid, gid: c.identity.gid } : {}),
    }) as ChildProcessByStdio<Writable, Readable, Readable>;
    const spare: Spare = {
      child,
      pids,
      memory,
      dead: false,
      started: false,
      start: (command) => {
        spare.started = true;
        const pipe = child.stdio[COMMAND_FD] as Writable;
        pipe.on('error', () => {
          // The launcher died before reading its command: its exit status says why.
        });
        pipe.end(`${command.join('\0')}\0`);
      },
    };
    child.on('error', () => (spare.dead = true));
    child.on('exit', () => (spare.dead = true));
    // Idle, it must not keep Warden's process alive.
    setRef(child, false);
    return spare;
  }
}

/** Whether a child and its pipes keep the event loop alive. */
function setRef(child: ChildProcess, ref: boolean): void {
  if (ref) child.ref();
  else child.unref();
  for (const stream of child.stdio) {
    const socket = stream as Socket | null;
    if (ref) socket?.ref?.();
    else socket?.unref?.();
  }
}

/** Ends an unused spare (end of file on its command pipe) and removes its cgroups once it is gone. */
async function discard(spare: Spare): Promise<void> {
  const { child } = spare;
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('close', resolve));
    setRef(child, true); // whoever awaits this (close()) must not see the process exit under them
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await gone;
  }
  for (const stream of child.stdio) stream?.destroy();
  await Promise.all([spare.pids?.remove(), spare.memory?.remove()]);
}
