import { WardenError } from '../core/index.js';
import type { Embedder } from './embedder.js';

export interface HashEmbedderOptions {
  /**
   * Length of the vectors. More buckets mean fewer hash collisions between unrelated features.
   * @default 384
   */
  dimensions?: number;
}

const DEFAULT_DIMENSIONS = 384;

// Feature families and their weights. Each word's character n-grams are scaled so the block of one word
// weighs CHAR_WEIGHT in total however long the word is: without that, long words would drown short ones.
const UNIGRAM_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.4;
const CHAR_WEIGHT = 1;
/** Shared by the words of one synonym group, on top of each word's own features. */
const CONCEPT_WEIGHT = 0.8;
/** Stop words still count (a text of only stop words must embed to something), but barely. */
const STOP_WEIGHT = 0.15;
const MIN_GRAM = 3;
const MAX_GRAM = 5;

// Seeds that keep the families apart: the word "the" and the trigram "the" are different features.
const SEED_UNIGRAM = 0x9747b28c;
const SEED_BIGRAM = 0x5bd1e995;
const SEED_CHAR = 0x1b873593;
const SEED_EMPTY = 0x85ebca6b;
const SEED_CONCEPT = 0x27d4eb2f;

const FNV_PRIME = 0x01000193;
const BOUNDARY = 0x20; // a space marks the start and end of a word in its character n-grams

const STOP_WORDS = new Set(
  (
    'a an the and or but if then else of to in on at by for with from into onto about as is are was were be ' +
    'been being am do does did doing have has had having i me my we us our you your he him his she her it ' +
    'its they them their this that these those there here what which who whom whose when where why how ' +
    'can could would should will shall may might must please so than too very just also not no any some all ' +
    'each every such own same other up down out over under again once only both few more most'
  ).split(' '),
);

// Near-synonyms common in task requests, so "picture" meets "image" although no character n-gram links
// them. Deliberately small and generic: a group must be interchangeable in most requests.
const SYNONYM_GROUPS = [
  'image picture photo photograph pic img',
  'text document doc passage',
  'summary summarize summarization recap tldr condense',
  'count tally',
  'translate translation',
  'email mail',
  'create generate produce',
  'find search locate lookup seek',
  'fix correct repair',
  'delete remove erase',
  'big large huge',
  'small little tiny',
  'sort arrange rank',
  'calculate compute',
  'sum total',
  'write compose draft',
  'check verify validate',
  'error mistake bug',
  'typo misspelling spelling',
  'shorten truncate shrink',
  'answer reply respond',
  'start begin launch',
  'stop halt',
  'show display',
  'buy purchase',
  'language lang',
  'convert transform',
  'detect identify recognize recognise',
  'analyze analyse analysis',
  'cost price',
  'list enumerate',
  'schedule calendar appointment meeting',
];
/** Stem -> group number. */
const CONCEPTS = new Map<string, number>(
  SYNONYM_GROUPS.flatMap((group, i) => group.split(' ').map((word) => [stemOf(word), i + 1] as const)),
);
/** Two-word phrases that mean one group's concept ("how many" = count). */
const PHRASES = new Map<string, number>(
  [
    ['how many', 'count'],
    ['number of', 'count'],
    ['look up', 'find'],
    ['add up', 'sum'],
  ].map(([phrase, word]) => [phrase!, CONCEPTS.get(stemOf(word!))!]),
);

/**
 * Embeds text with no model: signed feature hashing (a random projection of a sparse bag of features)
 * over word unigrams, word bigrams, character 3–5-grams and a small table of generic synonyms.
 * Deterministic and identical on every platform (integer hashing, no locale), and fast (a sentence takes
 * about 10 µs), so routing works out of the box; a real embedding model understands far more paraphrases.
 *
 * Pipeline: Unicode NFKC + lower case; words are runs of letters and digits (apostrophes dropped); light
 * English stemming (plural, -ing, -ed, -ly, final e, -ise → -ize); stop words down-weighted; per distinct
 * word, bigram and synonym group a sublinear term frequency (`ln(1 + weighted count)`); features hashed
 * with seeded FNV-1a + murmur3's finaliser into `dimensions` buckets with a hashed sign; L2 normalisation.
 * Changing any of this changes the vectors, so it must come with a new id (`builtin-hash-v2-…`).
 *
 * A text with no words at all (empty, only punctuation) embeds to one fixed unit vector rather than to
 * zeros: every vector stays unit-length (an index may divide by the norm), two empty texts are identical,
 * and an empty text is near-orthogonal to everything else.
 *
 * @example
 * const embedder = new HashEmbedder();
 * const [a, b] = await embedder.embed(['count the words in this text', 'how many words are in this document']);
 * cosine(a!, b!); // ≈ 0.5, against ≈ 0.05 for 'translate this into French'
 */
