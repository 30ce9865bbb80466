import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { WardenError } from '../core/index.js';
import { badEncoding, fromBase64Url, toBase64Url } from './bytes.js';
import { canonicalBytes } from './canonical.js';
import { NodeIdentity, type IdentitySecrets, type NodePublicKeys } from './identity.js';
import { systemRandom, type RandomBytes } from './runtime.js';

const KIND = 'warden.swarm.identity';
const CIPHER = 'scrypt-aes-256-gcm';

export interface SaveIdentityOptions {
  /** Encrypts the secrets with scrypt + AES-256-GCM. Without it the file is plain JSON, mode 0600. */
  passphrase?: string;
  /** scrypt cost N (power of two). @default 131072 (2^17, r=8, p=1: about 128 MiB, OWASP's figure) */
  scryptCost?: number;
  /** @default node:crypto randomBytes */
  random?: RandomBytes;
}

export interface LoadIdentityOptions {
  passphrase?: string;
}

interface PublicPart extends NodePublicKeys {
  kind: typeof KIND;
  v: 1;
  nodeId: string;
}

type SecretPart =
  | { enc: 'none'; ed25519Seed: string; x25519Key: string; mldsa65Seed?: string }
  | { enc: typeof CIPHER; N: number; r: number; p: number; salt: string; iv: string; ciphertext: string };

type IdentityFile = PublicPart & { secret: SecretPart };

function publicPart(identity: NodeIdentity): PublicPart {
  return { kind: KIND, v: 1, nodeId: identity.nodeId, ...identity.publicKeys };
}

function scryptKey(passphrase: string, salt: Uint8Array, N: number, r: number, p: number): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, {
    N,
    r,
    p,
    maxmem: 256 * N * r + 32 * 1024 * 1024,
  });
}

function plainSecrets(secrets: IdentitySecrets): {
  ed25519Seed: string;
  x25519Key: string;
  mldsa65Seed?: string;
} {
  return {
    ed25519Seed: toBase64Url(secrets.ed25519Seed),
    x25519Key: toBase64Url(secrets.x25519Key),
    ...(secrets.mldsa65Seed ? { mldsa65Seed: toBase64Url(secrets.mldsa65Seed) } : {}),
  };
}

/**
 * Writes an identity file atomically with mode 0600. With a passphrase the seeds are encrypted
 * (scrypt → AES-256-GCM, the public part as additional data so keys cannot be swapped under it).
 */
