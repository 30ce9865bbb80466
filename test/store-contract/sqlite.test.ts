import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, sqliteNodeKey } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { T0, claimReq, id, manifest, session, storeContract, task } from './contract.js';

storeContract('SQLite', {
  async open() {
    const path = join(tempDir(), 'warden.db');
    const signer = sqliteNodeKey(path);
    const store = await openSqliteStore({ path, signIntervalMs: 0 }, signer);
    return {
      store,
      signer,
      async exec(sql) {
        const db = new BetterSqlite3(path);
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
    };
  },
});

describe('SQLite schema check', () => {
  it('refuses a database migrated by a newer Warden (SCHEMA_TOO_NEW), naming the unknown migration', async () => {
    const path = join(tempDir(), 'warden.db');
    await (await openSqliteStore({ path }, sqliteNodeKey(path))).close();
    const db = new BetterSqlite3(path);
    db.prepare(
      "INSERT INTO warden_migrations (name, timestamp) VALUES ('9999-from-the-future', '2030')",
    ).run();
    db.close();
    await expect(openSqliteStore({ path }, sqliteNodeKey(path))).rejects.toMatchObject({
      code: 'SCHEMA_TOO_NEW',
      message: expect.stringMatching(/9999-from-the-future.*upgrade/),
    });
  });
});

describe('SQLite claim', () => {
  // The claim reads exactly the rows it wants; when a session reaches its cap within the batch, it reads
  // again without that session instead of giving the batch's free slots up to the next claim.
  it('fills a claim past a session that reaches its cap within the batch, however many it has queued', async () => {
    const path = join(tempDir(), 'warden.db');
    const store = await openSqliteStore({ path, signIntervalMs: 0 }, sqliteNodeKey(path));
    try {
      const busy = session(1, 2);
      const other = session(2);
      await store.createSession(busy);
      await store.createSession(other);
      const a = await store.putAgent(manifest('alpha'), null, T0);
      const b = await store.putAgent(manifest('beta', 1), null, T0);
      // The capped session's tasks come first (higher priority), far more of them than the claim's limit.
      await store.submit(
        Array.from({ length: 30 }, (_, k) => task(k + 1, busy, a.key, { priority: 'high' })),
      );
      await store.submit([31, 32, 33].map((n) => task(n, other, b.key)));
      await store.submit([34, 35].map((n) => task(n, other, a.key)));
      const c = await store.claim(claimReq({ runnable: [a.key, b.key], limit: 5 }));
      // beta's concurrency of 1 caps it within the batch too: one of its tasks, then alpha's in `other`.
      expect(c.claimed.map((t) => t.id)).toEqual([id(1), id(2), id(31), id(34), id(35)]);
      expect((await store.stats({ light: true })).byState).toMatchObject({ running: 5, queued: 30 });
    } finally {
      await store.close();
    }
  });
});
