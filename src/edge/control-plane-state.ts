import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError } from '../core/index.js';
import {
  JsonFileTrustStore,
  NodeIdentity,
  TrustRegistry,
  createInvite,
  loadIdentity,
  saveIdentity,
  type RegisteredNode,
} from '../swarm/index.js';
import { encodeInviteToken, type InviteGrant } from './invite-token.js';

/** An invite as the control plane keeps it: the secret only as its hash. */
interface StoredInvite {
  id: string;
  secretSha256: string;
  capabilities: string[];
  maxConcurrency: number;
  expiresAt: number;
  createdAt: number;
  usedBy?: string;
  usedAt?: number;
}

interface NodeTerms {
  capabilities: string[];
  maxConcurrency: number;
  joinedAt: number;
  invite: string;
}

interface StateFile {
  kind: 'warden.edge.control-plane';
  swarmId: string;
  invites: StoredInvite[];
  nodes: Record<string, NodeTerms>;
}

export interface CreateInviteOptions {
  capabilities?: string[];
  maxConcurrency?: number;
  /** How long the invite may be redeemed. @default 1 hour */
  ttlMs?: number;
}

export interface EdgeNodeInfo {
  nodeId: string;
  capabilities: string[];
  maxConcurrency: number;
  joinedAt: number;
  revoked: boolean;
}

/**
 * The control plane's side of edge membership, kept under `<data>/edge/` (files 0600): its swarm identity
 * (Ed25519 + X25519 + ML-DSA-65), the trust registry of admitted nodes, and the invites it issued (secrets
 * only as hashes). Used by the running server and by `warden edge invite|list|revoke` in other processes:
 * every change is written at once, and the server reloads what another process changed.
 */
export class ControlPlaneState {
  private constructor(
    readonly dir: string,
    readonly identity: NodeIdentity,
    private state: StateFile,
    public registry: TrustRegistry,
  ) {}

