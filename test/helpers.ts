import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Warden, type WardenError, type WardenOptions } from '../src/index.js';
import { INSTALL_HINT, probeBwrap } from '../src/sandbox/process/bwrap.js';
import { sandboxIdentity } from '../src/sandbox/process/sandbox-user.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/**
 * A fresh directory (for data, or an agent's files), removed after the test. Readable by others like a
 * project directory (mkdtemp makes it 0700): as root, Warden runs sandboxed agents as nobody.
 */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens Warden on a fresh (or given) data directory; closed after the test. */
export async function openWarden(options: WardenOptions & { root?: string } = {}): Promise<Warden> {
  const { root, ...rest } = options;
  const warden = await Warden.open({ storage: { root: root ?? tempDir() }, ...rest });
  cleanups.push(() => warden.close());
  return warden;
}

/** A clock that only moves when the test says so. */
export function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    set(t: number) {
      now = t;
    },
  };
}

/** What `promise` rejects with, as a coded error; fails the test when it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<WardenError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!err) throw new Error('expected a failure');
  return err as WardenError;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true, failing after timeoutMs. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A data directory with one session of `okTasks` succeeded tasks plus one that fails once and then
 * succeeds, all finished, and Warden closed (so its tree head is signed).
 */
export async function populatedSession(
  okTasks: number,
): Promise<{ root: string; sessionId: string; ids: string[] }> {
  const root = tempDir();
  const warden = await Warden.open({ storage: { root } });
  try {
    await warden.registerHandler('ok', (i: unknown) => i);
    let fail = true;
    await warden.registerHandler(
      'flaky',
      () => {
        if (fail) {
          fail = false;
          throw new Error('first try fails');
        }
        return 'ok';
      },
      { retry: { maxAttempts: 2, baseMs: 0 } },
    );
    const ids: string[] = [];
    for (let i = 0; i < okTasks; i++) ids.push((await warden.submit({ agent: 'ok', input: { i } })).id);
    ids.push((await warden.submit({ agent: 'flaky' })).id);
    for (const id of ids) await warden.result(id, { timeoutMs: 5000 });
    return { root, sessionId: (await warden.getSession('default')).id, ids };
  } finally {
    await warden.close();
  }
}

let sandboxProbe: ReturnType<typeof probeBwrap> | undefined;

/**
 * Whether the bubblewrap sandbox works on this machine, for tests that run node/python/process agents.
 * Without it they are skipped with one loud line saying how to install it — and fail when `CI` is set,
 * where bubblewrap is part of the setup (as the PostgreSQL tests do).
 */
export function sandboxWorks(what: string): boolean {
  sandboxProbe ??= probeBwrap(undefined, sandboxIdentity());
  if (sandboxProbe.ok) return true;
  if (process.env['CI']) throw new Error(`CI is set, and ${what} require bubblewrap: ${sandboxProbe.reason}`);
  const hint = sandboxProbe.reason?.includes(INSTALL_HINT) ? '' : ` (install: ${INSTALL_HINT})`;
  console.warn(`\n!!! SKIPPING ${what}: ${sandboxProbe.reason}${hint}\n`);
  return false;
}

/**
 * Sandbox options for tests about something else (tenancy, the API) that run a node agent: in bubblewrap
 * where it works, unsandboxed (with one line saying so) where it does not.
 */
export function sandboxIfAvailable(): { unsafeNoSandbox: boolean } {
  sandboxProbe ??= probeBwrap(undefined, sandboxIdentity());
  if (!sandboxProbe.ok) console.warn(`\n!!! running node agents unsandboxed: ${sandboxProbe.reason}\n`);
  return { unsafeNoSandbox: !sandboxProbe.ok };
}
