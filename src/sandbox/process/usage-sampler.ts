import { readFileSync, readdirSync, statSync, statfsSync } from 'node:fs';

const MS_PER_CLOCK_TICK = 1000 / 100; // Linux USER_HZ is 100 on every mainstream build.
const PAGE_BYTES = 4096;

export interface SamplerOptions {
  intervalMs: number;
  /** Sum over the whole process tree under pid (a sandbox), not just pid itself. @default false */
  tree?: boolean;
  /** In tree mode, leave out the process at this depth below pid (the sandbox's egress forwarder). */
  excludeDepth?: number;
  /**
   * In tree mode, memory-backed file systems of the sandbox to count as memory: the bytes used in these
   * mount points (relative to the root of the process at `depth`, the sandbox's init) are added to its
   * resident memory, since tmpfs pages are in no process's RSS.
   */
  tmpfs?: { depth: number; paths: string[] };
  /**
   * In tree mode, the host pids of the task's processes (its pids cgroup, which every descendant joins and
   * none can leave), so that a sample reads their /proc entries only, not every process of the machine.
   */
  members?: () => number[];
  /** Memory charged to the task's memory cgroup, where it has one (what no /proc walk sees: SysV, memfd). */
  cgroupBytes?: () => number;
  onSample?: (s: UsageSampler) => void;
}

/**
 * Samples a process's (or a process tree's) CPU time, memory and process count from /proc while it runs.
 * Sampling is best effort: a process that lives shorter than the interval reports what the last sample
 * saw (possibly zero).
 */
export class UsageSampler {
  cpuMs = 0;
  /** Highest `memoryBytes` seen. */
  peakMemoryBytes = 0;
  rssBytes = 0;
  /** Bytes stored in the sandbox's tmpfs mounts (tree mode with `tmpfs`). */
  tmpfsBytes = 0;
  /** Anonymous and shared memory of the task's memory cgroup (tree mode with `cgroupBytes`). */
  cgroupBytes = 0;
  processes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly options: SamplerOptions;

  constructor(
    private readonly pid: number,
    intervalMsOrOptions: number | SamplerOptions,
    onSample?: (s: UsageSampler) => void,
  ) {
    this.options =
      typeof intervalMsOrOptions === 'number'
        ? { intervalMs: intervalMsOrOptions, ...(onSample ? { onSample } : {}) }
        : intervalMsOrOptions;
    this.schedule(1);
  }

  /** Samples densely at first (most agents live milliseconds), then every intervalMs. */
  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.sample();
      if (this.timer) this.schedule(Math.min(delayMs * 2, this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  sample(): void {
    if (this.options.tree) return this.sampleTree();
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) this.cpuMs = ticks * MS_PER_CLOCK_TICK;
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      if (hwm) this.peakMemoryBytes = Math.max(this.peakMemoryBytes, Number(hwm[1]) * 1024);
      if (rss) this.rssBytes = Number(rss[1]) * 1024;
      this.processes = 1;
      this.options.onSample?.(this);
    } catch {
      // The process has exited between samples.
    }
  }

  /**
   * What counts against memoryMb: the task's memory cgroup figure where there is one (resident and shared
   * memory, tmpfs included, each page once), else resident memory plus what the sandbox keeps in its tmpfs
   * mounts. The sum of the processes' RSS counts a page shared by forked children once per child: 24
   * children of a 10 MB interpreter read as 240 MB.
   */
  get memoryBytes(): number {
    return this.cgroupBytes > 0
      ? Math.max(this.cgroupBytes, this.tmpfsBytes)
      : this.rssBytes + this.tmpfsBytes;
  }

  /** One pass over /proc: parent links, then a walk down from pid summing RSS and CPU. */
  private sampleTree(): void {
    const children = new Map<number, number[]>();
    const stats = new Map<number, { rss: number; ticks: number }>();
    let entries: string[];
    try {
      // The spawned process itself may not have joined the cgroup yet.
      entries = this.options.members
        ? [...new Set([this.pid, ...this.options.members()])].map(String)
        : readdirSync('/proc');
    } catch {
      return;
    }
    for (const name of entries) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      const ppid = Number(fields[1]);
      const list = children.get(ppid);
      if (list) list.push(pid);
      else children.set(ppid, [pid]);
      stats.set(pid, {
        ticks: Number(fields[11]) + Number(fields[12]),
        rss: Number(fields[21]) * PAGE_BYTES,
      });
    }
    if (!stats.has(this.pid)) return;
    let rss = 0;
    let ticks = 0;
    let count = 0;
    let init: number | undefined;
    const tmpfs = this.options.tmpfs;
    const queue: [number, number][] = [[this.pid, 0]];
    while (queue.length) {
      const [pid, depth] = queue.pop()!;
      if (depth === tmpfs?.depth) init ??= pid;
      const s = stats.get(pid);
      if (s && depth !== this.options.excludeDepth) {
        rss += s.rss;
        ticks += s.ticks;
        count++;
      }
      for (const child of children.get(pid) ?? []) queue.push([child, depth + 1]);
    }
    this.rssBytes = rss;
    if (tmpfs && init !== undefined) this.tmpfsBytes = usedBytes(init, tmpfs.paths);
    if (this.options.cgroupBytes) this.cgroupBytes = this.options.cgroupBytes();
    this.peakMemoryBytes = Math.max(this.peakMemoryBytes, this.memoryBytes);
    this.cpuMs = Math.max(this.cpuMs, ticks * MS_PER_CLOCK_TICK);
    this.processes = count;
    this.options.onSample?.(this);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const TMPFS_MAGIC = 0x01021994;
const hostDevices = new Map<string, number | null>();

/** The device of a host path (cached: the host's /tmp and /dev/shm stay what they are). */
function hostDevice(path: string): number | null {
  let dev = hostDevices.get(path);
  if (dev === undefined) {
    try {
      dev = statSync(`/${path}`).dev;
    } catch {
      dev = null;
    }
    hostDevices.set(path, dev);
  }
  return dev;
}

/**
 * Bytes in use on the tmpfs mounted at each of `paths` as process `pid` sees them. Until the sandbox has
 * switched to its own root those paths are the host's (whose /tmp may be a tmpfs too): a mount counts only
 * once it is a tmpfs other than the host's.
 */
function usedBytes(pid: number, paths: string[]): number {
  let used = 0;
  for (const path of paths) {
    try {
      const at = `/proc/${pid}/root/${path}`;
      const s = statfsSync(at);
      if (s.type !== TMPFS_MAGIC || statSync(at).dev === hostDevice(path)) continue;
      used += (s.blocks - s.bfree) * s.bsize;
    } catch {
      // The sandbox is not set up yet, or already gone.
    }
  }
  return used;
}
