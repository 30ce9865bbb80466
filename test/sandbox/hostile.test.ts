/**
 * The hostile-agent battery: each row is an agent that attacks its sandbox, and the error code (or the
 * denial the agent itself observed) Warden must answer with. After every row a well-behaved agent of the
 * same runtime must run normally. Add a row to extend it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warden } from '../../src/index.js';
import { openWarden, tempDir } from '../helpers.js';
import { wasiModule, writeManifest, writeWat } from './fixtures.js';
import { writeFileSync } from 'node:fs';

type Runtime = 'node' | 'python' | 'process' | 'wasm';

interface Row {
  name: string;
  runtime: Runtime;
  /** Script (node/python), command (process) or WAT (wasm). */
  code: string | string[];
  resources?: Record<string, number>;
  input?: unknown;
  /** Submit with a deadline this many ms ahead. */
  deadlineMs?: number;
  /** The task fails with this code… */
  code_?: string;
  /** …or succeeds, and its output shows the attack was denied. */
  denied?: (output: Record<string, unknown>) => void;
}

const HOST_SECRET = `host-secret-${process.pid}`;
// A private temporary directory for this file (its own process): the sandboxes' work root under it is not
// shared with test files running at the same time, so "nothing left behind" means this battery's.
const PRIVATE_TMP = mkdtempSync(join(tmpdir(), 'warden-hostile-'));
process.env['TMPDIR'] = PRIVATE_TMP;
const WORK_ROOT = join(tmpdir(), 'warden-sandbox');
let server: Server;
let port = 0;

/** Node prelude: try(fn) → { error: code } | { value }. */
const TRY = `
const attempt = async (fn) => { try { return { value: String(await fn()).slice(0, 200) }; } catch (e) { return { error: e.code ?? e.name }; } };
`;

const denial = (key: string, codes: RegExp) => (out: Record<string, unknown>) => {
  const r = out[key] as { error?: string; value?: string };
  expect(r.error, `${key}: ${JSON.stringify(r)}`).toMatch(codes);
};

