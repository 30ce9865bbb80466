import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/index.js';
import { canonicalRecordJson, sha256Hex, type ProvenanceRecord } from '../src/provenance/index.js';
import { openWarden, populatedSession } from './helpers.js';

/** A closed data directory with one session of 6 finished tasks, its tree head signed. */
const populated = async () => (await populatedSession(5)).root;

function withDb<T>(root: string, body: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(join(root, 'warden.db'));
  try {
    return body(db);
  } finally {
    db.close();
  }
}

/** Rewrites the chain from record `from` on, `edit` applied to that record, every later hash recomputed. */
function rewriteChain(root: string, from: number, edit: (r: ProvenanceRecord) => void): void {
  withDb(root, (db) => {
    const rows = db.prepare('SELECT session_id, seq, record FROM provenance ORDER BY seq').all() as {
      session_id: string;
      seq: number;
      record: string;
    }[];
    let prev = from === 1 ? '0'.repeat(64) : sha256Hex(rows[from - 2]!.record);
    for (const row of rows.slice(from - 1)) {
      const r = JSON.parse(row.record) as ProvenanceRecord;
      if (row.seq === from) edit(r);
      r.prevHash = prev;
      const json = canonicalRecordJson(r);
      prev = sha256Hex(json);
      db.prepare('UPDATE provenance SET record = ?, hash = ?, prev_hash = ? WHERE seq = ?').run(
        json,
        prev,
        r.prevHash,
        row.seq,
      );
    }
    db.prepare('UPDATE provenance_heads SET hash = ?').run(prev);
  });
}

/** Appends one correctly chained record after the session's head, as someone with the database could. */
function appendRecord(root: string): void {
  withDb(root, (db) => {
    const head = db.prepare('SELECT session_id, seq, hash FROM provenance_heads').get() as {
      session_id: string;
      seq: number;
      hash: string;
    };
    const record: ProvenanceRecord = {
      type: 'task.succeeded',
      at: Date.now(),
      taskId: 'forged',
      data: { outputDigest: sha256Hex('"forged"') },
      sessionId: head.session_id,
      seq: head.seq + 1,
      prevHash: head.hash,
    };
    const json = canonicalRecordJson(record);
    db.prepare(
      'INSERT INTO provenance (session_id, seq, prev_hash, hash, record) VALUES (?, ?, ?, ?, ?)',
    ).run(head.session_id, record.seq, head.hash, sha256Hex(json), json);
    db.prepare('UPDATE provenance_heads SET seq = ?, hash = ?').run(record.seq, sha256Hex(json));
  });
}

async function verifyStored(root: string, session = 'default') {
  const warden = await openWarden({ root, workers: false });
  try {
    return await warden.verify(session);
  } finally {
    await warden.close();
  }
}

/** `warden verify [args]` in this process: exit code and what it printed. */
async function verifyCli(root: string, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    return { code: await main(['node', 'warden', '--data', root, 'verify', ...args]), out };
  } finally {
    process.stdout.write = write;
    process.exitCode = undefined;
  }
}

const witnessDir = (root: string) => join(root, 'keys', 'tree-heads');

