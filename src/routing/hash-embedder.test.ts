import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WardenError } from '../core/index.js';
import { cosine } from './embedder.js';
import { HashEmbedder, stemOf, tokenize } from './hash-embedder.js';

const embedder = new HashEmbedder();
const vec = (text: string) => embedder.embedOne(text);
const norm = (v: Float32Array) => Math.sqrt(cosine(v, v));

describe('HashEmbedder', () => {
  it('names its algorithm and length in its id', () => {
    expect(embedder.id).toBe('builtin-hash-v1-384');
    expect(embedder.dimensions).toBe(384);
    const small = new HashEmbedder({ dimensions: 64 });
    expect(small.id).toBe('builtin-hash-v1-64');
    expect(vec('hello').length).toBe(384);
    expect(small.embedOne('hello').length).toBe(64);
  });

  it('is deterministic across calls and instances, and pinned across platforms', async () => {
    const text = 'Count the words in this text, please!';
    const [a, b] = await embedder.embed([text, text]);
    expect(a).toEqual(b);
    expect(new HashEmbedder().embedOne(text)).toEqual(a);
    // The id promises identical vectors everywhere: any change to the algorithm must change the id (v2).
    const digest = createHash('sha256').update(Buffer.from(a!.buffer)).digest('hex');
    expect(digest).toBe(PINNED_DIGEST);
  });

  it('returns unit vectors without NaN', () => {
    for (const text of [
      'a',
      'hello world',
      'x'.repeat(5000),
      'Ünïcödé ﬁ ｆｕｌｌｗｉｄｔｈ',
      '数えてください',
      '42 1e9',
    ]) {
      const v = vec(text);
      expect(v.some(Number.isNaN)).toBe(false);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it('embeds a text without words to one fixed unit vector, near-orthogonal to real text', () => {
    const empty = vec('');
    expect(norm(empty)).toBeCloseTo(1, 6);
    expect(vec('  !!! ... ')).toEqual(empty);
    expect(empty.filter((x) => x !== 0)).toHaveLength(1);
    expect(Math.abs(cosine(empty, vec('count the words in this text')))).toBeLessThan(0.2);
  });

  it('scores paraphrases above unrelated sentences', () => {
    const a = vec('count the words in this text');
    const b = vec('how many words are in this document');
    const c = vec('translate this into French');
    expect(cosine(a, b)).toBeGreaterThan(0.25);
    expect(cosine(a, b)).toBeGreaterThan(cosine(a, c) + 0.2);
    expect(cosine(b, c)).toBeLessThan(0.15);
  });

  it('is insensitive to case, width, inflection and British spelling', () => {
    expect(cosine(vec('Summarise the Documents'), vec('summarize the document'))).toBeGreaterThan(0.99);
    expect(cosine(vec('ＣＯＵＮＴＩＮＧ words'), vec('count word'))).toBeGreaterThan(0.99);
    expect(cosine(vec('translated sentences'), vec('translate a sentence'))).toBeGreaterThan(0.95);
    expect(stemOf('counting')).toBe(stemOf('counts'));
    expect(stemOf('making')).toBe(stemOf('make'));
    expect(stemOf('running')).toBe('run');
    expect(stemOf('studies')).toBe('study');
    expect(stemOf('pass')).toBe('pass');
    expect(tokenize("Don't stop—the café's 3 ﬁles")).toEqual(['dont', 'stop', 'the', 'cafés', '3', 'files']);
  });

  it('ranks the right paraphrase first for most of a held-out table', () => {
    let hits = 0;
    for (let i = 0; i < PARAPHRASES.length; i++) {
      const query = vec(PARAPHRASES[i]![0]);
      const scores = PARAPHRASES.map(([, other]) => cosine(query, vec(other)));
      if (scores.indexOf(Math.max(...scores)) === i) hits++;
    }
    // Lexical features cannot see "picture" = "image": a hash embedder wins where words or stems overlap.
    expect(hits).toBeGreaterThanOrEqual(8);
  });

  it('links a small set of generic synonyms and phrases that share no characters', () => {
    // Same sentence but for one word: only the synonym group can make the difference.
    const image = vec('crop the image');
    expect(cosine(image, vec('crop the picture'))).toBeGreaterThan(
      cosine(image, vec('crop the table')) + 0.05,
    );
    const count = vec('count the lines');
    expect(cosine(count, vec('how many lines'))).toBeGreaterThan(cosine(count, vec('so many lines')) + 0.05);
  });

  it('weights stop words down but still embeds a text made of them', () => {
    const stopOnly = vec('what is this');
    expect(norm(stopOnly)).toBeCloseTo(1, 5);
    expect(cosine(vec('what is the weather'), vec('what is the time'))).toBeLessThan(0.3);
  });

  it('refuses bad lengths and honours an aborted signal', async () => {
    for (const dimensions of [0, 1, 2.5, 1e6])
      expect(() => new HashEmbedder({ dimensions })).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }) as WardenError,
      );
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(embedder.embed(['x'], controller.signal)).rejects.toThrow('stop');
  });

  it('embeds a sentence in well under 0.1 ms', () => {
    const text = 'count the words in this text please';
    for (let i = 0; i < 2000; i++) embedder.embedOne(text);
    const times: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const started = performance.now();
      embedder.embedOne(text);
      times.push(performance.now() - started);
    }
    times.sort((x, y) => x - y);
    // Generous for a loaded CI machine: measured p50 is ~12 µs.
    expect(times[1000]!).toBeLessThan(0.1);
  });
});

const PINNED_DIGEST = '00f85107f17259d0822865495956f056be351b6b70600c74da4b5968c56709d9';

const PARAPHRASES: [string, string][] = [
  ['count the words in this text', 'how many words are in this document'],
  ['summarize this article', 'give me a short summary of the text'],
  ['translate this into French', 'convert the sentence to French language'],
  ['what is the weather tomorrow', 'weather forecast for tomorrow'],
  ['resize the image to 200 pixels', 'make this picture smaller'],
  ['extract email addresses from the page', 'find all emails in this html'],
  ['sort these numbers ascending', 'order the list of numbers from smallest to largest'],
  ['detect the language of this text', 'which language is this written in'],
  ['send an email to my boss', 'write a message to the manager by mail'],
  ['calculate the sum of the numbers', 'add up these values'],
  ['check the spelling of this paragraph', 'fix typos in my text'],
  ['generate a random password', 'create a strong password for me'],
];
