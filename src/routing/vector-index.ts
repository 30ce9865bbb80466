// Approximate nearest-neighbour index over embeddings: an HNSW graph from USearch (native, with int8
// and binary quantization built in) plus the full float32 vectors kept beside it, so quantized
// candidates are rescored exactly and the graph can be rebuilt or persisted without loss.
import { join } from 'node:path';
import { Index as UsearchIndex, MetricKind, ScalarKind } from 'usearch';
import { WardenError } from '../core/index.js';
import { TopK, dotAt, normaliseInto, normalised } from './vector-math.js';
import {
  abandonSnapshot,
  commitSnapshot,
  corrupt,
  metaText,
  prepareSnapshot,
  readSnapshot,
} from './vector-persist.js';

export type Quantization = 'f32' | 'i8' | 'b1';

export interface VectorIndexOptions {
  dimensions: number;
  /**
   * How the graph stores vectors: `f32` (4 bytes a dimension), `i8` (1 byte, 4× smaller) or `b1`
   * (1 bit, 32× smaller, Hamming distance). Results are always rescored on the full vectors.
   * @default 'f32'
   */
  quantization?: Quantization;
  /** HNSW neighbours per node (M). @default 16 */
  connectivity?: number;
  /** Beam width while inserting (efConstruction). @default 128 */
  expansionAdd?: number;
  /** Beam width while searching (ef); raised to the number of candidates asked for. @default 64 */
  expansionSearch?: number;
  /**
   * i8/b1: candidates fetched per result before rescoring on the full float32 vectors.
   * @default 4 (b1), 2 (i8)
   */
  oversample?: number;
  /** Threads for batch inserts (`addMany`, `rebuild`); 0 uses every core. @default 0 */
  threads?: number;
}

export interface VectorMatch {
  key: number;
  /** Cosine similarity (higher is closer), from the full float vectors. */
  score: number;
}

interface Compiled {
  dimensions: number;
  quantization: Quantization;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  oversample: number;
  threads: number;
}

const METRIC: Record<Quantization, MetricKind> = {
  // Vectors are normalised before they reach the graph, so inner product is cosine without the norms.
  f32: MetricKind.IP,
  i8: MetricKind.Cos,
  b1: MetricKind.Hamming,
};
const SCALAR: Record<Quantization, ScalarKind> = {
  f32: ScalarKind.F32,
  i8: ScalarKind.I8,
  b1: ScalarKind.B1,
};

function invalid(message: string, details?: Record<string, unknown>): WardenError {
  return new WardenError('INVALID_INPUT', message, { details });
}

function compile(options: VectorIndexOptions): Compiled {
  const quantization = options.quantization ?? 'f32';
  if (!(quantization in METRIC)) throw invalid(`Unknown quantization ${String(quantization)}.`);
  const compiled: Compiled = {
    dimensions: options.dimensions,
    quantization,
    connectivity: options.connectivity ?? 16,
    expansionAdd: options.expansionAdd ?? 128,
    expansionSearch: options.expansionSearch ?? 64,
    oversample: options.oversample ?? (quantization === 'b1' ? 4 : quantization === 'i8' ? 2 : 1),
    threads: options.threads ?? 0,
  };
  for (const [name, value, min] of [
    ['dimensions', compiled.dimensions, 1],
    ['connectivity', compiled.connectivity, 2],
    ['expansionAdd', compiled.expansionAdd, 1],
    ['expansionSearch', compiled.expansionSearch, 1],
    ['oversample', compiled.oversample, 1],
    ['threads', compiled.threads, 0],
  ] as const)
    if (!Number.isInteger(value) || value < min)
      throw invalid(`Vector index option ${name} must be an integer ≥ ${min}.`, { [name]: value });
  return compiled;
}

function checkKey(key: number): void {
  if (!Number.isSafeInteger(key) || key < 0)
    throw invalid('Vector keys are non-negative safe integers.', { key });
}

/**
 * An HNSW vector index with optional int8 or binary quantization and exact rescoring.
 *
 * Keys are the caller's (non-negative safe integers); inside, each vector lives in a slot of a flat
 * float32 table and the graph is keyed by slot, so rescoring reads the table without a lookup.
 *
 * @example
 * const index = new VectorIndex({ dimensions: 384, quantization: 'b1' });
 * index.add(7, embedding);
 * const [best] = index.search(query, 10); // { key: 7, score: 0.83 }
 * await index.save(join(dataDir, 'vectors', 'memory'));
 */