describe('warden verify --session: what someone who can write the database (not the keys) can do', () => {
  it('an untouched session is ok: all records signed, every task checked', async () => {
    const root = await populated();
    expect(existsSync(witnessDir(root))).toBe(true);
    const v = await verifyStored(root);
    expect(v).toMatchObject({ ok: true, unsigned: 0, tasks: 6 });
    expect(v.signedSize).toBe(v.length);
    const cli = await verifyCli(root, '--session', 'default');
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/^ok\s+default: \d+ records, all signed, 6 tasks checked, head [0-9a-f]{64}$/m);
  });

  it('a chain rewritten with its signed head deleted is BROKEN: the witness still holds the head', async () => {
    const root = await populated();
    rewriteChain(root, 4, (r) => (r.at += 1));
    withDb(root, (db) => db.prepare('DELETE FROM tree_heads').run());
    const v = await verifyStored(root);
    expect(v.ok).toBe(false);
    expect(v.broken?.reason).toMatch(/no signed tree head, but the witness holds one of size \d+/);
    const cli = await verifyCli(root, '--session', 'default');
    expect(cli.code).toBe(1);
    expect(cli.out).toMatch(/^BROKEN\s+default: record 1: the database has no signed tree head/m);
  });

  it('without a witness, the same is UNSIGNED with every record counted, never ok', async () => {
    const root = await populated();
    rmSync(witnessDir(root), { recursive: true });
    rewriteChain(root, 4, (r) => (r.at += 1));
    withDb(root, (db) => db.prepare('DELETE FROM tree_heads').run());
    const v = await verifyStored(root);
    expect(v).toMatchObject({ ok: false, signedSize: 0, unsigned: v.length });
    expect(v.broken).toBeUndefined();
    const cli = await verifyCli(root, '--session', 'default');
    expect(cli.code).toBe(1);
    expect(cli.out).toContain(
      `UNSIGNED default: ${v.length} records after the last signed head (there is none, of ${v.length})`,
    );
  });

  it('a chain wiped to nothing is BROKEN', async () => {
    const root = await populated();
    withDb(root, (db) => {
      for (const t of ['provenance', 'provenance_heads', 'tree_heads']) db.prepare(`DELETE FROM ${t}`).run();
    });
    const v = await verifyStored(root);
    expect(v).toMatchObject({ ok: false, length: 0 });
    expect(v.broken?.reason).toMatch(/no provenance records .*: the chain was wiped/);
  });

  it('a session wiped with every row it had is reported from the witness, by id', async () => {
    const root = await populated();
    const id = withDb(root, (db) => {
      const { id } = db.prepare('SELECT id FROM sessions').get() as { id: string };
      for (const t of ['results', 'tasks', 'provenance', 'provenance_heads', 'tree_heads', 'sessions'])
        db.prepare(`DELETE FROM ${t}`).run();
      return id;
    });
    const cli = await verifyCli(root);
    expect(cli.code).toBe(1);
    expect(cli.out).toMatch(
      new RegExp(`^BROKEN\\s+${id}: record 1: the session is gone from the database`, 'm'),
    );
    expect((await verifyStored(root, id)).broken?.reason).toMatch(/it was wiped/);
  });

  it('a database put back to an older copy (an older, validly signed head) is BROKEN: rolled back', async () => {
    const root = await populated();
    const copy = join(root, 'old.db');
    copyFileSync(join(root, 'warden.db'), copy);
    const warden = await openWarden({ root });
    await warden.registerHandler('ok', (i: unknown) => i);
    await warden.result((await warden.submit({ agent: 'ok', input: { later: true } })).id);
    await warden.close();
    for (const f of ['warden.db-wal', 'warden.db-shm']) rmSync(join(root, f), { force: true });
    copyFileSync(copy, join(root, 'warden.db'));
    const v = await verifyStored(root);
    expect(v.ok).toBe(false);
    expect(v.broken?.reason).toMatch(
      /is older than the witness's \(size \d+, .*\): the database was rolled back/,
    );
  });

  it('records appended after the last signed head are UNSIGNED: "N records after the last signed head"', async () => {
    const root = await populated();
    appendRecord(root);
    const v = await verifyStored(root);
    expect(v).toMatchObject({ ok: false, unsigned: 1 });
    expect(v.broken).toBeUndefined();
    const cli = await verifyCli(root, '--session', 'default');
    expect(cli.code).toBe(1);
    expect(cli.out).toContain(
      `UNSIGNED default: 1 record after the last signed head (size ${v.signedSize}, of ${v.length})`,
    );
  });

  it.each([
    [
      'a forged output',
      'UPDATE results SET output = \'{"forged":1}\' WHERE task_id = (SELECT min(task_id) FROM results)',
      /its stored result: its stored output does not hash to its output digest/,
    ],
    [
      'a task row added outside Warden',
      `INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after, input, metadata, created_at, updated_at)
       SELECT 'zzzz', session_id, agent_key, priority, 'queued', 0, 1, 0, '{}', '{}', 0, 0 FROM tasks LIMIT 1`,
      /task zzzz has no task.submitted record/,
    ],
    [
      'a deleted result row',
      'DELETE FROM results WHERE task_id = (SELECT min(task_id) FROM results)',
      /its result row is missing, but record \d+ \(task.succeeded\) commits to one/,
    ],
    [
      'a deleted task row',
      'DELETE FROM tasks WHERE id = (SELECT min(id) FROM tasks)',
      /is in the chain but its row is missing/,
    ],
    [
      'a failure turned into a success',
      "UPDATE results SET status = 'failed' WHERE task_id = (SELECT min(task_id) FROM results)",
      /its status is failed, but its record \(seq \d+\) is task.succeeded/,
    ],
    [
      'a finished task put back in the queue',
      "UPDATE tasks SET state = 'queued' WHERE id = (SELECT min(id) FROM tasks)",
      /is queued, but its record \d+ \(task.succeeded\) says succeeded/,
    ],
  ])('checks tasks and results against the chain: %s is BROKEN', async (_what, sql, reason) => {
    const root = await populated();
    withDb(root, (db) => db.prepare(sql).run());
    const v = await verifyStored(root);
    expect(v.ok).toBe(false);
    expect(v.broken?.reason).toMatch(reason);
  });

  it('a running Warden vouches for its own fresh commits: verify right after a task is ok', async () => {
    const warden = await openWarden();
    await warden.registerHandler('ok', (i: unknown) => i);
    await warden.result((await warden.submit({ agent: 'ok', input: 1 })).id);
    expect(await warden.verify('default')).toMatchObject({ ok: true, unsigned: 0, tasks: 1 });
  });
});
