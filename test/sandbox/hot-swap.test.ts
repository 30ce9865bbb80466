import { describe, expect, it } from 'vitest';
import { versionStates } from '../../src/warden/agent-registry.js';
import { openWarden, sleep, tempDir } from '../helpers.js';
import { wasiModule, writeManifest, writeWat } from './fixtures.js';

/** A WASM agent that spins a little (so tasks overlap the swap), logs once to stderr, and answers its version. */
function versionedAgent(v: number): string {
  const json = `{"v":${v}}`;
  const log = `ran v${v}\n`;
  return wasiModule(
    `(local $i i32)
    (local.set $i (i32.const 20000000))
    (loop $spin (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $spin (local.get $i)))
    (i32.store (i32.const 0) (i32.const 1100))
    (i32.store (i32.const 4) (i32.const ${log.length}))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $out (i32.const 1024) (i32.const ${json.length}))`,
    { extra: `(data (i32.const 1100) "ran v${v}\\n")`, json },
  );
}

describe('hot-swap: registering a new version mid-stream', () => {
  it('routes new tasks to the new version, finishes in-flight ones on the old, drops and repeats none', async () => {
    const dir = tempDir();
    const warden = await openWarden({ workers: { concurrency: 4, pollIntervalMs: 5 } });
    const register = async (version: string, v: number) =>
      warden.registerAgent({
        path: writeManifest(dir, 'swap', version, {
          runtime: 'wasm',
          module: await writeWat(dir, `swap-${v}`, versionedAgent(v)),
          concurrency: 4,
          retry: { maxAttempts: 3, baseMs: 0, maxMs: 0 },
        }),
      });
    await register('1.0.0', 1);

    const submitted: { id: string; agentKey: string }[] = [];
    let inFlightAtSwap: string[] = [];
    for (let i = 0; i < 120; i++) {
      if (i === 60) {
        await register('1.1.0', 2);
        const running = await warden.listTasks({ state: 'running' });
        const queued = await warden.listTasks({ state: 'queued' });
        inFlightAtSwap = [...running, ...queued].filter((t) => t.agent === 'swap@1.0.0').map((t) => t.id);
        const states = versionStates(
          await warden.listAgents(),
          new Map([['swap@1.0.0', inFlightAtSwap.length]]),
        );
        expect(states.find((s) => s.key === 'swap@1.1.0')?.state).toBe('active');
        expect(states.find((s) => s.key === 'swap@1.0.0')?.state).toBe(
          inFlightAtSwap.length ? 'draining' : 'idle',
        );
      }
      const task = await warden.submit({ agent: 'swap', input: { i } });
      submitted.push({ id: task.id, agentKey: task.agent });
      if (i % 10 === 0) await sleep(5);
    }
    expect(inFlightAtSwap.length).toBeGreaterThan(0); // the swap really happened mid-stream

    const results = await Promise.all(submitted.map((t) => warden.result(t.id, { timeoutMs: 30_000 })));
    for (const [i, t] of submitted.entries()) {
      const result = results[i]!;
      const v = i < 60 ? 1 : 2;
      expect(t.agentKey).toBe(v === 1 ? 'swap@1.0.0' : 'swap@1.1.0'); // resolved at submit time
      expect(result.status).toBe('succeeded');
      expect(result.attempts).toBe(1); // ran exactly once
      expect(result.output).toEqual({ v }); // on the version it was routed to
    }
    // Exactly one run per task: one "ran" log line each, none lost, none doubled.
    for (const t of submitted) {
      const lines = (await warden.logs(t.id)).filter((l) => l.stream === 'stderr');
      expect(lines.map((l) => l.message)).toEqual([t.agentKey === 'swap@1.0.0' ? 'ran v1' : 'ran v2']);
    }
    expect(new Set(results.map((r) => r!.taskId)).size).toBe(submitted.length);

    const after = versionStates(await warden.listAgents(), new Map());
    expect(after).toEqual([
      { key: 'swap@1.0.0', state: 'idle', inFlight: 0 },
      { key: 'swap@1.1.0', state: 'active', inFlight: 0 },
    ]);
  });
});
