/**
 * The hostile-agent battery: each row is an agent that attacks its sandbox, and the error code (or the
 * denial the agent itself observed) Warden must answer with. After every row a well-behaved agent of the
 * same runtime must run normally. Add a row to extend it.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warden } from '../../src/index.js';
import { findMemoryCgroupRoot } from '../../src/sandbox/process/memory-cgroup.js';
import { eventually, openWarden, sandboxWorks, tempDir } from '../helpers.js';
import { wasiModule, writeManifest, writeWat } from './fixtures.js';

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
  /** Environment the manifest gives the agent (`spec.env`). */
  env?: Record<string, string>;
  /** Prepares the agent's directory before it runs (files it will try to reach). */
  setup?: (dir: string) => void;
  /** Puts Warden's data directory at this path inside the agent's directory (as the CLI does by default). */
  dataDir?: string;
  /** Puts the agent's directory under one only root may enter (as /root is): its mounts are staged. */
  rootOnlyParent?: boolean;
  /** The task fails with this code… */
  code_?: string;
  /** …or succeeds, and its output shows the attack was denied. */
  denied?: (output: Record<string, unknown>) => void;
  /** Runs only where this holds (skipped otherwise). */
  runsIf?: () => boolean;
  /** Host-side checks once the task is over. */
  after?: (ctx: { dir: string; root: string; elapsedMs: number; error?: { message: string } }) => void;
}

const HOST_SECRET = `host-secret-${process.pid}`;
// A private temporary directory for this file (its own process): the sandboxes' work root under it is not
// shared with test files running at the same time, so "nothing left behind" means this battery's.
const PRIVATE_TMP = mkdtempSync(join(tmpdir(), 'warden-hostile-'));
// Searchable like /tmp, so that the sandbox user reaches the agents' directories in it directly.
chmodSync(PRIVATE_TMP, 0o711);
process.env['TMPDIR'] = PRIVATE_TMP;
const WORK_ROOT = join(tmpdir(), 'warden-sandbox');
let server: Server;
let port = 0;
const SANDBOX = sandboxWorks('the process rows of the hostile-agent battery');
const SANDBOX_CHILD = new URL('../fixtures/sandbox-child.ts', import.meta.url).pathname;

/** A fresh agent directory (0755) inside one that only root may enter (0700). */
function underRootOnly(): string {
  const parent = tempDir();
  chmodSync(parent, 0o700);
  const agentDir = join(parent, 'agent');
  mkdirSync(agentDir, { mode: 0o755 });
  return agentDir;
}

