import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  ERROR_CODES,
  WardenError,
  coerceError,
  type AgentManifest,
  type ErrorCode,
  type ResourceUsage,
  type TaskReceipt,
} from '../core/index.js';
import { sha256Hex } from '../provenance/index.js';
import type { RunContext, RunOutcome } from '../sandbox/index.js';
import {
  SwarmChannel,
  createRegistration,
  digestBytes,
  verifyReceipt,
  verifyRegistration,
  type SignedRegistration,
} from '../swarm/index.js';
import type { ControlPlaneState } from './control-plane-state.js';
import {
  EDGE_PATH,
  EDGE_TYPE_PREFIX,
  failureSchema,
  heartbeatSchema,
  helloSchema,
  logSchema,
  parseJsonFrame,
  parseMessage,
  resultSchema,
  type Hello,
  type Lease,
} from './protocol.js';

/** An agent version's code as shipped to edges (the files are sent once per connection). */
export interface ShippableAgent {
  manifest: AgentManifest;
  moduleDigest: string | null;
  codeDigest: string | null;
  files: { path: string; bytes: Buffer }[] | null;
}

export interface EdgeHubOptions {
  /** How often edges send a heartbeat. @default 5000 */
  heartbeatMs?: number;
  /** How long a disconnected edge's running tasks wait for it to reconnect. @default 3 heartbeats */
  resumeGraceMs?: number;
  /** How long a new connection may take to say hello. @default 10000 */
  helloTimeoutMs?: number;
  /** Where refused frames, joins and disconnections are reported. @default none */
  log?: (line: string) => void;
}

interface Pending {
  taskId: string;
  attempt: number;
  agentKey: string;
  inputDigest: string;
  moduleDigest: string | null;
  ctx: RunContext;
  node: ConnectedNode;
  resolve: (outcome: RunOutcome) => void;
  reject: (err: unknown) => void;
  orphanTimer?: NodeJS.Timeout;
}

interface ConnectedNode {
  nodeId: string;
  socket: WebSocket | undefined;
  channel: SwarmChannel;
  registration: SignedRegistration;
  capabilities: Set<string>;
  runtimes: Set<string>;
  slots: number;
  running: Map<string, Pending>;
  codeSent: Set<string>;
  connectedAt: number;
  lastSeen: number;
}

export interface ConnectedEdge {
  nodeId: string;
  capabilities: string[];
  runtimes: string[];
  slots: number;
  running: number;
  connectedAt: number;
  lastSeen: number;
}

/**
 * The control plane's end of edge nodes: accepts their WebSocket connections at `/edge` on the API server,
 * admits them (invite on first join, registry afterwards), and runs tasks on them for the scheduler, which
 * keeps the task's lease and fencing exactly as for a local run. Every frame after the handshake is a
 * sealed swarm envelope; results come back with a receipt signed by the edge, verified here against the
 * registry before the result is accepted.
 */
