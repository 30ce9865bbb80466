import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WardenError } from '../core/index.js';
import { toBase64Url } from './bytes.js';
import type { SignedInvite, SignedRegistration } from './registration.js';
import type { SignedRotation } from './rotation.js';
import { systemRandom } from './runtime.js';

/** How a node got in: an admin's invite, or the registry's allow-list. */
export type Admission = { by: 'invite'; invite: SignedInvite } | { by: 'allow-list' };

export interface StoredNode {
  /** The node's current registration. */
  registration: SignedRegistration;
  admission: Admission;
  registeredAt: number;
  /** Key rotations since the first registration, oldest first; absent when there were none. */
  rotations?: SignedRotation[];
}

export interface Revocation {
  nodeId: string;
  revokedAt: number;
  reason?: string;
}

export interface TrustSnapshot {
  nodes: StoredNode[];
  revocations: Revocation[];
}

/**
 * Narrow persistence port for the trust registry. Implementations own their resources; the
 * registry keeps the working set in memory and writes through this port.
 */
export interface TrustStore {
  load(): Promise<TrustSnapshot>;
  saveNode(node: StoredNode): Promise<void>;
  saveRevocation(revocation: Revocation): Promise<void>;
}

/** Keeps everything in process memory (tests, ephemeral swarms). */
export class MemoryTrustStore implements TrustStore {
  readonly #nodes = new Map<string, StoredNode>();
  readonly #revocations = new Map<string, Revocation>();

  async load(): Promise<TrustSnapshot> {
    return structuredClone({
      nodes: [...this.#nodes.values()],
      revocations: [...this.#revocations.values()],
    });
  }

  async saveNode(node: StoredNode): Promise<void> {
    this.#nodes.set(node.registration.body.nodeId, structuredClone(node));
  }

  async saveRevocation(revocation: Revocation): Promise<void> {
    this.#revocations.set(revocation.nodeId, { ...revocation });
  }
}

/**
 * One JSON file, rewritten atomically (write to a temp file, rename) after each change, mode 0600.
 * Writes are serialised so concurrent changes cannot interleave.
 */
export class JsonFileTrustStore implements TrustStore {
  readonly #path: string;
  readonly #memory = new MemoryTrustStore();
  #loaded = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  async load(): Promise<TrustSnapshot> {
    let text: string | undefined;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new WardenError('STORAGE_ERROR', `Cannot read trust store ${this.#path}`, { cause: error });
      }
    }
    if (text !== undefined && !this.#loaded) {
      const snapshot = parseSnapshot(text, this.#path);
      for (const node of snapshot.nodes) await this.#memory.saveNode(node);
      for (const revocation of snapshot.revocations) await this.#memory.saveRevocation(revocation);
    }
    this.#loaded = true;
    return this.#memory.load();
  }

  async saveNode(node: StoredNode): Promise<void> {
    await this.#memory.saveNode(node);
    await this.#flush();
  }

  async saveRevocation(revocation: Revocation): Promise<void> {
    await this.#memory.saveRevocation(revocation);
    await this.#flush();
  }

  #flush(): Promise<void> {
    const run = async (): Promise<void> => {
      const snapshot = await this.#memory.load();
      await mkdir(dirname(this.#path), { recursive: true });
      const tmp = `${this.#path}.${toBase64Url(systemRandom(6))}.tmp`;
      await writeFile(
        tmp,
        `${JSON.stringify({ kind: 'warden.swarm.trust', v: 1, ...snapshot }, null, 2)}\n`,
        {
          mode: 0o600,
        },
      );
      await rename(tmp, this.#path);
    };
    this.#queue = this.#queue.then(run, run);
    return this.#queue.catch((error: unknown) => {
      throw new WardenError('STORAGE_ERROR', `Cannot write trust store ${this.#path}`, { cause: error });
    });
  }
}

function parseSnapshot(text: string, path: string): TrustSnapshot {
  try {
    const value = JSON.parse(text) as Partial<TrustSnapshot> & { kind?: unknown; v?: unknown };
    if (
      value.kind === 'warden.swarm.trust' &&
      value.v === 1 &&
      Array.isArray(value.nodes) &&
      Array.isArray(value.revocations)
    ) {
      return { nodes: value.nodes, revocations: value.revocations };
    }
  } catch {
    // fall through to the error below
  }
  throw new WardenError('SWARM_BAD_ENCODING', `Trust store ${path} is not a version-1 trust file`);
}
