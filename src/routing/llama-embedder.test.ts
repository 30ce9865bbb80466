// A real GGUF model (random weights, built by scripts/build-tiny-gguf.ts into a temp dir) through
// node-llama-cpp's CPU binary: the vectors mean nothing, but their shape, determinism and lifecycle are real.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../scripts/build-tiny-gguf.js';
import { rejectionOf } from '../../test/helpers.js';
import { cosine } from './embedder.js';
import { LlamaEmbedder } from './llama-embedder.js';

let dir: string;
let modelPath: string;
let embedder: LlamaEmbedder;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-embed-gguf-'));
  modelPath = join(dir, 'tiny.gguf');
  buildTinyGguf(modelPath);
  embedder = await LlamaEmbedder.open({ modelPath, threads: 1 });
});

afterAll(async () => {
  await embedder?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LlamaEmbedder (tiny GGUF)', () => {
  it('has the model’s embedding length and an id from the file digest', async () => {
    const info = await readGgufFileInfo(modelPath);
    const length = (info.metadata as unknown as { llama: { embedding_length: number } }).llama
      .embedding_length;
    expect(length).toBeGreaterThan(0);
    expect(embedder.dimensions).toBe(length);
    const digest = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
    expect(embedder.id).toBe(`llama:${digest.slice(0, 16)}`);
  });

  it('returns deterministic unit vectors that differ between texts', async () => {
    const [a, b, c] = await embedder.embed([
      'count the words',
      'count the words',
      'translate this into French',
    ]);
    expect(a).toHaveLength(embedder.dimensions);
    expect(a).toEqual(b);
    expect(cosine(a!, a!)).toBeCloseTo(1, 5);
    expect(cosine(c!, c!)).toBeCloseTo(1, 5);
    expect(cosine(a!, c!)).toBeLessThan(0.999);
    expect(a!.some(Number.isNaN)).toBe(false);
    // Concurrent calls queue on the one context and get the same answers.
    const [[x], [y]] = await Promise.all([
      embedder.embed(['count the words']),
      embedder.embed(['count the words']),
    ]);
    expect(x).toEqual(a);
    expect(y).toEqual(a);
  });

  it('embeds the empty text to a fixed unit vector and truncates texts longer than the context', async () => {
    const [empty] = await embedder.embed(['']);
    expect(empty![0]).toBe(1);
    expect(cosine(empty!, empty!)).toBe(1);
    // The tiny model's context is 256 tokens: 4000 characters would not fit.
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(100);
    const [v, w] = await embedder.embed([long, `${long} and then some more words at the end`]);
    expect(cosine(v!, v!)).toBeCloseTo(1, 5);
    // Truncation keeps the beginning: a different tail past the cut-off does not change the vector.
    expect(w).toEqual(v);
  });

  it('the same file opened twice gives the same vectors; close() frees the model', async () => {
    const other = await LlamaEmbedder.open({ modelPath, threads: 1 });
    const [a] = await other.embed(['hello world']);
    expect(a).toEqual((await embedder.embed(['hello world']))[0]);
    expect(other.disposed).toBe(false);
    await other.close();
    expect(other.disposed).toBe(true);
    await other.close(); // idempotent
    // Each embedder owns its binding: closing one leaves the other working.
    expect((await embedder.embed(['hello world']))[0]).toEqual(a);
    const err = await rejectionOf(other.embed(['hello']));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toContain('closed');
  });

  it('refuses a missing file and a file that is not GGUF with coded errors', async () => {
    expect((await rejectionOf(LlamaEmbedder.open({ modelPath: join(dir, 'absent.gguf') }))).code).toBe(
      'FILE_NOT_FOUND',
    );
    const bogus = join(dir, 'bogus.gguf');
    writeFileSync(bogus, 'definitely not a model, just some text that is long enough');
    const err = await rejectionOf(LlamaEmbedder.open({ modelPath: bogus }));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toContain('GGUF magic');
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(embedder.embed(['x'], controller.signal)).rejects.toThrow('stop');
  });
});
