import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/index.js';
import { GENESIS_HASH, chainRecord, verifyChain } from '../src/index.js';
import { sha256Hex } from '../src/provenance/index.js';
import { buildServer, createApiKey } from '../src/api/index.js';
import { openWarden, populatedSession, sleep, tempDir } from './helpers.js';

const populated = () => populatedSession(5);

function tamper(root: string, sql: string, ...params: unknown[]) {
  const db = new BetterSqlite3(join(root, 'warden.db'));
  db.prepare(sql).run(...params);
  db.close();
}

describe('provenance hash chain', () => {
  it('records every state change, in order, in the same transaction as the change', async () => {
    const { root, sessionId, ids } = await populated();
    const warden = await openWarden({ root, workers: false });
    const links = await warden.store.readChain(sessionId);
    const records = links.map(
      (l) => JSON.parse(l.recordJson) as { type: string; taskId?: string; seq: number },
    );
    expect(records[0]!.type).toBe('session.created');
    const flaky = records.filter((r) => r.taskId === ids[5]).map((r) => r.type);
    expect(flaky).toEqual([
      'task.submitted',
      'task.started',
      'task.attempt_failed',
      'task.started',
      'task.succeeded',
    ]);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(links[0]!.prevHash).toBe(GENESIS_HASH);
    expect((await warden.verify('default')).ok).toBe(true);
  });

  it.each([
    [
      'a changed record',
      'UPDATE provenance SET record = replace(record, \'"at":\', \'"at": \') WHERE seq = 4',
      4,
      /does not match its hash/,
    ],
    [
      'a changed hash',
      "UPDATE provenance SET hash = 'ab' || substr(hash, 3) WHERE seq = 6",
      6,
      /does not match its hash/,
    ],
    ['a deleted record', 'DELETE FROM provenance WHERE seq = 5', 5, /missing record/],
    [
      'a truncated tail',
      'DELETE FROM provenance WHERE seq = (SELECT max(seq) FROM provenance)',
      0,
      /truncated/,
    ],
  ])('detects %s and names the first broken record', async (_what, sql, seq, reason) => {
    const { root } = await populated();
    tamper(root, sql);
    const warden = await openWarden({ root, workers: false });
    const v = await warden.verify('default');
    expect(v.ok).toBe(false);
    if (seq > 0) expect(v.broken?.seq).toBe(seq);
    expect(v.broken?.reason).toMatch(reason);
  });

  it('detects a changed record whose hash was recomputed to match, at the next link', async () => {
    const { root } = await populated();
    const db = new BetterSqlite3(join(root, 'warden.db'));
    const row = db.prepare('SELECT record FROM provenance WHERE seq = 6').get() as { record: string };
    const forged = row.record.replace('"at":', '"at":1');
    db.prepare('UPDATE provenance SET record = ?, hash = ? WHERE seq = 6').run(forged, sha256Hex(forged));
    db.close();
    const warden = await openWarden({ root, workers: false });
    const v = await warden.verify('default');
    expect(v).toMatchObject({ ok: false, broken: { seq: 7 } });
    expect(v.broken?.reason).toMatch(/prev_hash/);
  });

  it('detects reordering of two records', () => {
    const a = chainRecord('s', null, { type: 'task.submitted', at: 1, taskId: 't1' });
    const b = chainRecord('s', { seq: 1, hash: a.hash }, { type: 'task.started', at: 2, taskId: 't1' });
    const link = (c: typeof a) => ({
      seq: c.record.seq,
      prevHash: c.record.prevHash,
      hash: c.hash,
      recordJson: c.recordJson,
    });
    expect(verifyChain('s', [link(a), link(b)]).ok).toBe(true);
    const swapped = verifyChain('s', [
      { ...link(b), seq: 1 },
      { ...link(a), seq: 2 },
    ]);
    expect(swapped.ok).toBe(false);
    expect(swapped.broken?.seq).toBe(1);
  });
});

