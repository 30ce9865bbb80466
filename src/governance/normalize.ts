/**
 * Text normalisation for the detectors: what an attacker can vary without changing what a model reads.
 * NFKC folds fullwidth and mathematical letters; the table below folds the Cyrillic and Greek letters that
 * NFKC keeps; invisible characters (zero-width, bidi controls, Unicode tag characters) are removed —
 * tag characters are also decoded, since they smuggle ASCII text that a model still reads.
 */

const CONFUSABLES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ɡ: 'g',
  ı: 'i',
  ȷ: 'j',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ϲ: 'c',
};

// Zero-width and formatting characters, bidi controls, the BOM, soft hyphen, the combining grapheme joiner
// and variation selectors. Built from code points: a regex literal with combining marks in a class misleads.
const INVISIBLE = new RegExp(
  `[${[
    [0x00ad, 0x00ad],
    [0x034f, 0x034f],
    [0x061c, 0x061c],
    [0x115f, 0x1160],
    [0x17b4, 0x17b5],
    [0x180b, 0x180f],
    [0x200b, 0x200f],
    [0x202a, 0x202e],
    [0x2060, 0x206f],
    [0x3164, 0x3164],
    [0xfe00, 0xfe0f],
    [0xfeff, 0xfeff],
    [0xffa0, 0xffa0],
  ]
    .map(([a, b]) => `\\u${a!.toString(16).padStart(4, '0')}-\\u${b!.toString(16).padStart(4, '0')}`)
    .join('')}]`,
  'g',
);
const TAGS = /[\u{E0000}-\u{E007F}]/gu;
const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
};

export interface Normalized {
  /** Lower-cased, folded, invisible characters removed, whitespace collapsed. */
  text: string;
  /** Signals of obfuscation found while normalising. */
  invisibleChars: number;
  confusables: number;
  /** ASCII text hidden in Unicode tag characters, if any. */
  smuggled: string;
}

const NON_ASCII = /[\u0080-\uffff]/;

export function normalize(input: string): Normalized {
  let smuggled = '';
  let tagCount = 0;
  let text = input.replace(TAGS, (c) => {
    tagCount++;
    const code = c.codePointAt(0)! - 0xe0000;
    if (code >= 0x20 && code < 0x7f) smuggled += String.fromCharCode(code);
    return '';
  });
  let invisibleChars = tagCount;
  text = text.replace(INVISIBLE, () => {
    invisibleChars++;
    return '';
  });
  text = text.normalize('NFKC').toLowerCase();
  let confusables = 0;
  let folded = text;
  // Every confusable is outside ASCII: plain ASCII text (most of it) skips the per-character walk.
  if (NON_ASCII.test(text)) {
    folded = '';
    for (const ch of text) {
      const mapped = CONFUSABLES[ch];
      if (mapped !== undefined) {
        confusables++;
        folded += mapped;
      } else folded += ch;
    }
  }
  folded = folded.replace(/\s+/g, ' ').trim();
  return { text: folded, invisibleChars, confusables, smuggled };
}

/** Undoes leetspeak in words that mix letters with digits or symbols (h4ck3r -> hacker); plain numbers stay. */
export function unleet(text: string): string {
  return text.replace(/[a-z0-9@$!]*[a-z][a-z0-9@$!]*/g, (word) =>
    /[0-9@$!]/.test(word) && /[a-z]/.test(word) ? word.replace(/[013457@$!]/g, (c) => LEET[c] ?? c) : word,
  );
}

export function rot13(text: string): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

const COMMON = new Set(
  'the be to of and a in that have i it for not on with he as you do at this but his by from they we say her she or an will my one all would there their what so up out if about who get which go me when make can like time no just him know take people into year your good some could them see other than then now look only come its over think also back after use two how our work first well way even new want because any these give day most us is are was were ignore instructions previous rules tell how write'.split(
    ' ',
  ),
);

/** Share of words that are common English words: tells decoded text from noise. */
export function englishness(text: string): number {
  const words = text.toLowerCase().match(/[a-z]+/g);
  if (!words || words.length === 0) return 0;
  let hits = 0;
  for (const w of words) if (COMMON.has(w)) hits++;
  return hits / words.length;
}

const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const HEX_RUN = /\b(?:[0-9a-fA-F]{2}[\s:]?){12,}\b/g;

/**
 * Hidden payloads: base64 and hex runs that decode to English-like text, rot13 text that reads better
 * rotated, and text smuggled in tag characters. Each is returned as an extra view to scan.
 */
export function decodedViews(raw: string, normalized: Normalized): { how: string; text: string }[] {
  const views: { how: string; text: string }[] = [];
  if (normalized.smuggled.length >= 4)
    views.push({ how: 'unicode-tags', text: normalize(normalized.smuggled).text });
  for (const m of raw.match(BASE64_RUN) ?? []) {
    if (m.length > 20_000) continue;
    const decoded = Buffer.from(m.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    if (printableShare(decoded) > 0.9 && englishness(decoded) > 0.15)
      views.push({ how: 'base64', text: normalize(decoded).text });
  }
  for (const m of raw.match(HEX_RUN) ?? []) {
    const decoded = Buffer.from(m.replace(/[\s:]/g, ''), 'hex').toString('utf8');
    if (printableShare(decoded) > 0.9 && englishness(decoded) > 0.15)
      views.push({ how: 'hex', text: normalize(decoded).text });
  }
  const plain = englishness(normalized.text);
  if (plain < 0.2) {
    const rotated = rot13(normalized.text);
    if (englishness(rotated) > plain + 0.15) views.push({ how: 'rot13', text: rotated });
  }
  const leet = unleet(normalized.text);
  if (leet !== normalized.text) views.push({ how: 'leetspeak', text: leet });
  // "i g n o r e   a l l": letters spaced out to dodge word matching.
  if (/(?:\b\w[ .\-_*]){6,}\w\b/.test(normalized.text)) {
    views.push({
      how: 'spaced-letters',
      text: normalized.text.replace(/(?:\b\w[ .\-_*](?=\w\b))+\w\b/g, (m) => m.replace(/[ .\-_*]/g, '')),
    });
  }
  return views;
}

function printableShare(s: string): number {
  if (s.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 10 || c === 13 || c === 9) ok++;
  }
  return ok / s.length;
}
