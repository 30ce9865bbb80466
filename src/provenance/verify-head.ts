import type { KeyObject } from 'node:crypto';
import { MerkleFrontier } from './frontier.js';
import type { MerkleTree } from './merkle.js';
import { verifyTreeHeadSignature, type SignedTreeHead } from './tree-head.js';

/**
 * Checks a session's stored records (as the Merkle tree over them) against a signed tree head: the
 * signature (by this node's key), the size (records may not have been removed), and the root over the
 * first treeSize records. The chain alone cannot catch a record that was changed and every later hash
 * recomputed; the signed root can. With the head's stored frontier, a root mismatch is narrowed down to
 * one complete subtree of records. Returns the first problem as { seq, reason }, or undefined.
 */
export function checkTreeHeadAgainstChain(
  tree: MerkleTree,
  head: SignedTreeHead,
  key: { keyId: string; publicKey: KeyObject },
  frontierText?: string,
  what = 'signed tree head',
): { seq: number; reason: string } | undefined {
  if (head.keyId !== key.keyId)
    return { seq: 1, reason: `${what} is signed by key ${head.keyId}, not this node's key ${key.keyId}` };
  if (!verifyTreeHeadSignature(head, key.publicKey))
    return { seq: 1, reason: `${what} (size ${head.treeSize}) signature does not verify` };
  if (tree.size < head.treeSize)
    return {
      seq: tree.size + 1,
      reason: `chain has ${tree.size} records but its ${what} covers ${head.treeSize}: records were removed`,
    };
  if (tree.root(head.treeSize) === head.rootHash) return undefined;
  const range = frontierText === undefined ? undefined : firstBadSubtree(tree, head.treeSize, frontierText);
  return {
    seq: range ? range[0] : 1,
    reason: range
      ? `records ${range[0]}..${range[1]} do not match the ${what} (size ${head.treeSize}): a record was changed and the chain rehashed`
      : `records do not match the root of the ${what} (size ${head.treeSize})`,
  };
}

/** The seq range of the first complete subtree whose recomputed root differs from the stored frontier's. */
function firstBadSubtree(tree: MerkleTree, size: number, text: string): [number, number] | undefined {
  if (!MerkleFrontier.parse(size, text)) return undefined;
  const stored = text.match(/.{64}/g) ?? [];
  let start = 0;
  let i = 0;
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) {
    if (Math.floor(size / bit) % 2 === 0) continue;
    // The subtree [start, start+bit) is complete: its root is the frontier's i-th node.
    if (tree.rangeRoot(start, start + bit) !== stored[i]) return [start + 1, start + bit];
    start += bit;
    i++;
  }
  return undefined;
}
