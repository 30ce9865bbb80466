import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { TREE_HEAD_KEY_FILE, loadOrCreateTreeHeadKey } from './node-key.js';
import { TreeHeadKey, verifyTreeHeadSignature } from './tree-head.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempKeys = () => {
  const d = mkdtempSync(join(tmpdir(), 'warden-keys-'));
  dirs.push(d);
  return join(d, 'keys');
};

describe('the node tree-head key', () => {
  it('is created on first start with mode 0600 in a 0700 directory, then reloaded unchanged', () => {
    const dir = tempKeys();
    const key = loadOrCreateTreeHeadKey(dir);
    expect(statSync(join(dir, TREE_HEAD_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(loadOrCreateTreeHeadKey(dir).keyId).toBe(key.keyId);
  });

  it('refuses a key file that group or others can read', () => {
    const dir = tempKeys();
    loadOrCreateTreeHeadKey(dir);
    chmodSync(join(dir, TREE_HEAD_KEY_FILE), 0o644);
    expect(() => loadOrCreateTreeHeadKey(dir)).toThrow(/chmod 600/);
  });

  it('never shows its private half when serialised or inspected', () => {
    const dir = tempKeys();
    const key = loadOrCreateTreeHeadKey(dir);
    const secret = readFileSync(join(dir, TREE_HEAD_KEY_FILE), 'utf8');
    const body = secret.split('\n')[1]!;
    expect(JSON.stringify(key)).not.toContain(body);
    expect(inspect(key, { depth: 5 })).not.toContain(body);
    expect(JSON.stringify(key)).toContain(key.keyId);
  });
});

describe('signed tree heads', () => {
  const key = TreeHeadKey.generate();
  const head = key.sign({
    sessionId: 's1',
    treeSize: 42,
    rootHash: 'ab'.repeat(32),
    timestamp: 1_700_000_000_000,
  });

  it('verify under the public key', () => {
    expect(verifyTreeHeadSignature(head, key.publicKey)).toBe(true);
    expect(verifyTreeHeadSignature(head, key.publicKeyPem)).toBe(true);
  });

  it.each([
    ['sessionId', { sessionId: 's2' }],
    ['treeSize', { treeSize: 43 }],
    ['rootHash', { rootHash: 'ac'.repeat(32) }],
    ['timestamp', { timestamp: 1_700_000_000_001 }],
    ['signature', { signature: `${head.signature[0] === 'A' ? 'B' : 'A'}${head.signature.slice(1)}` }],
  ])('fail when %s is changed', (_field, change) => {
    expect(verifyTreeHeadSignature({ ...head, ...change }, key.publicKey)).toBe(false);
  });

  it('fail under another key', () => {
    expect(verifyTreeHeadSignature(head, TreeHeadKey.generate().publicKey)).toBe(false);
  });
});
