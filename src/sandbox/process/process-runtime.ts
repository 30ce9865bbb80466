import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import {
  DEFAULT_DISK_MB,
  WardenError,
  secretValues,
  type AgentManifest,
  type Runtime,
} from '../../core/index.js';
import {
  traceEnv,
  type AgentRuntime,
  type PreparedAgent,
  type RunContext,
  type RunOutcome,
} from '../runner.js';
import { bwrapArgs, type SandboxPlan } from './bwrap.js';
import { EgressProxy, FORWARDER_SOURCE, PROXY_ENV } from './egress-proxy.js';
import { ARGS_FD, MAX_SANDBOX_PROCESSES, launchCommand, sandboxCommand } from './launcher.js';
import { STAGE_DIR, planMounts } from './mount-plan.js';
import { resolveCommand, type ResolvedCommand } from './process-command.js';
import type { SandboxConfig } from './sandbox-config.js';
import { MemoryCgroup } from './memory-cgroup.js';
import { PidsCgroup } from './pids-cgroup.js';
import type { SpareLauncher } from './spare-launcher.js';
import { OWNER_TAG } from './stale-sweep.js';
import { agentOutputJson } from '../agent-output.js';
import { StderrLines } from './stderr-lines.js';
import { UsageSampler } from './usage-sampler.js';

/** Only these reach the agent besides the manifest's env and named secrets. */
const BASE_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
const MAX_LOG_CHARS = 64 * 1024;
const MB = 1024 * 1024;
/**
 * The memory cgroup's hard limit sits this far above memoryMb: the sampler reports MEMORY_LIMIT at
 * memoryMb; the limit stops what grows faster than a sample (the sandbox's own processes count there too).
 */
const MEMORY_BACKSTOP_SLACK = 32 * MB;
const SAMPLE_INTERVAL_MS = 50;
/** How long a killed agent's pipes may stay open (held by an escaped process) before the attempt ends anyway. */
const ORPHAN_PIPE_GRACE_MS = 2000;
const SIGNALS: Record<number, NodeJS.Signals> = { 9: 'SIGKILL', 24: 'SIGXCPU', 25: 'SIGXFSZ', 11: 'SIGSEGV' };
/** EFBIG as Node (`EFBIG: file too large`), Python (`[Errno 27] File too large`) and libc report it. */
const FILE_TOO_LARGE = /\bEFBIG\b|\[Errno 27\]|\bFile too large\b/i;

export interface ProcessRuntimeOptions {
  /** The bubblewrap sandbox; null runs agents as plain child processes (unsafe: not a security boundary). */
  sandbox: SandboxConfig | null;
}

/**
 * Runs node, python or any command: JSON input on stdin, JSON output on stdout, logs on stderr. With a
 * sandbox (the default whenever bubblewrap works) each attempt runs in fresh user, pid, ipc, uts, net and
 * cgroup namespaces as an unprivileged host user, with read-only system directories and code, a private
 * size-limited /tmp and /dev/shm that count as memory, rlimits, no descriptor but stdio, and network only
 * through Warden's egress proxy to `network.allow`. The whole tree is killed on timeout, cancel or an
 * exceeded cap; the environment is scrubbed.
 */
export class ProcessRuntime implements AgentRuntime {
  private readonly sandbox: SandboxConfig | null;

  constructor(
    readonly name: Extract<Runtime, 'node' | 'python' | 'process'>,
    options: ProcessRuntimeOptions = { sandbox: null },
  ) {
    this.sandbox = options.sandbox;
  }

  get sandboxed(): boolean {
    return this.sandbox !== null;
  }

  async prepare(manifest: AgentManifest): Promise<PreparedAgent> {
    const command = resolveCommand(manifest);
    // Checked again where the variables are read: a worker's environment may list fewer than the server's.
    const env: Record<string, string> = { ...BASE_ENV, ...manifest.env };
    for (const [name, value] of secretValues(manifest, process.env)) env[name] = value;
    const sandbox = this.sandbox;
    sandbox?.spares?.fill();
    return {
      isolation: sandbox ? 'bwrap' : 'none',
      run: (inputJson, ctx) =>
        sandbox
          ? runSandboxed(sandbox, manifest, command, env, inputJson, ctx)
          : runProcess(command.file, command.args, command.cwd, env, inputJson, ctx),
    };
  }

