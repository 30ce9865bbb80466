import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warden } from '../../src/index.js';
import { compileStorageOptions } from '../../src/warden/index.js';
import { openBackend } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'warden.js');
const run = promisify(execFile);

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['STORAGE_ROOT', 'WARDEN_DATA', 'STORAGE_BACKEND', 'DATABASE_URL', 'WARDEN_AUTO_MIGRATE'])
    if (!(k in env)) delete childEnv[k];
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('choosing the storage backend', () => {
  // Table-driven: what the environment and options say, and what is opened (or the error).
  const cases: {
    name: string;
    options?: Parameters<typeof compileStorageOptions>[0];
    env: NodeJS.ProcessEnv;
    kind?: 'sqlite' | 'postgres';
    url?: string;
    migrate?: boolean;
    error?: RegExp;
  }[] = [
    { name: 'nothing set: the embedded store', env: {}, kind: 'sqlite' },
    { name: 'STORAGE_BACKEND=sqlite', env: { STORAGE_BACKEND: 'sqlite' }, kind: 'sqlite' },
    {
      name: 'DATABASE_URL alone does not switch the backend',
      env: { DATABASE_URL: 'postgres://db/x' },
      kind: 'sqlite',
    },
    {
      name: 'STORAGE_BACKEND=postgres with DATABASE_URL',
      env: { STORAGE_BACKEND: 'postgres', DATABASE_URL: 'postgres://db/x' },
      kind: 'postgres',
      url: 'postgres://db/x',
      migrate: true,
    },
    {
      name: 'WARDEN_AUTO_MIGRATE=0 turns migrating on open off',
      env: { STORAGE_BACKEND: 'postgres', DATABASE_URL: 'postgres://db/x', WARDEN_AUTO_MIGRATE: '0' },
      kind: 'postgres',
      migrate: false,
    },
    {
      name: 'an explicit URL wins over the environment',
      options: { postgres: 'postgresql://other/y' },
      env: { STORAGE_BACKEND: 'sqlite' },
      kind: 'postgres',
      url: 'postgresql://other/y',
    },
    {
      name: 'settings with the URL',
      options: { postgres: { url: 'postgres://db/z', statementTimeoutMs: 5000, pool: { max: 3 } } },
      env: {},
      kind: 'postgres',
      url: 'postgres://db/z',
    },
    {
      name: 'an explicit SQLite file wins over the environment',
      options: { sqlitePath: ':memory:' },
      env: { STORAGE_BACKEND: 'postgres' },
      kind: 'sqlite',
    },
    {
      name: 'an unknown backend is an error, never a fallback',
      env: { STORAGE_BACKEND: 'mysql' },
      error: /STORAGE_BACKEND must be sqlite or postgres, got "mysql"/,
    },
    {
      name: 'postgres without a URL says where to put one',
      env: { STORAGE_BACKEND: 'postgres' },
      error: /set DATABASE_URL or pass --database-url/,
    },
    {
      name: 'WARDEN_SQLITE_WRITER_THREAD takes 0, 1 or auto, nothing else',
      env: { WARDEN_SQLITE_WRITER_THREAD: 'sometimes' },
      error: /WARDEN_SQLITE_WRITER_THREAD is 0, 1 or auto, got "sometimes"/,
    },
    {
      name: 'a URL that is not PostgreSQL',
      options: { postgres: 'mysql://x' },
      env: {},
      error: /postgres:\/\//,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const env = { WARDEN_DATA: '/tmp/warden-selection', ...c.env };
      if (c.error) {
        expect(() => compileStorageOptions(c.options, env)).toThrow(c.error);
        try {
          compileStorageOptions(c.options, env);
        } catch (err) {
          expect(err).toMatchObject({ code: 'STORAGE_CONFIG_INVALID' });
        }
        return;
      }
      const compiled = compileStorageOptions(c.options, env);
      expect(compiled.kind).toBe(c.kind);
      if (c.kind === 'postgres' && 'postgres' in compiled.backend) {
        if (c.url) expect(compiled.backend.postgres.url).toBe(c.url);
        if (c.migrate !== undefined) expect(compiled.backend.postgres.migrate).toBe(c.migrate);
        // The node key stays on this machine, in the data directory.
        expect(compiled.backend.postgres.keyDir).toBe('/tmp/warden-selection');
      }
    });
  }

  it('Warden.open refuses an unknown STORAGE_BACKEND instead of opening ./data', async () => {
    const before = process.env['STORAGE_BACKEND'];
    process.env['STORAGE_BACKEND'] = 'postgress';
    try {
      await expect(Warden.open({ storage: { root: tempDir() } })).rejects.toMatchObject({
        code: 'STORAGE_CONFIG_INVALID',
      });
    } finally {
      if (before === undefined) delete process.env['STORAGE_BACKEND'];
      else process.env['STORAGE_BACKEND'] = before;
    }
  });

  it('every CLI command fails with the coded error and a non-zero exit', async () => {
    const data = tempDir();
    for (const args of [['tasks'], ['worker'], ['serve', '--bind', '127.0.0.1:0'], ['migrate']]) {
      const out = await cli(['--data', data, ...args], { STORAGE_BACKEND: 'nope' });
      expect(out.code, args.join(' ')).toBe(1);
      expect(out.stderr).toContain(
        'error [STORAGE_CONFIG_INVALID]: STORAGE_BACKEND must be sqlite or postgres',
      );
    }
    const missing = await cli(['--data', data, 'tasks'], { STORAGE_BACKEND: 'postgres' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('set DATABASE_URL or pass --database-url');
  });

  it('warden migrate on the embedded store prints what it applied, then that nothing is left', async () => {
    const data = tempDir();
    const first = await cli(['--data', data, 'migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migrations/);
    expect(first.stdout).toContain('0001-initial');
    const again = await cli(['--data', data, '--json', 'migrate']);
    expect(JSON.parse(again.stdout)).toMatchObject({ backend: 'sqlite', applied: [] });
  });

  it('the created-directory notice names the backend', async () => {
    const data = join(tempDir(), 'fresh');
    const out = await cli(['--data', data, 'tasks']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('for the embedded store (backend: SQLite)');
  });
});

const pgOk = await requirePostgres('the PostgreSQL backend selection tests');

describe.skipIf(!pgOk)('warden migrate and the schema check on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(() => db?.drop());

  it('refuses a schema that is behind when auto-migration is off, then migrates on demand', async () => {
    const keyDir = tempDir();
    await expect(openBackend({ postgres: { url: db.url, keyDir, migrate: false } })).rejects.toMatchObject({
      code: 'SCHEMA_BEHIND',
      message: expect.stringContaining('warden migrate'),
    });
    // The same through the CLI: a worker with --no-migrate does not start.
    const worker = await cli(['--data', keyDir, '--database-url', db.url, 'worker', '--no-migrate']);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain('error [SCHEMA_BEHIND]');

    const first = await cli(['--database-url', db.url, 'migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migrations/);
    expect(first.stdout).toContain('0001-initial');
    expect(first.stdout).not.toContain(':5432/test:'); // the database named is the test's, not the admin one
    const again = await cli(['--json', 'migrate'], { STORAGE_BACKEND: 'postgres', DATABASE_URL: db.url });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ backend: 'postgres', applied: [] });

    // Now current: the schema check passes (what follows is the store's own opening).
    const opened = await openBackend({ postgres: { url: db.url, keyDir, migrate: false } }).then(
      async (b) => {
        await b.close();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect((opened as { code?: string } | undefined)?.code).not.toBe('SCHEMA_BEHIND');
  });
});

describe('the embedded store writer thread setting', () => {
  const writerThread = (env: NodeJS.ProcessEnv, options = {}) => {
    const { backend } = compileStorageOptions(options, { WARDEN_DATA: '/tmp/warden-selection', ...env });
    return 'sqlite' in backend ? backend.sqlite.writerThread : undefined;
  };
  it('is off unless asked for, by option or environment (the option wins)', () => {
    expect(writerThread({})).toBe(false);
    expect(writerThread({ WARDEN_SQLITE_WRITER_THREAD: '1' })).toBe(true);
    expect(writerThread({ WARDEN_SQLITE_WRITER_THREAD: 'auto' })).toBe('auto');
    expect(writerThread({ WARDEN_SQLITE_WRITER_THREAD: '1' }, { writerThread: false })).toBe(false);
  });
});