describe('stored results against the records that commit to them', () => {
  /** A finished session, and the result row of one of its succeeded tasks. */
  async function finished() {
    const { root, ids } = await populated();
    return { root, id: ids[2]! };
  }
  async function served(root: string, id: string) {
    const warden = await openWarden({ root, workers: false });
    const outcome = await warden.result(id).then(
      (r) => ({ ok: true as const, output: r?.output }),
      (e: unknown) => ({ ok: false as const, error: e as { code: string; message: string } }),
    );
    await warden.close();
    return outcome;
  }

  it.each([
    [
      'a forged output (digest left alone)',
      'UPDATE results SET output = \'{"forged":true}\' WHERE task_id = ?',
    ],
    [
      'a forged output with its digest recomputed',
      "UPDATE results SET output = '{\"forged\":true}', output_digest = '" +
        sha256Hex('{"forged":true}') +
        "' WHERE task_id = ?",
    ],
    ['a result pointed at another record', 'UPDATE results SET record_seq = 2 WHERE task_id = ?'],
    ['a result with no record', 'UPDATE results SET record_seq = NULL WHERE task_id = ?'],
    ['a failed result relabelled succeeded', "UPDATE results SET status = 'failed' WHERE task_id = ?"],
  ])('warden.result refuses %s with PROVENANCE_RESULT_MISMATCH', async (_what, sql) => {
    const { root, id } = await finished();
    expect(await served(root, id)).toMatchObject({ ok: true, output: { i: 2 } });
    tamper(root, sql, id);
    const out = await served(root, id);
    expect(out).toMatchObject({ ok: false, error: { code: 'PROVENANCE_RESULT_MISMATCH' } });
    expect(out.ok || out.error.message).toMatch(/warden verify/);
  });

  it('a batch read marks the one forged result and serves the others', async () => {
    const { root, ids } = await populated();
    tamper(root, 'UPDATE results SET output = \'{"forged":true}\' WHERE task_id = ?', ids[1]);
    const warden = await openWarden({ root, workers: false });
    const results = await warden.store.getResults(ids);
    const forged = results.find((r) => r.taskId === ids[1])!;
    expect(forged).toMatchObject({
      status: 'failed',
      output: null,
      error: { code: 'PROVENANCE_RESULT_MISMATCH' },
    });
    expect(results.filter((r) => r.status === 'succeeded')).toHaveLength(ids.length - 1);
  });

  it('the CLI exits 1 with the code instead of printing a forged output', async () => {
    const { root, id } = await finished();
    tamper(root, 'UPDATE results SET output = \'{"forged":true}\' WHERE task_id = ?', id);
    let printed = '';
    const write = process.stderr.write.bind(process.stderr);
    const out = process.stdout.write.bind(process.stdout);
    process.stderr.write = ((s: string) => ((printed += s), true)) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(await main(['node', 'warden', '--data', root, 'result', id])).toBe(1);
    } finally {
      process.stderr.write = write;
      process.stdout.write = out;
      process.exitCode = undefined;
    }
    expect(printed).toContain('error [PROVENANCE_RESULT_MISMATCH]');
    expect(printed).not.toContain('forged');
  });

  it('results written before migration 0006 are linked to their records when it runs', async () => {
    const { root, ids } = await populated();
    tamper(root, 'ALTER TABLE results DROP COLUMN record_seq');
    // As a database of that time: the later migrations are not applied either.
    tamper(root, 'DROP TABLE node_keys');
    tamper(root, 'DROP TABLE agent_code_versions');
    tamper(root, 'DROP TABLE agent_code');
    tamper(root, 'ALTER TABLE sessions DROP COLUMN policy_document');
    tamper(root, 'ALTER TABLE sessions DROP COLUMN placement');
    tamper(root, 'DROP TABLE task_feedback');
    tamper(root, 'DROP TABLE memories');
    tamper(root, 'DROP TABLE agent_rollouts');
    tamper(
      root,
      "DELETE FROM warden_migrations WHERE name IN ('0006-result-records', '0007-node-keys', '0008-agent-files', '0009-queue-autovacuum', '0010-session-policy', '0011-queued-by-agent', '0012-one-statement-abort', '0013-session-placement', '0014-routing-memory')",
    );
    const warden = await openWarden({ root, workers: false });
    for (const id of ids) expect((await warden.result(id))?.status).toBe('succeeded');
  });
});

describe('a forged result over the API', () => {
  it('an SSE stream that learns of it from the store ends with an error event, not a forged result or a hang', async () => {
    const root = tempDir();
    const api = await openWarden({ root, workers: false });
    await api.registerHandler('later', (i: unknown) => i);
    const app = await buildServer(api, { logger: false, rateLimit: false });
    const key = (await createApiKey(api.store, { tenant: 'default', role: 'viewer', name: 'v' })).key;
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { id } = await api.submit({ agent: 'later', input: { n: 1 } });
      // Whatever writes this result afterwards, the stored output no longer matches its record.
      tamper(
        root,
        `CREATE TRIGGER forge AFTER INSERT ON results BEGIN
           UPDATE results SET output = '{"forged":true}' WHERE task_id = NEW.task_id; END`,
      );
      const stream = fetch(`${address}/tasks/${id}/events`, { headers: { authorization: `Bearer ${key}` } });
      const res = await stream;
      expect(res.status).toBe(200);
      // Another process runs the task: this server hears of its end only through the store.
      const worker = await openWarden({ root });
      await worker.registerHandler('later', (i: unknown) => i);
      const text = await Promise.race([res.text(), sleep(10_000).then(() => 'timed out')]);
      expect(text).toContain('event: error');
      expect(text).toContain('PROVENANCE_RESULT_MISMATCH');
      expect(text).not.toContain('forged');
      expect(text).not.toContain('event: result');

      const direct = await app.inject({
        url: `/tasks/${id}/events`,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(direct.json()).toMatchObject({ error: { code: 'PROVENANCE_RESULT_MISMATCH' } });
    } finally {
      await app.close();
    }
  }, 30_000);
});