  /** Ends the launcher kept ready for the next task, if any. */
  async close(): Promise<void> {
    await this.sandbox?.spares?.close();
  }

  /**
   * The code of the version: the entry script or executable and every argument that names an existing
   * file (so `command: [python3, main.py]` covers main.py). One file hashes as its SHA-256 (as before);
   * several hash as the SHA-256 of their digests and paths, one per line.
   */
  async digest(manifest: AgentManifest): Promise<string | null> {
    const { codePath, args, cwd } = resolveCommand(manifest);
    const files = [...new Set([codePath, ...args.map((a) => argFile(a, cwd))])].filter(
      (f): f is string => f !== null,
    );
    if (files.length === 0) return null;
    const digests = await Promise.all(
      files.map(async (f) =>
        createHash('sha256')
          .update(await readFile(f))
          .digest('hex'),
      ),
    );
    if (digests.length === 1) return digests[0]!;
    return createHash('sha256')
      .update(files.map((f, i) => `${digests[i]}  ${relative(cwd, f)}\n`).join(''))
      .digest('hex');
  }
}

/** An argument that names an existing regular file (relative to the agent's directory), else null. */
function argFile(arg: string, cwd: string): string | null {
  if (arg.startsWith('-') || arg.length > 4096) return null;
  const path = isAbsolute(arg) ? arg : resolve(cwd, arg);
  try {
    return statSync(path).isFile() ? path : null;
  } catch {
    return null;
  }
}

