import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256 } from './bytes.js';
import { expectCodeAsync, seededRandom } from './fixtures/harness.js';
import { NodeIdentity } from './identity.js';
import { loadIdentity, saveIdentity } from './identity-file.js';
import { deriveNodeId, isNodeId } from './node-id.js';

const dir = await mkdtemp(join(tmpdir(), 'warden-id-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const FAST = { scryptCost: 2 ** 12 };

describe('node identity', () => {
  it('derives the node id from the Ed25519 public key', () => {
    const id = NodeIdentity.generate({ random: seededRandom('x'), postQuantum: false });
    const expected = sha256(Buffer.from('warden-swarm-v1/node-id\0'), id.signingPublicKey)
      .subarray(0, 20)
      .toString('hex');
    expect(id.nodeId).toBe(`wn1_${expected}`);
    expect(deriveNodeId(id.signingPublicKey)).toBe(id.nodeId);
    expect(isNodeId(id.nodeId)).toBe(true);
    expect(id.postQuantum).toBe(false);
  });

  it('is deterministic for an injected random source', () => {
    const a = NodeIdentity.generate({ random: seededRandom('same') });
    const b = NodeIdentity.generate({ random: seededRandom('same') });
    expect(a.nodeId).toBe(b.nodeId);
    expect(a.publicKeys).toEqual(b.publicKeys);
    expect(a.pqPublicKey?.length).toBe(1952);
  });
});

describe('identity files', () => {
  it('plain files are written 0600 and refused when group/other readable', async () => {
    const id = NodeIdentity.generate({ random: seededRandom('plain') });
    const path = join(dir, 'plain.json');
    await saveIdentity(path, id);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await loadIdentity(path)).publicKeys).toEqual(id.publicKeys);
    await chmod(path, 0o644);
    await expectCodeAsync(loadIdentity(path), 'SWARM_INSECURE_KEY_FILE');
  });

  it('encrypted files need the right passphrase and bind the public keys as AAD', async () => {
    const id = NodeIdentity.generate({ random: seededRandom('enc') });
    const other = NodeIdentity.generate({ random: seededRandom('other') });
    const path = join(dir, 'enc.json');
    await saveIdentity(path, id, { passphrase: 'correct horse', ...FAST });
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(Buffer.from(id.exportSecrets().ed25519Seed).toString('base64url'));
    const loaded = await loadIdentity(path, { passphrase: 'correct horse' });
    expect(loaded.nodeId).toBe(id.nodeId);
    await expectCodeAsync(loadIdentity(path, { passphrase: 'wrong' }), 'SWARM_DECRYPT_FAILED');
    await expectCodeAsync(loadIdentity(path), 'SWARM_DECRYPT_FAILED');
    // Swap the public keys under the ciphertext: authentication fails.
    const file = JSON.parse(text) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...file, ...other.publicKeys, nodeId: other.nodeId }), {
      mode: 0o600,
    });
    await expectCodeAsync(loadIdentity(path, { passphrase: 'correct horse' }), 'SWARM_DECRYPT_FAILED');
  });

  it('a plain file whose public part does not match its seeds is refused', async () => {
    const id = NodeIdentity.generate({ random: seededRandom('mismatch'), postQuantum: false });
    const other = NodeIdentity.generate({ random: seededRandom('other2'), postQuantum: false });
    const path = join(dir, 'mismatch.json');
    await saveIdentity(path, id);
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...file, signingKey: other.publicKeys.signingKey }), {
      mode: 0o600,
    });
    await expectCodeAsync(loadIdentity(path), 'SWARM_BAD_ENCODING');
    await writeFile(path, '{"kind":"nope"}', { mode: 0o600 });
    await expectCodeAsync(loadIdentity(path), 'SWARM_BAD_ENCODING');
  });
});
