import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, sqliteNodeKey } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';

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
