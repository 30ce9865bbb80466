// Writes a tiny, valid GGUF v3 `llama` model with random F32 weights and a byte-level BPE tokenizer, so tests
// can load a real model through node-llama-cpp without downloading weights. The output is nonsense text, but
// tokenization round-trips exactly and generation is deterministic.
// Run: npx tsx scripts/build-tiny-gguf.ts [outPath]   (default examples/llm-local/build/tiny.gguf, the example agent's model)
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TinyGgufOptions {
  /** PRNG seed for the weights; the same options always produce the same bytes. */
  seed?: number;
  blockCount?: number;
  embeddingLength?: number;
  headCount?: number;
  feedForwardLength?: number;
  contextLength?: number;
  /** Upper bound on BPE merges learnt from the built-in corpus (each adds one token to the vocabulary). */
  maxMerges?: number;
  name?: string;
}

export interface TinyGgufInfo {
  path: string;
  bytes: number;
  vocabSize: number;
  bosTokenId: number;
  eosTokenId: number;
  tensorCount: number;
}

export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';

const ALIGNMENT = 32;

// GGUF metadata value types (gguf.md, "gguf_metadata_value_type").
const enum T {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}
const GGML_TYPE_F32 = 0;
const LLAMA_FTYPE_ALL_F32 = 0;

// llama.cpp token types (gguf-py TokenType).
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

type Value =
  | { type: T.UINT32 | T.INT32 | T.FLOAT32; value: number }
  | { type: T.BOOL; value: boolean }
  | { type: T.STRING; value: string }
  | { type: T.ARRAY; items: T.INT32 | T.FLOAT32 | T.STRING; value: readonly (number | string)[] };

const u32 = (value: number): Value => ({ type: T.UINT32, value });
const f32 = (value: number): Value => ({ type: T.FLOAT32, value });
const str = (value: string): Value => ({ type: T.STRING, value });

// Text the BPE merges are learnt from: the vocabulary only needs to cover common English fragments so prompts
// take fewer tokens than bytes; anything else falls back to the 256 byte tokens.
const CORPUS = `
The quick brown fox jumps over the lazy dog. Hello world! Hello there, how are you today?
An agent runs inside a sandbox with hard quotas on time, memory and tokens. The scheduler assigns each task
a priority, and the provenance log records every step so that the history of a run can be verified later.
This is a small model for testing. It is not trained, and its answers are random, but it is fast and it can
tokenize any text that you give it. Please write a short story about a cat and a dog who are friends.
What is the weather like in the city? The answer is that it will rain in the morning and be sunny in the
afternoon. We should not forget to test the limits, the errors, and the things that can go wrong.
Summarize the following document in one sentence. Translate this sentence into French. Count from one to ten.
I think that the best way to learn is to read, to write, and to ask questions when something is not clear.
`;

// GPT-2's reversible byte -> printable code point table, so every byte string is a valid vocabulary entry.
function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return table;
}

// Greedy BPE training, with ties broken lexicographically so the merge list never depends on Map internals.
function learnMerges(corpus: string, byteChars: readonly string[], maxMerges: number): string[] {
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  // Same word shape the qwen2 pre-tokenizer produces for ASCII text: an optional leading space plus letters.
  for (const m of corpus.matchAll(/ ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+/g)) {
    wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  }
  const words = [...wordCounts].map(([w, count]) => ({
    symbols: [...encoder.encode(w)].map((b) => byteChars[b]!),
    count,
  }));

  const merges: string[] = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    // Every word is a single symbol already.
    if (best === undefined) break;
    merges.push(best);
    const [left, right] = best.split(' ') as [string, string];
    for (const word of words) {
      const out: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === left && word.symbols[i + 1] === right) {
          out.push(left + right);
          i++;
        } else {
          out.push(word.symbols[i]!);
        }
      }
      word.symbols = out;
    }
  }
  return merges;
}

// mulberry32: tiny, seedable, and identical on every platform (pure 32-bit integer maths).
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Tensor {
  name: string;
  /** ggml order: ne[0] is the contiguous (row) dimension. */
  dims: number[];
  data: Float32Array;
}

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }

  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }

  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }

  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.push(Buffer.alloc(pad));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeValue(w: ByteWriter, v: Value): void {
  w.u32(v.type);
  switch (v.type) {
    case T.UINT32:
      w.u32(v.value);
      break;
    case T.INT32:
      w.i32(v.value);
      break;
    case T.FLOAT32:
      w.f32(v.value);
      break;
    case T.BOOL:
      w.push(Buffer.from([v.value ? 1 : 0]));
      break;
    case T.STRING:
      w.string(v.value);
      break;
    case T.ARRAY:
      w.u32(v.items);
      w.u64(v.value.length);
      for (const item of v.value) {
        if (v.items === T.STRING) w.string(item as string);
        else if (v.items === T.INT32) w.i32(item as number);
        else w.f32(item as number);
      }
      break;
  }
}

function f32Bytes(data: Float32Array): Buffer {
  // Explicit little-endian so the file is identical on big-endian hosts too.
  const buf = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i]!, i * 4);
  return buf;
}

