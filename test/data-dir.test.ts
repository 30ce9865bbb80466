import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Warden } from '../src/index.js';
import { tempDir } from './helpers.js';

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'warden.js');

/** The real CLI in `cwd`, with exactly the data-directory variables given (none inherited). */
function cli(cwd: string, env: Record<string, string>, ...args: string[]) {
  const base = { ...process.env };
  delete base['WARDEN_DATA'];
  delete base['STORAGE_ROOT'];
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...base, ...env }, timeout: 20_000, encoding: 'utf8' },
      (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

describe('data directory', () => {
  it('says on stderr when a command creates a new store, and only then', async () => {
    const cwd = tempDir();
    const first = await cli(cwd, {}, 'tasks');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('created new data directory ./data (the default;');
    expect(first.stdout).not.toContain('created');
    expect(existsSync(join(cwd, 'data', 'warden.db'))).toBe(true);
    const again = await cli(cwd, {}, 'tasks');
    expect(again.stderr).not.toContain('created new data directory');
  });

  it('honours WARDEN_DATA, then STORAGE_ROOT, and --data above both', async () => {
    const cwd = tempDir();
    const viaWardenData = join(tempDir(), 'w');
    const viaStorageRoot = join(tempDir(), 's');
    const viaFlag = join(tempDir(), 'f');

    const a = await cli(cwd, { WARDEN_DATA: viaWardenData, STORAGE_ROOT: viaStorageRoot }, 'tasks');
    expect(a.stderr).toContain(`created new data directory ${viaWardenData} (from WARDEN_DATA)`);
    const b = await cli(cwd, { STORAGE_ROOT: viaStorageRoot }, 'tasks');
    expect(b.stderr).toContain(`created new data directory ${viaStorageRoot} (from STORAGE_ROOT)`);
    const c = await cli(cwd, { WARDEN_DATA: viaWardenData }, '--data', viaFlag, 'tasks');
    expect(c.stderr).toContain(`created new data directory ${viaFlag} (from --data)`);

    for (const dir of [viaWardenData, viaStorageRoot, viaFlag])
      expect(existsSync(join(dir, 'warden.db')), dir).toBe(true);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('is resolved by the library from WARDEN_DATA when it is set after import', async () => {
    const dir = join(tempDir(), 'lib');
    mkdirSync(dir);
    const saved = process.env['WARDEN_DATA'];
    process.env['WARDEN_DATA'] = dir;
    try {
      const warden = await Warden.open({ workers: false });
      try {
        expect(warden.storageRoot).toBe(dir);
        expect(warden.dataDirectory).toEqual({ path: dir, source: 'WARDEN_DATA', isNew: true });
      } finally {
        await warden.close();
      }
      const reopened = await Warden.open({ workers: false });
      expect(reopened.dataDirectory.isNew).toBe(false);
      await reopened.close();
    } finally {
      if (saved === undefined) delete process.env['WARDEN_DATA'];
      else process.env['WARDEN_DATA'] = saved;
    }
  });
});
