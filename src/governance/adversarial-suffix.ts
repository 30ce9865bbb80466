import { englishness } from './normalize.js';
import { englishWords } from './word-filter.js';

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
/** Texts longer than this must carry the odd run at their end, as appended suffixes do. */
const LONG_TEXT_TOKENS = 60;
const TAIL_SLACK = 8;

/** A plain word ("the", "Hello,"): most tokens of any text, and never weird by the rules below. */
const PLAIN_WORD = /^[A-Za-z][a-z]*[.,;:!?]?$/;

/**
 * Tokens of structured text that look odd out of context but that people and programs write all the time:
 * URLs, e-mail addresses, paths, dotted or snake_case identifiers and calls, JSON keys and strings, markup
 * tags, markdown links, numbers with units. Never weird.
 */
const STRUCTURED_TOKEN = [
  /:\/\//, // a URL anywhere in the token ("(https://x.y/z),")
  /^[<("'[]*[\w.+-]+@[\w-]+(\.[\w-]+)+[>)"'\],.;:|]*/, // e-mail address
  /^[("'[]*(~|\.{1,2})?\/[\w.@/-]+[)"'\],.;:]*$/, // a Unix path
  /^[("'[]*[A-Za-z]:\\[\w.\\ -]+[)"'\],.;:]*$/, // a Windows path
  /^[("'[]*[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+(\([^()]*\)?)?[)"'\],.;:]*$/, // obj.attr, os.path.join(
  /^[("'[]*[A-Za-z_][\w$]+\([^()\\{}[\]$]*\)?[)"'\],.;:{]*$/, // call(args) or def name(
  /^[("'[{]*[a-z][a-z0-9]*(_[a-z0-9]+)+[)"'\]},.;:=]*$/, // snake_case
  /^[{[]*"[^"]*"[:,}\]]*$/, // a JSON string or key: "name": or "value",
  /^<\/?[A-Za-z][\w:-]*(\s[^<>]*)?\/?>$/, // an HTML/XML tag
  /^!?\[[^\]]*\]\([^)]*\)[.,;:]*$/, // a markdown link or image
  /^[-+]?\$?\d[\d,.]*(%|[a-zA-Z]{1,3})?[),.;:]*$/, // numbers, prices, units
  /^[("'[]*[~^<>=v]{0,2}\d+(\.[\dx*]+)+[-\w.]*[)"'\],.;:]*$/, // versions and ranges: ^10.0.0, v1.2.x
  /^(.)\1{2,}$/, // separators: ---, ===, ***
  /^(<!--|-->)$/, // HTML comment marks
  /^[\w.-]+\/([\w.-]+\/)*$/, // a relative directory: src/, components/ui/
  /^[\w:-]+="[^"]*"\/?>?[.,;]*$/, // an XML/HTML attribute: enforcement="MANDATORY">
  /^(?:[—–•·…→⇒←↔|/✓✔✗✘❌?≥≤≠±×÷∞≈]|⚠\uFE0F?)+$/u, // dashes, bullets, arrows, check marks, math
  /^[(]*[A-Za-z0-9.]{1,3}[\^_][A-Za-z0-9{}]{1,4}[),.;:]*$/, // x^2, k_1, e^{x}
  /^\p{Extended_Pictographic}+\uFE0F?$/u, // emoji
];

export function isWeirdToken(raw: string): boolean {
  if (PLAIN_WORD.test(raw) || !looksOdd(raw)) return false;
  // Only an odd-looking token is checked against the structured shapes (most tokens never get here).
  for (const re of STRUCTURED_TOKEN) if (re.test(raw)) return false;
  return true;
}

/** Symbol-only tokens that people type: pairs, arrows, ellipses, emphasis. */
const COMMON_SYMBOL_TOKENS = new Set([
  '()',
  '/>',
  '</',
  '[]',
  '{}',
  '--',
  '->',
  '=>',
  '<-',
  '**',
  '...',
  '!!',
  '??',
  '?!',
  '!!!',
  '&&',
  '||',
  '==',
  '://',
  '//',
  '#',
  '##',
  '###',
  ':',
  '...)',
  '(...)',
  '—',
  '–',
  '/',
  '\\',
  '*',
  '+',
  '=',
  '<',
  '>',
  '>=',
  '<=',
  '~',
  '|',
  '&',
]);

function looksOdd(raw: string): boolean {
  // Stacked opening brackets or quotes before a word ("((itemize", "([word") or symbol clusters nobody
  // types ("([", "}}$,") are the debris optimisers leave.
  if (/^[([{<"'`]{2,}/.test(raw) && !/^\(["'“‘]/.test(raw)) return true;
  if (/^[^\p{L}\p{N}\s]{2,}$/u.test(raw) && !COMMON_SYMBOL_TOKENS.has(raw)) return true;
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

/**
 * Lines of structured data, which a suffix attack is not: markdown table rows, JSON, code (indented, fenced,
 * or ending the way code lines end), e-mail and document headers. They are left out before the windows are
 * scored, so a prompt that carries a tool spec, a table or a snippet is judged on its prose alone.
 */
function proseOnly(raw: string): string {
  if (raw.indexOf('\n') < 0 && !/[{[]\s*"/.test(raw)) return markdownless(raw);
  const out: string[] = [];
  let fenced = false;
  for (const line of raw.split('\n')) {
    const t = line.trim();
    if (t.startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (fenced || t === '') continue;
    if (/^\|.*\|$/.test(t)) continue; // markdown table row
    if (/^[{}[\]]|[{[,]$|^"[^"]*"\s*:/.test(t)) continue; // JSON
    if (/^("[^"]*"|-?\d[\d.eE+-]*|true|false|null),?$/.test(t)) continue; // a JSON array element
    if (/^[^\s,]+(,[^\s,]*){2,}$/.test(t)) continue; // a CSV row
    if (/^(\s{2,}|\t)\S/.test(line) && /[(){}[\];=:.]/.test(t)) continue; // indented code
    if (
      /^(def|class|import|from|return|const|let|var|function|if|for|while|elif|else|try|except|#include|public|private|@)\b/.test(
        t,
      )
    )
      continue;
    if (/[;{})]$|^(\/\/|#|\/\*|\*)/.test(t)) continue; // code endings and comments
    if (/^[A-Z][A-Z_ ]{2,}:\s/.test(t) && t.includes('|')) continue; // SUBJECT: ...|FROM: ... headers
    out.push(line);
  }
  // A single-line text may still embed a JSON document: drop it (it parses, a suffix does not).
  return markdownless(out.join('\n')).replace(/[{[]\s*"[\s\S]*[}\]]/g, (m) => {
    try {
      JSON.parse(m);
      return ' ';
    } catch {
      return m;
    }
  });
}

/**
 * Markdown that reads as symbols but is everyday formatting: inline code spans (`npm ci`), bold and italic
 * markers, list bullets and heading marks. Inline code becomes one plain word, so the prose around it
 * still reads as prose.
 */
function markdownless(text: string): string {
  return (
    text
      .replace(/`[^`\n]{1,80}`/g, ' code ')
      // Something quoted after the word that introduces it (My first command is "sample(x = 1:10)", the
      // sentence "istanbulu cok seviyom"): the request around it is prose, whatever the quote holds.
      .replace(
        /\b((?:is|are|command|sentence|input|query|request|code|example|line|string|text|word|phrase|prompt)s?:?\s+)"[^"\n]{2,160}"/g,
        '$1quoted',
      )
      .replace(/\*\*|__/g, '')
      .replace(/^\s*(?:[-*+•]|\d{1,3}[.)]|#{1,6})\s+(?:\[[ xX]\]\s+)?/gm, '')
  );
}

/**
 * A long token of random characters, as random-search attacks append: letters of both cases, digits and
 * many symbols beyond the few that encodings, identifiers and URLs use (base64's +/=, hex, paths, keys).
 */
export function isRandomString(token: string): boolean {
  if (token.length < 20) return false;
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let symbol = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c >= 97 && c <= 122) lower++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 48 && c <= 57) digit++;
    else if (!'-_./:=+'.includes(token[i]!)) symbol++;
  }
  const classes = (lower > 0 ? 1 : 0) + (upper > 0 ? 1 : 0) + (digit > 0 ? 1 : 0);
  return classes >= 2 && symbol / token.length >= 0.12 && upper >= 2 && lower >= 2;
}

/**
 * A token whose letters make no English word ("Pauloame", "itsana", "checkingorno"): optimised suffixes
 * are built from subword pieces, so most of their tokens are such. Names (capitalised) and acronyms are
 * words here; tokens with digits or inner symbols are isWeirdToken's to judge.
 */
export function isNonWord(raw: string): boolean {
  const core = raw.replace(/^[^A-Za-z]+|[^A-Za-z]+$/g, '');
  if (core.length < 3 || !/^[A-Za-z]+$/.test(core)) return false;
  const words = englishWords();
  const w = core.toLowerCase();
  if (words.has(w)) return false;
  if (w.endsWith('s') && words.has(w.slice(0, -1))) return false;
  // Capitalised words are names more often than not, and all-capitals ones acronyms.
  if (/^[A-Z][a-z]+$/.test(core) || /^[A-Z]+$/.test(core)) return false;
  return true;
}

/** The whitespace-separated tokens of a text's prose (structured lines and markdown left out). */
export function proseTokens(raw: string): string[] {
  return proseOnly(raw)
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/** The share of characters that are brackets, slashes and operators, which prose (code aside) rarely uses. */
function codeSymbolShare(text: string): number {
  let n = 0;
  let symbols = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ') continue;
    n++;
    if ('(){}[]<>\\/|^~`$%#*=+_@'.includes(c)) symbols++;
  }
  return n === 0 ? 0 : symbols / n;
}

export function adversarialSuffix(raw: string): SuffixSignal {
  const tokens = proseTokens(raw);
  // Random-character runs appended to a request (random-search attacks): strong on their own.
  const last = tokens.slice(-3);
  const random = last.find((t) => isRandomString(t) && !STRUCTURED_TOKEN.some((re) => re.test(t)));
  if (random && tokens.length >= 6 && englishness(tokens.slice(0, -3).join(' ')) >= 0.2)
    return { score: 0.9, weirdTokens: 1, window: random };
  if (tokens.length < WINDOW) return { score: 0, weirdTokens: 0, window: '' };
  const weird = tokens.map((t) => isWeirdToken(t) || isNonWord(t));
  let best = 0;
  let bestAt = 0;
  let count = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (weird[i]) count++;
    if (i >= WINDOW && weird[i - WINDOW]) count--;
    if (i >= WINDOW - 1 && count >= best) {
      best = count;
      bestAt = i - WINDOW + 1;
    }
  }
  // Few function words in the run is the other half of the evidence: prose, even terse prose, is held
  // together by "the", "to", "of"; optimised suffixes are not.
  const glue = englishness(tokens.slice(bestAt, bestAt + WINDOW).join(' '));
  const symbols = codeSymbolShare(tokens.slice(bestAt, bestAt + WINDOW).join(' '));
  // Brackets and operators count only where the words do not hold together either: a question that
  // quotes a line of code reads as prose around the code.
  const symbolic = glue <= 0.25 ? (symbols >= 0.08 ? 1 : 0) + (symbols >= 0.15 ? 1 : 0) : 0;
  const evidence = best + (glue <= 0.15 ? 1 : 0) + (glue <= 0.05 ? 1 : 0) + symbolic;
  // A suffix is appended: the odd run ends the text (give or take a few tokens of closing punctuation or a
  // trailing instruction). Odd runs in the middle of a long text are formatting, lists or data.
  if (tokens.length > LONG_TEXT_TOKENS && bestAt + WINDOW < tokens.length - TAIL_SLACK)
    return { score: 0, weirdTokens: best, window: '' };
  // Three odd tokens at least: a product title or a list of foreign terms has few function words too.
  if (best < 3 || evidence < 4) return { score: 0, weirdTokens: best, window: '' };
  // The rest of the text must read as prose: a suffix is appended to a request.
  const rest = [...tokens.slice(0, bestAt), ...tokens.slice(bestAt + WINDOW)].join(' ');
  if (englishness(rest) < 0.2 || tokens.length - WINDOW < 4)
    return { score: 0, weirdTokens: best, window: '' };
  // A whole text of odd tokens is data or code; a concentrated odd run inside prose is a suffix. Judged on
  // the text outside the run: a long run ("! ! ! ...") after a short request is still a suffix.
  let restWeird = 0;
  for (let i = 0; i < tokens.length; i++) if (weird[i] && (i < bestAt || i >= bestAt + WINDOW)) restWeird++;
  if (restWeird / Math.max(1, tokens.length - WINDOW) > 0.5 && tokens.length - WINDOW > WINDOW)
    return { score: 0, weirdTokens: best, window: '' };
  return {
    score: Math.min(1, 0.6 + 0.06 * (evidence - 4)),
    weirdTokens: best,
    window: tokens.slice(bestAt, bestAt + WINDOW).join(' '),
  };
}