export function buildTinyGguf(outPath: string, options: TinyGgufOptions = {}): TinyGgufInfo {
  const {
    seed = 0x5eed,
    blockCount = 2,
    embeddingLength: nEmbd = 64,
    headCount: nHead = 4,
    feedForwardLength: nFf = 128,
    contextLength = 256,
    maxMerges = 250,
    name = 'warden-tiny-llama',
  } = options;
  if (nEmbd % nHead !== 0) throw new Error('embeddingLength must be a multiple of headCount');
  const headDim = nEmbd / nHead;

  // Vocabulary: 256 byte tokens, then merged tokens, then the two control tokens.
  const byteChars = bytesToUnicode();
  const merges = learnMerges(CORPUS, byteChars, maxMerges);
  // Two merges can spell the same token ("a bc", "ab c"); the vocabulary needs it once.
  const merged = new Set(merges.map((m) => m.replace(' ', '')));
  const tokens = [...byteChars, ...merged, BOS_TOKEN, EOS_TOKEN];
  const bosId = tokens.length - 2;
  const eosId = tokens.length - 1;
  const tokenTypes = tokens.map((_, i) => (i >= bosId ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL));
  const nVocab = tokens.length;

  // Output is printable ASCII only: suppress control tokens, control/non-ASCII byte tokens (which could
  // leave half a UTF-8 sequence in the text) and newlines. Merged tokens come from ASCII text, so they stay.
  const printable = new Set<string>();
  for (let b = 0x20; b <= 0x7e; b++) printable.add(byteChars[b]!);
  const suppressed = tokens.map((tok, i) => i >= bosId || (i < 256 && !printable.has(tok)));

  const rand = prng(seed);
  const uniform = (n: number, scale: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);

  // Dimension 0 of the residual stream is a constant "bias" channel: every token embedding sets it to 1 and
  // no layer writes to it, so after the final RMS norm it is always positive. A large negative output weight
  // on that channel then works as a logit bias, which llama has no tensor for.
  const tokenEmbd = uniform(nEmbd * nVocab, 1);
  for (let t = 0; t < nVocab; t++) tokenEmbd[t * nEmbd] = 1;
  const output = uniform(nEmbd * nVocab, 0.5);
  for (let t = 0; t < nVocab; t++) output[t * nEmbd] = suppressed[t] ? -40 : 0;

  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], data: tokenEmbd },
    { name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) },
    { name: 'output.weight', dims: [nEmbd, nVocab], data: output },
  ];
  const inScale = (fanIn: number) => 1 / Math.sqrt(fanIn);
  for (let i = 0; i < blockCount; i++) {
    const attnOut = uniform(nEmbd * nEmbd, inScale(nEmbd));
    const ffnDown = uniform(nFf * nEmbd, inScale(nFf));
    // Row 0 (output channel 0) of every residual write stays zero to keep the bias channel constant.
    attnOut.fill(0, 0, nEmbd);
    ffnDown.fill(0, 0, nFf);
    const p = `blk.${i}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}attn_q.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, inScale(nEmbd)) },
      { name: `${p}attn_k.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, inScale(nEmbd)) },
      { name: `${p}attn_v.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, inScale(nEmbd)) },
      { name: `${p}attn_output.weight`, dims: [nEmbd, nEmbd], data: attnOut },
      { name: `${p}ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}ffn_gate.weight`, dims: [nEmbd, nFf], data: uniform(nEmbd * nFf, inScale(nEmbd)) },
      { name: `${p}ffn_up.weight`, dims: [nEmbd, nFf], data: uniform(nEmbd * nFf, inScale(nEmbd)) },
      { name: `${p}ffn_down.weight`, dims: [nFf, nEmbd], data: ffnDown },
    );
  }

  const metadata: [string, Value][] = [
    ['general.architecture', str('llama')],
    ['general.name', str(name)],
    ['general.file_type', u32(LLAMA_FTYPE_ALL_F32)],
    ['general.alignment', u32(ALIGNMENT)],
    ['llama.vocab_size', u32(nVocab)],
    ['llama.context_length', u32(contextLength)],
    ['llama.embedding_length', u32(nEmbd)],
    ['llama.block_count', u32(blockCount)],
    ['llama.feed_forward_length', u32(nFf)],
    ['llama.attention.head_count', u32(nHead)],
    ['llama.attention.head_count_kv', u32(nHead)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(10000)],
    ['tokenizer.ggml.model', str('gpt2')],
    // qwen2 pre-tokenizer: llama.cpp leaves clean_up_tokenization_spaces off for it (the plain "gpt-2" one
    // deletes the space before punctuation on detokenize, so " ." would not round-trip).
    ['tokenizer.ggml.pre', str('qwen2')],
    ['tokenizer.ggml.tokens', { type: T.ARRAY, items: T.STRING, value: tokens }],
    ['tokenizer.ggml.token_type', { type: T.ARRAY, items: T.INT32, value: tokenTypes }],
    ['tokenizer.ggml.merges', { type: T.ARRAY, items: T.STRING, value: merges }],
    ['tokenizer.ggml.bos_token_id', u32(bosId)],
    ['tokenizer.ggml.eos_token_id', u32(eosId)],
    ['tokenizer.ggml.add_bos_token', { type: T.BOOL, value: true }],
    ['tokenizer.ggml.add_eos_token', { type: T.BOOL, value: false }],
  ];

  const w = new ByteWriter();
  w.push(Buffer.from('GGUF', 'latin1'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += t.data.length * 4;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  }
  w.padTo(ALIGNMENT);
  for (const t of tensors) {
    w.push(f32Bytes(t.data));
    w.padTo(ALIGNMENT);
  }

  const file = w.toBuffer();
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, file);
  return {
    path: outPath,
    bytes: file.length,
    vocabSize: nVocab,
    bosTokenId: bosId,
    eosTokenId: eosId,
    tensorCount: tensors.length,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(
    process.argv[2] ?? fileURLToPath(new URL('../examples/llm-local/build/tiny.gguf', import.meta.url)),
  );
  const started = performance.now();
  const info = buildTinyGguf(out);
  const ms = Math.round(performance.now() - started);
  console.log(
    `wrote ${info.path}: ${info.bytes} bytes, ${info.tensorCount} tensors, vocab ${info.vocabSize} (${ms} ms)`,
  );
}
