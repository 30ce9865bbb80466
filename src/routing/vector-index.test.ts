import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { seededRandom } from './canary.js';
import { VectorIndex, type Quantization } from './vector-index.js';

/** Seeded clustered vectors (~50 per cluster, per-point spread), normalised; the last `queries` are held out. */
function clustered(count: number, dims: number, seed: number): Float32Array[] {
  const rand = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const around = (centre: Float32Array | undefined, spread: number) => {
    const v = Float32Array.from(
      { length: dims },
      (_, i) => (centre?.[i] ?? 0) + (gauss() * spread) / Math.sqrt(dims),
    );
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const centres = Array.from({ length: Math.ceil(count / 50) }, () => around(undefined, 1));
  return Array.from({ length: count }, () =>
    around(centres[Math.floor(rand() * centres.length)], 0.6 + rand() * 0.6),
  );
}

function recallAt10(index: VectorIndex, queries: Float32Array[]): number {
  let hits = 0;
  for (const q of queries) {
    const truth = new Set(index.exactSearch(q, 10).map((m) => m.key));
    hits += index.search(q, 10).filter((m) => truth.has(m.key)).length;
  }
  return hits / (queries.length * 10);
}

function build(quantization: Quantization, vectors: Float32Array[], extra = {}): VectorIndex {
  const index = new VectorIndex({ dimensions: vectors[0]!.length, quantization, ...extra });
  index.addMany(
    vectors.map((_, i) => i),
    vectors,
  );
  return index;
}

const small = clustered(5_100, 64, 1);
const smallBase = small.slice(0, 5_000);
const smallQueries = small.slice(5_000);

describe('VectorIndex recall@10 against exact search (held-out queries)', () => {
  // b1 keeps one bit a dimension: it needs enough dimensions to tell neighbours apart, so it is
  // measured on 384-d vectors (the size of the built-in embeddings), with the default oversample 4.
  it.each([
    { quantization: 'f32' as const, dims: 64, floor: 0.95 },
    { quantization: 'i8' as const, dims: 64, floor: 0.95 },
    { quantization: 'b1' as const, dims: 384, floor: 0.9 },
  ])('$quantization on $dims-d vectors reaches $floor', ({ quantization, dims, floor }) => {
    const data = dims === 64 ? small : clustered(3_100, 384, 2);
    const index = build(quantization, data.slice(0, -100));
    const recall = recallAt10(index, data.slice(-100));
    expect(recall).toBeGreaterThanOrEqual(floor);
  });

  it('b1 without rescoring would miss: oversample 1 finds fewer true neighbours than the default', () => {
    const data = clustered(3_100, 384, 2);
    const loose = build('b1', data.slice(0, -100), { oversample: 1 });
    const rescored = build('b1', data.slice(0, -100));
    expect(recallAt10(rescored, data.slice(-100))).toBeGreaterThan(recallAt10(loose, data.slice(-100)));
  });

  it('scores are cosine similarities of the full vectors, whatever the input norm', () => {
    const index = build('i8', smallBase.slice(0, 500));
    const q = smallQueries[0]!.map((x) => x * 7);
    const [best] = index.search(q, 1);
    const stored = smallBase[best!.key]!;
    const cos = stored.reduce((s, x, i) => s + x * smallQueries[0]![i]!, 0);
    expect(best!.score).toBeCloseTo(cos, 5);
    expect(index.exactSearch(q, 1)[0]).toEqual(best);
  });
});

describe('VectorIndex changes', () => {
  it('never returns a removed key, and rebuild keeps what is left', () => {
    const index = build('f32', smallBase);
    const removed = new Set(smallBase.map((_, i) => i).filter((i) => i % 3 === 0));
    for (const key of removed) expect(index.remove(key)).toBe(true);
    expect(index.remove(0)).toBe(false);
    expect(index.has(0)).toBe(false);
    expect(index.size).toBe(5_000 - removed.size);
    for (const q of smallQueries) for (const m of index.search(q, 50)) expect(removed.has(m.key)).toBe(false);
    // A removed key's own vector finds neighbours, not itself.
    expect(index.search(smallBase[3]!, 5).map((m) => m.key)).not.toContain(3);
    index.rebuild();
    expect(index.size).toBe(5_000 - removed.size);
    expect(recallAt10(index, smallQueries)).toBeGreaterThanOrEqual(0.95);
    for (const m of index.search(smallBase[4]!, 10)) expect(removed.has(m.key)).toBe(false);
    expect(index.search(smallBase[4]!, 1)[0]).toMatchObject({ key: 4 });
  });

  it('re-adding a key replaces its vector', () => {
    const index = build('b1', clustered(600, 384, 3));
    const other = clustered(1, 384, 99)[0]!;
    index.add(5, other);
    expect(index.size).toBe(600);
    const [best] = index.search(other, 1);
    expect(best!.key).toBe(5);
    expect(best!.score).toBeCloseTo(1, 5);
    expect(index.keys().filter((k) => k === 5)).toHaveLength(1);
  });

  it('rejects vectors of another dimension and bad keys, changing nothing', () => {
    const index = new VectorIndex({ dimensions: 8 });
    expect(() => index.add(1, new Float32Array(7))).toThrow(
      expect.objectContaining({ code: 'VECTOR_DIMENSION_MISMATCH' }),
    );
    expect(() => index.search(new Float32Array(9), 1)).toThrow(
      expect.objectContaining({ code: 'VECTOR_DIMENSION_MISMATCH' }),
    );
    expect(() => index.addMany([1, 2], [new Float32Array(8).fill(1), new Float32Array(4)])).toThrow(
      expect.objectContaining({ code: 'VECTOR_DIMENSION_MISMATCH' }),
    );
    expect(index.size).toBe(0);
    for (const key of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1])
      expect(() => index.add(key, new Float32Array(8).fill(1))).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    expect(index.search(new Float32Array(8).fill(1), 3)).toEqual([]);
  });

  it('filters: only passing keys, the same as exact search with the filter, down to a handful', () => {
    for (const quantization of ['f32', 'b1'] as const) {
      const data = quantization === 'f32' ? smallBase : clustered(3_000, 384, 4);
      const index = build(quantization, data);
      const sevenths = (key: number) => key % 7 === 0;
      let hits = 0;
      for (const q of smallQueries.slice(0, 30).map((q, i) => (quantization === 'f32' ? q : data[i * 13]!))) {
        const got = index.search(q, 10, sevenths);
        expect(got).toHaveLength(10);
        for (const m of got) expect(sevenths(m.key)).toBe(true);
        const truth = new Set(index.exactSearch(q, 10, sevenths).map((m) => m.key));
        hits += got.filter((m) => truth.has(m.key)).length;
      }
      expect(hits / 300).toBeGreaterThanOrEqual(0.9);
      const few = new Set([11, 222, 2_999]);
      expect(new Set(index.search(data[0]!, 10, (key) => few.has(key)).map((m) => m.key))).toEqual(few);
    }
  });
});

