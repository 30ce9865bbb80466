// Small numeric kernels for the vector index: normalisation, dot products on a flat slab, top-k.

/** Writes the L2-normalised `source` into `target` at `offset`; a zero vector stays zero. */
export function normaliseInto(source: Float32Array, target: Float32Array, offset: number): void {
  let sum = 0;
  for (let i = 0; i < source.length; i++) sum += source[i]! * source[i]!;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < source.length; i++) target[offset + i] = source[i]! * scale;
}

/** An L2-normalised copy of `vector`. */
export function normalised(vector: Float32Array): Float32Array {
  const copy = new Float32Array(vector.length);
  normaliseInto(vector, copy, 0);
  return copy;
}

/**
 * Dot product of `query` with the row of `slab` that starts at `offset`. Unrolled by four: this is
 * the rescoring hot loop, and V8 keeps four independent accumulators in registers.
 */
export function dotAt(query: Float32Array, slab: Float32Array, offset: number): number {
  const n = query.length;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    a += query[i]! * slab[offset + i]!;
    b += query[i + 1]! * slab[offset + i + 1]!;
    c += query[i + 2]! * slab[offset + i + 2]!;
    d += query[i + 3]! * slab[offset + i + 3]!;
  }
  for (; i < n; i++) a += query[i]! * slab[offset + i]!;
  return a + b + c + d;
}

/**
 * Keeps the `k` highest scores seen, best first. Insertion into a sorted array: k is small (tens), so
 * this beats a heap and allocates nothing per candidate.
 */
export class TopK {
  readonly ids: number[] = [];
  readonly scores: number[] = [];

  constructor(private readonly k: number) {}

  /** The score a candidate must beat to enter (−Infinity until k are held). */
  get floor(): number {
    return this.ids.length < this.k ? -Infinity : this.scores[this.scores.length - 1]!;
  }

  push(id: number, score: number): void {
    // NaN never enters; until k are held the floor is −Infinity.
    if (!(score > this.floor)) return;
    let at = this.scores.length;
    while (at > 0 && this.scores[at - 1]! < score) at--;
    this.ids.splice(at, 0, id);
    this.scores.splice(at, 0, score);
    if (this.ids.length > this.k) {
      this.ids.pop();
      this.scores.pop();
    }
  }
}
