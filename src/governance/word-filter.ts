import type { WordFilterFile } from './word-filter-file.js';
import shipped from './model/words.json' with { type: 'json' };

/**
 * A Bloom filter of English words (scripts/build-word-filter.ts, from the word-list package): "is this a
 * word?" in a few hashes and 256 KiB, instead of a 274,000-word set of some 20 MB. A non-word is called a
 * word about 3 % of the time (its false-positive rate); a word is never called a non-word.
 */
export class WordFilter {
  private constructor(
    private readonly bits: Uint8Array,
    private readonly hashes: number,
  ) {}

  static fromFile(file: WordFilterFile): WordFilter {
    return new WordFilter(new Uint8Array(Buffer.from(file.data, 'base64')), file.hashes);
  }

  static build(words: Iterable<string>, bitCount: number, hashes: number): WordFilter {
    const f = new WordFilter(new Uint8Array(bitCount >>> 3), hashes);
    for (const w of words) if (w) f.add(w);
    return f;
  }

  toFile(): WordFilterFile {
    return {
      format: 'warden.words/v1',
      hashes: this.hashes,
      data: Buffer.from(this.bits).toString('base64'),
    };
  }

  has(word: string): boolean {
    const m = this.bits.length * 8;
    const [h1, h2] = hashPair(word);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % m;
      if ((this.bits[at >>> 3]! & (1 << (at & 7))) === 0) return false;
    }
    return true;
  }

  private add(word: string): void {
    const m = this.bits.length * 8;
    const [h1, h2] = hashPair(word);
    for (let i = 0; i < this.hashes; i++) {
      const at = ((h1 + Math.imul(i, h2)) >>> 0) % m;
      this.bits[at >>> 3]! |= 1 << (at & 7);
    }
  }
}

/** Two independent 32-bit FNV-1a hashes (different offsets), for double hashing. */
function hashPair(word: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return [a >>> 0, (b | 1) >>> 0];
}

let cached: WordFilter | undefined;

/** The shipped filter, decoded on first use. */
export function englishWords(): WordFilter {
  cached ??= WordFilter.fromFile(shipped as WordFilterFile);
  return cached;
}
