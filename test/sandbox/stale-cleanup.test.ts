import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMemoryCgroupRoot } from '../../src/sandbox/process/memory-cgroup.js';
import { findPidsCgroupRoot } from '../../src/sandbox/process/pids-cgroup.js';
import { eventually, openWarden, sandboxWorks, tempDir } from '../helpers.js';
import { writeManifest } from './fixtures.js';

const CHILD = new URL('../fixtures/sandbox-child.ts', import.meta.url).pathname;
// This file's own temporary directory, so its sandbox work root is not shared with other test files.
const PRIVATE_TMP = mkdtempSync(join(tmpdir(), 'warden-stale-'));
process.env['TMPDIR'] = PRIVATE_TMP;
const WORK_ROOT = join(PRIVATE_TMP, 'warden-sandbox');

afterAll(() => rmSync(PRIVATE_TMP, { recursive: true, force: true }));

/** Entries of a directory whose name carries this owner pid (`task-<pid>-<start>-…`). */
const ownedBy = (dir: string, pid: number) =>
  existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`task-${pid}-`)) : [];

describe.runIf(sandboxWorks('the crash clean-up test'))('what a killed Warden leaves behind', () => {
  it('a new Warden removes the work directories and pids cgroups of a dead one, and nothing of a live one', async () => {
    const dir = tempDir();
    const manifest = writeManifest(dir, 'hang', '1.0.0', {
      runtime: 'process',
      command: ['/bin/sh', '-c', 'echo AGENT-RUNNING >&2; exec sleep 60'],
      network: { allow: ['127.0.0.1:9'] },
      retry: { maxAttempts: 1 },
    });
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'hang', tempDir(), manifest], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: PRIVATE_TMP },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise((r) => child.on('exit', r));
    await eventually(() => out.includes('RUNNING'), 30_000, 'the agent to run');
    const pid = child.pid!;
    expect(ownedBy(WORK_ROOT, pid)).toHaveLength(1);
    // Its pids and memory cgroups, where this machine has them (cgroup v1, as root): the running task's, and
    // those of the launcher kept ready for the next task (src/sandbox/process/spare-launcher.ts), if any.
    const cgroupRoots = [findPidsCgroupRoot(), findMemoryCgroupRoot()].filter((r): r is string => r !== null);
    for (const root of cgroupRoots) expect(ownedBy(root, pid).length).toBeGreaterThanOrEqual(1);

    child.kill('SIGKILL');
    await exited;
    // The sandbox dies with its parent (--die-with-parent), the spare launcher at the end of its command
    // pipe; their cgroups empty once the kernel reaps them.
    for (const root of cgroupRoots) {
      for (const cg of ownedBy(root, pid)) {
        await eventually(
          () => readFileSync(join(root, cg, 'cgroup.procs'), 'utf8').trim() === '',
          10_000,
          'the dead sandbox to leave its cgroup',
        );
      }
    }
    // A live owner's entry (this process) must survive the sweep.
    const live = join(WORK_ROOT, `task-${process.pid}-${selfStart()}-keep`);
    mkdirSync(live, { recursive: true });

    await openWarden();
    expect(ownedBy(WORK_ROOT, pid)).toEqual([]);
    for (const root of cgroupRoots) expect(ownedBy(root, pid)).toEqual([]);
    expect(existsSync(live)).toBe(true);
    rmSync(live, { recursive: true });
  });
});

/** This process's start time in clock ticks since boot (field 22 of /proc/self/stat). */
function selfStart(): string {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}
