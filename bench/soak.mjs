// Soak test: drives a real `warden serve` (a child process from the built package) with a fixed mix for a
// set time and samples the server's memory and latency once per period. Not part of `npm run bench`
// (it is not a *.bench.ts file): it runs for minutes. Build first (`npm run build`), then, e.g.:
//
//   SOAK_MINUTES=10 nice -n 10 node bench/soak.mjs
//   nice -n 10 node bench/soak.mjs --minutes 30 --arena-max 2 --heap-snapshots
//
// The mix, all over HTTP from this process: closed-loop `POST /sessions/default/execute?wait=5000` of the
// wasm-as example agent (--execs workers, paced to --rps in total), --sse loops that submit a task and
// follow GET /tasks/:id/events to its `result`, and a `GET /metrics` scrape every 5 s.
//
// Prints JSON lines: {"kind":"sample", minute, rssMb, rssAnonMb, rssFileMb, rssShmemMb, heapUsedMb,
// heapTotalMb, externalMb, dbMb, walMb, threads, execs, rps, p50Ms, p99Ms, sse, errors, failures} per
// period (failures: counts by route, status and code; an execute still running after 5 s is one), then
// {"kind":"summary", ...} with the RSS and heap slopes (MB/min, least squares) over the whole run and over
// its second half. --arena-max N sets MALLOC_ARENA_MAX for the server (glibc malloc arenas);
// --heap-snapshots writes a V8 heap snapshot of the server after the first period and at the end
// (--heapsnapshot-signal) and prints each one's biggest constructors by retained self size.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: process.env.SOAK_MINUTES ?? '10' },
    'sample-seconds': { type: 'string', default: process.env.SOAK_SAMPLE_SECONDS ?? '60' },
    rps: { type: 'string', default: process.env.SOAK_RPS ?? '100' },
    execs: { type: 'string', default: '16' },
    sse: { type: 'string', default: '4' },
    'arena-max': { type: 'string' },
    'heap-snapshots': { type: 'boolean', default: false },
  },
});
const minutes = Number(args.minutes);
const periodMs = Number(args['sample-seconds']) * 1000;
const targetRps = Number(args.rps);
if (!(minutes > 0 && periodMs > 0 && targetRps > 0))
  throw new Error('--minutes, --sample-seconds and --rps must be > 0');
if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) throw new Error('build first: npm run build');

let stopping = false;
const data = mkdtempSync(join(tmpdir(), 'warden-soak-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const env = { ...process.env, STORAGE_ROOT: data };
delete env.NODE_OPTIONS;
if (args['arena-max']) env.MALLOC_ARENA_MAX = args['arena-max'];
const server = spawn(
  process.execPath,
  [
    ...(args['heap-snapshots'] ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    join(ROOT, 'bin', 'warden.js'),
    '--data',
    data,
    'serve',
    '--bind',
    `127.0.0.1:${port}`,
    '--rate-limit',
    '100000000',
  ],
  { cwd: data, env, stdio: ['ignore', 'ignore', 'pipe'] },
);
let stderr = '';
server.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
server.once('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`soak: the server exited with ${code} during the run:\n${stderr}\n`);
    process.exit(1);
  }
});
let key;
for (const until = Date.now() + 60_000; !key; await sleep(100)) {
  if (Date.now() > until) throw new Error(`server did not start:\n${stderr}`);
  if (stderr.includes('listening on')) key = /\b(wdn_[A-Za-z0-9_-]+)/.exec(stderr)?.[1];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const auth = { authorization: `Bearer ${key}` };

function request(method, path, body, onData) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: { ...auth, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
          onData?.(text, req);
        });
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', () => resolve({ status: 0, text }));
      },
    );
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(payload);
  });
}

// Counters of the current period, reset at each sample.
let latencies = [];
let sseDone = 0;
let errors = 0;
/** Failures of the period by kind: `<route> <status> <code>` (status 0 = no answer). */
let failures = {};
function fail(route, res) {
  errors++;
  const code = /"code":"([A-Z_]+)"/.exec(res.text)?.[1] ?? /"state":"([a-z]+)"/.exec(res.text)?.[1] ?? '';
  const kind = `${route} ${res.status} ${code}`.trim();
  failures[kind] = (failures[kind] ?? 0) + 1;
}
const started = Date.now();
const endAt = started + minutes * 60_000;
const EXEC = { agent: 'wasm-as', input: { text: 'the quick brown fox jumps over the lazy dog' } };

async function execLoop(workers) {
  // Paced closed loop: each worker waits so that all of them together make about targetRps requests/s.
  const gapMs = (1000 * workers) / targetRps;
  while (!stopping) {
    const t = performance.now();
    const res = await request('POST', '/sessions/default/execute?wait=5000', EXEC);
    const ms = performance.now() - t;
    if (res.status === 200 && res.text.includes('"succeeded"')) latencies.push(ms);
    else fail('execute', res);
    if (gapMs > ms) await sleep(gapMs - ms);
  }
}

async function sseLoop() {
  while (!stopping) {
    const submitted = await request('POST', '/sessions/default/execute', EXEC);
    const id = /"id":"([^"]+)"/.exec(submitted.text)?.[1];
    if (submitted.status !== 202 && submitted.status !== 200) {
      fail('submit', submitted);
      await sleep(200);
      continue;
    }
    const res = await request('GET', `/tasks/${id}/events`, undefined, (text, req) => {
      if (text.includes('event: result')) req.destroy(); // the server closes too; do not wait for it
    });
    if (res.text.includes('event: result')) sseDone++;
    else fail('events', res);
    await sleep(100);
  }
}

