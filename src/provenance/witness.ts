import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../core/index.js';
import { sha256Hex } from './chain.js';
import { isHashHex } from './merkle.js';
import type { SignedTreeHead } from './tree-head.js';

/**
 * A copy, outside the database, of the latest signed tree head of every session: one small file per session
 * in a directory beside the node key (`keys/tree-heads/`), rewritten after each signature. Someone who can
 * write the database but not the key directory can delete a session's head, wipe its chain, or put back an
 * older copy of the database (an older, validly signed head with the records it covered), and the database
 * alone would look consistent; the witness still holds the newer head, and verification compares them.
 *
 * Several processes may sign for one session: a file is replaced by rename (never half-written) and only
 * by a head at least as large. A lost race leaves an older head in the file, which weakens the check a
 * little but never makes it fail on honest data: the database's head never shrinks.
 */
export class HeadWitness {
  private made = false;

  constructor(readonly dir: string) {}

  /** Records heads that are now stored in the database. Best effort: a witness that cannot be written lags. */
  record(heads: readonly SignedTreeHead[]): void {
    for (const head of heads) {
      try {
        const path = this.pathOf(head.sessionId);
        const held = this.read(path);
        if (held && held.treeSize > head.treeSize) continue;
        if (!this.made) {
          mkdirSync(this.dir, { recursive: true, mode: 0o700 });
          this.made = true;
        }
        const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        writeFileSync(tmp, `${canonicalJson(head)}\n`, { mode: 0o600 });
        renameSync(tmp, path);
      } catch {
        // A full disk or a read-only key directory must not stop signing; verify reports what it holds.
      }
    }
  }

  /** The latest head the witness holds for a session. */
  latest(sessionId: string): SignedTreeHead | undefined {
    return this.read(this.pathOf(sessionId));
  }

  /** Every session the witness knows of, with its latest head. */
  all(): SignedTreeHead[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: SignedTreeHead[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const head = this.read(join(this.dir, name));
      if (head) out.push(head);
    }
    return out;
  }

  private pathOf(sessionId: string): string {
    return join(this.dir, `${sha256Hex(sessionId).slice(0, 32)}.json`);
  }

  private read(path: string): SignedTreeHead | undefined {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return undefined;
    }
    const h = value as Partial<SignedTreeHead> | null;
    if (
      typeof h?.sessionId !== 'string' ||
      !Number.isSafeInteger(h.treeSize) ||
      !isHashHex(h.rootHash) ||
      !Number.isSafeInteger(h.timestamp) ||
      typeof h.keyId !== 'string' ||
      typeof h.signature !== 'string'
    )
      return undefined;
    return h as SignedTreeHead;
  }
}
