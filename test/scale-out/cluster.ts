import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../helpers.js';

/**
 * A Warden cluster of real OS processes (bin/warden.js on dist/): API servers and workers sharing one
 * database, as on separate machines. On SQLite they share one data directory (one machine); on
 * PostgreSQL each process has its own data directory (its own node key) and only the database in common.
 */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'warden.js');
export const WASM_ECHO = 'wasm-wat';

export type BackendUnderTest = { kind: 'sqlite' } | { kind: 'postgres'; url: string };

export interface Proc {
  name: string;
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
}

export class Cluster {
  readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];
  private readonly shared: string | undefined;

  /** `env`: added to every process's environment (an agent's API key, say). */
  constructor(
    readonly backend: BackendUnderTest,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {
    if (backend.kind === 'sqlite') this.shared = this.tempDir();
  }

  /** The global options for a process: where its state is. */
  private globals(): string[] {
    if (this.backend.kind === 'sqlite') return ['--data', this.shared!];
    return ['--data', this.tempDir(), '--database-url', this.backend.url];
  }

  private tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'warden-cluster-'));
    chmodSync(dir, 0o755);
    this.dirs.push(dir);
    return dir;
  }

  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const p = startProcess(name, [process.execPath, BIN, ...this.globals(), ...args], {
      ...this.env,
      ...env,
    });
    this.procs.push(p);
    return p;
  }

  /** Runs a CLI command to its end; throws with its stderr when it fails. */
  async run(args: string[], timeoutMs = 30_000): Promise<string> {
    const p = this.start(`cli ${args[0]}`, args);
    const code = await Promise.race([p.exited, sleep(timeoutMs).then(() => 'timeout')]);
    if (code !== 0)
      throw new Error(
        `warden ${args.join(' ')} exited ${code}:\n${p.stderr()}\n${p.stdout().slice(0, 2000)}`,
      );
    return p.stdout();
  }

  /** An API server (no workers of its own unless asked); resolves with its base URL once it listens. */
  async serve(name: string, options: { workers?: boolean } = {}): Promise<{ proc: Proc; url: string }> {
    const proc = this.start(name, [
      'serve',
      '--bind',
      '127.0.0.1:0',
      '--rate-limit',
      '100000',
      ...(options.workers ? [] : ['--no-workers']),
    ]);
    const url = await waitFor(proc, /listening on (http:\/\/\S+)/, 20_000);
    return { proc, url };
  }

  /** A worker process; resolves once it runs. */
  async worker(name: string, args: string[] = []): Promise<Proc> {
    const proc = this.start(name, ['worker', '--concurrency', '4', ...args]);
    await waitFor(proc, /running \(concurrency/, 20_000);
    return proc;
  }

  /** Stops every process still running (SIGTERM, then SIGKILL), and removes the data directories. */
  async stop(): Promise<void> {
    for (const p of this.procs) if (running(p)) p.proc.kill('SIGTERM');
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(15_000)]);
    for (const p of this.procs) if (running(p)) p.proc.kill('SIGKILL');
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * Starts `command` from the repository root with its output captured; the environment's storage and bind
 * settings are dropped so that only the arguments say where the process's state is.
 */
export function startProcess(name: string, command: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['STORAGE_ROOT', 'WARDEN_DATA', 'STORAGE_BACKEND', 'DATABASE_URL', 'BIND_ADDRESS'])
    delete childEnv[k];
  const proc = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((done) =>
    proc.on('exit', (code, signal) => done(code ?? signal ?? -1)),
  );
  return { name, proc, stdout: () => out, stderr: () => err, exited };
}

export function running(p: Proc): boolean {
  return p.proc.exitCode === null && p.proc.signalCode === null;
}

/** Resolves with the first group of `pattern` once the process's stderr matches it. */
export async function waitFor(p: Proc, pattern: RegExp, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const m = pattern.exec(p.stderr());
    if (m) return m[1] ?? m[0];
    if (!running(p)) throw new Error(`${p.name} exited before ${pattern}:\n${p.stderr()}`);
    await sleep(50);
  }
  throw new Error(`${p.name} did not print ${pattern} within ${timeoutMs} ms:\n${p.stderr()}`);
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** A small HTTP client for one API server. */
export function api(base: string, key: string) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  return {
    submit: async (input: unknown, extra: Record<string, unknown> = {}): Promise<string> => {
      const out = await call('POST', '/sessions/default/execute', { agent: WASM_ECHO, input, ...extra });
      return (out['task'] as { id: string }).id;
    },
    task: async (id: string) =>
      (await call('GET', `/tasks/${id}`)) as {
        task: { id: string; state: string; attempts: number };
        result: { status: string; output: unknown; attempts: number } | null;
      },
    /**
     * Opens the task's SSE stream: `first` resolves with the first event (the stream is open), `all` with
     * every event once the server ends the stream.
     */
    events: (id: string, timeoutMs = 60_000) => {
      let firstSeen: (e: SseEvent) => void = () => undefined;
      const first = new Promise<SseEvent>((r) => (firstSeen = r));
      const all = (async () => {
        const res = await fetch(`${base}/tasks/${id}/events`, {
          headers: { authorization: `Bearer ${key}` },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
        const events: SseEvent[] = [];
        let buffer = '';
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const name = /^event: (.*)$/m.exec(block)?.[1];
            if (!name) continue; // a keep-alive comment
            const e = { event: name, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as unknown };
            if (events.push(e) === 1) firstSeen(e);
          }
        }
        return events;
      })();
      return { first, all };
    },
  };
}