export async function saveIdentity(
  path: string,
  identity: NodeIdentity,
  options: SaveIdentityOptions = {},
): Promise<void> {
  const pub = publicPart(identity);
  const secrets = plainSecrets(identity.exportSecrets());
  let secret: SecretPart;
  if (options.passphrase === undefined) {
    secret = { enc: 'none', ...secrets };
  } else {
    const random = options.random ?? systemRandom;
    const [N, r, p] = [options.scryptCost ?? 2 ** 17, 8, 1];
    const salt = random(16);
    const iv = random(12);
    const cipher = createCipheriv('aes-256-gcm', scryptKey(options.passphrase, salt, N, r, p), iv);
    cipher.setAAD(canonicalBytes(pub));
    const ct = Buffer.concat([cipher.update(canonicalBytes(secrets)), cipher.final(), cipher.getAuthTag()]);
    secret = {
      enc: CIPHER,
      N,
      r,
      p,
      salt: toBase64Url(salt),
      iv: toBase64Url(iv),
      ciphertext: toBase64Url(ct),
    };
  }
  const file: IdentityFile = { ...pub, secret };
  const tmp = `${path}.${toBase64Url(systemRandom(6))}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
}

/**
 * Loads an identity file. A plain file readable by group or others is refused; an encrypted one
 * needs the passphrase. The rebuilt keys must match the public part.
 * @throws WardenError SWARM_INSECURE_KEY_FILE, SWARM_DECRYPT_FAILED, SWARM_BAD_ENCODING
 */
export async function loadIdentity(path: string, options: LoadIdentityOptions = {}): Promise<NodeIdentity> {
  const file = parseFile(await readFile(path, 'utf8'));
  const secret = file.secret;
  let seeds: Record<string, unknown>;
  if (secret.enc === 'none') {
    const mode = (await stat(path)).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new WardenError(
        'SWARM_INSECURE_KEY_FILE',
        `Unencrypted identity file ${path} must have mode 0600`,
        {
          details: { path, mode: (mode & 0o777).toString(8) },
        },
      );
    }
    seeds = secret;
  } else {
    if (options.passphrase === undefined) {
      throw new WardenError(
        'SWARM_DECRYPT_FAILED',
        `Identity file ${path} is encrypted; a passphrase is required`,
      );
    }
    seeds = decryptSecrets(file, secret, options.passphrase);
  }
  // The node id is the file's: a node that rotated its keys keeps the id of its first Ed25519 key.
  const identity = NodeIdentity.fromSecrets(
    {
      ed25519Seed: fromBase64Url(String(seeds.ed25519Seed), 'ed25519Seed', 32),
      x25519Key: fromBase64Url(String(seeds.x25519Key), 'x25519Key', 32),
      mldsa65Seed:
        seeds.mldsa65Seed === undefined
          ? undefined
          : fromBase64Url(String(seeds.mldsa65Seed), 'mldsa65Seed', 32),
    },
    systemRandom,
    String(file.nodeId),
  );
  const expected = publicPart(identity);
  if (canonicalBytes(expected).compare(canonicalBytes(publicOf(file))) !== 0) {
    throw badEncoding(`Identity file ${path}: public keys do not match the secret seeds`);
  }
  return identity;
}

function decryptSecrets(
  file: IdentityFile,
  secret: Extract<SecretPart, { enc: typeof CIPHER }>,
  passphrase: string,
): Record<string, unknown> {
  const pub = publicOf(file);
  const ct = fromBase64Url(secret.ciphertext, 'ciphertext');
  if (ct.length < 16) throw badEncoding('Identity ciphertext is too short');
  try {
    const key = scryptKey(passphrase, fromBase64Url(secret.salt, 'salt'), secret.N, secret.r, secret.p);
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64Url(secret.iv, 'iv', 12));
    decipher.setAAD(canonicalBytes(pub));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    const plain = Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  } catch (error: unknown) {
    throw new WardenError('SWARM_DECRYPT_FAILED', 'Wrong passphrase or tampered identity file', {
      cause: error,
    });
  }
}

function publicOf(file: IdentityFile): Record<string, unknown> {
  return Object.fromEntries(Object.entries(file).filter(([key]) => key !== 'secret'));
}

function parseFile(text: string): IdentityFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badEncoding('Identity file is not JSON');
  }
  const file = value as Partial<IdentityFile> | null;
  if (
    !file ||
    file.kind !== KIND ||
    file.v !== 1 ||
    typeof file.secret !== 'object' ||
    file.secret === null
  ) {
    throw badEncoding('Not a version-1 Warden swarm identity file');
  }
  const enc = (file.secret as { enc?: unknown }).enc;
  if (enc !== 'none' && enc !== CIPHER) throw badEncoding(`Unknown identity encryption ${String(enc)}`);
  if (enc === CIPHER) {
    const s = file.secret as Record<string, unknown>;
    // Bounds stop a hostile file from demanding gigabytes of scrypt memory.
    const ok =
      [s.N, s.r, s.p].every((n) => Number.isSafeInteger(n) && (n as number) > 0) &&
      (s.N as number) <= 2 ** 20 &&
      (s.r as number) <= 32 &&
      (s.p as number) <= 16;
    if (!ok || typeof s.salt !== 'string' || typeof s.iv !== 'string' || typeof s.ciphertext !== 'string') {
      throw badEncoding('Malformed encrypted identity secret');
    }
  }
  return file as IdentityFile;
}
