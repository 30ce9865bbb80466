import { readFileSync, readdirSync } from 'node:fs';

const MS_PER_CLOCK_TICK = 1000 / 100; // Linux USER_HZ is 100 on every mainstream build.
const PAGE_BYTES = 4096;

export interface SamplerOptions {
  intervalMs: number;
  /** Sum over the whole process tree under pid (a sandbox), not just pid itself. @default false */
  tree?: boolean;
  /** In tree mode, leave out the process at this depth below pid (the sandbox's egress forwarder). */
  excludeDepth?: number;
  onSample?: (s: UsageSampler) => void;
}

/**
 * Samples a process's (or a process tree's) CPU time, resident memory and process count from /proc while
 * it runs. Sampling is best effort: a process that lives shorter than the interval reports what the last
 * sample saw (possibly zero).
 */
export class UsageSampler {
  cpuMs = 0;
  peakMemoryBytes = 0;
  rssBytes = 0;
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

  /** One pass over /proc: parent links, then a walk down from pid summing RSS and CPU. */
  private sampleTree(): void {
    const children = new Map<number, number[]>();
    const stats = new Map<number, { rss: number; ticks: number }>();
    let entries: string[];
    try {
      entries = readdirSync('/proc');
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
    const queue: [number, number][] = [[this.pid, 0]];
    while (queue.length) {
      const [pid, depth] = queue.pop()!;
      const s = stats.get(pid);
      if (s && depth !== this.options.excludeDepth) {
        rss += s.rss;
        ticks += s.ticks;
        count++;
      }
      for (const child of children.get(pid) ?? []) queue.push([child, depth + 1]);
    }
    this.rssBytes = rss;
    this.peakMemoryBytes = Math.max(this.peakMemoryBytes, rss);
    this.cpuMs = Math.max(this.cpuMs, ticks * MS_PER_CLOCK_TICK);
    this.processes = count;
    this.options.onSample?.(this);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
