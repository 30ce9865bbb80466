import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../core/index.js';
import { TreeHeadKey } from './tree-head.js';

/** File name of the node's tree-head key inside the keys directory. */
export const TREE_HEAD_KEY_FILE = 'provenance-ed25519.pem';

/**
 * Loads the node's Ed25519 tree-head key from `<dir>/provenance-ed25519.pem`, creating it (mode 0600, in a
 * 0700 directory, tightened to 0700 if it was not) on first start. Refuses a key file that group or others can read. Concurrent first starts
 * agree on one key: the file is created exclusively and the loser reads the winner's.
 */
export function loadOrCreateTreeHeadKey(dir: string): TreeHeadKey {
  const path = join(dir, TREE_HEAD_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  ownerOnlyDir(dir);
  // Written whole to a private temporary file, then linked into place: link fails if the key exists, and a
  // concurrent first start never reads a half-written file (an exclusive create, then a write, would let it).
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const key = TreeHeadKey.generate();
    writeFileSync(tmp, key.exportPrivatePem(), { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600); // in case the umask took bits the mode asked for
    linkSync(tmp, path);
    return key;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw keyError(path, cause);
  } finally {
    rmSync(tmp, { force: true });
  }
  let pem: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0)
      throw new WardenError(
        'PROVENANCE_INSECURE_KEY',
        `The tree-head key ${path} is readable by group or others; chmod 600 it`,
        { details: { path } },
      );
    pem = readFileSync(path, 'utf8');
  } catch (cause) {
    if (cause instanceof WardenError) throw cause;
    throw keyError(path, cause);
  }
  try {
    return TreeHeadKey.fromPrivatePem(pem);
  } catch (cause) {
    throw new WardenError('PROVENANCE_INSECURE_KEY', `The tree-head key ${path} is not an Ed25519 PEM key`, {
      cause,
      details: { path },
    });
  }
}

/** Takes group and other bits off the key directory (an older version, or a umask, may have left them). */
function ownerOnlyDir(dir: string): void {
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    // Not ours to change: the key file's own mode is still checked below.
  }
}

function keyError(path: string, cause: unknown): WardenError {
  return new WardenError(
    'STORAGE_ERROR',
    `Cannot create or read the tree-head key ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
    { cause, details: { path } },
  );
}