export class EdgeHub {
  private readonly nodes = new Map<string, ConnectedNode>();
  private readonly waiters = new Set<() => void>();
  private server: WebSocketServer | undefined;
  private watch: NodeJS.Timeout | undefined;
  private stateSeenAt = 0;
  private readonly heartbeatMs: number;
  private readonly resumeGraceMs: number;
  private readonly helloTimeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly state: () => Promise<ControlPlaneState>,
    options: EdgeHubOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? envMs('WARDEN_EDGE_HEARTBEAT_MS') ?? 5_000;
    this.log = options.log ?? (() => undefined);
    this.resumeGraceMs =
      options.resumeGraceMs ?? envMs('WARDEN_EDGE_RESUME_GRACE_MS') ?? 3 * this.heartbeatMs;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  }

  /** Serves edge connections on `server` (the API server), at ws(s)://host:port/edge. */
  attach(server: Server): void {
    if (this.server) return;
    const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 * 1024 });
    this.server = wss;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== EDGE_PATH) return;
      wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    // Revocations and invites made by `warden edge` in other processes: reload, drop revoked nodes.
    // Only once an edge has connected: a server that never sees one never creates <data>/edge.
    this.watch = setInterval(() => {
      if (this.nodes.size === 0) return;
      void this.syncState();
      this.dropSilent();
    }, 1_000);
    this.watch.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.watch);
    for (const node of this.nodes.values()) {
      node.socket?.close(1001, 'control plane shutting down');
      this.orphan(node, 0);
    }
    this.nodes.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  connected(): ConnectedEdge[] {
    return [...this.nodes.values()]
      .filter((n) => n.socket)
      .map((n) => ({
        nodeId: n.nodeId,
        capabilities: [...n.capabilities],
        runtimes: [...n.runtimes],
        slots: n.slots,
        running: n.running.size,
        connectedAt: n.connectedAt,
        lastSeen: n.lastSeen,
      }));
  }

  /** Whether some connected edge could run this agent (now or when a slot frees). */
  canRun(manifest: AgentManifest): boolean {
    for (const n of this.nodes.values()) if (n.socket && this.fits(n, manifest)) return true;
    return false;
  }

  /** Whether a connected edge has a free slot for this agent right now. */
  hasFreeSlot(manifest: AgentManifest): boolean {
    return this.pick(manifest) !== undefined;
  }

  /**
   * Runs one attempt on an edge and returns its output with the edge's verified receipt. Waits for a free
   * slot on a capable edge; with none connected, fails EDGE_UNAVAILABLE (retryable). The caller's abort
   * signal cancels the run on the edge.
   */
  async run(
    agent: ShippableAgent,
    agentKey: string,
    inputJson: string,
    ctx: RunContext,
  ): Promise<RunOutcome> {
    const node = await this.waitForNode(agent.manifest, ctx.taskId, ctx.signal);
    return new Promise<RunOutcome>((resolve, reject) => {
      const pending: Pending = {
        taskId: ctx.taskId,
        attempt: ctx.attempt,
        agentKey,
        inputDigest: sha256Hex(inputJson),
        moduleDigest: agent.moduleDigest,
        ctx,
        node,
        resolve,
        reject,
      };
      node.running.set(ctx.taskId, pending);
      const codeKey = agent.codeDigest ?? `manifest:${agentKey}`;
      const lease: Lease = {
        taskId: ctx.taskId,
        sessionId: ctx.sessionId,
        attempt: ctx.attempt,
        agentKey,
        manifest: shippedManifest(agent.manifest),
        moduleDigest: agent.moduleDigest,
        codeDigest: agent.codeDigest,
        ...(agent.files && !node.codeSent.has(codeKey)
          ? { code: agent.files.map((f) => ({ path: f.path, bytes: f.bytes.toString('base64') })) }
          : {}),
        inputJson,
        timeoutMs: Math.max(1, ctx.limits.timeoutMs),
        allowNetwork: ctx.allowNetwork,
      };
      node.codeSent.add(codeKey);
      ctx.signal.addEventListener(
        'abort',
        () => {
          this.send(pending.node, 'cancel', {
            taskId: ctx.taskId,
            attempt: ctx.attempt,
            reason: 'cancelled',
          });
          this.settle(pending, () => reject(ctx.signal.reason));
        },
        { once: true },
      );
      try {
        this.send(node, 'lease', lease);
      } catch (err) {
        this.settle(pending, () => reject(err));
      }
    });
  }

  /** A capable edge with a free slot, the slot taken for `taskId` at once (before any other waiter looks). */
  private async waitForNode(
    manifest: AgentManifest,
    taskId: string,
    signal: AbortSignal,
  ): Promise<ConnectedNode> {
    for (;;) {
      const node = this.pick(manifest);
      if (node) {
        node.running.set(taskId, RESERVED);
        return node;
      }
      if (!this.canRun(manifest))
        throw new WardenError(
          'EDGE_UNAVAILABLE',
          `No connected edge node can run ${manifest.name}@${manifest.version} (runtime ${manifest.runtime}${manifest.placement?.capabilities.length ? `, capabilities ${manifest.placement.capabilities.join(', ')}` : ''}); it is retried. Join one with \`warden edge join\`.`,
          { details: { agent: `${manifest.name}@${manifest.version}` } },
        );
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private pick(manifest: AgentManifest): ConnectedNode | undefined {
    let best: ConnectedNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.socket || n.running.size >= n.slots || !this.fits(n, manifest)) continue;
      if (!best || n.running.size / n.slots < best.running.size / best.slots) best = n;
    }
    return best;
  }

  private fits(node: ConnectedNode, manifest: AgentManifest): boolean {
    if (!node.runtimes.has(manifest.runtime)) return false;
    for (const c of manifest.placement?.capabilities ?? []) if (!node.capabilities.has(c)) return false;
    return true;
  }

  // ---- connections ----------------------------------------------------------------------------

  private accept(ws: WebSocket): void {
    const timer = setTimeout(() => ws.close(4000, 'no hello'), this.helloTimeoutMs);
    ws.once('message', (data: RawData) => {
      clearTimeout(timer);
      void this.hello(ws, data).catch((err: unknown) => {
        const e = coerceError(err);
        this.log(`edge refused: [${e.code}] ${e.message}`);
        ws.send(JSON.stringify({ t: 'refused', code: e.code, message: e.message }));
        ws.close(4003, e.code);
      });
    });
  }

  private async hello(ws: WebSocket, data: RawData): Promise<void> {
    const hello: Hello = parseMessage(helloSchema, parseJsonFrame(toBuffer(data), 'hello'), 'hello');
    const state = await this.state();
    this.currentState = state;
    const verified = verifyRegistration(hello.registration);
    const nodeId = verified.body.nodeId;
    if (hello.invite) await state.redeem(hello.invite.id, hello.invite.secret, hello.registration, nodeId);
    else {
      await state.reload();
      // A known, unrevoked node refreshing its registration (fresh timestamp, same keys).
      await state.registry.register(hello.registration);
    }
    const terms = state.terms(nodeId);
    if (!terms)
      throw new WardenError(
        'SWARM_NOT_ADMITTED',
        `Node ${nodeId} never joined this control plane; join with an invite`,
      );
    const channel = new SwarmChannel({ identity: state.identity, registry: state.registry });
    const previous = this.nodes.get(nodeId);
    const node: ConnectedNode = {
      nodeId,
      socket: ws,
      channel,
      registration: hello.registration as SignedRegistration,
      capabilities: new Set(verified.body.capabilities.filter((c) => terms.capabilities.includes(c))),
      runtimes: new Set(hello.runtimes),
      slots: Math.min(terms.maxConcurrency, hello.concurrency),
      running: new Map(),
      codeSent: new Set(),
      connectedAt: Date.now(),
      lastSeen: Date.now(),
    };
    // A reconnect: the runs the edge still has carry on on this connection; the others are lost.
    if (previous) {
      const still = new Set(hello.running.map((r) => `${r.taskId}:${r.attempt}`));
      for (const p of previous.running.values()) {
        if (p === RESERVED) continue;
        clearTimeout(p.orphanTimer);
        if (still.has(`${p.taskId}:${p.attempt}`)) {
          p.node = node;
          node.running.set(p.taskId, p);
        } else this.settle(p, () => p.reject(edgeLost(nodeId, 'the edge reconnected without it')));
      }
      if (previous.socket && previous.socket !== ws) previous.socket.close(4001, 'superseded');
    }
    this.nodes.set(nodeId, node);
    this.log(
      `edge ${nodeId} ${hello.invite ? 'joined' : 'connected'} (slots ${node.slots}, runtimes ${hello.runtimes.join(',')})`,
    );
    const welcome = {
      t: 'welcome',
      swarmId: state.swarmId,
      controlPlane: createRegistration(state.identity, { swarmId: state.swarmId }),
      heartbeatMs: this.heartbeatMs,
    };
    ws.send(JSON.stringify(welcome));
    ws.on('message', (frame: RawData) => this.receive(node, ws, toBuffer(frame)));
    ws.on('close', () => {
      if (node.socket !== ws) return;
      node.socket = undefined;
      this.orphan(node, this.resumeGraceMs);
    });
    ws.on('error', () => ws.terminate());
    this.wakeWaiters();
  }

  /** The connection is gone: its runs fail after `graceMs` unless the edge reconnects and resumes them. */
  private orphan(node: ConnectedNode, graceMs: number): void {
    for (const p of node.running.values()) {
      if (p === RESERVED) continue;
      clearTimeout(p.orphanTimer);
      p.orphanTimer = setTimeout(() => {
        if (p.node === node && !node.socket)
          this.settle(p, () => p.reject(edgeLost(node.nodeId, 'the edge disconnected')));
      }, graceMs);
      p.orphanTimer.unref?.();
    }
  }

  private receive(node: ConnectedNode, ws: WebSocket, frame: Buffer): void {
    if (node.socket !== ws) return;
    try {
      const opened = node.channel.open(frame);
      if (opened.sender.nodeId !== node.nodeId)
        throw new WardenError('EDGE_PROTOCOL', 'An envelope on this connection is from another node');
      node.lastSeen = Date.now();
      const kind = opened.header.type.startsWith(EDGE_TYPE_PREFIX)
        ? opened.header.type.slice(EDGE_TYPE_PREFIX.length)
        : '';
      const payload = parseJsonFrame(Buffer.from(opened.payload), kind);
      if (kind === 'result') this.onResult(node, parseMessage(resultSchema, payload, 'result'));
      else if (kind === 'failure') this.onFailure(node, parseMessage(failureSchema, payload, 'failure'));
      else if (kind === 'heartbeat') parseMessage(heartbeatSchema, payload, 'heartbeat');
      else if (kind === 'log') {
        const line = parseMessage(logSchema, payload, 'log');
        const p = node.running.get(line.taskId);
        if (p && p.attempt === line.attempt)
          p.ctx.log(line.stream === 'stderr' ? 'stderr' : 'stdout', line.message);
      } else throw new WardenError('EDGE_PROTOCOL', `Unknown edge message type ${opened.header.type}`);
    } catch (err) {
      // A frame that does not open (forged, replayed, tampered) or does not parse ends the connection.
      const e = coerceError(err);
      this.log(`edge ${node.nodeId}: frame rejected [${e.code}] ${e.message}; connection closed`);
      ws.close(4002, e.code);
    }
  }

  private onResult(
    node: ConnectedNode,
    r: {
      taskId: string;
      attempt: number;
      outputJson: string;
      usage: Record<string, unknown>;
      receipt: { body: Record<string, unknown>; signature: string };
    },
  ): void {
    const p = node.running.get(r.taskId);
    if (!p || p.attempt !== r.attempt) return; // a late result of a cancelled or re-leased attempt
    try {
      const state = this.currentState;
      const body = verifyReceipt(state!.registry, r.receipt);
      const want: [string, unknown, unknown][] = [
        ['nodeId', body.nodeId, node.nodeId],
        ['taskId', body.taskId, p.taskId],
        ['agent', body.agent, p.agentKey],
        ['inputDigest', body.inputDigest, `sha256:${p.inputDigest}`],
        ['outputDigest', body.outputDigest, digestBytes(r.outputJson)],
        ...(p.moduleDigest
          ? [['moduleDigest', body.moduleDigest, `sha256:${p.moduleDigest}`] as [string, unknown, unknown]]
          : []),
      ];
      for (const [field, got, expected] of want)
        if (got !== expected)
          throw new WardenError(
            'EDGE_RECEIPT_INVALID',
            `The edge's receipt names ${field} ${String(got)}, not ${String(expected)}`,
            {
              details: { nodeId: node.nodeId, field },
            },
          );
      const receipt: TaskReceipt = {
        nodeId: node.nodeId,
        registration: node.registration,
        receipt: r.receipt,
      };
      this.settle(p, () =>
        p.resolve({ outputJson: r.outputJson, usage: r.usage as unknown as ResourceUsage, receipt }),
      );
    } catch (err) {
      const e = coerceError(err);
      this.settle(p, () =>
        p.reject(
          e.code === 'EDGE_RECEIPT_INVALID'
            ? e
            : new WardenError('EDGE_RECEIPT_INVALID', `The edge's receipt does not verify: ${e.message}`, {
                cause: e,
              }),
        ),
      );
    }
  }

  private onFailure(
    node: ConnectedNode,
    f: { taskId: string; attempt: number; error: { code: string; message: string } },
  ): void {
    const p = node.running.get(f.taskId);
    if (!p || p.attempt !== f.attempt) return;
    const code: ErrorCode = f.error.code in ERROR_CODES ? (f.error.code as ErrorCode) : 'AGENT_FAILED';
    this.settle(p, () =>
      p.reject(
        new WardenError(code, `On edge ${node.nodeId}: ${f.error.message}`, {
          details: { nodeId: node.nodeId },
        }),
      ),
    );
  }

  private settle(p: Pending, done: () => void): void {
    if (p.node.running.get(p.taskId) !== p) return;
    clearTimeout(p.orphanTimer);
    p.node.running.delete(p.taskId);
    done();
    this.wakeWaiters();
  }

  private send(node: ConnectedNode, kind: string, message: unknown): void {
    if (!node.socket) throw edgeLost(node.nodeId, 'the edge is not connected');
    const envelope = node.channel.seal(
      { node: node.nodeId },
      Buffer.from(JSON.stringify(message)),
      EDGE_TYPE_PREFIX + kind,
    );
    node.socket.send(envelope);
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** An edge silent for 3 heartbeats is gone (a dead machine, a cut cable): its connection is dropped. */
  private dropSilent(): void {
    const cutoff = Date.now() - 3 * this.heartbeatMs;
    for (const node of this.nodes.values())
      if (node.socket && node.lastSeen < cutoff) {
        this.log(`edge ${node.nodeId}: silent for ${3 * this.heartbeatMs} ms; connection dropped`);
        node.socket.terminate();
      }
  }

  private currentState: ControlPlaneState | undefined;

  /** Loads the state once (for receipts) and keeps it in step with other processes' changes. */
  private async syncState(): Promise<void> {
    try {
      const state = (this.currentState ??= await this.state());
      const changed = await state.changedAt();
      if (changed <= this.stateSeenAt) return;
      this.stateSeenAt = changed;
      await state.reload();
      // A connection keeps its channel (its counters and replay window go on); revocation is checked here.
      for (const node of this.nodes.values()) {
        if (state.registry.isRevoked(node.nodeId)) {
          node.socket?.close(4004, 'revoked');
          node.socket = undefined;
          for (const p of [...node.running.values()].filter((q) => q !== RESERVED))
            this.settle(p, () => p.reject(edgeLost(node.nodeId, 'the edge was revoked')));
          this.nodes.delete(node.nodeId);
        }
      }
    } catch {
      // Unreadable state files: keep the last good state; the next tick tries again.
    }
  }
}

/** A slot taken for a run whose lease is being sent. */
const RESERVED = {} as Pending;

function envMs(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

function edgeLost(nodeId: string, why: string): WardenError {
  return new WardenError('EDGE_UNAVAILABLE', `Edge ${nodeId} lost the task: ${why}; it is retried`, {
    details: { nodeId },
  });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The manifest as an edge needs it: no local paths, no tenant. */
function shippedManifest(m: AgentManifest): Record<string, unknown> {
  const { baseDir: _baseDir, tenant: _tenant, ...rest } = m;
  return rest as unknown as Record<string, unknown>;
}
