import { normalize, unleet } from './normalize.js';

/** A sparse feature vector: parallel arrays of hashed indices and values, L2-normalised. */
export interface SparseVector {
  idx: Int32Array;
  val: Float32Array;
}

/** Characters looked at per text: enough for any prompt, bounded for a pathological input. */
const MAX_CHARS = 6000;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Hashed character 3-5-grams and word 1-2-grams of the normalised, leet-decoded text, with sublinear term
 * frequency (1 + ln tf) and L2 normalisation. The same function serves training and inference, so the
 * shipped weights and the runtime can never disagree on a feature.
 */
export function featurize(text: string, dim: number, options: { normalized?: boolean } = {}): SparseVector {
  const cut = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text;
  // normalize() is idempotent: text the caller already normalised skips it.
  const norm = unleet(options.normalized ? cut : normalize(cut).text);
  // Counts in a dense scratch array, with the indices touched kept in order: a Map per text was most of
  // the detector's time on long inputs.
  if (scratch.length !== dim) {
    scratch = new Float32Array(dim);
    touched = new Int32Array(Math.min(dim, 1 << 16));
  }
  let n = 0;
  // A power-of-two dimension (the shipped 32768) maps a hash with a mask, the same index as the modulo.
  const mask = (dim & (dim - 1)) === 0 ? dim - 1 : -1;
  const add = (h: number) => {
    const i = mask >= 0 ? h & mask : (h >>> 0) % dim;
    if (scratch[i] === 0) {
      if (n === touched.length) {
        const grown = new Int32Array(Math.min(dim, touched.length * 2));
        grown.set(touched);
        touched = grown;
      }
      touched[n++] = i;
    }
    scratch[i]! += 1;
  };
  const s = ` ${norm} `;
  for (let i = 0; i + 3 <= s.length; i++) {
    let h = FNV_OFFSET;
    for (let k = 0; k < 5 && i + k < s.length; k++) {
      h = Math.imul(h ^ s.charCodeAt(i + k), FNV_PRIME);
      if (k >= 2) add(h);
    }
  }
  const words = norm.match(/[a-z0-9']+/g) ?? [];
  let prev = 0;
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!;
    let h = 0x9e3779b9;
    for (let k = 0; k < word.length; k++) h = Math.imul(h ^ word.charCodeAt(k), FNV_PRIME);
    add(h);
    if (w > 0) add(Math.imul(prev ^ (h >>> 7), FNV_PRIME) ^ 0x27d4eb2d);
    prev = h;
  }
  const idx = new Int32Array(n);
  const val = new Float32Array(n);
  let norm2 = 0;
  for (let j = 0; j < n; j++) {
    const i = touched[j]!;
    const v = 1 + Math.log(scratch[i]!);
    scratch[i] = 0;
    idx[j] = i;
    val[j] = v;
    norm2 += v * v;
  }
  const scale = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
  for (let k = 0; k < val.length; k++) val[k] = val[k]! * scale;
  return { idx, val };
}

let scratch = new Float32Array(0);
let touched = new Int32Array(0);