const ROWS: Row[] = [
  // --- process sandbox (bubblewrap) ---
  {
    name: 'infinite loop',
    runtime: 'node',
    code: 'for (;;) {}',
    resources: { timeoutMs: 800 },
    code_: 'TIMEOUT',
  },
  {
    name: 'memory bomb (node)',
    runtime: 'node',
    code: 'const keep = []; for (;;) keep.push(Buffer.alloc(4 << 20, 1));',
    resources: { memoryMb: 96 },
    code_: 'MEMORY_LIMIT',
  },
  {
    name: 'memory bomb (python)',
    runtime: 'python',
    code: 'keep = []\nwhile True:\n    keep.append(bytearray(4 << 20))\n',
    resources: { memoryMb: 64 },
    code_: 'MEMORY_LIMIT',
  },
  {
    name: 'fork bomb',
    runtime: 'process',
    code: ['/bin/sh', '-c', 'f() { f | f & }; f; sleep 5'],
    code_: 'PROCESS_LIMIT',
  },
  {
    name: 'huge file',
    runtime: 'process',
    code: ['/bin/sh', '-c', 'exec dd if=/dev/zero of=/tmp/big bs=1M count=100'],
    code_: 'FILE_LIMIT',
  },
  {
    name: 'printing gigabytes',
    runtime: 'node',
    code: "const s = 'x'.repeat(1 << 16); const w = () => { while (process.stdout.write(s)); process.stdout.once('drain', w); }; w();",
    resources: { maxOutputBytes: 1 << 20 },
    code_: 'OUTPUT_LIMIT',
  },
  {
    name: 'reads /etc/shadow, the host home, /proc/1/environ',
    runtime: 'node',
    code: `${TRY}import { readFileSync, readdirSync } from 'node:fs';
const out = {
  shadow: await attempt(() => readFileSync('/etc/shadow', 'utf8')),
  home: await attempt(() => readdirSync(${JSON.stringify(process.env['HOME'] ?? '/root')})),
  root: await attempt(() => readdirSync('/root')),
  environ: { value: readFileSync('/proc/1/environ', 'utf8').split('\\0').join(' ') },
  hostPid1: await attempt(() => readFileSync('/proc/1/cmdline', 'utf8')),
};
process.stdout.write(JSON.stringify(out));`,
    denied: (out) => {
      denial('shadow', /ENOENT|EACCES/)(out);
      denial('home', /ENOENT|EACCES/)(out);
      denial('root', /ENOENT|EACCES/)(out);
      expect(JSON.stringify(out['environ'])).not.toContain(HOST_SECRET);
      // PID 1 is the sandbox's own init (bwrap), not the host's.
      expect((out['hostPid1'] as { value: string }).value).toContain('bwrap');
    },
  },
  {
    name: "reads other tasks' work dirs",
    runtime: 'node',
    code: `${TRY}import { readdirSync } from 'node:fs';
process.stdout.write(JSON.stringify({
  tmp: { value: readdirSync('/tmp').join(',') },
  workRoot: await attempt(() => readdirSync(${JSON.stringify(WORK_ROOT)})),
}));`,
    denied: (out) => {
      // Its own /tmp: empty but for the mount point of its own code directory when that lives in /tmp.
      const own = dir.startsWith('/tmp/') ? [dir.split('/')[2]!] : [];
      expect(
        String((out['tmp'] as { value: string }).value)
          .split(',')
          .filter(Boolean),
      ).toEqual(own);
      denial('workRoot', /ENOENT|EACCES/)(out);
    },
  },
  {
    name: 'socket to a host that is not allowed',
    runtime: 'node',
    code: `${TRY}import { connect } from 'node:net';
const r = await attempt(() => new Promise((ok, fail) => { const s = connect(PORT, '127.0.0.1', () => ok('connected')); s.on('error', fail); }));
const ext = await attempt(() => new Promise((ok, fail) => { const s = connect(80, '1.1.1.1', () => ok('connected')); s.on('error', fail); }));
process.stdout.write(JSON.stringify({ local: r, external: ext }));`,
    denied: (out) => {
      denial('local', /ECONNREFUSED|ENETUNREACH/)(out);
      denial('external', /ENETUNREACH|ECONNREFUSED|EHOSTUNREACH/)(out);
    },
  },
  {
    name: 'DNS lookup',
    runtime: 'node',
    code: `${TRY}import { lookup } from 'node:dns/promises';
process.stdout.write(JSON.stringify({ dns: await attempt(async () => (await lookup('example.com')).address) }));`,
    denied: denial('dns', /EAI_AGAIN|ENOTFOUND|ECONNREFUSED/),
  },
  {
    name: 'sleeps past the deadline',
    runtime: 'python',
    code: 'import time\ntime.sleep(60)\n',
    deadlineMs: 1000,
    code_: 'DEADLINE_EXCEEDED',
  },
  {
    name: 'garbage output',
    runtime: 'python',
    code: "print('<<< not json', end='')\n",
    code_: 'INVALID_OUTPUT',
  },
  {
    name: 'exit with garbage and a bad code',
    runtime: 'process',
    code: ['/bin/sh', '-c', 'echo "{{{"; exit 3'],
    code_: 'AGENT_FAILED',
  },

  // --- WASM sandbox ---
  {
    name: 'infinite loop',
    runtime: 'wasm',
    code: wasiModule('(loop $l (br $l))'),
    resources: { timeoutMs: 500 },
    code_: 'TIMEOUT',
  },
  {
    name: 'memory bomb',
    runtime: 'wasm',
    code: wasiModule('(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable'),
    resources: { memoryMb: 16 },
    code_: 'MEMORY_LIMIT',
  },
  {
    name: 'printing gigabytes',
    runtime: 'wasm',
    code: wasiModule('(loop $l (call $out (i32.const 0) (i32.const 65536)) (br $l))'),
    resources: { maxOutputBytes: 1 << 20 },
    code_: 'OUTPUT_LIMIT',
  },
  {
    // No preopened directory: fd 3 does not exist, so no path (/etc/shadow, home, work dirs) can be opened.
    name: 'opens files (/etc/shadow, other work dirs, a huge file)',
    runtime: 'wasm',
    code: wasiModule(
      '(call $outNumber (i32.add (call $fd_prestat_get (i32.const 3) (i32.const 64)) (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 11) (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64))))',
      { json: '/etc/shadow' },
    ),
    denied: (out) => expect(out['n']).toBe('60'), // fd_prestat_get: EBADF (8) + path_open: ENOSYS (52)
  },
  {
    name: 'reads the environment',
    runtime: 'wasm',
    code: wasiModule(
      '(drop (call $environ_sizes_get (i32.const 64) (i32.const 68))) (call $outNumber (i32.load (i32.const 64)))',
    ),
    denied: (out) => expect(out['n']).toBe('00'),
  },
  {
    name: 'opens a socket',
    runtime: 'wasm',
    code: wasiModule(
      '(call $outNumber (call $sock_send (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64)))',
    ),
    denied: (out) => expect(out['n']).toBe('52'), // ENOSYS
  },
  {
    name: 'spins past the deadline',
    runtime: 'wasm',
    code: wasiModule('(loop $l (br $l))'),
    deadlineMs: 600,
    code_: 'DEADLINE_EXCEEDED',
  },
  {
    name: 'garbage output',
    runtime: 'wasm',
    code: wasiModule('(call $out (i32.const 1024) (i32.const 5))', { json: '{{{{{' }),
    code_: 'INVALID_OUTPUT',
  },
  { name: 'traps', runtime: 'wasm', code: wasiModule('unreachable'), code_: 'AGENT_CRASHED' },
  {
    name: 'exits non-zero',
    runtime: 'wasm',
    code: wasiModule('(call $proc_exit (i32.const 3))'),
    code_: 'AGENT_FAILED',
  },
];