  static async open(dir: string): Promise<ControlPlaneState> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    // The server and `warden edge invite` may open a new directory at the same moment: each file is
    // created once (hard link of a finished temporary file, which fails if another process won), then read.
    const keyFile = join(dir, 'control-plane.key.json');
    const identity = await createOnce(
      keyFile,
      () => loadIdentity(keyFile),
      (tmp) => saveIdentity(tmp, NodeIdentity.generate()),
    );
    const statePath = join(dir, 'state.json');
    const state = await createOnce(
      statePath,
      async () => {
        const existing = await readState(statePath);
        if (!existing) throw Object.assign(new Error(`${statePath} is missing`), { code: 'ENOENT' });
        return existing;
      },
      (tmp) =>
        writeFile(
          tmp,
          `${JSON.stringify({ kind: 'warden.edge.control-plane', swarmId: `warden-${randomUUID()}`, invites: [], nodes: {} })}\n`,
          { mode: 0o600 },
        ),
    );
    const registry = await openRegistry(dir, state.swarmId, identity);
    return new ControlPlaneState(dir, identity, state, registry);
  }

  get swarmId(): string {
    return this.state.swarmId;
  }

  /** Rereads the state and registry files (another process issued an invite or revoked a node). */
  async reload(): Promise<void> {
    this.state = (await readState(join(this.dir, 'state.json'))) ?? this.state;
    this.registry = await openRegistry(this.dir, this.state.swarmId, this.identity);
  }

  /** When the files last changed, to reload only when another process wrote them. */
  async changedAt(): Promise<number> {
    const times = await Promise.all(
      ['state.json', 'trust.json'].map((f) =>
        stat(join(this.dir, f)).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ),
    );
    return Math.max(...times);
  }

  /** Issues a one-time invite, signed by this control plane; returns the token to hand to the edge. */
  async createInvite(
    options: CreateInviteOptions = {},
    now = Date.now(),
  ): Promise<{ token: string; grant: InviteGrant }> {
    const maxConcurrency = options.maxConcurrency ?? 4;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 1024)
      throw new WardenError(
        'INVALID_INPUT',
        `--max-concurrency must be a whole number from 1 to 1024, got ${maxConcurrency}`,
      );
    const capabilities = [...new Set(options.capabilities ?? [])];
    for (const c of capabilities)
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(c))
        throw new WardenError(
          'INVALID_INPUT',
          `Capability ${JSON.stringify(c)} must be a lowercase word (a-z, 0-9, . _ -)`,
        );
    const ttlMs = options.ttlMs ?? 3_600_000;
    if (!(ttlMs > 0))
      throw new WardenError('INVALID_INPUT', '--expires must be a positive duration such as 1h');
    const secret = randomBytes(32).toString('base64url');
    const grant: InviteGrant = {
      kind: 'warden.edge.invite',
      id: randomUUID(),
      swarmId: this.swarmId,
      controlPlane: this.identity.nodeId,
      capabilities,
      maxConcurrency,
      expiresAt: now + ttlMs,
    };
    await this.reload();
    this.state.invites.push({
      id: grant.id,
      secretSha256: sha256(secret),
      capabilities,
      maxConcurrency,
      expiresAt: grant.expiresAt,
      createdAt: now,
    });
    await this.save();
    return { token: encodeInviteToken(this.identity, grant, secret), grant };
  }

  /**
   * Admits a node with an invite: the secret must match an unexpired, unused invite, which is then used up
   * and becomes the node's swarm admission (its capabilities are the node's ceiling).
   */
  async redeem(
    inviteId: string,
    secret: string,
    registration: unknown,
    nodeId: string,
    now = Date.now(),
  ): Promise<RegisteredNode> {
    await this.reload();
    const invite = this.state.invites.find((i) => i.id === inviteId);
    const refuse = (why: string) =>
      new WardenError(
        'EDGE_INVITE_INVALID',
        `Edge invite refused: ${why}. Ask an admin for a new one (warden edge invite).`,
        {
          details: { inviteId },
        },
      );
    if (!invite || !safeEqual(invite.secretSha256, sha256(secret))) throw refuse('unknown invite');
    if (invite.usedBy !== undefined && invite.usedBy !== nodeId) throw refuse('it was already used');
    if (invite.expiresAt <= now) throw refuse('it expired');
    const admission = createInvite(this.identity, {
      swarmId: this.swarmId,
      nodeId,
      capabilities: invite.capabilities,
      ttlMs: 60_000,
    });
    const node = await this.registry.register(registration, admission);
    invite.usedBy = nodeId;
    invite.usedAt = now;
    this.state.nodes[nodeId] ??= {
      capabilities: invite.capabilities,
      maxConcurrency: invite.maxConcurrency,
      joinedAt: now,
      invite: invite.id,
    };
    await this.save();
    return node;
  }

  terms(nodeId: string): NodeTerms | undefined {
    return this.state.nodes[nodeId];
  }

  nodes(): EdgeNodeInfo[] {
    return Object.entries(this.state.nodes).map(([nodeId, t]) => ({
      nodeId,
      capabilities: t.capabilities,
      maxConcurrency: t.maxConcurrency,
      joinedAt: t.joinedAt,
      revoked: this.registry.isRevoked(nodeId),
    }));
  }

  async revoke(nodeId: string, reason?: string): Promise<void> {
    await this.reload();
    if (!this.state.nodes[nodeId])
      throw new WardenError('EDGE_NODE_NOT_FOUND', `No edge node ${nodeId} (warden edge list shows them)`, {
        details: { nodeId },
      });
    await this.registry.revoke(nodeId, reason);
  }

  private async save(): Promise<void> {
    const path = join(this.dir, 'state.json');
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
}

/** Reads `path`, or creates it with `write` (to a temporary file, linked into place only if absent). */
async function createOnce<T>(
  path: string,
  read: () => Promise<T>,
  write: (tmp: string) => Promise<unknown>,
): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code !== 'ENOENT' &&
      (await stat(path).then(
        () => true,
        () => false,
      ))
    )
      throw err;
  }
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await write(tmp);
    await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return read();
}

async function openRegistry(dir: string, swarmId: string, identity: NodeIdentity): Promise<TrustRegistry> {
  return TrustRegistry.open({
    swarmId,
    admins: [identity.publicKeys],
    store: new JsonFileTrustStore(join(dir, 'trust.json')),
  });
}

async function readState(path: string): Promise<StateFile | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as StateFile;
    if (value.kind !== 'warden.edge.control-plane') throw new Error('not an edge state file');
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WardenError('INVALID_INPUT', `Cannot read the edge state ${path}: ${(err as Error).message}`);
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const safeEqual = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
