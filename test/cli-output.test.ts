import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');
const WASM = 'examples/wasm-wat/agent.yaml';
// Each case starts several real CLI processes: a few seconds each on a loaded 2-core machine.
const SLOW = 120_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI (bin/warden.js on dist/) on a fresh data directory. */
function cli(...args: string[]): Promise<Run> {
  return cliIn(tempDir(), ...args);
}

function cliIn(data: string, ...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, '--data', data, ...args],
      { cwd: ROOT, timeout: 25_000, encoding: 'utf8' },
      (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** stderr must be exactly one JSON object `{ error: { code, message, ... } }`. */
function jsonError(run: Run): { code: string; message: string; details?: Record<string, unknown> } {
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('created new data'));
  expect(lines, run.stderr).toHaveLength(1);
  const body = JSON.parse(lines[0]!) as { error: { code: string; message: string } };
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

describe('CLI errors with --json', () => {
  it(
    'are one JSON object on stderr, with the same exit codes as the text form',
    async () => {
      const missing = await cli('--json', 'result', '01a20f06-7c25-776c-8631-8137509375a0');
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe('');
      expect(jsonError(missing)).toMatchObject({ code: 'TASK_NOT_FOUND' });
      // An outside audit: `warden logs <unknown>` printed nothing and exited 0.
      for (const target of ['01a20f06-7c25-776c-8631-8137509375a0', 'no-such-agent']) {
        const logs = await cli('--json', 'logs', target);
        expect(logs.code, target).toBe(1);
        expect(jsonError(logs)).toMatchObject({ code: 'TASK_NOT_FOUND' });
      }

      const badInput = await cli('--json', 'submit', WASM, '--input', '{text: hello}');
      expect(badInput.code).toBe(2);
      expect(jsonError(badInput).code).toBe('INVALID_JSON');

      // Usage errors that commander itself detects, before and after the subcommand.
      for (const args of [
        ['--json', 'tasks', '--state', 'sleeping'],
        ['--json', 'no-such-command'],
        ['tasks', '--json', '--no-such-flag'],
        // An outside audit: both were accepted (the API refuses them).
        ['--json', 'tasks', '--limit', '0'],
        ['--json', 'submit', WASM, '--deadline', '-5'],
      ]) {
        const usage = await cli(...args);
        expect(usage.code, args.join(' ')).toBe(2);
        expect(jsonError(usage).code, args.join(' ')).toBe('INVALID_INPUT');
      }
    },
    SLOW,
  );

  it(
    'stay text without --json',
    async () => {
      const missing = await cli('result', '01a20f06-7c25-776c-8631-8137509375a0');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^error \[TASK_NOT_FOUND\]: /m);
    },
    SLOW,
  );
});

describe('warden submit', () => {
  it(
    'prints only the id on stdout, also for an existing task (the note goes to stderr)',
    async () => {
      const data = tempDir();
      const args = ['submit', WASM, '--input', '{"text":"once"}', '--idempotency-key', 'order-42'];
      const first = await cliIn(data, ...args);
      expect(first.code, first.stderr).toBe(0);
      const again = await cliIn(data, ...args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(first.stdout);
      expect(again.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
      expect(again.stderr).toContain(`existing task ${first.stdout.trim()} for this idempotency key`);
    },
    SLOW,
  );
});

describe('subcommand help', () => {
  it(
    'lists the global options',
    async () => {
      const help = await cli('run', '--help');
      expect(help.code).toBe(0);
      for (const flag of ['--data <dir>', '--json', '--unsafe-no-sandbox', '--input'])
        expect(help.stdout, flag).toContain(flag);
      const nested = await cli('agents', 'list', '--help');
      expect(nested.stdout).toContain('--data <dir>');
    },
    SLOW,
  );
});

describe('warden serve on a taken port', () => {
  it(
    'fails with PORT_IN_USE, what to do next, exit 1 and no stack trace',
    async () => {
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const { port } = blocker.address() as AddressInfo;
      try {
        const bind = `127.0.0.1:${port}`;
        const text = await cli('serve', '--bind', bind, '--no-examples');
        expect(text.code).toBe(1);
        expect(text.stderr).toMatch(
          new RegExp(`^error \\[PORT_IN_USE\\]: ${bind} is already in use.*--bind`, 'm'),
        );
        expect(text.stderr).not.toMatch(/^\s+at /m);
        expect(text.stderr).not.toContain('First admin API key');

        const json = await cli('--json', 'serve', '--bind', bind, '--no-examples');
        expect(json.code).toBe(1);
        expect(jsonError(json)).toMatchObject({ code: 'PORT_IN_USE', details: { bind } });
      } finally {
        blocker.close();
      }
    },
    SLOW,
  );
});
