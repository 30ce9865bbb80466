import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/index.js';
import {
  bundleText,
  serializeBundle,
  verifyBundleText,
  verifyConsistency,
  type IncrementalProvenanceBundle,
} from '../src/provenance/index.js';
import type { Warden } from '../src/index.js';
import { openWarden, populatedSession, tempDir } from './helpers.js';

async function runTasks(warden: Warden, n: number, batch = 500): Promise<void> {
  for (let s = 0; s < n; s += batch) {
    const ids = await Promise.all(
      Array.from({ length: Math.min(batch, n - s) }, (_, k) =>
        warden.submit({ agent: 'ok', input: { k: s + k } }),
      ),
    );
    await Promise.all(ids.map((t) => warden.result(t.id)));
  }
}

async function exported(warden: Warden, since = 0): Promise<string> {
  return bundleText(await warden.exportProvenanceStream('default', { since }));
}

/** `warden <args>` in this process: exit code and standard output. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    return { code: await main(['node', 'warden', ...args]), out };
  } finally {
    process.stdout.write = write;
    process.exitCode = undefined;
  }
}

describe('streamed export', () => {
  it('writes exactly the canonical bundle, which verifies offline', async () => {
    const { root } = await populatedSession(7);
    const warden = await openWarden({ root, workers: false });
    const text = await exported(warden);
    expect(serializeBundle(JSON.parse(text))).toBe(text);
    expect(verifyBundleText(text)).toMatchObject({ ok: true, problems: [], statements: 8 });
  });

  it('exports the records after an earlier export, with a consistency proof from its head', async () => {
    const { root } = await populatedSession(3);
    const warden = await openWarden({ root });
    await warden.registerHandler('ok', (i: unknown) => i);
    const first = await exported(warden);
    const size1 = JSON.parse(first).treeHead.treeSize as number;
    await runTasks(warden, 5);
    const second = await exported(warden, size1);
    await runTasks(warden, 2);
    const third = await exported(warden, JSON.parse(second).treeHead.treeSize);

    const b = JSON.parse(second) as IncrementalProvenanceBundle;
    expect(b.format).toBe('https://warden.dev/provenance/incremental-bundle/v1');
    expect(b.since.treeSize).toBe(size1);
    expect(b.records[0]!.seq).toBe(size1 + 1);
    expect(b.records).toHaveLength(b.treeHead.treeSize - size1);
    expect(b.statements).toHaveLength(5);
    expect(
      verifyConsistency(
        size1,
        b.treeHead.treeSize,
        JSON.parse(first).treeHead.rootHash,
        b.treeHead.rootHash,
        b.since.consistencyProof,
      ),
    ).toEqual({ ok: true });

    // Alone it proves its own records; with the earlier bundle, that it continues it exactly.
    expect(verifyBundleText(second)).toMatchObject({ ok: true, since: size1 });
    expect(verifyBundleText(second).extendsPrevious).toBeUndefined();
    expect(verifyBundleText(second, { previous: first })).toMatchObject({ ok: true, extendsPrevious: true });
    expect(verifyBundleText(third, { previous: second })).toMatchObject({ ok: true, extendsPrevious: true });
    // A full export extends every earlier one too.
    const full = await exported(warden);
    expect(verifyBundleText(full, { previous: second })).toMatchObject({ ok: true, extendsPrevious: true });

    // The wrong predecessor, or a changed record, is named.
    const wrong = verifyBundleText(third, { previous: first });
    expect(wrong.ok).toBe(false);
    expect(wrong.problems.map((p) => p.where)).toContain('since');
    const edited = JSON.parse(second) as IncrementalProvenanceBundle;
    edited.records[1]!.at += 1;
    const v = verifyBundleText(serializeBundle(edited), { previous: first });
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.where)).toContain('treeHead.rootHash');
    const detached = JSON.parse(second) as IncrementalProvenanceBundle;
    detached.since.lastRecordHash = '0'.repeat(64);
    expect(verifyBundleText(serializeBundle(detached)).problems.map((p) => p.where)).toContain(
      `records[0] (seq ${size1 + 1})`,
    );
  });

  it('a previous bundle of another history (same size, other records) is refused', async () => {
    const a = await openWarden();
    const b = await openWarden();
    for (const w of [a, b]) {
      await w.registerHandler('ok', (i: unknown) => i);
      await runTasks(w, 2);
    }
    const oldA = await exported(a);
    const size = JSON.parse(oldA).treeHead.treeSize as number;
    await runTasks(a, 1);
    const newA = await exported(a, size);
    const oldB = await exported(b);
    const v = verifyBundleText(newA, { previous: oldB });
    expect(v.ok).toBe(false);
    expect(v.problems[0]!.message).toMatch(/another session|another key|does not start where/);
  });

  it('refuses to export a database put back to an older copy, as the witness knows a newer tree', async () => {
    const { root } = await populatedSession(2);
    const copy = join(tempDir(), 'old.db');
    copyFileSync(join(root, 'warden.db'), copy);
    const warden = await openWarden({ root });
    await warden.registerHandler('ok', (i: unknown) => i);
    await runTasks(warden, 1);
    await warden.close();
    for (const f of ['warden.db-wal', 'warden.db-shm']) rmSync(join(root, f), { force: true });
    copyFileSync(copy, join(root, 'warden.db'));
    const again = await openWarden({ root, workers: false });
    await expect(again.exportProvenanceStream('default')).rejects.toMatchObject({
      code: 'PROVENANCE_BROKEN',
      message: expect.stringMatching(/not the tree the witness holds/),
    });
  });

  it('refuses a since beyond the tree, and a since that is not a tree size', async () => {
    const warden = await openWarden();
    await warden.registerHandler('ok', (i: unknown) => i);
    await runTasks(warden, 1);
    await expect(warden.exportProvenanceStream('default', { since: 10_000 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/beyond the session's tree/),
    });
    await expect(warden.exportProvenanceStream('default', { since: -1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('the CLI exports incrementally and verifies against the previous bundle', async () => {
    const { root } = await populatedSession(3);
    const dir = tempDir();
    const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
    const first = await cli('--data', root, 'export', '--out', a);
    expect(first.code).toBe(0);
    const size = JSON.parse(readFileSync(a, 'utf8')).treeHead.treeSize as number;
    expect(first.out).toContain(`next incremental export: warden export --session default --since ${size}`);
    const warden = await openWarden({ root });
    await warden.registerHandler('ok', (i: unknown) => i);
    await runTasks(warden, 2);
    await warden.close();
    const second = await cli('--data', root, 'export', '--since', String(size), '--out', b);
    expect(second.code).toBe(0);
    expect(second.out).toMatch(
      new RegExp(`records ${size + 1}\\.\\.\\d+ \\(incremental, after size ${size}\\)`),
    );
    const alone = await cli('verify', b);
    expect(alone.code).toBe(0);
    expect(alone.out).toContain(`records 1..${size} are not checked: pass --previous`);
    const linked = await cli('verify', b, '--previous', a);
    expect(linked.code).toBe(0);
    expect(linked.out).toContain(`extends ${a}`);
    const reversed = await cli('verify', a, '--previous', b);
    expect(reversed.code).toBe(1);
    expect(await cli('--data', root, 'export', '--since', 'x')).toMatchObject({ code: 2 });
  });
});

/**
 * Watches the event loop with a 2 ms timer. A gap between two ticks is a stall caused by work in this
 * process only as far as the process used the CPU during it: on a busy machine the process also waits to
 * be scheduled, which no code of ours can shorten. So each gap counts as min(wall time, CPU time used).
 */
