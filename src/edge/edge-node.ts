import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import WebSocket, { type RawData } from 'ws';
import { WardenError, canonicalJson, coerceError, type AgentManifest } from '../core/index.js';
import { sha256Hex } from '../provenance/index.js';
import { RuntimeRegistry, type PreparedAgent, type RuntimeRegistryOptions } from '../sandbox/index.js';
import {
  NodeIdentity,
  SwarmChannel,
  TrustRegistry,
  createRegistration,
  digestBytes,
  loadIdentity,
  saveIdentity,
  signReceipt,
  verifyRegistration,
} from '../swarm/index.js';
import { agentCodeDigest, materialiseAgentCode } from '../store/index.js';
import { decodeInviteToken, verifyInviteGrant, type InviteToken } from './invite-token.js';
import {
  EDGE_PATH,
  EDGE_TYPE_PREFIX,
  cancelSchema,
  leaseSchema,
  parseJsonFrame,
  parseMessage,
  refusedSchema,
  welcomeSchema,
  type Lease,
} from './protocol.js';

export interface EdgeNodeOptions {
  /** The control plane: ws(s)://host:port (the path /edge is added when missing). Saved after the first join. */
  url?: string;
  /** Where this node keeps its key (0600), its membership and the code of the agents it runs. */
  dataDir: string;
  /** The invite token from `warden edge invite`, for the first join. */
  invite?: string;
  /** Tasks run at once (the control plane also caps it by the invite). @default the invite's cap */
  concurrency?: number;
  runtimes?: RuntimeRegistryOptions;
  /** Progress lines (connected, reconnecting, task ran). @default none */
  log?: (line: string) => void;
  /**
   * When the node's identity is first created: with an ML-DSA-65 key (hybrid, post-quantum signatures on
   * every receipt, about 8 ms each in JavaScript) or Ed25519 only (0.05 ms). @default true
   */
  postQuantum?: boolean;
  /** Reconnect backoff bounds. @default 500 ms to 30 s */
  backoffMs?: { min: number; max: number };
}

interface Membership {
  kind: 'warden.edge.membership';
  url: string;
  swarmId: string;
  controlPlane: string;
  capabilities: string[];
  maxConcurrency: number;
}

interface Running {
  taskId: string;
  attempt: number;
  controller: AbortController;
  /** The finished attempt's message, kept until a connection takes it. */
  done?: { kind: 'result' | 'failure'; message: unknown };
}

const RUNTIMES = ['wasm', 'python', 'node', 'process'];

/**
 * An edge node: joins a control plane with an invite (once), then keeps a WebSocket connection to it,
 * reconnecting with backoff and resuming the tasks it was running. Runs the tasks it is leased in its own
 * sandboxes and answers each with its output and a receipt signed with its key.
 */
export class EdgeNode {
  private socket: WebSocket | undefined;
  private channel: SwarmChannel | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Running>();
  private readonly prepared = new Map<string, Promise<PreparedAgent>>();
  private readonly materialising = new Map<string, Promise<string>>();
  private stopped = false;
  private failures = 0;
  private stopError: WardenError | undefined;
  private onStop: ((err?: WardenError) => void) | undefined;
  readonly stoppedPromise: Promise<void>;

