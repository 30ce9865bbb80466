import { createHash } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { sha256Hex } from './chain.js';

// RFC 6962 / RFC 9162 Merkle tree hashing. Hashes are lowercase hex strings: on Node 20 hashing to hex is
// about twice as fast as hashing to a Buffer, and the tree lives on the commit path.

/** MTH({}): the root of the empty tree, SHA-256 of no bytes. */
export const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const HASH_RE = /^[0-9a-f]{64}$/;

/** True for a 64-character lowercase hex SHA-256 digest. */
export function isHashHex(value: unknown): value is string {
  return typeof value === 'string' && HASH_RE.test(value);
}

/**
 * Leaf hash SHA-256(0x00 || data). A string is hashed as its UTF-8 bytes; U+0000 encodes as the single
 * byte 0x00, so the prefix costs no Buffer concatenation.
 */
export function leafHash(data: string | Uint8Array): string {
  if (typeof data === 'string') return sha256Hex(`\u0000${data}`);
  const buf = Buffer.allocUnsafe(data.length + 1);
  buf[0] = 0;
  buf.set(data, 1);
  return sha256Hex(buf);
}

const scratch = Buffer.alloc(65, 1);

/** Interior node hash SHA-256(0x01 || left || right); both inputs must be valid hex digests. */
export function nodeHash(left: string, right: string): string {
  scratch.write(left, 1, 32, 'hex');
  scratch.write(right, 33, 32, 'hex');
  return sha256Hex(scratch);
}

/** The largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  // The bit test is exact below 2^30 and runs on every range lookup; beyond, the float test.
  return n > 0 && (n <= 0x40000000 ? (n & (n - 1)) === 0 : 2 ** Math.round(Math.log2(n)) === n);
}

// The tree keeps its hashes in binary: a 32-byte node per slot of a growing Buffer costs a tenth of the
// memory of a hex string per node, which keeps a streamed export of a large session small. Hashes come out
// as latin1 strings and are written into the level: a Buffer per hash would be an ArrayBuffer per hash,
// and a scan of 100k records would spend its time in the garbage collector.
const oneShotLatin1 = (
  nodeCrypto as unknown as { hash?: (alg: string, data: string | Uint8Array, enc: 'latin1') => string }
).hash;
const sha256Latin1 = (data: string | Uint8Array): string =>
  oneShotLatin1
    ? oneShotLatin1('sha256', data, 'latin1')
    : createHash('sha256').update(data).digest().toString('latin1');
const nodeScratch = Buffer.alloc(65, 1);
function nodeLatin1(left: Uint8Array, right: Uint8Array): string {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 33);
  return sha256Latin1(nodeScratch);
}

/** One level of the tree: `count` 32-byte hashes, stored back to back. */
class HashLevel {
  private buf = Buffer.allocUnsafe(32 * 64);
  count = 0;

  /** Appends a hash given as a latin1 (binary) or hex string. */
  push(hash: string, encoding: 'latin1' | 'hex'): void {
    if ((this.count + 1) * 32 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.count * 32);
      this.buf = bigger;
    }
    this.buf.write(hash, this.count * 32, 32, encoding);
    this.count++;
  }

  /** A view of hash i. Stays valid: growing copies into a new buffer and never changes a written hash. */
  at(i: number): Buffer {
    return this.buf.subarray(i * 32, i * 32 + 32);
  }
}

/**
 * A Merkle tree over a list of leaf hashes, kept as levels of complete subtrees so that the hash of any
 * aligned power-of-two range is one lookup: roots, inclusion paths and consistency proofs for any tree size
 * up to the number of leaves cost O(log² n) node hashes at most. Leaves can be appended one at a time (one
 * node hash per leaf, amortised), so a tree is built while its records are read, 64 bytes per leaf.
 */
export class MerkleTree {
  private readonly levels: HashLevel[] = [new HashLevel()];

  constructor(leafHashes: readonly string[] = []) {
    for (const h of leafHashes) this.appendLeafHash(h);
  }

  /** Builds the tree from the leaves' data (each hashed with leafHash). */
  static fromLeaves(leaves: Iterable<string | Uint8Array>): MerkleTree {
    const tree = new MerkleTree();
    for (const leaf of leaves) tree.appendLeaf(leaf);
    return tree;
  }

  get size(): number {
    return this.levels[0]!.count;
  }

  /** Appends the leaf with these bytes (hashed with leafHash). */
  appendLeaf(data: string | Uint8Array): void {
    if (typeof data === 'string') return this.push(sha256Latin1(`\u0000${data}`), 'latin1');
    const buf = Buffer.allocUnsafe(data.length + 1);
    buf[0] = 0;
    buf.set(data, 1);
    this.push(sha256Latin1(buf), 'latin1');
  }

  /** Appends a leaf by its leaf hash (hex). */
  appendLeafHash(hash: string): void {
    if (!isHashHex(hash)) throw new TypeError('a leaf hash is a 64-character lowercase hex SHA-256 digest');
    this.push(hash, 'hex');
  }

  private push(leaf: string, encoding: 'latin1' | 'hex'): void {
    this.levels[0]!.push(leaf, encoding);
    // Each level whose count became even completes a node of the level above.
    for (let k = 0; this.levels[k]!.count % 2 === 0; k++) {
      const level = this.levels[k]!;
      const node = nodeLatin1(level.at(level.count - 2), level.at(level.count - 1));
      (this.levels[k + 1] ??= new HashLevel()).push(node, 'latin1');
    }
  }

  leaf(index: number): string {
    this.checkSize(index + 1);
    return this.levels[0]!.at(index).toString('hex');
  }