export class HashEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;

  constructor(options: HashEmbedderOptions = {}) {
    const dimensions = options.dimensions ?? DEFAULT_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 2 || dimensions > 65_536)
      throw new WardenError(
        'INVALID_INPUT',
        `HashEmbedder dimensions must be an integer from 2 to 65536, got ${dimensions}`,
        { details: { dimensions } },
      );
    this.dimensions = dimensions;
    this.id = `builtin-hash-v1-${dimensions}`;
  }

  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return Promise.resolve(texts.map((t) => this.embedOne(t)));
  }

  /** The synchronous core of `embed`, for callers on a hot path. */
  embedOne(text: string): Float32Array {
    const words = tokenize(text);
    // Weighted occurrence counts per distinct word, bigram and concept, damped (sublinear tf) before
    // projection: a word said five times is stronger evidence than once, not five times stronger.
    const stems = new Map<string, number>();
    const pairs = new Map<number, number>();
    const concepts = new Map<number, number>();
    const count = <K>(map: Map<K, number>, key: K, weight: number) =>
      map.set(key, (map.get(key) ?? 0) + weight);

    let previousStem: string | undefined;
    let previousWord: string | undefined;
    for (const word of words) {
      const stop = STOP_WORDS.has(word);
      const stem = stop ? word : stemOf(word);
      count(stems, stem, stop ? STOP_WEIGHT : 1);
      const concept = stop ? undefined : CONCEPTS.get(stem);
      if (concept !== undefined) count(concepts, concept, 1);
      const phrase = previousWord !== undefined ? PHRASES.get(`${previousWord} ${word}`) : undefined;
      if (phrase !== undefined) count(concepts, phrase, 1);
      previousWord = word;
      // Bigrams over content words only: "count the words" and "count words" share "count word".
      if (!stop) {
        if (previousStem !== undefined) count(pairs, hashPair(previousStem, stem), 1);
        previousStem = stem;
      }
    }

    const sums = new Float64Array(this.dimensions);
    const add = (hash: number, value: number) => {
      const h = mix(hash);
      sums[h % this.dimensions]! += h & 0x80000000 ? -value : value;
    };
    for (const [stem, weight] of stems) {
      const tf = Math.log1p(weight);
      add(hashString(stem, SEED_UNIGRAM), UNIGRAM_WEIGHT * tf);
      addCharGrams(stem, (CHAR_WEIGHT * tf) / Math.sqrt(charGramCount(stem.length)), add);
    }
    for (const [hash, weight] of pairs) add(hash, BIGRAM_WEIGHT * Math.log1p(weight));
    for (const [concept, weight] of concepts)
      add(mix(concept ^ SEED_CONCEPT), CONCEPT_WEIGHT * Math.log1p(weight));

    const vector = new Float32Array(this.dimensions);
    let norm = 0;
    for (let i = 0; i < sums.length; i++) norm += sums[i]! * sums[i]!;
    // No words at all (or, astronomically unlikely, features cancelling in every bucket): one fixed unit
    // vector, never zeros or NaN.
    if (norm === 0) {
      vector[mix(SEED_EMPTY) % this.dimensions] = 1;
      return vector;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < sums.length; i++) vector[i] = sums[i]! * scale;
    return vector;
  }
}

/** Lower-cased NFKC words: runs of letters, marks and digits; apostrophes inside words are dropped. */
export function tokenize(text: string): string[] {
  const normal = text.normalize('NFKC').toLowerCase().replace(/['’]/g, '');
  return normal.match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
}

/**
 * A deliberately light English stemmer: it conflates the inflections that paraphrases differ by
 * ("words"/"word", "counting"/"counts"/"count", "summarise"/"summarize", "making"/"make") and leaves
 * everything else alone; character n-grams catch what it misses.
 */
export function stemOf(word: string): string {
  if (word.length <= 3 || !/^[a-z]+$/.test(word)) return word;
  let w = word.replace(/is(e|es|ed|ing|ation|ations)$/, 'iz$1');
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && hasVowel(w.slice(0, -3)) && w.length - 3 >= 3) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ied') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('ed') && hasVowel(w.slice(0, -2)) && w.length - 2 >= 3) w = undouble(w.slice(0, -2));
  else if (w.endsWith('ly') && w.length - 2 >= 4) w = w.slice(0, -2);
  // "make"/"making", "translate"/"translated": drop a final e so both sides meet.
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

function hasVowel(s: string): boolean {
  return /[aeiouy]/.test(s);
}

/** "runn" -> "run", "stopp" -> "stop"; but "fill", "pass", "buzz" keep their double letter. */
function undouble(s: string): string {
  const n = s.length;
  if (n >= 3 && s[n - 1] === s[n - 2] && !'lsz'.includes(s[n - 1]!)) return s.slice(0, -1);
  return s;
}

function charGramCount(length: number): number {
  const padded = length + 2;
  let total = 0;
  for (let n = MIN_GRAM; n <= MAX_GRAM; n++) if (padded >= n) total += padded - n + 1;
  return Math.max(total, 1);
}

/** Character n-grams of " word " (boundaries included), hashed in place without building substrings. */
function addCharGrams(word: string, weight: number, add: (hash: number, weight: number) => void): void {
  const padded = word.length + 2;
  const code = (i: number) => (i === 0 || i === padded - 1 ? BOUNDARY : word.charCodeAt(i - 1));
  for (let start = 0; start + MIN_GRAM <= padded; start++) {
    let h = SEED_CHAR;
    for (let n = 0; n < MAX_GRAM && start + n < padded; n++) {
      h = Math.imul(h ^ code(start + n), FNV_PRIME);
      if (n + 1 >= MIN_GRAM) add(Math.imul(h ^ (n + 1), FNV_PRIME) >>> 0, weight);
    }
  }
}

/** FNV-1a over UTF-16 code units, seeded per feature family. */
function hashString(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

function hashPair(a: string, b: string): number {
  let h = hashString(a, SEED_BIGRAM);
  h = Math.imul(h ^ BOUNDARY, FNV_PRIME);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: FNV's low bits are weak, and the bucket is taken modulo a small number. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
