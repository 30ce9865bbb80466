import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, chainRecord, verifyChain } from '../src/index.js';
import { sha256Hex } from '../src/provenance/index.js';
import { openWarden, populatedSession } from './helpers.js';

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