async function metricsLoop() {
  while (!stopping) {
    const res = await request('GET', '/metrics');
    if (res.status !== 200) fail('metrics', res);
    await sleep(5000);
  }
}

function procStatus() {
  const text = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return {
    rssMb: kb('VmRSS'),
    rssAnonMb: kb('RssAnon'),
    rssFileMb: kb('RssFile'),
    rssShmemMb: kb('RssShmem'),
    threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1]),
  };
}

/** The SQLite files: the main connection's page cache (cache_size) grows with the database up to its cap. */
function storeFiles() {
  const mb = (f) => (existsSync(join(data, f)) ? statSync(join(data, f)).size / 1048576 : 0);
  return { dbMb: mb('warden.db'), walMb: mb('warden.db-wal') };
}

async function heapFigures() {
  const res = await request('GET', '/metrics');
  const gauge = (name) =>
    Number(new RegExp(`^(?:warden_)?nodejs_${name}(?:\\{\\})? ([0-9.e+]+)`, 'm').exec(res.text)?.[1] ?? NaN) /
    1048576;
  return {
    heapUsedMb: gauge('heap_size_used_bytes'),
    heapTotalMb: gauge('heap_size_total_bytes'),
    externalMb: gauge('external_memory_bytes'),
  };
}

const samples = [];
const round = (v) => Math.round(v * 10) / 10;
async function sample(minute) {
  const sorted = latencies.sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  const line = {
    kind: 'sample',
    minute: round(minute),
    ...procStatus(),
    ...(await heapFigures()),
    ...storeFiles(),
    execs: sorted.length,
    rps: round(sorted.length / (periodMs / 1000)),
    p50Ms: round(q(0.5)),
    p99Ms: round(q(0.99)),
    sse: sseDone,
    errors,
    failures,
  };
  for (const k of Object.keys(line)) if (typeof line[k] === 'number') line[k] = round(line[k]);
  samples.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  latencies = [];
  sseDone = 0;
  errors = 0;
  failures = {};
}

const snapshots = [];
async function heapSnapshot() {
  const before = new Set(readdirSync(data).filter((f) => f.endsWith('.heapsnapshot')));
  server.kill('SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const file = readdirSync(data).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const path = join(data, file);
    const size = statSync(path).size;
    await sleep(1000);
    if (statSync(path).size === size) return path; // written completely
  }
  return undefined;
}

/** The biggest constructors of a heap snapshot by summed self size (what a DevTools summary shows first). */
function summarise(path) {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [t, n, s] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + t]];
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + n]] : `(${type})`;
    const entry = totals.get(name) ?? { count: 0, mb: 0 };
    entry.count++;
    entry.mb += snap.nodes[i + s] / 1048576;
    totals.set(name, entry);
  }
  return [...totals]
    .sort((a, b) => b[1].mb - a[1].mb)
    .slice(0, 12)
    .map(([name, e]) => ({ name, count: e.count, mb: round(e.mb) }));
}

function slope(points) {
  if (points.length < 2) return NaN;
  const xs = points.map((p) => p.minute);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  return (key) => {
    const ys = points.map((p) => p[key]);
    const my = ys.reduce((a, b) => a + b) / ys.length;
    let num = 0;
    let den = 0;
    for (let i = 0; i < xs.length; i++) {
      num += (xs[i] - mx) * (ys[i] - my);
      den += (xs[i] - mx) ** 2;
    }
    return round(num / den);
  };
}

const execWorkers = Number(args.execs);
const loops = [
  ...Array.from({ length: execWorkers }, () => execLoop(execWorkers)),
  ...Array.from({ length: Number(args.sse) }, sseLoop),
  metricsLoop(),
];
process.stderr.write(
  `soak: ${minutes} min against pid ${server.pid} (data ${data})${args['arena-max'] ? `, MALLOC_ARENA_MAX=${args['arena-max']}` : ''}\n`,
);
try {
  for (let period = 1; Date.now() < endAt; period++) {
    await sleep(Math.min(periodMs, endAt - Date.now()));
    await sample((Date.now() - started) / 60_000);
    if (args['heap-snapshots'] && period === 1) snapshots.push(await heapSnapshot());
  }
  if (args['heap-snapshots']) snapshots.push(await heapSnapshot());
} finally {
  stopping = true;
  await Promise.race([Promise.all(loops), sleep(10_000)]);
  const whole = slope(samples);
  const half = slope(samples.slice(Math.floor(samples.length / 2)));
  const pick = (f) =>
    typeof f === 'function'
      ? { rss: f('rssMb'), rssAnon: f('rssAnonMb'), heapUsed: f('heapUsedMb'), p99: f('p99Ms') }
      : null;
  process.stdout.write(
    `${JSON.stringify({
      kind: 'summary',
      minutes,
      arenaMax: args['arena-max'] ?? null,
      firstRssMb: samples[0]?.rssMb,
      lastRssMb: samples.at(-1)?.rssMb,
      peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
      slopePerMinute: pick(whole),
      slopePerMinuteSecondHalf: pick(half),
    })}\n`,
  );
  for (const path of snapshots.filter(Boolean)) {
    process.stdout.write(`${JSON.stringify({ kind: 'heap-snapshot', path, top: summarise(path) })}\n`);
  }
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  agent.destroy();
  if (!args['heap-snapshots']) rmSync(data, { recursive: true, force: true });
}
