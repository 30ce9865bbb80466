// Proves the generated GGUF is a real model for node-llama-cpp: it parses, loads, tokenizes losslessly and
// generates deterministically. No weights are downloaded; the model is built into a temp dir per run.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getLlama,
  LlamaCompletion,
  LlamaLogLevel,
  readGgufFileInfo,
  type Llama,
  type LlamaCompletionGenerationOptions,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { buildTinyGguf, type TinyGgufInfo } from '../../../scripts/build-tiny-gguf.js';

let dir: string;
let info: TinyGgufInfo;
let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'warden-gguf-'));
  info = buildTinyGguf(path.join(dir, 'tiny-llama.gguf'));
  // gpu: false + build: 'never' keeps it on the bundled CPU prebuilt: the GPU packages are empty stubs here,
  // and the default ('auto') would fall back to downloading and compiling llama.cpp.
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: info.path });
});

afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  text: string;
  tokens: Token[];
  chunks: string[];
  stopReason: string;
}

// A fresh context per run so earlier generations cannot leak in through the KV cache. One thread: the model
// is so small that node-llama-cpp's default (at least 4 threads) spends ~100x longer synchronising than computing.
async function complete(prompt: string, options: LlamaCompletionGenerationOptions): Promise<Run> {
  const context = await model.createContext({ contextSize: 128, threads: 1 });
  try {
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const tokens: Token[] = [];
    const chunks: string[] = [];
    const res = await completion.generateCompletionWithMeta(prompt, {
      ...options,
      onToken: (t) => tokens.push(...t),
      onTextChunk: (c) => chunks.push(c),
    });
    return { text: res.response, tokens, chunks, stopReason: res.metadata.stopReason };
  } finally {
    await context.dispose();
  }
}

describe('tiny GGUF model', () => {
  it('is a small GGUF v3 file with the same bytes on every build', async () => {
    const bytes = readFileSync(info.path);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(statSync(info.path).size).toBeLessThan(5 * 1024 * 1024);

    const again = buildTinyGguf(path.join(dir, 'again.gguf'));
    expect(readFileSync(again.path).equals(bytes)).toBe(true);

    // node-llama-cpp's own JS parser is an independent check of the layout.
    const parsed = await readGgufFileInfo(info.path, { logWarnings: false });
    expect(parsed.version).toBe(3);
    expect(parsed.metadata.general.architecture).toBe('llama');
    expect(parsed.tensorInfo?.length).toBe(info.tensorCount);
    expect(parsed.tensorInfo?.find((t) => t.name === 'token_embd.weight')?.dimensions).toEqual([
      64,
      info.vocabSize,
    ]);
  });

  it('loads with the expected vocabulary and special tokens', () => {
    expect(model.vocabularyType).toBe('bpe');
    expect(model.trainContextSize).toBe(256);
    expect(model.tokens.bos).toBe(info.bosTokenId);
    expect(model.tokens.eos).toBe(info.eosTokenId);
    expect(model.isEogToken(info.eosTokenId as Token)).toBe(true);
  });

  it('round-trips text through the tokenizer', () => {
    const samples = [
      'Hello world! The agent runs inside a sandbox.',
      '  leading and trailing spaces, tabs\tand\nnewlines  ',
      "Punctuation , . ! ? and contractions: it's, don't",
      'naïve café — 日本語 🙂 123456',
    ];
    for (const text of samples) {
      const tokens = model.tokenize(text);
      expect(tokens.length).toBeGreaterThan(0);
      expect(model.detokenize(tokens)).toBe(text);
    }
    // Learnt merges make common English cheaper than one token per byte.
    const common = 'the agent and the scheduler';
    expect(model.tokenize(common).length).toBeLessThan(Buffer.byteLength(common) / 2);
  });

  it('streams greedy completions deterministically', async () => {
    const first = await complete('Hello the agent', { maxTokens: 12, temperature: 0 });
    const second = await complete('Hello the agent', { maxTokens: 12, temperature: 0 });

    // The model's output layer suppresses EOS, so every run reaches maxTokens.
    expect(first.stopReason).toBe('maxTokens');
    expect(first.tokens.length).toBe(12);
    expect(typeof first.text).toBe('string');
    expect(first.text.length).toBeGreaterThan(0);
    expect(first.chunks.join('')).toBe(first.text);
    expect(second.text).toBe(first.text);
    expect(second.tokens).toEqual(first.tokens);
  });

  it('samples reproducibly with a fixed seed', async () => {
    const opts = { maxTokens: 10, temperature: 0.9, seed: 1234 };
    const a = await complete('Please write a short story', opts);
    const b = await complete('Please write a short story', opts);
    expect(a.tokens.length).toBe(10);
    expect(b.text).toBe(a.text);
  });

  it('stops early on abort and counts prompt and completion tokens', async () => {
    const context = await model.createContext({ contextSize: 128, threads: 1 });
    try {
      const sequence = context.getSequence();
      const completion = new LlamaCompletion({ contextSequence: sequence });
      const controller = new AbortController();
      let generated = 0;
      const prompt = 'Count from one to ten.';
      const res = await completion.generateCompletionWithMeta(prompt, {
        maxTokens: 50,
        temperature: 0,
        signal: controller.signal,
        stopOnAbortSignal: true,
        onToken: (t) => {
          generated += t.length;
          if (generated >= 3) controller.abort();
        },
      });
      expect(res.metadata.stopReason).toBe('abort');
      expect(generated).toBe(3);

      // LlamaCompletion prepends BOS; the sequence holds BOS + prompt + every generated token but the last,
      // which was sampled and never fed back in.
      const promptTokens = 1 + model.tokenize(prompt).length;
      expect(sequence.contextTokens.length).toBe(promptTokens + generated - 1);
      // The meter counts evaluated tokens, split by whether logits were read: not prompt vs completion.
      const meter = sequence.tokenMeter.getState();
      expect(meter.usedInputTokens + meter.usedOutputTokens).toBe(promptTokens + generated - 1);

      // Without stopOnAbortSignal an abort rejects with the signal's reason.
      const failing = new AbortController();
      await expect(
        completion.generateCompletion(prompt, {
          maxTokens: 50,
          signal: failing.signal,
          onToken: () => failing.abort(new Error('stop')),
        }),
      ).rejects.toThrow('stop');
    } finally {
      await context.dispose();
    }
  });
});
