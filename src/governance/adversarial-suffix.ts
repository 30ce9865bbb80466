import { englishness } from './normalize.js';

/**
 * Signals of optimised adversarial suffixes (GCG and relatives): prose followed by a run of tokens no
 * person writes — case flips inside words ("similarlyNow"), punctuation welded to letters ("oppositeley.]("),
 * symbol clusters. Scored on sliding windows of 16 tokens so a suffix anywhere in the text counts; only when
 * the text otherwise reads as prose, so code and data are not mistaken for attacks.
 */
export interface SuffixSignal {
  score: number;
  weirdTokens: number;
  window: string;
}

const WINDOW = 16;

/** A plain word ("the", "Hello,"): most tokens of any text, and never weird by the rules below. */
const PLAIN_WORD = /^[A-Za-z][a-z]*[.,;:!?]?$/;

export function isWeirdToken(raw: string): boolean {
  if (PLAIN_WORD.test(raw)) return false;
  // Ordinary punctuation around a word ("TypeError:", "(reading") says nothing.
  const token = raw.length > 2 ? raw.replace(/^[("'“‘[]+|[.,;:!?)"'”’\]]+$/g, '') || raw : raw;
  if (token.length < 2) return /[^\w\s]/.test(token) && token !== '-' && token !== '&';
  const letters = (token.match(/\p{L}/gu) ?? []).length;
  const symbols = (token.match(/[^\p{L}\p{N}\s]/gu) ?? []).length;
  if (/\p{Ll}\p{Lu}/u.test(token) && letters >= 4 && !/^[A-Z]?[a-z]+(?:[A-Z][a-z]+)+$/.test(token))
    return true;
  if (/\p{Ll}\p{Lu}\p{Lu}|\p{Lu}\p{Lu}\p{Ll}\p{Ll}/u.test(token)) return true;
  if (letters >= 2 && symbols >= 2 && !/^[("'“]*[\p{L}'’-]+[.,;:!?)"'”]*$/u.test(token)) return true;
  if (letters === 0 && symbols >= 3) return true;
  if (/[\\{}[\]<>|^~`]/.test(token) && letters >= 1) return true;
  return false;
}

export function adversarialSuffix(raw: string): SuffixSignal {
  const tokens = raw.split(/\s+/).filter((t) => t.length > 0);
  if (tokens.length < WINDOW) return { score: 0, weirdTokens: 0, window: '' };
  const weird = tokens.map(isWeirdToken);
  let best = 0;
  let bestAt = 0;
  let count = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (weird[i]) count++;
    if (i >= WINDOW && weird[i - WINDOW]) count--;
    if (i >= WINDOW - 1 && count > best) {
      best = count;
      bestAt = i - WINDOW + 1;
    }
  }
  const ratio = best / WINDOW;
  if (best < 4 || ratio < 0.25) return { score: 0, weirdTokens: best, window: '' };
  // The rest of the text must read as prose: a suffix is appended to a request.
  const rest = [...tokens.slice(0, bestAt), ...tokens.slice(bestAt + WINDOW)].join(' ');
  if (englishness(rest) < 0.2 || tokens.length - WINDOW < 4)
    return { score: 0, weirdTokens: best, window: '' };
  const overallWeird = weird.filter(Boolean).length / tokens.length;
  // A whole text of odd tokens is data or code; a concentrated odd run inside prose is a suffix.
  if (overallWeird > 0.5) return { score: 0, weirdTokens: best, window: '' };
  return {
    score: Math.min(1, (ratio - 0.1) * 2.5),
    weirdTokens: best,
    window: tokens.slice(bestAt, bestAt + WINDOW).join(' '),
  };
}
