/** src/governance/model/words.json: a Bloom filter of English words (see word-filter.ts). */
export interface WordFilterFile {
  format: 'warden.words/v1';
  hashes: number;
  /** The bit array, base64. */
  data: string;
}
