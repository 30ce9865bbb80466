import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MerkleFrontier } from './frontier.js';
import {
  MerkleTree,
  leafHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

interface Vectors {
  leaves_hex: string[];
  roots: Record<string, string>;
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { from: number; to: number; proof: string[] }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../../test/fixtures/rfc6962/rfc6962.json', import.meta.url), 'utf8'),
) as Vectors;
const leaves = vectors.leaves_hex.map((h) => Buffer.from(h, 'hex'));
const tree = MerkleTree.fromLeaves(leaves);

describe('RFC 6962 vectors', () => {
  it('computes the root of every tree size 0-8, with the tree and with the frontier', () => {
    for (let n = 0; n <= 8; n++) {
      expect(tree.root(n), `size ${n}`).toBe(vectors.roots[String(n)]);
      const frontier = MerkleFrontier.empty();
      for (const leaf of leaves.slice(0, n)) frontier.append(leaf);
      expect(frontier.root(), `frontier size ${n}`).toBe(vectors.roots[String(n)]);
      expect(MerkleTree.fromLeaves(leaves.slice(0, n)).root()).toBe(vectors.roots[String(n)]);
    }
  });

  it('produces and verifies every audit path of the vectors', () => {
    for (const v of vectors.inclusion) {
      expect(tree.inclusionProof(v.index, v.size), `${v.index}@${v.size}`).toEqual(v.proof);
      const leaf = leafHash(leaves[v.index]!);
      expect(verifyInclusion(v.index, v.size, leaf, v.proof, vectors.roots[String(v.size)]!)).toEqual({
        ok: true,
      });
    }
  });

  it('produces and verifies every consistency proof of the vectors', () => {
    for (const v of vectors.consistency) {
      expect(tree.consistencyProof(v.from, v.to), `${v.from}->${v.to}`).toEqual(v.proof);
      const r = verifyConsistency(
        v.from,
        v.to,
        vectors.roots[String(v.from)]!,
        vectors.roots[String(v.to)]!,
        v.proof,
      );
      expect(r).toEqual({ ok: true });
    }
  });

  it('round-trips every inclusion and consistency proof for all sizes 0-8', () => {
    for (let n = 1; n <= 8; n++) {
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i, n);
        expect(verifyInclusion(i, n, tree.leaf(i), proof, tree.root(n)).ok).toBe(true);
        expect(verifyInclusion(i, n, tree.leaf((i + 1) % 8), proof, tree.root(n)).ok).toBe(i === (i + 1) % 8);
      }
    }
    for (let n = 0; n <= 8; n++)
      for (let m = 0; m <= n; m++)
        expect(verifyConsistency(m, n, tree.root(m), tree.root(n), tree.consistencyProof(m, n)).ok).toBe(
          true,
        );
  });

  it('rejects out-of-range indexes, short and long proofs, and wrong roots with a reason', () => {
    const proof = tree.inclusionProof(3, 8);
    expect(rootFromInclusionProof(8, 8, tree.leaf(3), proof)).toEqual({
      reason: 'leaf index 8 is outside a tree of size 8',
    });
    expect(verifyInclusion(3, 8, tree.leaf(3), proof.slice(0, 2), tree.root(8))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/fewer/),
    });
    expect(verifyInclusion(3, 8, tree.leaf(3), [...proof, proof[0]!], tree.root(8))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/more/),
    });
    expect(verifyInclusion(3, 8, tree.leaf(3), ['zz', ...proof.slice(1)], tree.root(8)).ok).toBe(false);
    expect(verifyConsistency(3, 7, tree.root(3), tree.root(8), tree.consistencyProof(3, 7)).ok).toBe(false);
    expect(verifyConsistency(3, 7, tree.root(3), tree.root(7), []).ok).toBe(false);
    expect(verifyConsistency(4, 4, tree.root(4), tree.root(5), []).ok).toBe(false);
  });
});

describe('Merkle tree properties', () => {
  const sizes = fc.integer({ min: 1, max: 300 });

  it('the incremental frontier always has the root of the whole tree, and survives serialisation', () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 0, max: 300 }), (n, cut) => {
        const data = Array.from({ length: n }, (_, i) => `record ${i}`);
        const full = MerkleTree.fromLeaves(data);
        const frontier = MerkleFrontier.empty();
        const at = Math.min(cut, n);
        data.slice(0, at).forEach((d) => frontier.append(d));
        const restored = MerkleFrontier.parse(at, frontier.serialize())!;
        data.slice(at).forEach((d) => restored.append(d));
        expect(restored.root()).toBe(full.root());
      }),
      { numRuns: 200 },
    );
  });

  it('a tree built leaf by leaf has, at every size, the frontier and subtree roots of the trees built whole', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), (n, a, b) => {
        const data = Array.from({ length: n }, (_, i) => `record ${i}`);
        const grown = new MerkleTree();
        const frontier = MerkleFrontier.empty();
        for (const d of data) {
          grown.appendLeaf(d);
          frontier.append(d);
        }
        const size = a % (n + 1);
        const prefix = MerkleFrontier.empty();
        data.slice(0, size).forEach((d) => prefix.append(d));
        expect(grown.frontier(size).join('')).toBe(prefix.serialize());
        expect(grown.root()).toBe(frontier.root());
        const start = b % (size + 1);
        expect(grown.rangeRoot(start, size)).toBe(MerkleTree.fromLeaves(data.slice(start, size)).root());
      }),
      { numRuns: 200 },
    );
  });

  it('inclusion and consistency proofs verify, and fail for any other leaf or any changed proof hash', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), fc.nat(), (n, a, b, flip) => {
        const t = MerkleTree.fromLeaves(Array.from({ length: n }, (_, i) => `r${i}`));
        const i = a % n;
        const m = b % (n + 1);
        const proof = t.inclusionProof(i, n);
        expect(verifyInclusion(i, n, t.leaf(i), proof, t.root()).ok).toBe(true);
        if (proof.length > 0) {
          const k = flip % proof.length;
          const bad = proof.map((h, j) => (j === k ? `${h[0] === '0' ? '1' : '0'}${h.slice(1)}` : h));
          expect(verifyInclusion(i, n, t.leaf(i), bad, t.root()).ok).toBe(false);
        }
        const cp = t.consistencyProof(m, n);
        expect(verifyConsistency(m, n, t.root(m), t.root(n), cp).ok).toBe(true);
        if (m > 0 && m < n) expect(verifyConsistency(m, n, t.root(m), t.leaf(0), cp).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