function watchEventLoop() {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxWall = 0;
  let maxStall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const wall = now - last;
    maxWall = Math.max(maxWall, wall);
    maxStall = Math.max(maxStall, Math.min(wall, (cpu.user + cpu.system) / 1000));
    last = now;
    lastCpu = process.cpuUsage();
  }, 2);
  return {
    stop: () => {
      clearInterval(timer);
      return { maxWall, maxStall };
    },
  };
}

describe('exporting a large session', () => {
  it('50k records: the event loop never stalls 100 ms, memory stays far below the bundle size', async () => {
    const warden = await openWarden({ workers: { concurrency: 64 } });
    await warden.registerHandler('ok', (i: unknown) => i);
    await runTasks(warden, 16_700, 1000); // 3 records a task: about 50k records
    let peakHeap = 0;
    const sample = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 5);
    const heapBefore = process.memoryUsage().heapUsed;
    const loop = watchEventLoop();
    const stream = await warden.exportProvenanceStream('default');
    let bytes = 0;
    let head = '';
    for await (const chunk of stream.chunks()) {
      bytes += Buffer.byteLength(chunk);
      if (head.length < 100) head += chunk.slice(0, 100);
    }
    const { maxWall, maxStall } = loop.stop();
    clearInterval(sample);
    expect(stream.summary.treeSize).toBeGreaterThanOrEqual(50_000);
    expect(head.startsWith('{\n  "format": "https://warden.dev/provenance/bundle/v1"')).toBe(true);
    console.log(
      `export of ${stream.summary.treeSize} records, ${(bytes / 1e6).toFixed(1)} MB: longest event-loop stall ${maxStall.toFixed(1)} ms of work (${maxWall.toFixed(1)} ms of wall time), heap growth ${((peakHeap - heapBefore) / 1e6).toFixed(1)} MB`,
    );
    expect(maxStall).toBeLessThan(100);
    expect(peakHeap - heapBefore).toBeLessThan(bytes / 2);
  }, 300_000);
});
