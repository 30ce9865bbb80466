// Builds src/governance/model/words.json, the Bloom filter of English words that the adversarial-suffix
// signal asks "is this token a word?" (a run of non-words appended to a request is what optimised suffixes
// look like). Source: the word-list package (MIT, 274,000 English words, devDependency).
// Run: npm run build:word-filter
import { readFileSync, writeFileSync } from 'node:fs';
import wordListPath from 'word-list';
import { WordFilter } from '../src/governance/word-filter.js';

const BITS = 1 << 21; // 256 KiB: about 3 % false positives for 274k words with 5 hashes
const HASHES = 5;
const words = readFileSync(wordListPath, 'utf8')
  .split('\n')
  .filter((w) => w.length > 0);
const filter = WordFilter.build(words, BITS, HASHES);
const target = new URL('../src/governance/model/words.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(filter.toFile())}\n`);
// How often a non-word passes: random letter strings of word-like lengths (seeded) that are not words.
const known = new Set(words);
let state = 42;
const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
let passed = 0;
let trials = 0;
while (trials < 20_000) {
  let w = '';
  const len = 4 + Math.floor(random() * 6);
  for (let k = 0; k < len; k++) w += String.fromCharCode(97 + Math.floor(random() * 26));
  if (known.has(w)) continue;
  trials++;
  if (filter.has(w)) passed++;
}
process.stdout.write(
  `wrote ${target.pathname}: ${words.length} words in ${BITS / 8 / 1024} KiB, ${HASHES} hashes; non-words passing: ${((100 * passed) / trials).toFixed(2)}%\n`,
);