async function runSandboxed(
  config: SandboxConfig,
  manifest: AgentManifest,
  command: ResolvedCommand,
  env: Record<string, string>,
  inputJson: string,
  ctx: RunContext,
): Promise<RunOutcome> {
  if (ctx.signal.aborted) throw ctx.signal.reason as Error;
  // Network needs both: the manifest names where, and the session allows it at all.
  const allow = ctx.allowNetwork ? manifest.network.allow : [];
  if (!ctx.allowNetwork && manifest.network.allow.length > 0) {
    ctx.log(
      'event',
      'network disabled: this session does not allow network (create it with allowNetwork: true, or --allow-network)',
    );
  }
  const network = allow.length > 0;
  const id = config.identity;
  let workDir: string | undefined;
  let proxy: EgressProxy | undefined;
  let cgroup: PidsCgroup | undefined;
  let memory: MemoryCgroup | undefined;
  let spare: SpareLauncher | undefined;
  try {
    if (network) {
      // Named after this process, so that a Warden killed mid-task can be told from a live one.
      workDir = await mkdtemp(join(config.workRoot, `task-${OWNER_TAG}-`));
      proxy = new EgressProxy(join(workDir, 'egress.sock'), allow);
      await proxy.listen();
      if (id) {
        await chown(workDir, id.uid, id.gid);
        await chown(proxy.socketPath, id.uid, id.gid);
      }
    }
    // Planned for every attempt (a few stat calls): a directory made readable meanwhile works at once.
    const mounts = planMounts({
      codeDir: command.cwd,
      readOnly: [...command.readOnly, ...(network ? config.nodeMounts : [])],
      hidden: config.hidden,
      identity: id,
      stageDir: STAGE_DIR,
      ...(proxy ? { egressSocket: proxy.socketPath } : {}),
    });
    const staging = mounts.staged.length > 0;
    if (staging && !config.setprivPath) {
      throw new WardenError(
        'SANDBOX_MOUNT_REFUSED',
        `The sandbox user cannot reach ${mounts.staged.map((m) => m.source).join(', ')}, and setpriv (util-linux), which Warden needs to mount them for that user, is not installed: install util-linux, or move these files where others can reach them`,
        { details: { paths: mounts.staged.map((m) => m.source) } },
      );
    }
    const maxPids = config.maxProcesses + MAX_SANDBOX_PROCESSES + (network ? 1 : 0) + 1; // + slack
    const memoryLimit = ctx.limits.memoryMb * MB + MEMORY_BACKSTOP_SLACK;
    // A launcher started ahead (in cgroups of its own already), unless this one must stage its mounts.
    spare = staging ? undefined : config.spares?.take();
    if (spare) {
      cgroup = spare.pids;
      memory = spare.memory;
      await Promise.all([cgroup?.setMax(maxPids), memory?.setLimit(memoryLimit)]);
    } else {
      // Both at once: each is a few file system calls in the cgroup hierarchies.
      const pidsCgroupRoot = config.pidsCgroupRoot;
      const memoryCgroupRoot = config.memoryCgroupRoot;
      const [pids, mem] = await Promise.allSettled([
        pidsCgroupRoot && PidsCgroup.create(pidsCgroupRoot, maxPids, staging ? null : id), // a staging launcher joins as root
        memoryCgroupRoot && MemoryCgroup.create(memoryCgroupRoot, memoryLimit, staging ? null : id),
      ]);
      // Kept before either failure is thrown, so that `finally` removes the one that was made.
      cgroup = pids.status === 'fulfilled' ? pids.value || undefined : undefined;
      memory = mem.status === 'fulfilled' ? mem.value || undefined : undefined;
      if (pids.status === 'rejected') throw pids.reason;
      if (mem.status === 'rejected') throw mem.reason;
    }
    const limits = ctx.limits;
    const plan: SandboxPlan = {
      file: network ? config.nodePath : command.file,
      args: network ? ['-e', FORWARDER_SOURCE, command.file, ...command.args] : command.args,
      env: { ...env, ...(network ? PROXY_ENV : {}), ...taskEnv(ctx) },
      codeDir: command.cwd,
      mounts: mounts.mounts,
      masks: mounts.masks,
      ...(mounts.egressSocket ? { egressSocket: mounts.egressSocket } : {}),
      tmpBytes: (limits.diskMb ?? DEFAULT_DISK_MB) * MB,
      shmBytes: limits.memoryMb * MB,
      features: config.features,
      rlimits: {
        // Slack above the watchdog's threshold, so that a bomb held by RLIMIT_NPROC still trips it.
        processes: config.maxProcesses + 8,
        fileSizeBytes: config.maxFileBytes,
        openFiles: config.maxOpenFiles,
        cpuSeconds: Math.ceil(limits.timeoutMs / 1000) + 1,
        // V8 reserves far more address space than it touches: node agents are capped by the RSS sampler.
        ...(manifest.runtime === 'python' ? { addressSpaceBytes: (limits.memoryMb * 4 + 512) * MB } : {}),
      },
    };
    const bwrap = bwrapArgs(plan);
    const launch = launchCommand({
      shell: config.shell,
      bwrapPath: config.bwrapPath,
      command: bwrap.command,
      setprivPath: config.setprivPath,
      identity: id,
      cgroups: [cgroup, memory].flatMap((c) => (c ? [c.path] : [])),
      staged: mounts.staged,
      stageDir: STAGE_DIR,
    });
    // The sandbox's own processes above the agent: bwrap (and the staging bwrap) and its pid-1 init.
    const overhead = launch.initDepth + 1;
    return await runProcess(launch.file, launch.args, '/', {}, inputJson, ctx, {
      maxProcesses: config.maxProcesses + overhead + (network ? 1 : 0),
      overhead,
      initDepth: launch.initDepth,
      // The egress forwarder sits between the pid-namespace init and the agent.
      ...(network ? { excludeDepth: launch.initDepth + 1 } : {}),
      denials: () => proxy?.denials ?? [],
      limitHit: () => cgroup?.limitHit() ?? false,
      killAll: () => cgroup?.killAll(),
      ...(cgroup ? { members: () => cgroup!.members() } : {}),
      ...(memory ? { memory } : {}),
      maxFileBytes: config.maxFileBytes,
      bwrapOptions: bwrap.options,
      ...(spare
        ? { spare: { launcher: spare, command: sandboxCommand(config.bwrapPath, bwrap.command) } }
        : {}),
      ...(launch.uid !== undefined ? { uid: launch.uid, gid: launch.gid! } : {}),
    });
  } finally {
    // A spare taken but never handed its command (the attempt ended before): its cgroups go once it has.
    if (spare && !spare.started && spare.child.pid) {
      try {
        process.kill(-spare.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await proxy?.close();
    await Promise.all([cgroup?.remove(), memory?.remove()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

function taskEnv(ctx: RunContext): Record<string, string> {
  const env = { WARDEN_TASK_ID: ctx.taskId, WARDEN_ATTEMPT: String(ctx.attempt) };
  // Traced: the agent's own spans join the attempt span (TRACEPARENT, TRACESTATE).
  return ctx.trace ? { ...env, ...traceEnv(ctx) } : env;
}

interface SandboxWatch {
  maxProcesses: number;
  /** Processes of the sandbox itself (not the agent's) among maxProcesses. */
  overhead: number;
  /** Depth of the sandbox's init below the spawned process: its /tmp and /dev/shm are memory. */
  initDepth: number;
  excludeDepth?: number;
  denials: () => { host: string; port: number }[];
  /** Whether the pids cgroup refused a fork. */
  limitHit: () => boolean;
  /** Kills every process of the task's cgroup, where there is one. */
  killAll?: () => void;
  /** The task's processes (its pids cgroup), where it has one: what the sampler reads instead of all /proc. */
  members?: () => number[];
  /** The task's memory cgroup, where there is one. */
  memory?: MemoryCgroup;
  maxFileBytes: number;
  /** bubblewrap's options, written to its argument pipe (fd 3). */
  bwrapOptions: string[];
  /** A launcher started ahead, to hand `command` (instead of spawning `file`). */
  spare?: { launcher: SpareLauncher; command: string[] };
  /** Spawn as this user (the sandbox user). */
  uid?: number;
  gid?: number;
}

function runProcess(
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  inputJson: string,
  ctx: RunContext,
  watch?: SandboxWatch,
): Promise<RunOutcome> {
  const { limits, signal } = ctx;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  const started = performance.now();
  return new Promise<RunOutcome>((resolve, reject) => {
    const child =
      watch?.spare?.launcher.child ??
      spawn(file, args, {
        cwd,
        // Sandboxed, the launcher starts with an empty environment: the agent's goes to bwrap through fd 3.
        env: watch ? {} : { ...env, ...taskEnv(ctx) },
        detached: true, // its own process group, so one kill reaches every descendant
        stdio: watch ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
        ...(watch?.uid !== undefined ? { uid: watch.uid, gid: watch.gid } : {}),
      });
    watch?.spare?.launcher.start(watch.spare.command);
    if (watch) {
      const argsPipe = child.stdio[ARGS_FD] as Writable;
      argsPipe.on('error', () => {
        // bwrap died before reading its arguments: its exit status says why.
      });
      argsPipe.end(`${watch.bwrapOptions.join('\0')}\0`);
    }
    let failure: WardenError | undefined;
    let orphanGuard: NodeJS.Timeout | undefined;
    const killGroup = (why: WardenError) => {
      failure ??= why;
      try {
        // Sandboxed: killing the outer bwrap kills its pid-namespace init (--die-with-parent), and with it
        // every process of the namespace, whatever session or group they moved to.
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      // bwrap killed mid-setup may leave its child running (--die-with-parent not armed yet): the task's
      // cgroup still holds it.
      watch?.killAll?.();
      // A process that escaped every kill would hold our pipes open, and the attempt would never end.
      orphanGuard ??= setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        child.stdin.destroy();
      }, ORPHAN_PIPE_GRACE_MS).unref();
    };
    const onAbort = () => killGroup(signal.reason as WardenError);
    signal.addEventListener('abort', onAbort, { once: true });
    const memoryCap = limits.memoryMb * 1024 * 1024;
    const sampler = child.pid
      ? new UsageSampler(child.pid, {
          intervalMs: SAMPLE_INTERVAL_MS,
          tree: watch !== undefined,
          ...(watch?.excludeDepth !== undefined ? { excludeDepth: watch.excludeDepth } : {}),
          ...(watch ? { tmpfs: { depth: watch.initDepth, paths: ['tmp', 'dev/shm'] } } : {}),
          ...(watch?.members ? { members: watch.members } : {}),
          ...(watch?.memory ? { cgroupBytes: () => watch.memory!.usedBytes() } : {}),
          onSample: (s) => {
            if (s.memoryBytes > memoryCap)
              killGroup(
                new WardenError('MEMORY_LIMIT', `The agent used more than ${limits.memoryMb} MB of memory`),
              );
            if (watch && (s.processes > watch.maxProcesses || watch.limitHit()))
              killGroup(
                new WardenError(
                  'PROCESS_LIMIT',
                  `The agent started more than ${watch.maxProcesses - watch.overhead} processes`,
                ),
              );
          },
        })
      : undefined;

    const stdout: Buffer[] = [];
    let outputBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (outputBytes > limits.maxOutputBytes) {
        killGroup(
          new WardenError(
            'OUTPUT_LIMIT',
            `The agent wrote more than ${limits.maxOutputBytes} bytes to stdout`,
          ),
        );
        return;
      }
      stdout.push(chunk);
    });

    const stderr = new StderrLines((stream, line) => ctx.log(stream, line), MAX_LOG_CHARS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => stderr.write(chunk));

    child.stdin.on('error', () => {
      // The agent may exit without reading its input; its exit status tells what happened.
    });
    child.stdin.end(inputJson);

    child.on('error', (err) => {
      failure ??= new WardenError('AGENT_CRASHED', `Cannot start ${file}: ${err.message}`, {
        cause: err,
      });
    });
    child.on('close', (code, sig) => {
      clearTimeout(orphanGuard);
      signal.removeEventListener('abort', onAbort);
      sampler?.sample();
      sampler?.stop();
      stderr.end();
      const usage = {
        wallMs: performance.now() - started,
        cpuMs: sampler?.cpuMs ?? 0,
        peakMemoryBytes: sampler?.peakMemoryBytes ?? 0,
        outputBytes,
      };
      // The memory cgroup's limit (above memoryMb) killed a process before a sample saw it get there.
      if (!failure && watch?.memory?.oomKilled())
        failure = new WardenError('MEMORY_LIMIT', `The agent used more than ${limits.memoryMb} MB of memory`);
      if (!failure && watch?.limitHit())
        failure = new WardenError(
          'PROCESS_LIMIT',
          `The agent started more than ${watch.maxProcesses - watch.overhead} processes`,
        );
      if (failure) return reject(failure);
      // The tail goes into the details once; the message carries only the (shortened) last line.
      const stderrTail = stderr.tailText();
      const lastLine = stderr.lastLine();
      // bwrap reports an agent killed by signal N as exit status 128 + N.
      const signalName = sig ?? (watch && code !== null && code > 128 ? SIGNALS[code - 128] : undefined);
      if (signalName === 'SIGXFSZ' && watch) {
        return reject(
          new WardenError('FILE_LIMIT', `The agent wrote a file larger than ${watch.maxFileBytes} bytes`),
        );
      }
      if (signalName === 'SIGXCPU') {
        return reject(
          new WardenError('TIMEOUT', `The agent used more CPU time than its ${limits.timeoutMs} ms timeout`),
        );
      }
      if (signalName)
        return reject(
          new WardenError('AGENT_CRASHED', `The agent was killed by ${signalName}`, {
            details: { stderr: stderrTail },
          }),
        );
      // Python and Node ignore SIGXFSZ: past the file-size limit their write fails with EFBIG and they
      // exit with an error instead of being killed by the signal.
      if (code !== 0 && watch && FILE_TOO_LARGE.test(stderrTail)) {
        return reject(
          new WardenError(
            'FILE_LIMIT',
            `The agent wrote a file larger than ${watch.maxFileBytes} bytes${lastLine ? `: ${lastLine}` : ''}`,
            { details: { exitCode: code, stderr: stderrTail } },
          ),
        );
      }
      if (code !== 0) {
        const denied = watch?.denials() ?? [];
        if (denied.length > 0) {
          const list = denied.map((d) => `${d.host}:${d.port}`).join(', ');
          return reject(
            new WardenError(
              'NETWORK_DENIED',
              `The agent exited with code ${code} after the egress proxy refused ${list} (not in network.allow)`,
              { details: { exitCode: code, denied, stderr: stderrTail } },
            ),
          );
        }
        return reject(
          new WardenError(
            'AGENT_FAILED',
            `The agent exited with code ${code}${lastLine ? `: ${lastLine}` : ''}`,
            { details: { exitCode: code, stderr: stderrTail } },
          ),
        );
      }
      // Thrown here, in a child's exit handler, an error would end the whole process: it rejects the attempt.
      try {
        resolve({ outputJson: agentOutputJson(Buffer.concat(stdout).toString('utf8')), usage });
      } catch (err) {
        reject(err);
      }
    });
  });
}