/** Host pids whose command line is exactly argv (works for sandboxed agents too). */
function pidsWithArgs(argv: string[]): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (cmdline.join('\0') === argv.join('\0')) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

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
    // Python and Node ignore SIGXFSZ: the write fails with EFBIG and the agent exits with an error.
    name: 'huge file from python',
    runtime: 'python',
    code: 'block = b"x" * (1 << 20)\nwith open("/tmp/big", "wb") as f:\n    for _ in range(100):\n        f.write(block)\n',
    code_: 'FILE_LIMIT',
  },
  {
    name: 'huge file from node',
    runtime: 'node',
    code: "import { writeSync, openSync } from 'node:fs';\nconst fd = openSync('/tmp/big', 'w');\nconst block = Buffer.alloc(1 << 20);\nfor (let i = 0; i < 100; i++) writeSync(fd, block);\n",
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
    // JSON.stringify overflows its stack near 6,000 levels: thrown in the child's exit handler, it ended
    // the whole Warden process and every task it ran.
    name: 'output nested 12,000 levels deep',
    runtime: 'python',
    code: "print('[' * 12000 + ']' * 12000, end='')\n",
    code_: 'INVALID_OUTPUT',
  },
  {
    name: 'exit with garbage and a bad code',
    runtime: 'process',
    code: ['/bin/sh', '-c', 'echo "{{{"; exit 3'],
    code_: 'AGENT_FAILED',
  },

  {
    // Warden runs as root here: the agent must not be (the host's) root inside its sandbox.
    name: 'reads a root-only file in its own directory',
    runtime: 'node',
    setup: (d) => {
      writeFileSync(join(d, 'root-only.txt'), 'root secret', { mode: 0o600 });
      chmodSync(join(d, 'root-only.txt'), 0o600);
    },
    code: `${TRY}import { readFileSync } from 'node:fs';
process.stdout.write(JSON.stringify({ rootOnly: await attempt(() => readFileSync('./root-only.txt', 'utf8')) }));`,
    denied: (out) => {
      if (process.getuid?.() === 0) denial('rootOnly', /EACCES/)(out);
    },
  },
  {
    name: 'reads a root-only file in its own directory, under a directory only root may enter',
    runtime: 'python',
    rootOnlyParent: true,
    setup: (d) => writeFileSync(join(d, 'root-only.txt'), 'root secret', { mode: 0o600 }),
    code: `import json, os
def attempt(f):
    try:
        return {"value": f()}
    except OSError as e:
        return {"error": e.__class__.__name__}
json.dump({"uid": os.getuid(), "rootOnly": attempt(lambda: open("./root-only.txt").read())}, open(1, "w"))
`,
    denied: (out) => {
      expect(out['uid']).toBe(65534);
      if (process.getuid?.() === 0) expect(out['rootOnly']).toEqual({ error: 'PermissionError' });
    },
  },
  {
    name: "finds Warden's data directory (store, signing key) under its own directory",
    runtime: 'node',
    dataDir: 'data',
    code: `${TRY}import { readdirSync, readFileSync } from 'node:fs';
process.stdout.write(JSON.stringify({
  list: await attempt(() => readdirSync('./data').join(',')),
  db: await attempt(() => readFileSync('./data/warden.db').length),
  key: await attempt(() => readFileSync('./data/keys/provenance-ed25519.pem', 'utf8')),
}));`,
    denied: (out) => {
      // Masked by an empty directory: nothing of the store or the key is visible.
      expect(out['list']).toEqual({ value: '' });
      denial('db', /ENOENT|EACCES/)(out);
      denial('key', /ENOENT|EACCES/)(out);
    },
  },
  {
    name: 'fills /dev/shm (memory that is not in any RSS)',
    runtime: 'process',
    code: ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=400 2>/dev/null; sleep 5'],
    resources: { memoryMb: 64 },
    code_: 'MEMORY_LIMIT',
  },
  {
    // SysV segments and memfd files are memory in no RSS and no mounted file system: the task's memory
    // cgroup (cgroup v1, as root) counts them.
    name: 'keeps 512 MB in SysV shared memory segments',
    runtime: 'python',
    runsIf: () => findMemoryCgroupRoot() !== null,
    code: `import ctypes, json, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
for i in range(8):
    segment = libc.shmget(0, 64 << 20, 0o1600)
    address = libc.shmat(segment, None, 0)
    ctypes.memset(address, 1, 64 << 20)
    libc.shmdt(ctypes.c_void_p(address))
time.sleep(5)
json.dump({"kept": "512 MB"}, open(1, "w"))
`,
    code_: 'MEMORY_LIMIT',
  },
  {
    // An outside audit: 24 forked children of one interpreter were charged 24 times its pages (the sum of
    // their RSS) and the task died MEMORY_LIMIT at a tenth of its real use.
    name: 'forks 24 children that share their parent’s pages (not an attack)',
    runtime: 'python',
    runsIf: () => findMemoryCgroupRoot() !== null,
    resources: { memoryMb: 128 },
    code: `import json, os, time
big = b"x" * (8 << 20)
kids = []
for i in range(24):
    pid = os.fork()
    if pid == 0:
        time.sleep(1.5)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
json.dump({"children": len(kids)}, open(1, "w"))
`,
    denied: (out) => expect(out).toEqual({ children: 24 }),
  },
  {
    name: 'writes 512 MB into memfd files',
    runtime: 'python',
    runsIf: () => findMemoryCgroupRoot() !== null,
    code: `import json, os, time
block = b"x" * (1 << 20)
files = [os.memfd_create("f%d" % i) for i in range(8)]
for fd in files:
    for _ in range(64):
        os.write(fd, block)
time.sleep(5)
json.dump({"kept": "512 MB"}, open(1, "w"))
`,
    code_: 'MEMORY_LIMIT',
  },
  {
    name: 'fills /tmp (it used to be on the host disk)',
    runtime: 'process',
    code: [
      '/bin/sh',
      '-c',
      'i=0; while [ $i -lt 12 ] && dd if=/dev/zero of=/tmp/f$i bs=1M count=32 2>/dev/null; do i=$((i+1)); done; echo "{\\"files\\":$i}"',
    ],
    denied: (out) => {
      // /tmp holds resources.diskMb (default 128 MB): the fifth 32 MB file does not fit.
      expect(out['files']).toBeLessThanOrEqual(4);
    },
  },
  {
    name: 'writes outside /tmp (/, /dev, /run)',
    runtime: 'process',
    code: [
      '/bin/sh',
      '-c',
      'for p in /x /dev/x /run/x; do if touch $p 2>/dev/null; then echo "{\\"wrote\\":\\"$p\\"}"; exit 0; fi; done; echo "{\\"wrote\\":null}"',
    ],
    denied: (out) => expect(out['wrote']).toBeNull(),
  },
  {
    name: 'opens a nested user namespace (unshare -r)',
    runtime: 'process',
    code: [
      '/bin/sh',
      '-c',
      'if /usr/bin/unshare -r /bin/true 2>/dev/null || /usr/bin/unshare -U /bin/true 2>/dev/null; then echo \'{"nested":"allowed"}\'; else echo \'{"nested":"refused"}\'; fi',
    ],
    denied: (out) => expect(out['nested']).toBe('refused'),
  },
  {
    // The manifest's env reaches the agent only: host-side helpers (the launcher, bwrap) never see it.
    name: 'sets LD_DEBUG_OUTPUT to write on the host',
    runtime: 'process',
    env: { LD_DEBUG: 'files', LD_DEBUG_OUTPUT: join(PRIVATE_TMP, 'ld-debug') },
    code: ['/bin/sh', '-c', 'echo \'{"ok":true}\''],
    denied: () => expect(readdirSync(PRIVATE_TMP).filter((f) => f.startsWith('ld-debug'))).toEqual([]),
  },
  {
    name: 'writes 32 MB to stderr without a newline',
    runtime: 'node',
    code: "process.stderr.write('x'.repeat(32 << 20), () => process.exit(3));",
    code_: 'AGENT_FAILED',
    after: ({ root, elapsedMs, error }) => {
      expect(elapsedMs).toBeLessThan(15_000);
      // The tail is capped and stored once: the store stays small.
      const bytes = readdirSync(root)
        .filter((f) => f.startsWith('warden.db'))
        .reduce((n, f) => n + statSync(join(root, f)).size, 0);
      expect(bytes).toBeLessThan(8 << 20);
      expect(error!.message.length).toBeLessThan(2048);
    },
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
  {
    name: 'output nested 8,000 levels deep',
    runtime: 'wasm',
    code: wasiModule('(call $out (i32.const 1024) (i32.const 16000))', {
      json: '['.repeat(8000) + ']'.repeat(8000),
    }),
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

async function register(
  runtime: Runtime,
  code: string | string[],
  resources: Record<string, number> = {},
  env?: Record<string, string>,
) {
  const name = `h${++counter}`;
  const spec: Record<string, unknown> = {
    runtime,
    resources: { timeoutMs: 10_000, ...resources },
    retry: { maxAttempts: 1, baseMs: 0, maxMs: 0 },
    ...(env ? { env } : {}),
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

async function runRow(row: Row): Promise<void> {
  dir = row.rootOnlyParent ? underRootOnly() : tempDir();
  row.setup?.(dir);
  const root = row.dataDir ? join(dir, row.dataDir) : tempDir();
  warden = await openWarden({ root, workers: { concurrency: 2, pollIntervalMs: 10 } });
  const agent = await register(row.runtime, row.code, row.resources, row.env);
  const started = Date.now();
  const task = await warden.submit({
    agent,
    input: row.input ?? {},
    ...(row.deadlineMs ? { deadline: Date.now() + row.deadlineMs } : {}),
  });
  const result = await warden.result(task.id, { timeoutMs: 20_000 });
  const elapsedMs = Date.now() - started;
  expect(result, 'a result').toBeDefined();
  if (row.code_) {
    expect(result?.error?.code, result?.error?.message).toBe(row.code_);
    expect(result?.attempts).toBe(1);
  } else {
    expect(result?.status, result?.error?.message).toBe('succeeded');
    row.denied!(result!.output as Record<string, unknown>);
  }
  row.after?.({ dir, root, elapsedMs, ...(result?.error ? { error: result.error } : {}) });
  // Warden stays healthy: the next task of the same runtime runs normally.
  const canary = await warden.submit({ agent: await register(row.runtime, CANARY[row.runtime]) });
  const ok = await warden.result(canary.id, { timeoutMs: 10_000 });
  expect(ok?.status, ok?.error?.message).toBe('succeeded');
  expect(ok?.output).toEqual({ ok: true });
}

describe('hostile-agent battery', () => {
  it.each(ROWS.filter((r) => r.runtime === 'wasm').map((row) => [`wasm: ${row.name}`, row] as const))(
    '%s',
    (_label, row) => runRow(row),
  );

  describe.runIf(SANDBOX)('process sandbox (bubblewrap)', () => {
    for (const row of ROWS.filter((r) => r.runtime !== 'wasm')) {
      it.runIf(row.runsIf?.() ?? true)(`${row.runtime}: ${row.name}`, () => runRow(row));
    }

    it('runs the agent as an unprivileged host user, whatever uid it sees inside', async () => {
      dir = tempDir();
      warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
      const mark = `${27 + (process.pid % 1000) / 1000}`;
      const agent = await register('process', [
        '/bin/sh',
        '-c',
        `cat /proc/self/uid_map >&2; exec sleep ${mark}`,
      ]);
      const task = await warden.submit({ agent });
      const pids: number[] = [];
      await eventually(
        () => {
          pids.push(...pidsWithArgs(['sleep', mark]));
          return pids.length > 0;
        },
        10_000,
        'the sleeping agent',
      );
      // The host's view of the agent's credentials (the sandbox's own uid_map always reads "65534 0 1").
      const status = readFileSync(`/proc/${pids[0]}/status`, 'utf8');
      const uids = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
      const gids = /^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
      const self = process.getuid?.() ?? 0;
      const expected = self === 0 ? 65534 : self;
      expect(uids).toEqual([expected, expected, expected, expected]);
      if (self === 0) expect(gids).toEqual([65534, 65534, 65534, 65534]);
      expect(readFileSync(`/proc/${pids[0]}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual([
        '65534',
        String(expected),
        '1',
      ]);
      await warden.cancel(task.id);
    });

    it('closes every descriptor Warden inherited: the agent sees only 0, 1 and 2', async () => {
      dir = tempDir();
      const secret = join(dir, 'host-secret.txt');
      writeFileSync(secret, HOST_SECRET, { mode: 0o600 });
      const path = writeManifest(dir, 'fds', '1.0.0', {
        runtime: 'process',
        // Lists its open descriptors (the listing's own is closed by the time they are checked).
        command: [
          '/usr/bin/python3',
          '-c',
          'import json, os\ndef is_open(fd):\n    try:\n        os.fstat(fd)\n        return True\n    except OSError:\n        return False\njson.dump({"fds": " ".join(f for f in sorted(os.listdir("/proc/self/fd"), key=int) if is_open(int(f)))}, open(1, "w"))',
        ],
        retry: { maxAttempts: 1 },
      });
      // Warden's parent hands it descriptors without O_CLOEXEC (at 60 and 200: Node marks a few low ones).
      const fd = openSync(secret, 'r');
      const stdio: (string | number)[] = ['ignore', 'pipe', 'inherit'];
      for (let i = 3; i <= 200; i++) stdio.push(i === 60 || i === 200 ? fd : 'ignore');
      const child = spawn(process.execPath, ['--import', 'tsx', SANDBOX_CHILD, 'run', tempDir(), path], {
        stdio: stdio as never,
      });
      closeSync(fd);
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code, out).toBe(0);
      const result = JSON.parse(out.trim().split('\n').pop()!) as { output: { fds: string } };
      expect(result.output.fds.trim().split(' ')).toEqual(['0', '1', '2']);
    });
  });

  it('leaves no work directory behind', () => {
    if (!existsSync(WORK_ROOT)) return;
    expect(readdirSync(WORK_ROOT)).toEqual([]);
  });
});