/** A well-behaved agent per runtime, run after each row. */
const CANARY: Record<Runtime, string | string[]> = {
  node: `process.stdout.write(JSON.stringify({ ok: true }));`,
  python: `import json, sys\njson.dump({"ok": True}, sys.stdout)\n`,
  process: ['/bin/sh', '-c', 'echo \'{"ok":true}\''],
  wasm: wasiModule('(call $out (i32.const 1024) (i32.const 11))', { json: '{"ok":true}' }),
};

let warden: Warden;
let dir: string;
let counter = 0;

async function register(runtime: Runtime, code: string | string[], resources: Record<string, number> = {}) {
  const name = `h${++counter}`;
  const spec: Record<string, unknown> = {
    runtime,
    resources: { timeoutMs: 10_000, ...resources },
    retry: { maxAttempts: 1, baseMs: 0, maxMs: 0 },
  };
  if (runtime === 'wasm') spec['module'] = await writeWat(dir, name, code as string);
  else if (runtime === 'process') spec['command'] = code;
  else {
    const file = `${name}.${runtime === 'python' ? 'py' : 'mjs'}`;
    writeFileSync(join(dir, file), (code as string).replace('PORT', String(port)));
    spec['entry'] = `./${file}`;
  }
  return (await warden.registerAgent({ path: writeManifest(dir, name, '1.0.0', spec) })).key;
}

beforeAll(async () => {
  process.env['WARDEN_HOSTILE_SECRET'] = HOST_SECRET;
  server = createServer((_req, res) => res.end('reachable'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  delete process.env['WARDEN_HOSTILE_SECRET'];
  await new Promise((r) => server.close(r));
  rmSync(PRIVATE_TMP, { recursive: true, force: true });
});

describe('hostile-agent battery', () => {
  it.each(ROWS.map((row) => [`${row.runtime}: ${row.name}`, row] as const))('%s', async (_label, row) => {
    dir = tempDir();
    warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
    const agent = await register(row.runtime, row.code, row.resources);
    const task = await warden.submit({
      agent,
      input: row.input ?? {},
      ...(row.deadlineMs ? { deadline: Date.now() + row.deadlineMs } : {}),
    });
    const result = await warden.result(task.id, { timeoutMs: 20_000 });
    expect(result, 'a result').toBeDefined();
    if (row.code_) {
      expect(result?.error?.code, result?.error?.message).toBe(row.code_);
      expect(result?.attempts).toBe(1);
    } else {
      expect(result?.status, result?.error?.message).toBe('succeeded');
      row.denied!(result!.output as Record<string, unknown>);
    }
    // Warden stays healthy: the next task of the same runtime runs normally.
    const canary = await warden.submit({ agent: await register(row.runtime, CANARY[row.runtime]) });
    const ok = await warden.result(canary.id, { timeoutMs: 10_000 });
    expect(ok?.status, ok?.error?.message).toBe('succeeded');
    expect(ok?.output).toEqual({ ok: true });
  });

  it('leaves no work directory behind', () => {
    if (!existsSync(WORK_ROOT)) return;
    expect(readdirSync(WORK_ROOT)).toEqual([]);
  });
});
