import { fromHex, isHashHex, nodeHash, sha256, toHex } from './hash.js';

// RFC 6962 / RFC 9162 Merkle trees, as src/provenance/merkle.ts and frontier.ts compute them, with hashing
// through WebCrypto. Every digest is a promise, so independent ones are started together: a tree is built
// one level at a time, each level's node hashes at once.

/** MTH({}): SHA-256 of no bytes. */
export const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Node hashes already computed, by their children (hex): the tree built over the records is kept here,
 * so checking the inclusion proofs of thousands of statements against it hashes only what differs from
 * it. A remembered SHA-256 is the same function, only not computed twice.
 */
export type NodeMemo = Map<string, string>;

async function nodeHex(left: string, right: string, memo?: NodeMemo): Promise<string> {
  const known = memo?.get(left + right);
  if (known !== undefined) return known;
  return toHex(await nodeHash(fromHex(left), fromHex(right)));
}

/**
 * MTH of the leaves (leaf hashes). Pairing each level left to right and carrying an odd last node up
 * unchanged gives RFC 6962's root: its split at the largest power of two below n puts the same nodes
 * together.
 */
export async function merkleRoot(leaves: readonly Uint8Array[], memo?: NodeMemo): Promise<string> {
  if (leaves.length === 0) return toHex(await sha256(new Uint8Array(0)));
  let level: readonly Uint8Array[] = leaves;
  let hex = memo ? level.map(toHex) : [];
  while (level.length > 1) {
    const pairs: Promise<Uint8Array>[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) pairs.push(nodeHash(level[i]!, level[i + 1]!));
    const next = await Promise.all(pairs);
    if (memo) {
      const nextHex = next.map(toHex);
      for (let i = 0; i < nextHex.length; i++) memo.set(hex[2 * i]! + hex[2 * i + 1]!, nextHex[i]!);
      if (level.length % 2 === 1) nextHex.push(hex[hex.length - 1]!);
      hex = nextHex;
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return toHex(level[0]!);
}

/** The roots of the complete subtrees of a tree, largest first: the start of an incremental bundle. */
export class Frontier {
  private constructor(
    private readonly nodes: Uint8Array[],
    private count: number,
  ) {}

  static empty(): Frontier {
    return new Frontier([], 0);
  }

  /** The frontier of a tree of `size` leaves, or undefined when the hashes do not fit that size. */
  static parse(size: number, hashes: readonly string[]): Frontier | undefined {
    let bits = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
    if (hashes.length !== bits || !hashes.every(isHashHex)) return undefined;
    return new Frontier(hashes.map(fromHex), size);
  }

  get size(): number {
    return this.count;
  }

  /** Appends a leaf hash; each trailing 1 bit of the old size is a complete subtree to merge with. */
  async append(leaf: Uint8Array): Promise<void> {
    let hash = leaf;
    for (let s = this.count; s % 2 === 1; s = (s - 1) / 2) hash = await nodeHash(this.nodes.pop()!, hash);
    this.nodes.push(hash);
    this.count++;
  }

  async root(): Promise<string> {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = await nodeHash(this.nodes[i]!, r);
    return toHex(r);
  }
}

/** The outcome of checking a proof: what is wrong, in words, when it fails. */
export type ProofCheck = { ok: true } | { ok: false; reason: string };

const OK: ProofCheck = { ok: true };
const fail = (reason: string): ProofCheck => ({ ok: false, reason });

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function badHashes(values: readonly unknown[]): string | undefined {
  const i = values.findIndex((v) => !isHashHex(v));
  return i < 0 ? undefined : `proof hash ${i} is not a 64-character lowercase hex SHA-256 digest`;
}

/** Root implied by an inclusion proof (RFC 9162 §2.1.3.2), or why the proof cannot be evaluated. */
export async function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: string,
  proof: readonly string[],
  memo?: NodeMemo,
): Promise<{ root: string } | { reason: string }> {
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
      r = await nodeHex(p, r, memo);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHex(r, p, memo);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0)
    return { reason: `proof has ${proof.length} hashes, fewer than a tree of size ${size} needs` };
  return { root: r };
}

/** `leaf` (a leaf hash, hex) is at `index` of the tree of `size` leaves whose root is `root`. */
export async function verifyInclusion(
  index: number,
  size: number,
  leaf: string,
  proof: readonly string[],
  root: string,
  memo?: NodeMemo,
): Promise<ProofCheck> {
  const out = await rootFromInclusionProof(index, size, leaf, proof, memo);
  if ('reason' in out) return fail(out.reason);
  return out.root === root ? OK : fail(`inclusion proof for leaf ${index} does not lead to the root`);
}

/** The tree of `size2` leaves (root2) is an append-only extension of the tree of `size1` (RFC 9162 §2.1.4.2). */
export async function verifyConsistency(
  size1: number,
  size2: number,
  root1: string,
  root2: string,
  proof: readonly string[],
): Promise<ProofCheck> {
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
      [fr, sr] = await Promise.all([nodeHex(c, fr), nodeHex(c, sr)]);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = await nodeHex(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail(`consistency proof has fewer hashes than sizes ${size1} -> ${size2} need`);
  if (fr !== root1) return fail(`consistency proof does not lead to the old root (size ${size1})`);
  if (sr !== root2) return fail(`consistency proof does not lead to the new root (size ${size2})`);
  return OK;
}
