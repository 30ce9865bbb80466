import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WardenError, parseManifest } from '../../src/core/index.js';
import { ProcessRuntime } from '../../src/sandbox/index.js';
import { findLauncherShell, launcherArgs } from '../../src/sandbox/process/launcher.js';
import { findPidsCgroupRoot, PidsCgroup } from '../../src/sandbox/process/pids-cgroup.js';
import { eventually, tempDir } from '../helpers.js';

// A process that leaves the process group the runtime kills (setsid) and keeps the agent's stdout open:
// what a sandboxed process would be if bwrap were killed before its child armed --die-with-parent.
const MARK = 'sleep 27.25';

/**
 * The escaped process once it runs `sleep` itself: anchored, so the `setsid` wrapper (still in the killed
 * group until it calls setsid() and execs) does not count as escaped.
 */
function escapedPids(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `^${MARK.replace('.', '\\.')}$`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

afterEach(async () => {
  for (const pid of escapedPids()) process.kill(pid, 'SIGKILL');
  // Gone before the next test looks for its own escaped process (a busy machine reaps slowly).
  await eventually(() => escapedPids().length === 0, 5000, 'the escaped processes to die');
});

describe('processes that escape the kill', () => {
  it('the attempt still ends when an escaped process holds its output pipe', async () => {
    const dir = tempDir();
    const manifest = {
      ...parseManifest(
        `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: escapee, version: 1.0.0 }
spec:
  runtime: process
  command: [/bin/sh, -c, 'setsid ${MARK} & exec sleep 30']
`,
        'escapee.yaml',
      ),
      baseDir: dir,
    };
    // Unsandboxed on purpose: inside bwrap the pid namespace takes the escaped process down with it.
    const agent = await new ProcessRuntime('process', { sandbox: null }).prepare(manifest);
    const controller = new AbortController();
    const run = agent.run('{}', {
      taskId: 't',
      sessionId: 's',
      attempt: 1,
      allowNetwork: false,
      limits: { timeoutMs: 30_000, memoryMb: 256, maxOutputBytes: 1024 },
      signal: controller.signal,
      log: () => undefined,
    });
    await eventually(() => escapedPids().length > 0, 5000, 'the escaped process');
    const started = Date.now();
    controller.abort(new WardenError('TIMEOUT', 'stopped by the test'));
    await expect(run).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(escapedPids().length).toBeGreaterThan(0); // it really escaped: only the pipe guard ended the wait
  });

  it("the task's pids cgroup kills what escaped its session and group", async () => {
    const root = findPidsCgroupRoot();
    if (!root) {
      console.warn('SKIPPED: no writable cgroup v1 pids hierarchy here (needs root)');
      return;
    }
    const cgroup = await PidsCgroup.create(root, 64);
    try {
      // The sandbox's launcher (it joins the cgroup, then execs), here in front of a plain shell.
      const shell = findLauncherShell();
      const args = launcherArgs(shell, [cgroup.path], ['/bin/sh', '-c', `setsid ${MARK} & exec sleep 30`]);
      const child = spawn(shell.path, args, { detached: true, stdio: 'ignore' });
      const members = () =>
        readFileSync(join(cgroup.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      // Both the shell (now sleep 30) and the process that left its session are in the task's cgroup.
      await eventually(
        () => escapedPids().length > 0 && members().length === 2,
        5000,
        'the escaped process, inside the cgroup',
      );
      cgroup.killAll();
      await eventually(() => escapedPids().length === 0, 3000, 'the escaped process to die');
      await eventually(() => child.exitCode !== null || child.signalCode !== null, 3000, 'the child to die');
    } finally {
      await cgroup.remove();
    }
  });
});
