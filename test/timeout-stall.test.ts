import { describe, expect, it } from 'vitest';
import type { LogLine, TaskResult, Warden } from '../src/index.js';
import { wasiModule, writeManifest, writeWat } from './sandbox/fixtures.js';
import { openWarden, tempDir } from './helpers.js';

// A task's timeout measures the task, not the server's stalls. Under a soak, a synchronous export blocked
// the event loop for seconds; WASM tasks that had finished in their worker threads meanwhile were failed
// with TIMEOUT, because their timers came due before their result messages were read.

const STALL_MS = 2500;
const TIMEOUT_MS = 800;

function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Blocking the event loop on purpose, as a large synchronous job does.
  }
}

/** A WASM agent that writes `start` to stderr, spins `spin` (or forever), then outputs {"n":"42"}. */
async function wasmAgent(warden: Warden, name: string, spin: string): Promise<void> {
  const dir = tempDir();
  const body = `(local $i i32)
    (i32.store (i32.const 0) (i32.const 2048))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    ${spin}
    (call $outNumber (i32.const 42))`;
  const module = await writeWat(
    dir,
    name,
    wasiModule(body, { extra: '(data (i32.const 2048) "start\\0a")' }),
  );
  const path = writeManifest(dir, name, '1.0.0', {
    runtime: 'wasm',
    module,
    resources: { timeoutMs: TIMEOUT_MS },
    retry: { maxAttempts: 1 },
  });
  await warden.registerAgent({ path });
}

/**
 * Runs a task of `agent` and, once its module has started, blocks the event loop for STALL_MS. The block
 * starts in the check phase (setImmediate), not inside the worker's message handler, which would read the
 * worker's later messages before anything else: the stall, like an export's, sits between two loop phases.
 */
async function runThroughStall(warden: Warden, agent: string) {
  const onLog = (l: LogLine) => {
    if (l.stream !== 'stderr' || l.message !== 'start') return;
    warden.scheduler.events.off('log', onLog);
    setImmediate(() => busyWait(STALL_MS));
  };
  warden.scheduler.events.on('log', onLog);
  const task = await warden.submit({ agent });
  return warden.result(task.id, { timeoutMs: 30_000 });
}

describe('timeouts under event-loop stalls', () => {
  it('a WASM task that finished within its timeout while the event loop was blocked succeeds', async () => {
    const warden = await openWarden();
    // 5·10^7 iterations: tens of milliseconds in the worker thread, far below the timeout.
    await wasmAgent(
      warden,
      'quick',
      `(loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 50000000))))`,
    );
    // Warm up until one run succeeds (a worker thread that boots slowly on a loaded machine counts against
    // the first attempt): the module is compiled and a worker is ready, so the run below measures the module.
    let warm: TaskResult | undefined;
    for (let i = 0; i < 5 && warm?.status !== 'succeeded'; i++)
      warm = await warden.result((await warden.submit({ agent: 'quick' })).id, { timeoutMs: 10_000 });
    expect(warm?.status).toBe('succeeded');

    const result = await runThroughStall(warden, 'quick');
    expect(result?.error).toBeNull();
    expect(result).toMatchObject({ status: 'succeeded', output: { n: '42' }, attempts: 1 });
  });

  it('a runaway WASM task still times out, through a stall too', async () => {
    const warden = await openWarden();
    await wasmAgent(warden, 'runaway', '(loop $l (br $l))');
    const plain = await warden.submit({ agent: 'runaway' });
    const startedAt = Date.now();
    const result = await warden.result(plain.id, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ status: 'dead', error: { code: 'TIMEOUT' } });
    expect(Date.now() - startedAt).toBeLessThan(TIMEOUT_MS + 3000);

    const stalled = await runThroughStall(warden, 'runaway');
    expect(stalled).toMatchObject({ status: 'dead', error: { code: 'TIMEOUT' } });
  });
});
