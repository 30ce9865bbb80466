import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../helpers.js';
import { BIN, ROOT, running, startProcess, waitFor, type Proc } from '../scale-out/cluster.js';

/** An agent that must run on an edge: the AssemblyScript word counter, with `placement: edge: required`. */
export const EDGE_AGENT = 'edge-count';
/** A node agent that sleeps `input.ms` on the edge, for faults mid-task. */
export const SLOW_AGENT = 'edge-slow';

/**
 * A control plane (`warden serve`) and edge nodes (`warden edge join`) as separate OS processes, each with
 * its own data directory, as on separate machines.
 */
export class EdgeLab {
  readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];
  readonly cpData = this.tempDir();
  port = 0;
  url = '';
  key = '';

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'warden-edge-'));
    chmodSync(dir, 0o755);
    this.dirs.push(dir);
    return dir;
  }

  /** Writes the edge agent (its manifest and the example's WASM module) and registers it on the control plane. */
  async registerAgent(): Promise<void> {
    const dir = writeWasmAgent(
      this.tempDir(),
      EDGE_AGENT,
      `  capabilities: [count]
  placement: { edge: required, capabilities: [count] }
  resources: { timeoutMs: 10000, memoryMb: 16, maxOutputBytes: 65536 }
  retry: { maxAttempts: 5, baseMs: 100, maxMs: 500 }
`,
    );
    await this.ok(['--data', this.cpData, 'agents', 'register', join(dir, 'agent.yaml')]);
    // A slow agent, for faults in the middle of a task: sleeps input.ms, then answers.
    const slow = join(this.tempDir(), 'slow');
    mkdirSync(slow);
    writeFileSync(
      join(slow, 'slow.js'),
      `let raw = '';
process.stdin.on('data', (c) => (raw += c));
process.stdin.on('end', () => {
  const { ms } = JSON.parse(raw);
  setTimeout(() => process.stdout.write(JSON.stringify({ slept: ms })), ms);
});
`,
    );
    writeFileSync(
      join(slow, 'agent.yaml'),
      `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${SLOW_AGENT}, version: 1.0.0 }
spec:
  runtime: node
  entry: ./slow.js
  placement: { edge: required }
  resources: { timeoutMs: 60000, memoryMb: 128, maxOutputBytes: 65536 }
  retry: { maxAttempts: 5, baseMs: 100, maxMs: 500 }
`,
    );
    await this.ok(['--data', this.cpData, 'agents', 'register', join(slow, 'agent.yaml')]);
  }

  start(
    name: string,
    args: string[],
    command: string[] = [process.execPath, BIN],
    extraEnv: NodeJS.ProcessEnv = {},
  ): Proc {
    const p = startProcess(name, [...command, ...args], extraEnv);
    this.procs.push(p);
    return p;
  }

  /** Runs a CLI command to its end; resolves with its exit code and output. */
  async cli(
    args: string[],
    timeoutMs = 30_000,
  ): Promise<{ code: number | string; stdout: string; stderr: string }> {
    const p = this.start(`cli ${args.join(' ')}`, args);
    const code = await Promise.race([p.exited, sleep(timeoutMs).then(() => 'timeout')]);
    return { code, stdout: p.stdout(), stderr: p.stderr() };
  }

  async ok(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`warden ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  }

  /** Starts the control plane on `host` (a fixed port, so edges find it again after a restart). */
  async serve(host = '127.0.0.1', env: NodeJS.ProcessEnv = {}): Promise<Proc> {
    if (this.port === 0) this.port = await freePort(host);
    const proc = this.start(
      'serve',
      [
        '--data',
        this.cpData,
        'serve',
        '--bind',
        `${host}:${this.port}`,
        '--no-examples',
        '--rate-limit',
        '100000',
      ],
      undefined,
      // Short heartbeats: faults are noticed in 1.5 s, not 15.
      { WARDEN_EDGE_HEARTBEAT_MS: '500', ...env },
    );
    this.url = await waitFor(proc, /listening on (http:\/\/\S+)/, 20_000);
    const key = /shown once, store it now:\s+(\S+)/.exec(proc.stderr())?.[1];
    if (key) this.key = key;
    return proc;
  }

  async invite(capabilities = 'count', maxConcurrency = 1): Promise<string> {
    const out = await this.ok([
      '--data',
      this.cpData,
      'edge',
      'invite',
      '--capabilities',
      capabilities,
      '--max-concurrency',
      String(maxConcurrency),
    ]);
    return out.trim();
  }

  /** An edge node process; resolves once the control plane welcomed it. */
  async join(
    name: string,
    token: string,
    options: { url?: string; wrap?: string[] } = {},
  ): Promise<{ proc: Proc; nodeId: string; data: string }> {
    const data = this.tempDir();
    const args = [
      '--data',
      data,
      'edge',
      'join',
      options.url ?? this.url.replace(/^http/, 'ws'),
      '--invite',
      token,
    ];
    const proc = this.start(name, args, options.wrap ? [...options.wrap, process.execPath, BIN] : undefined);
    const nodeId = await waitFor(proc, /connected to \S+ as (wn1_[0-9a-f]+)/, 20_000);
    return { proc, nodeId, data };
  }

  async call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  }

  /** Submits a task to the slow agent without waiting; resolves with its id. */
  async submitSlow(session: string, ms: number): Promise<string> {
    const out = await this.call('POST', `/sessions/${session}/execute`, { agent: SLOW_AGENT, input: { ms } });
    return (out['task'] as { id: string }).id;
  }

  /** Waits for a task's result. */
  async result(id: string): Promise<{ status: string; attempts: number; output: unknown }> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const out = await this.call('GET', `/tasks/${id}`);
      const result = out['result'] as { status: string; attempts: number; output: unknown } | null;
      if (result) return result;
      await sleep(100);
    }
    throw new Error(`task ${id} did not finish`);
  }

  /** The edge running at least one task now (from GET /edge/nodes). */
  async busyEdge(): Promise<string> {
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const { nodes } = (await this.call('GET', '/edge/nodes')) as {
        nodes: { nodeId: string; connected: { running: number } | null }[];
      };
      const busy = nodes.find((n) => (n.connected?.running ?? 0) > 0);
      if (busy) return busy.nodeId;
      await sleep(50);
    }
    throw new Error('no edge took the task');
  }

  /** Submits a task to the edge agent and waits for its result. */
  async run(session: string, input: string): Promise<{ state: string; output: unknown; error: unknown }> {
    const out = await this.call('POST', `/sessions/${session}/execute?wait=30000`, {
      agent: EDGE_AGENT,
      input,
    });
    const task = out['task'] as { state: string };
    const result = out['result'] as { output: unknown; error?: unknown } | null;
    return { state: task.state, output: result?.output, error: result?.error };
  }

  async stop(): Promise<void> {
    for (const p of this.procs) if (running(p)) p.proc.kill('SIGTERM');
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(10_000)]);
    for (const p of this.procs) if (running(p)) p.proc.kill('SIGKILL');
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * The AssemblyScript word counter as an agent named `name` in `<parent>/agent` (its manifest and the
 * example's WASM module), with `spec` lines added to its manifest; returns the directory.
 */
export function writeWasmAgent(parent: string, name: string, spec: string): string {
  const dir = join(parent, 'agent');
  mkdirSync(join(dir, 'build'), { recursive: true });
  copyFileSync(join(ROOT, 'examples/wasm-as/build/agent.wasm'), join(dir, 'build/agent.wasm'));
  writeFileSync(
    join(dir, 'agent.yaml'),
    `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: 1.0.0 }
spec:
  runtime: wasm
  module: ./build/agent.wasm
${spec}`,
  );
  return dir;
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
