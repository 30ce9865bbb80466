import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { transpiledFixture } from './transpiled.js';

const spawned: ChildProcess[] = [];
afterEach(() => {
  for (const c of spawned.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** A child that has loaded the store and waits for a line on stdin to open `path`. */
function childOpening(script: string, path: string) {
  const child = spawn(process.execPath, [script, path], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let stdout = '';
  let stderr = '';
  let markReady = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read, and then the child's
    // "opened" is missing although it printed it.
    child.on('close', (code) => {
      markReady();
      resolve({ code, stdout, stderr });
    }),
  );
  return { ready, exit, go: () => child.stdin!.end('go\n') };
}

describe('migrations', () => {
  it('40 processes opening one fresh data directory at the same moment all succeed, with one schema', async () => {
    const script = transpiledFixture('test/fixtures/first-open.ts', tempDir());
    const path = join(tempDir(), 'data', 'warden.db');
    const children = Array.from({ length: 40 }, () => childOpening(script, path));
    // Every child has loaded its code and waits: release them together, so their migrations race.
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const outcomes = await Promise.all(children.map((c) => c.exit));
    const failures = outcomes.filter((o) => o.code !== 0 || !o.stdout.includes('opened'));
    expect(failures.map((f) => `exit ${f.code}: ${f.stderr.trim()}`)).toEqual([]);

    const db = new BetterSqlite3(path, { readonly: true });
    try {
      const names = (
        db.prepare('SELECT name FROM warden_migrations ORDER BY name').all() as { name: string }[]
      ).map((m) => m.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names[0]).toBe('0001-initial');
      const tables = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((t) => t.name);
      for (const t of ['sessions', 'tasks', 'results', 'provenance', 'tree_heads', 'trace_flags', 'traces'])
        expect(tables).toContain(t);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 300_000);
});