export class VectorIndex {
  readonly dimensions: number;
  readonly quantization: Quantization;
  readonly #options: Compiled;
  #graph: UsearchIndex;
  /** Normalised vectors, `dimensions` floats per slot. */
  #vectors: Float32Array;
  /** Key of each slot, −1 when the slot is free. */
  #slotKeys: Float64Array;
  #slotOf = new Map<number, number>();
  #free: number[] = [];
  /** Slots ever handed out (the tables' used length). */
  #slots = 0;
  /** Serialises saves of this instance. */
  #saving: Promise<void> = Promise.resolve();

  constructor(options: VectorIndexOptions) {
    this.#options = compile(options);
    this.dimensions = this.#options.dimensions;
    this.quantization = this.#options.quantization;
    this.#graph = this.#newGraph();
    this.#vectors = new Float32Array(0);
    this.#slotKeys = new Float64Array(0);
  }

  /** Live vectors. */
  get size(): number {
    return this.#slotOf.size;
  }

  /** Adds a vector, replacing the vector of an existing key. */
  add(key: number, vector: Float32Array): void {
    this.addMany([key], [vector]);
  }

  /** Adds many vectors in one native call (multi-threaded); a key given twice keeps its last vector. */
  addMany(keys: readonly number[], vectors: readonly Float32Array[]): void {
    if (keys.length !== vectors.length)
      throw invalid('addMany needs one vector per key.', { keys: keys.length, vectors: vectors.length });
    // Validate everything before changing anything, so a bad batch leaves the index as it was.
    const last = new Map<number, number>();
    keys.forEach((key, i) => {
      checkKey(key);
      this.#checkVector(vectors[i]!);
      last.set(key, i);
    });
    if (last.size === 0) return;
    const replaced: number[] = [];
    for (const key of last.keys()) {
      const slot = this.#slotOf.get(key);
      if (slot !== undefined) replaced.push(slot);
    }
    if (replaced.length) this.#graph.remove(BigUint64Array.from(replaced, BigInt));
    this.#reserve(last.size - replaced.length);
    const d = this.dimensions;
    const batch = new Float32Array(last.size * d);
    const slots = new BigUint64Array(last.size);
    let row = 0;
    for (const [key, i] of last) {
      let slot = this.#slotOf.get(key);
      if (slot === undefined) {
        slot = this.#free.pop() ?? this.#slots++;
        this.#slotOf.set(key, slot);
        this.#slotKeys[slot] = key;
      }
      normaliseInto(vectors[i]!, this.#vectors, slot * d);
      batch.set(this.#vectors.subarray(slot * d, slot * d + d), row * d);
      slots[row++] = BigInt(slot);
    }
    // One thread for a single vector: starting the pool costs more than the insert.
    this.#graph.add(slots, batch, last.size === 1 ? 1 : this.#options.threads);
  }

  /** Removes a key; false when it was not there. */
  remove(key: number): boolean {
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return false;
    this.#graph.remove(BigInt(slot));
    this.#slotOf.delete(key);
    this.#slotKeys[slot] = -1;
    this.#free.push(slot);
    return true;
  }

  has(key: number): boolean {
    return this.#slotOf.has(key);
  }

  keys(): number[] {
    return [...this.#slotOf.keys()];
  }

  /**
   * The `k` nearest keys by cosine similarity, best first. With i8/b1, `k × oversample` candidates come
   * from the graph and are rescored on the full vectors. A `filter` is applied to candidates, widening
   * the search until `k` pass; when a wide search would approach a scan, it scans exactly instead.
   */
  search(query: Float32Array, k: number, filter?: (key: number) => boolean): VectorMatch[] {
    this.#checkVector(query);
    if (!(k >= 1) || this.size === 0) return [];
    const q = normalised(query);
    const pool = k * this.#options.oversample;
    if (!filter) return this.#rescore(q, k, this.#candidates(q, Math.min(pool, this.size)));
    // Post-filtering: USearch's JavaScript binding has no predicate search.
    for (let window = pool; ; window *= 4) {
      if (window * 4 > this.size) return this.#exact(q, k, filter);
      const passing = this.#candidates(q, window).filter((slot) => filter(this.#slotKeys[slot]!));
      if (passing.length >= pool) return this.#rescore(q, k, passing);
    }
  }

  /** Exact k nearest by brute force over the full vectors (the reference for recall). */
  exactSearch(query: Float32Array, k: number, filter?: (key: number) => boolean): VectorMatch[] {
    this.#checkVector(query);
    if (!(k >= 1) || this.size === 0) return [];
    return this.#exact(normalised(query), k, filter);
  }

  /**
   * Rebuilds the graph and compacts the tables. USearch only marks removed nodes, so after many
   * removals the graph carries dead nodes that cost memory and search time; this drops them.
   */
  rebuild(): void {
    const keys = this.keys();
    const d = this.dimensions;
    const vectors = new Float32Array(keys.length * d);
    keys.forEach((key, row) => {
      const slot = this.#slotOf.get(key)!;
      vectors.set(this.#vectors.subarray(slot * d, slot * d + d), row * d);
    });
    this.#graph = this.#newGraph();
    this.#vectors = vectors;
    this.#slotKeys = Float64Array.from(keys);
    this.#slotOf = new Map(keys.map((key, slot) => [key, slot]));
    this.#free = [];
    this.#slots = keys.length;
    if (keys.length)
      this.#graph.add(
        BigUint64Array.from(keys, (_, slot) => BigInt(slot)),
        vectors,
        this.#options.threads,
      );
  }

  /**
   * Writes the index to `dir` atomically: data files under a new generation name, then meta.json
   * (format version, options, count, sizes and SHA-256 of each file) renamed into place.
   */
  save(dir: string): Promise<void> {
    const run = this.#saving.then(() => this.#save(dir));
    this.#saving = run.catch(() => undefined);
    return run;
  }

  /**
   * Opens an index saved by `save`. Throws VECTOR_INDEX_CORRUPT (delete the directory; the caller
   * rebuilds from its records) when any file is unreadable or disagrees with meta.json, and
   * FILE_NOT_FOUND when nothing was saved there. `overrides` change search-time settings only (for
   * tuning recall against speed without rebuilding).
   */
  static async load(
    dir: string,
    overrides: Pick<VectorIndexOptions, 'expansionSearch' | 'oversample'> = {},
  ): Promise<VectorIndex> {
    // A save committing meanwhile deletes the generation being read; the new meta.json then names a
    // complete newer one, so a failure with a changed meta.json is retried, not reported as corrupt.
    for (let attempt = 0; ; attempt++) {
      const before = await metaText(dir);
      try {
        return await VectorIndex.#loadOnce(dir, overrides);
      } catch (error) {
        if (attempt >= 2 || (await metaText(dir)) === before) throw error;
      }
    }
  }

  static async #loadOnce(
    dir: string,
    overrides: Pick<VectorIndexOptions, 'expansionSearch' | 'oversample'>,
  ): Promise<VectorIndex> {
    const snapshot = await readSnapshot(dir);
    const { meta } = snapshot;
    const index = new VectorIndex({
      dimensions: meta.dimensions,
      quantization: meta.quantization,
      connectivity: meta.connectivity,
      expansionAdd: meta.expansionAdd,
      expansionSearch: overrides.expansionSearch ?? meta.expansionSearch,
      oversample: overrides.oversample ?? meta.oversample,
    });
    if (meta.metric !== METRIC[meta.quantization]) throw corrupt(dir, 'unexpected metric');
    const live: number[] = [];
    for (let slot = 0; slot < meta.slots; slot++) {
      const key = snapshot.keys[slot]!;
      if (key === -1) {
        index.#free.push(slot);
        continue;
      }
      if (!Number.isSafeInteger(key) || key < 0 || index.#slotOf.has(key))
        throw corrupt(dir, 'key table holds an invalid or repeated key');
      index.#slotOf.set(key, slot);
      live.push(slot);
    }
    if (live.length !== meta.count) throw corrupt(dir, 'key table disagrees with count');
    index.#free.reverse();
    index.#slots = meta.slots;
    index.#slotKeys = snapshot.keys;
    index.#vectors = snapshot.vectors;
    try {
      index.#graph.load(snapshot.graphPath);
    } catch (error) {
      throw corrupt(dir, 'the graph file does not load', error);
    }
    const present = live.length
      ? (index.#graph.contains(BigUint64Array.from(live, BigInt)) as boolean[])
      : [];
    if (
      index.#graph.size() !== live.length ||
      index.#graph.dimensions() !== meta.dimensions ||
      present.some((p) => !p)
    )
      throw corrupt(dir, 'the graph disagrees with the key table');
    return index;
  }

  /**
   * Approximate bytes held: the quantized graph (vectors, links, keys) plus the full float32 table
   * and the key map. For bytes-per-vector figures.
   */
  memoryBytes(): number {
    const { dimensions: d, quantization, connectivity: m } = this.#options;
    const code = quantization === 'f32' ? 4 * d : quantization === 'i8' ? d : Math.ceil(d / 8);
    // Level 0 holds 2M links of 4 bytes and a count; upper levels add about 1/(M−1) of M links.
    const links = (2 * m + 1) * 4 + Math.ceil(((m + 1) * 4) / (m - 1));
    const graphNode = code + links + 8 + 8; // + key and level bookkeeping
    const tables = this.#vectors.byteLength + this.#slotKeys.byteLength;
    const map = this.#slotOf.size * 40; // a Map entry of two small numbers, roughly
    return this.#graph.size() * graphNode + tables + map;
  }

  #newGraph(): UsearchIndex {
    const o = this.#options;
    return new UsearchIndex({
      dimensions: o.dimensions,
      metric: METRIC[o.quantization],
      quantization: SCALAR[o.quantization],
      connectivity: o.connectivity,
      expansion_add: o.expansionAdd,
      expansion_search: o.expansionSearch,
      multi: false,
    });
  }

  #checkVector(vector: Float32Array): void {
    if (!(vector instanceof Float32Array) || vector.length !== this.dimensions)
      throw new WardenError(
        'VECTOR_DIMENSION_MISMATCH',
        `Expected a Float32Array of ${this.dimensions} dimensions, got ${
          vector instanceof Float32Array ? `${vector.length}` : typeof vector
        }.`,
        { details: { expected: this.dimensions, got: (vector as { length?: unknown })?.length } },
      );
  }

  /** Grows the tables (doubling) so `extra` more slots fit. */
  #reserve(extra: number): void {
    const needed = this.#slots + Math.max(0, extra - this.#free.length);
    if (needed <= this.#slotKeys.length) return;
    const capacity = Math.max(needed, this.#slotKeys.length * 2, 64);
    const vectors = new Float32Array(capacity * this.dimensions);
    vectors.set(this.#vectors);
    const slotKeys = new Float64Array(capacity).fill(-1);
    slotKeys.set(this.#slotKeys);
    this.#vectors = vectors;
    this.#slotKeys = slotKeys;
  }

  /** Slots of the graph's `count` nearest candidates. */
  #candidates(q: Float32Array, count: number): number[] {
    const found = this.#graph.search(q, count, 1);
    const slots = new Array<number>(found.keys.length);
    for (let i = 0; i < found.keys.length; i++) slots[i] = Number(found.keys[i]!);
    return slots;
  }

  #rescore(q: Float32Array, k: number, slots: number[]): VectorMatch[] {
    const top = new TopK(k);
    const d = this.dimensions;
    for (const slot of slots) top.push(slot, dotAt(q, this.#vectors, slot * d));
    return this.#matches(top);
  }

  #exact(q: Float32Array, k: number, filter?: (key: number) => boolean): VectorMatch[] {
    const top = new TopK(k);
    const d = this.dimensions;
    for (let slot = 0; slot < this.#slots; slot++) {
      const key = this.#slotKeys[slot]!;
      if (key === -1 || (filter && !filter(key))) continue;
      top.push(slot, dotAt(q, this.#vectors, slot * d));
    }
    return this.#matches(top);
  }

  #matches(top: TopK): VectorMatch[] {
    return top.ids.map((slot, i) => ({ key: this.#slotKeys[slot]!, score: top.scores[i]! }));
  }

  async #save(dir: string): Promise<void> {
    const pending = await prepareSnapshot(dir);
    try {
      // One synchronous step: the graph file and the table copies describe the same moment, whatever
      // adds or removals run while the files are written.
      this.#graph.save(join(dir, pending.graphName));
      const keys = this.#slotKeys.slice(0, this.#slots);
      const vectors = this.#vectors.slice(0, this.#slots * this.dimensions);
      const o = this.#options;
      await commitSnapshot(
        pending,
        {
          dimensions: o.dimensions,
          quantization: o.quantization,
          metric: METRIC[o.quantization],
          connectivity: o.connectivity,
          expansionAdd: o.expansionAdd,
          expansionSearch: o.expansionSearch,
          oversample: o.oversample,
          count: this.size,
          slots: this.#slots,
        },
        keys,
        vectors,
      );
    } catch (error) {
      await abandonSnapshot(pending);
      throw error;
    }
  }
}