  /** MTH(D[0:size]). */
  root(size = this.size): string {
    this.checkSize(size);
    return this.range(0, size).toString('hex');
  }

  /** MTH(D[start:end]): the root of the leaves start..end-1. */
  rangeRoot(start: number, end: number): string {
    this.checkSize(end);
    if (!Number.isInteger(start) || start < 0 || start > end)
      throw new RangeError(`leaf range ${start}..${end} is not inside the tree`);
    return this.range(start, end).toString('hex');
  }

  /**
   * The roots of the complete subtrees that the tree of `size` leaves decomposes into, largest first (one
   * per set bit of size): with them and the leaves after `size`, anyone can compute the roots of the larger
   * trees without the first `size` leaves.
   */
  frontier(size = this.size): string[] {
    this.checkSize(size);
    const out: string[] = [];
    let start = 0;
    for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) {
      if (Math.floor(size / bit) % 2 === 0) continue;
      out.push(this.range(start, start + bit).toString('hex'));
      start += bit;
    }
    return out;
  }

  /** PATH(index, D[0:size]) of RFC 6962 §2.1.1: the audit path of leaf `index` in the tree of `size` leaves. */
  inclusionProof(index: number, size = this.size): string[] {
    this.checkSize(size);
    if (!Number.isInteger(index) || index < 0 || index >= size)
      throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
    const out: string[] = [];
    this.path(index, 0, size, out);
    return out;
  }

  /** PROOF(from, D[0:to]) of RFC 6962 §2.1.2: proves the tree of `to` leaves extends the tree of `from`. */
  consistencyProof(from: number, to = this.size): string[] {
    this.checkSize(to);
    if (!Number.isInteger(from) || from < 0 || from > to)
      throw new RangeError(`cannot prove consistency from size ${from} to size ${to}`);
    const out: string[] = [];
    if (from > 0 && from < to) this.subproof(from, 0, to, true, out);
    return out;
  }

  private checkSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size)
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
  }

  /** MTH(D[start:end]); complete aligned subtrees come straight from the levels. */
  private range(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 0) return Buffer.from(EMPTY_ROOT, 'hex');
    if (isPowerOfTwo(n) && start % n === 0) return this.levels[Math.log2(n)]!.at(start / n);
    const k = splitPoint(n);
    return Buffer.from(nodeLatin1(this.range(start, start + k), this.range(start + k, end)), 'latin1');
  }

  private path(m: number, start: number, end: number, out: string[]): void {
    const n = end - start;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.path(m, start, start + k, out);
      out.push(this.range(start + k, end).toString('hex'));
    } else {
      this.path(m - k, start + k, end, out);
      out.push(this.range(start, start + k).toString('hex'));
    }
  }

  private subproof(m: number, start: number, end: number, complete: boolean, out: string[]): void {
    const n = end - start;
    if (m === n) {
      if (!complete) out.push(this.range(start, end).toString('hex'));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.subproof(m, start, start + k, complete, out);
      out.push(this.range(start + k, end).toString('hex'));
    } else {
      this.subproof(m - k, start + k, end, false, out);
      out.push(this.range(start, start + k).toString('hex'));
    }
  }
}

/** The outcome of checking a proof: what is wrong, in words, when it fails. */
export type ProofCheck = { ok: true } | { ok: false; reason: string };

const OK: ProofCheck = { ok: true };
const fail = (reason: string): ProofCheck => ({ ok: false, reason });

function badHashes(values: readonly unknown[]): string | undefined {
  const i = values.findIndex((v) => !isHashHex(v));
  return i < 0 ? undefined : `proof hash ${i} is not a 64-character lowercase hex SHA-256 digest`;
}

/** Root implied by an inclusion proof (RFC 9162 §2.1.3.2), or the reason the proof cannot be evaluated. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: string,
  proof: readonly string[],
): { root: string } | { reason: string } {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return { reason: `leaf index ${index} is outside a tree of size ${size}` };
  const bad = badHashes([leaf, ...proof]);
  if (bad) return { reason: bad };
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0)
      return { reason: `proof has ${proof.length} hashes, more than a tree of size ${size} needs` };
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0)
    return { reason: `proof has ${proof.length} hashes, fewer than a tree of size ${size} needs` };
  return { root: r };
}

/** Verifies that `leaf` (a leaf hash) is at `index` of the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: string,
  proof: readonly string[],
  root: string,
): ProofCheck {
  const out = rootFromInclusionProof(index, size, leaf, proof);
  if ('reason' in out) return fail(out.reason);
  return out.root === root ? OK : fail(`inclusion proof for leaf ${index} does not lead to the root`);
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of `size2` leaves with root `root2` is an
 * append-only extension of the tree of `size1` leaves with root `root1`.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: string,
  root2: string,
  proof: readonly string[],
): ProofCheck {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2)
    return fail(`cannot prove consistency from size ${size1} to size ${size2}`);
  const bad = badHashes([root1, root2, ...proof]);
  if (bad) return fail(bad);
  if (size1 === 0) return proof.length === 0 ? OK : fail('a proof from the empty tree must be empty');
  if (size1 === size2) {
    if (proof.length !== 0) return fail('a proof between equal sizes must be empty');
    return root1 === root2 ? OK : fail(`two different roots for the same size ${size1}`);
  }
  if (proof.length === 0) return fail('the consistency proof is empty');
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return fail(`consistency proof has more hashes than sizes ${size1} -> ${size2} need`);
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail(`consistency proof has fewer hashes than sizes ${size1} -> ${size2} need`);
  if (fr !== root1) return fail(`consistency proof does not lead to the old root (size ${size1})`);
  if (sr !== root2) return fail(`consistency proof does not lead to the new root (size ${size2})`);
  return OK;
}
