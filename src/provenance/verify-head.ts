import type { KeyObject } from 'node:crypto';
import type { StoredLink } from './chain.js';
import { MerkleFrontier } from './frontier.js';
import { MerkleTree } from './merkle.js';
import { verifyTreeHeadSignature, type SignedTreeHead } from './tree-head.js';

/**
 * Checks a session's stored records against its latest signed tree head: the signature (by this node's
 * key), the size (records may not have been removed), and the root over the first treeSize records. The
 * chain alone cannot catch a record that was changed and every later hash recomputed; the signed root can.
 * With the head's stored frontier, a root mismatch is narrowed down to one complete subtree of records.
 * Returns the first problem as { seq, reason }, or undefined when the head matches.
 */
export function checkTreeHeadAgainstChain(
  links: readonly StoredLink[],
  head: SignedTreeHead,
  key: { keyId: string; publicKey: KeyObject },
  frontierText?: string,
): { seq: number; reason: string } | undefined {
  if (head.keyId !== key.keyId)
    return {
      seq: 1,
      reason: `signed tree head is signed by key ${head.keyId}, not this node's key ${key.keyId}`,
    };
  if (!verifyTreeHeadSignature(head, key.publicKey))
    return { seq: 1, reason: `signed tree head (size ${head.treeSize}) signature does not verify` };
  if (links.length < head.treeSize)
    return {
      seq: links.length + 1,
      reason: `chain has ${links.length} records but its signed tree head covers ${head.treeSize}: records were removed`,
    };
  const tree = MerkleTree.fromLeaves(links.slice(0, head.treeSize).map((l) => l.recordJson));
  if (tree.root() === head.rootHash) return undefined;
  const range = frontierText === undefined ? undefined : firstBadSubtree(tree, head.treeSize, frontierText);
  return {
    seq: range ? range[0] : 1,
    reason: range
      ? `records ${range[0]}..${range[1]} do not match the signed tree head (size ${head.treeSize}): a record was changed and the chain rehashed`
      : `records do not match the root of the signed tree head (size ${head.treeSize})`,
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
    // The subtree [start, start+bit) is complete: its root is MTH over it, the frontier's i-th node.
    const fresh = subtreeRoot(tree, start, bit);
    if (fresh !== stored[i]) return [start + 1, start + bit];
    start += bit;
    i++;
  }
  return undefined;
}

function subtreeRoot(tree: MerkleTree, start: number, width: number): string {
  const leaves: string[] = [];
  for (let k = start; k < start + width; k++) leaves.push(tree.leaf(k));
  return new MerkleTree(leaves).root();
}
