// Embedding latency: the built-in HashEmbedder (what semantic routing uses by default) on a one-sentence
// intent and on 1,000-character texts (memory items), p50/p99 per text over fixed, varied inputs; and the
// tiny random-weight GGUF (scripts/build-tiny-gguf.ts) through node-llama-cpp, only as a floor for the
// local path's per-text overhead (a real embedding model is 100–1000× larger).
// Usage: node --import tsx bench/embeddings.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildTinyGguf } from '../scripts/build-tiny-gguf.js';
import { HashEmbedder, LlamaEmbedder } from '../src/routing/index.js';

const WARMUP = 2_000;
const SAMPLES = 20_000;
const LLAMA_SAMPLES = 200;

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toPrecision(4)), unit, ...extra })}\n`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const WORDS = (
  'count words text document summarize article translate french weather forecast resize image extract ' +
  'email addresses page sort numbers ascending detect language calculate sum check spelling paragraph ' +
  'generate random password schedule meeting tomorrow convert currency euros dollars find nearest ' +
  'restaurant classify sentiment review answer question about history write poem about autumn'
).split(' ');

/** A deterministic pseudo-random text of about `chars` characters (xorshift word picks). */
function text(seed: number, chars: number): string {
  let s = seed * 2654435761 || 1;
  const out: string[] = [];
  let length = 0;
  while (length < chars) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const word = WORDS[(s >>> 0) % WORDS.length]!;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ').slice(0, chars);
}

function measure(name: string, embed: (t: string) => unknown, inputs: string[], samples: number): void {
  for (let i = 0; i < WARMUP; i++) embed(inputs[i % inputs.length]!);
  const times: number[] = new Array<number>(samples);
  for (let i = 0; i < samples; i++) {
    const input = inputs[i % inputs.length]!;
    const started = performance.now();
    embed(input);
    times[i] = (performance.now() - started) * 1000;
  }
  times.sort((a, b) => a - b);
  emit(`${name} p50`, quantile(times, 0.5), 'µs', { samples });
  emit(`${name} p99`, quantile(times, 0.99), 'µs', { samples });
}

const builtin = new HashEmbedder();
const sentences = Array.from({ length: 1000 }, (_, i) => text(i + 1, 40));
const pages = Array.from({ length: 200 }, (_, i) => text(i + 5000, 1000));
measure('builtin embedding short', (t) => builtin.embedOne(t), sentences, SAMPLES);
measure('builtin embedding 1000 chars', (t) => builtin.embedOne(t), pages, SAMPLES / 4);

const dir = mkdtempSync(join(tmpdir(), 'warden-embed-bench-'));
try {
  const modelPath = join(dir, 'tiny.gguf');
  buildTinyGguf(modelPath);
  const llama = await LlamaEmbedder.open({ modelPath, threads: 1 });
  try {
    for (let i = 0; i < 20; i++) await llama.embed([sentences[i]!]);
    const times: number[] = [];
    for (let i = 0; i < LLAMA_SAMPLES; i++) {
      const started = performance.now();
      await llama.embed([sentences[i % sentences.length]!]);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    emit('tiny gguf embedding short p50', quantile(times, 0.5), 'ms', { samples: LLAMA_SAMPLES });
  } finally {
    await llama.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