  private constructor(
    readonly identity: NodeIdentity,
    private membership: Membership | undefined,
    private invite: InviteToken | undefined,
    private readonly url: string,
    private readonly options: EdgeNodeOptions,
    private readonly runtimes: RuntimeRegistry,
  ) {
    this.stoppedPromise = new Promise<void>((resolve, reject) => {
      this.onStop = (err) => (err ? reject(err) : resolve());
    });
    this.stoppedPromise.catch(() => undefined);
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** Loads (or creates) this node's identity and connects; resolves once the control plane welcomed it. */
  static async start(options: EdgeNodeOptions): Promise<EdgeNode> {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    await chmod(options.dataDir, 0o700);
    const keyFile = join(options.dataDir, 'node.key.json');
    let identity: NodeIdentity;
    try {
      identity = await loadIdentity(keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      identity = NodeIdentity.generate({ postQuantum: options.postQuantum ?? true });
      await saveIdentity(keyFile, identity);
    }
    const membership = await readMembership(options.dataDir);
    const invite = options.invite ? decodeInviteToken(options.invite) : undefined;
    if (!membership && !invite)
      throw new WardenError(
        'EDGE_INVITE_INVALID',
        `This edge has not joined a control plane yet (nothing in ${options.dataDir}): pass --invite <token> from \`warden edge invite\``,
      );
    const url = edgeUrl(options.url ?? membership?.url);
    const node = new EdgeNode(
      identity,
      membership,
      invite,
      url,
      options,
      // The node's key lives in its data directory: never visible to an agent (which could then sign
      // receipts for results it did not produce). The agents' own code there is mounted explicitly.
      new RuntimeRegistry({
        ...options.runtimes,
        sandbox: {
          ...options.runtimes?.sandbox,
          hiddenPaths: [...(options.runtimes?.sandbox?.hiddenPaths ?? []), resolve(options.dataDir)],
        },
      }),
    );
    await node.connect();
    return node;
  }

  /** Closes the connection and stops reconnecting; running tasks are aborted. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    for (const r of this.running.values())
      r.controller.abort(new WardenError('CANCELLED', 'The edge node is stopping'));
    this.socket?.close(1000, 'edge stopping');
    await this.runtimes.close();
    this.onStop?.(this.stopError);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.url, { maxPayload: 256 * 1024 * 1024 });
      let welcomed = false;
      ws.once('open', () => {
        const hello = {
          t: 'hello',
          registration: createRegistration(this.identity, {
            swarmId: this.membership?.swarmId ?? this.invite!.grant.swarmId,
            capabilities: this.membership?.capabilities ?? this.invite!.grant.capabilities,
          }),
          ...(this.membership ? {} : { invite: { id: this.invite!.grant.id, secret: this.invite!.secret } }),
          runtimes: RUNTIMES,
          concurrency:
            this.options.concurrency ?? this.membership?.maxConcurrency ?? this.invite!.grant.maxConcurrency,
          running: [...this.running.values()].map((r) => ({ taskId: r.taskId, attempt: r.attempt })),
        };
        ws.send(JSON.stringify(hello));
      });
      ws.once('message', (data: RawData) => {
        void this.welcome(ws, toBuffer(data))
          .then(() => {
            welcomed = true;
            this.failures = 0;
            resolve();
          })
          .catch((err: unknown) => {
            const e = coerceError(err);
            ws.close(4003, e.code);
            if (!welcomed) reject(e);
          });
      });
      ws.on('close', (code: number) => {
        if (this.socket === ws) {
          this.socket = undefined;
          this.channel = undefined;
          clearInterval(this.heartbeat);
        }
        if (!welcomed) {
          reject(
            new WardenError(
              'EDGE_UNAVAILABLE',
              `The control plane at ${this.url} closed the connection (${code})`,
            ),
          );
          if (this.membership && !this.stopped) this.scheduleReconnect();
          return;
        }
        if (code === 4004) {
          this.stopError = new WardenError(
            'SWARM_REVOKED',
            'This edge node was revoked by the control plane',
          );
          this.log('revoked by the control plane: stopping');
          void this.stop();
          return;
        }
        if (!this.stopped) this.scheduleReconnect();
      });
      ws.on('error', (err: Error) => {
        if (!welcomed && !this.membership)
          reject(
            new WardenError(
              'EDGE_UNAVAILABLE',
              `Cannot reach the control plane at ${this.url}: ${err.message}`,
            ),
          );
      });
    });
  }

  private scheduleReconnect(): void {
    const { min, max } = this.options.backoffMs ?? { min: 500, max: 30_000 };
    const delay = Math.min(max, min * 2 ** this.failures++) * (0.5 + Math.random() / 2);
    this.log(`disconnected; reconnecting in ${Math.round(delay)} ms`);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch((err: unknown) => {
        const e = coerceError(err);
        if (e.code === 'SWARM_REVOKED' || e.code === 'SWARM_NOT_ADMITTED') {
          this.stopError = e;
          void this.stop();
        }
        // Otherwise the close handler schedules the next attempt.
      });
    }, delay);
  }

  private async welcome(ws: WebSocket, frame: Buffer): Promise<void> {
    const value = parseJsonFrame(frame, 'welcome');
    const refused = refusedSchema.safeParse(value);
    if (refused.success) {
      const code = refused.data.code;
      throw new WardenError(
        code === 'SWARM_REVOKED' || code === 'EDGE_INVITE_INVALID' || code === 'SWARM_NOT_ADMITTED'
          ? code
          : 'EDGE_UNAVAILABLE',
        `The control plane refused this edge: ${refused.data.message}`,
      );
    }
    const welcome = parseMessage(welcomeSchema, value, 'welcome');
    const cp = verifyRegistration(welcome.controlPlane);
    const expected = this.membership?.controlPlane ?? this.invite!.grant.controlPlane;
    if (cp.body.nodeId !== expected)
      throw new WardenError(
        'EDGE_PROTOCOL',
        `The control plane at ${this.url} is ${cp.body.nodeId}, not ${expected} that this edge joined`,
      );
    if (!this.membership) {
      verifyInviteGrant(this.invite!, cp.keys);
      this.membership = {
        kind: 'warden.edge.membership',
        url: this.url,
        swarmId: welcome.swarmId,
        controlPlane: cp.body.nodeId,
        capabilities: this.invite!.grant.capabilities,
        maxConcurrency: this.invite!.grant.maxConcurrency,
      };
      await writeMembership(this.options.dataDir, this.membership);
      this.invite = undefined;
    }
    const registry = await TrustRegistry.open({ swarmId: welcome.swarmId, allowList: [cp.body.nodeId] });
    await registry.register(welcome.controlPlane);
    this.channel = new SwarmChannel({ identity: this.identity, registry });
    this.socket = ws;
    ws.on('message', (data: RawData) => this.receive(ws, toBuffer(data)));
    clearInterval(this.heartbeat);
    // A control plane that stops answering pings for 3 heartbeats is gone (a cut link sends no FIN):
    // drop the socket and reconnect, carrying the running tasks over.
    let lastPong = Date.now();
    ws.on('pong', () => (lastPong = Date.now()));
    this.heartbeat = setInterval(() => {
      if (Date.now() - lastPong > 3 * welcome.heartbeatMs) {
        this.log('the control plane stopped answering; reconnecting');
        ws.terminate();
        return;
      }
      ws.ping();
      this.send('heartbeat', { running: this.runningList() });
    }, welcome.heartbeatMs);
    this.heartbeat.unref();
    this.log(`connected to ${this.url} as ${this.nodeId}`);
    // Results that finished while the connection was down.
    for (const r of this.running.values()) if (r.done) this.flush(r);
  }

  private runningList(): { taskId: string; attempt: number }[] {
    return [...this.running.values()]
      .filter((r) => !r.done)
      .map((r) => ({ taskId: r.taskId, attempt: r.attempt }));
  }

  private receive(ws: WebSocket, frame: Buffer): void {
    if (this.socket !== ws || !this.channel) return;
    try {
      const opened = this.channel.open(frame);
      const kind = opened.header.type.slice(EDGE_TYPE_PREFIX.length);
      const payload = parseJsonFrame(Buffer.from(opened.payload), kind);
      if (kind === 'lease') void this.run(parseMessage(leaseSchema, payload, 'lease'));
      else if (kind === 'cancel') {
        const c = parseMessage(cancelSchema, payload, 'cancel');
        const r = this.running.get(c.taskId);
        if (r && r.attempt === c.attempt)
          r.controller.abort(new WardenError('CANCELLED', `Cancelled by the control plane (${c.reason})`));
      } else throw new WardenError('EDGE_PROTOCOL', `Unknown message ${opened.header.type}`);
    } catch (err) {
      ws.close(4002, coerceError(err).code);
    }
  }

  private send(kind: string, message: unknown): boolean {
    if (!this.socket || !this.channel || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(
      this.channel.seal(
        { node: this.membership!.controlPlane },
        Buffer.from(JSON.stringify(message)),
        EDGE_TYPE_PREFIX + kind,
      ),
    );
    return true;
  }

  private flush(r: Running): void {
    if (r.done && this.send(r.done.kind, r.done.message)) this.running.delete(r.taskId);
  }

  private async run(lease: Lease): Promise<void> {
    const entry: Running = {
      taskId: lease.taskId,
      attempt: lease.attempt,
      controller: new AbortController(),
    };
    this.running.set(lease.taskId, entry);
    const startedAt = Date.now();
    const timer = setTimeout(
      () =>
        entry.controller.abort(
          new WardenError('TIMEOUT', `The task ran past its ${lease.timeoutMs} ms limit on the edge`),
        ),
      lease.timeoutMs,
    );
    try {
      const { manifest, agent } = await this.prepare(lease);
      const outcome = await agent.run(lease.inputJson, {
        taskId: lease.taskId,
        sessionId: lease.sessionId,
        attempt: lease.attempt,
        allowNetwork: lease.allowNetwork,
        limits: { ...manifest.resources, timeoutMs: lease.timeoutMs },
        signal: entry.controller.signal,
        log: (stream, message) =>
          void this.send('log', { taskId: lease.taskId, attempt: lease.attempt, stream, message }),
      });
      const receipt = signReceipt(this.identity, this.membership!.swarmId, {
        taskId: lease.taskId,
        agent: lease.agentKey,
        moduleDigest: `sha256:${lease.moduleDigest ?? sha256Hex(canonicalJson(lease.manifest))}`,
        inputDigest: digestBytes(lease.inputJson),
        outputDigest: digestBytes(outcome.outputJson),
        startedAt,
        finishedAt: Math.max(startedAt, Date.now()),
      });
      entry.done = {
        kind: 'result',
        message: {
          taskId: lease.taskId,
          attempt: lease.attempt,
          outputJson: outcome.outputJson,
          usage: outcome.usage,
          receipt,
        },
      };
      this.log(`${lease.agentKey} task ${lease.taskId} succeeded`);
    } catch (thrown) {
      const error = coerceError(entry.controller.signal.aborted ? entry.controller.signal.reason : thrown);
      entry.done = {
        kind: 'failure',
        message: {
          taskId: lease.taskId,
          attempt: lease.attempt,
          error: { code: error.code, message: error.message },
        },
      };
      this.log(`${lease.agentKey} task ${lease.taskId} failed: ${error.code}`);
    } finally {
      clearTimeout(timer);
    }
    this.flush(entry);
  }

  /** The agent ready to run: its code written under the data directory (checked), then prepared once. */
  private async prepare(lease: Lease): Promise<{ manifest: AgentManifest; agent: PreparedAgent }> {
    let manifest = lease.manifest as unknown as AgentManifest;
    if (lease.codeDigest) {
      const files = lease.code?.map((f) => ({ path: f.path, bytes: Buffer.from(f.bytes, 'base64') }));
      if (files && agentCodeDigest(files) !== lease.codeDigest)
        throw new WardenError(
          'AGENT_VERSION_CONFLICT',
          `The code sent for ${lease.agentKey} does not have its digest`,
        );
      // Leases of one version can arrive together, the first with the files: the others wait for it.
      const digest = lease.codeDigest;
      let writing = this.materialising.get(digest);
      if (!writing || files) {
        writing = materialiseAgentCode(
          join(this.options.dataDir, 'code'),
          digest,
          async () => files,
          lease.agentKey,
        );
        this.materialising.set(digest, writing);
        writing.catch(() => this.materialising.delete(digest));
      }
      const dir = await writing;
      manifest = { ...manifest, baseDir: dir };
    }
    const key = `${lease.agentKey}:${lease.codeDigest ?? ''}`;
    let prepared = this.prepared.get(key);
    if (!prepared) {
      const runtime = this.runtimes.get(manifest);
      prepared = (async () => {
        if (lease.moduleDigest && runtime.digest) {
          const local = await runtime.digest(manifest);
          if (local !== lease.moduleDigest)
            throw new WardenError(
              'AGENT_VERSION_CONFLICT',
              `The code of ${lease.agentKey} here does not have its registered digest`,
            );
        }
        return runtime.prepare(manifest);
      })();
      this.prepared.set(key, prepared);
      prepared.catch(() => this.prepared.delete(key));
    }
    return { manifest, agent: await prepared };
  }
}

function edgeUrl(url: string | undefined): string {
  if (!url)
    throw new WardenError(
      'INVALID_INPUT',
      'Name the control plane to join: warden edge join ws://host:port --invite <token>',
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WardenError('INVALID_INPUT', `${url} is not a URL; use ws://host:port or wss://host:port`);
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')
    throw new WardenError('INVALID_INPUT', `${url}: the control plane is reached over ws:// or wss://`);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = EDGE_PATH;
  return parsed.toString();
}

async function readMembership(dir: string): Promise<Membership | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'membership.json'), 'utf8')) as Membership;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeMembership(dir: string, m: Membership): Promise<void> {
  const path = join(dir, 'membership.json');
  await writeFile(`${path}.tmp`, `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
