import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';

storeContract('SQLite', {
  async open() {
    const path = join(tempDir(), 'warden.db');
    const store = await openSqliteStore({ path, signIntervalMs: 0 });
    return {
      store,
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
