import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Warden } from '../src/index.js';
import { tempDir } from './helpers.js';

const TOTAL = 2000;
const worker = new URL('./fixtures/crash-worker.ts', import.meta.url).pathname;

function start(
  root: string,
  mode: 'submit' | 'resume',
): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, root, mode, String(TOTAL)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function waitFor(lines: string[], predicate: (l: string) => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!lines.some(predicate)) {
    if (Date.now() > until)
      throw new Error(`child did not print the expected line; got: ${lines.slice(-5).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('crash safety', () => {
  it('loses and duplicates nothing when the process is killed with SIGKILL mid-run', async () => {
    const root = tempDir();
    const first = start(root, 'submit');
    await waitFor(first.lines, (l) => l.startsWith('SUBMITTED'), 60_000);
    // Kill once a good part of the queue has run, with tasks in flight.
    await waitFor(first.lines, (l) => /^DONE (\d+)/.test(l) && Number(l.split(' ')[1]) >= 300, 60_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);

    const db = new BetterSqlite3(join(root, 'warden.db'), { readonly: true });
    const atCrash = db.prepare('SELECT state, count(*) AS n FROM tasks GROUP BY state').all() as {
      state: string;
      n: number;
    }[];
    db.close();
    const byState = Object.fromEntries(atCrash.map((r) => [r.state, r.n]));
    expect(byState['succeeded']).toBeGreaterThan(0);
    expect((byState['queued'] ?? 0) + (byState['running'] ?? 0)).toBeGreaterThan(0);

    const second = start(root, 'resume');
    await waitFor(second.lines, (l) => l === 'ALL-DONE', 90_000);
    expect(await second.exited).toBe(0);

    const check = new BetterSqlite3(join(root, 'warden.db'), { readonly: true });
    const one = (sql: string) => (check.prepare(sql).get() as { n: number }).n;
    expect(one('SELECT count(*) AS n FROM tasks')).toBe(TOTAL);
    expect(one("SELECT count(*) AS n FROM tasks WHERE state = 'succeeded'")).toBe(TOTAL);
    expect(one('SELECT count(*) AS n FROM results')).toBe(TOTAL);
    expect(
      one(
        'SELECT count(*) AS n FROM tasks t LEFT JOIN results r ON r.task_id = t.id WHERE r.task_id IS NULL',
      ),
    ).toBe(0);
    // Each task's output is its own: nothing was crossed or duplicated.
    const rows = check
      .prepare('SELECT t.input, r.output FROM tasks t JOIN results r ON r.task_id = t.id')
      .all() as { input: string; output: string }[];
    for (const r of rows) {
      const { i } = JSON.parse(r.input) as { i: number };
      expect(JSON.parse(r.output)).toEqual({ i, squared: i * i });
    }
    const inputs = new Set(rows.map((r) => (JSON.parse(r.input) as { i: number }).i));
    expect(inputs.size).toBe(TOTAL);
    // Exactly one success record per task in the provenance chain, and some tasks were recovered from the crash.
    expect(one('SELECT count(*) AS n FROM provenance WHERE record LIKE \'%"type":"task.succeeded"%\'')).toBe(
      TOTAL,
    );
    expect(
      one('SELECT count(*) AS n FROM provenance WHERE record LIKE \'%"type":"task.lease_expired"%\''),
    ).toBeGreaterThan(0);
    check.close();

    const warden = await Warden.open({ storage: { root }, workers: false });
    try {
      const verification = await warden.verify('default');
      expect(verification.ok).toBe(true);
      expect(verification.length).toBeGreaterThanOrEqual(TOTAL * 3);
    } finally {
      await warden.close();
    }
  }, 180_000);
});
