import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Warden } from '../src/index.js';
import { tempDir } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('files of the data directory are for their owner only', () => {
  it('creates warden.db, its -wal and -shm, and the key directory readable by the owner alone', async () => {
    const root = join(tempDir(), 'data');
    const old = process.umask(0o022);
    try {
      const warden = await Warden.open({ storage: { root } });
      await warden.registerHandler('ok', () => 1);
      await warden.result((await warden.submit({ agent: 'ok' })).id, { timeoutMs: 5000 });
      for (const f of ['warden.db', 'warden.db-wal', 'warden.db-shm']) {
        expect(existsSync(join(root, f)), f).toBe(true);
        expect(mode(join(root, f)), f).toBe(0o600);
      }
      expect(mode(join(root, 'keys'))).toBe(0o700);
      await warden.close();
    } finally {
      process.umask(old);
    }
  });

  it('tightens a store that an older version created readable by others', async () => {
    const root = tempDir();
    await (await Warden.open({ storage: { root } })).close();
    chmodSync(join(root, 'warden.db'), 0o644);
    chmodSync(join(root, 'keys'), 0o755);
    const warden = await Warden.open({ storage: { root } });
    expect(mode(join(root, 'warden.db'))).toBe(0o600);
    expect(mode(join(root, 'keys'))).toBe(0o700);
    for (const f of ['warden.db-wal', 'warden.db-shm'])
      if (existsSync(join(root, f))) expect(mode(join(root, f)), f).toBe(0o600);
    await warden.close();
  });
});