describe('VectorIndex persistence', () => {
  it('loads in a fresh instance with the same results, and keeps working', async () => {
    for (const quantization of ['f32', 'i8', 'b1'] as const) {
      const dir = join(tempDir(), 'idx');
      const index = build(quantization, smallBase);
      for (let key = 0; key < 100; key++) index.remove(key);
      await index.save(dir);
      const loaded = await VectorIndex.load(dir);
      expect(loaded.quantization).toBe(quantization);
      expect(loaded.size).toBe(index.size);
      expect(loaded.keys().sort((a, b) => a - b)).toEqual(index.keys().sort((a, b) => a - b));
      for (const q of smallQueries.slice(0, 20)) expect(loaded.search(q, 10)).toEqual(index.search(q, 10));
      loaded.add(10_000_000_000, smallQueries[0]!);
      expect(loaded.search(smallQueries[0]!, 1)[0]).toMatchObject({ key: 10_000_000_000 });
      expect(loaded.size).toBe(index.size + 1);
      // Only one generation of data files stays after a second save.
      await loaded.save(dir);
      expect((await readdir(dir)).sort()).toHaveLength(4);
    }
  });

  it.each([
    [
      'a flipped byte in the vectors',
      async (dir: string, files: string[]) => {
        const name = files.find((f) => f.startsWith('vectors-'))!;
        const data = await readFile(join(dir, name));
        data[100] = data[100]! ^ 0xff;
        await writeFile(join(dir, name), data);
      },
    ],
    [
      'a truncated graph',
      async (dir: string, files: string[]) => {
        const name = files.find((f) => f.startsWith('graph-'))!;
        const data = await readFile(join(dir, name));
        await writeFile(join(dir, name), data.subarray(0, data.length >> 1));
      },
    ],
    [
      'a missing key table',
      async (dir: string, files: string[]) => {
        await rm(
          join(
            dir,
            files.find((f) => f.startsWith('keys-'))!,
          ),
        );
      },
    ],
    ['meta.json that is not JSON', async (dir: string) => writeFile(join(dir, 'meta.json'), '{"format": 1,')],
    [
      'meta.json with a count that lies',
      async (dir: string) => {
        const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as { count: number };
        meta.count += 1;
        await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
      },
    ],
  ])('refuses %s with VECTOR_INDEX_CORRUPT', async (_, damage) => {
    const dir = tempDir();
    await build('i8', smallBase.slice(0, 300)).save(dir);
    await damage(dir, await readdir(dir));
    const error = await VectorIndex.load(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VECTOR_INDEX_CORRUPT' });
    expect((error as Error).message).toMatch(/delete/);
  });

  it('says FILE_NOT_FOUND where nothing was saved', async () => {
    await expect(VectorIndex.load(join(tempDir(), 'none'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('stays consistent under interleaved adds, removes, searches and saves', async () => {
    const dir = tempDir();
    const index = new VectorIndex({ dimensions: 64, quantization: 'i8' });
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
    const adder = async (offset: number) => {
      for (let i = offset; i < 2_000; i += 4) {
        index.add(i, smallBase[i]!);
        if (i % 40 === offset) await tick();
      }
    };
    const remover = async () => {
      for (let i = 0; i < 2_000; i += 10) {
        await tick();
        index.remove(i);
      }
    };
    const searcher = async () => {
      for (let i = 0; i < 200; i++) {
        await tick();
        for (const m of index.search(smallQueries[i % 100]!, 10)) expect(index.has(m.key)).toBe(true);
      }
    };
    const saver = async () => {
      for (let i = 0; i < 5; i++) {
        await tick();
        await index.save(dir);
        const loaded = await VectorIndex.load(dir);
        // Whatever moment the snapshot caught, every key in it maps to its own vector.
        for (const key of loaded.keys().slice(0, 50))
          expect(loaded.search(smallBase[key]!, 1)[0]).toMatchObject({ key });
      }
    };
    await Promise.all([adder(0), adder(1), adder(2), adder(3), remover(), searcher(), saver(), saver()]);
    await index.save(dir);
    const final = await VectorIndex.load(dir);
    expect(final.size).toBe(index.size);
    expect(new Set(final.keys())).toEqual(new Set(index.keys()));
    expect(final.has(10)).toBe(index.has(10));
  });
});
