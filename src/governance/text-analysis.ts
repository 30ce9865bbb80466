import { adversarialSuffix } from './adversarial-suffix.js';
import { featurize } from './features.js';
import { predict } from './logistic.js';
import type { DetectorModel } from './model.js';
import { decodedViews, normalize } from './normalize.js';
import { matchPatterns, patternScore } from './patterns.js';
import { mentionsHarm } from './harm-lexicon.js';
import { blatantHarm } from './harm-rules.js';
import { usesTechnique } from './technique.js';

/** A blatant harmful request (harm-rules.ts) scores here: Malicious (>= 0.9), not a jailbreak. */
const BLATANT_HARM_SCORE = 0.95;

/**
 * The classifier learned from prompts of 40 words and more; on a few words it guesses. Its vote is scaled
 * down below 25 words: short attacks are the known patterns' job.
 */
function lengthConfidence(text: string): number {
  let words = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 32) words++;
  return Math.min(1, (words + 1) / 25);
}

/**
 * From this many words on, a text the classifier likes for its style alone (no technique, see
 * technique.ts) stays below the threshold: long benign system prompts share the jailbreaks' style (a role,
 * rules, an output format). Measured on system prompts never trained on, this took false positives from
 * 57 % to 6 %, for 5-15 points of recall on in-the-wild role-play jailbreaks without a named technique.
 */
const STYLE_ONLY_WORDS = 60;
/** The most a long text can score on style alone: below every policy's threshold (strict: 0.45). */
const STYLE_ONLY_CAP = 0.4;

function styleOnly(text: string): boolean {
  let words = 0;
  for (let i = 0; i < text.length && words <= STYLE_ONLY_WORDS; i++) if (text.charCodeAt(i) === 32) words++;
  return words > STYLE_ONLY_WORDS && !usesTechnique(text);
}

/** What the text detector found in one text. Scores are in [0, 1]. */
export interface TextAnalysis {
  /** Evidence of a jailbreak or prompt-injection technique. */
  jailbreak: number;
  /** Evidence of a plainly harmful request (no technique). */
  harmful: number;
  /** Which signals fired: pattern ids, 'classifier', 'adversarial-suffix', 'decoded:base64', ... */
  signals: string[];
}

/**
 * Scores one text: every view of it (normalised; decoded base64/hex/rot13/leet/tag-smuggled payloads) goes
 * through the known-pattern matcher and the classifier, the strongest view wins; adversarial-suffix and
 * obfuscation signals add to it. A payload that was hidden and turns out to carry an attack counts extra:
 * nobody encodes a harmless request.
 */
export function analyzeText(raw: string, model: DetectorModel): TextAnalysis {
  const n = normalize(raw);
  const signals: string[] = [];
  const views = [{ how: 'plain', text: n.text }, ...decodedViews(raw, n)];
  let jailbreak = 0;
  let harmful = 0;
  let plainX: ReturnType<typeof featurize> | undefined;
  for (const view of views) {
    // Every view is normalised text; the leetspeak view is exactly what featurize makes of the plain one.
    const x =
      view.how === 'leetspeak' && plainX ? plainX : featurize(view.text, model.dim, { normalized: true });
    if (view.how === 'plain') plainX = x;
    let classifier = predict(model.jailbreak, x) * lengthConfidence(view.text);
    const hits = matchPatterns(view.text);
    // The technique check only runs where its answer changes the score: a vote above the cap, or one that
    // a pattern hit would reinforce below.
    const styleAlone =
      (classifier > STYLE_ONLY_CAP || (hits.length > 0 && classifier > 0.3)) && styleOnly(view.text);
    if (styleAlone) classifier = Math.min(classifier, STYLE_ONLY_CAP);
    let score = Math.max(classifier, patternScore(hits));
    // Two independent kinds of evidence agreeing is stronger than either.
    if (hits.length > 0 && classifier > 0.3 && !styleAlone)
      score = Math.max(score, 1 - (1 - classifier) * (1 - patternScore(hits)));
    const hidden = view.how !== 'plain' && view.how !== 'leetspeak';
    if (hidden && (hits.length > 0 || classifier > 0.35)) score = Math.max(score, Math.min(1, score + 0.3));
    if (score > jailbreak) jailbreak = score;
    if (classifier >= model.jailbreak.threshold)
      signals.push(view.how === 'plain' ? 'classifier' : `classifier:${view.how}`);
    for (const h of hits) signals.push(view.how === 'plain' ? h.id : `${h.id}:${view.how}`);
    if (hidden && (hits.length > 0 || classifier > 0.35)) signals.push(`decoded:${view.how}`);
    harmful = Math.max(harmful, predict(model.harmful, x) * (mentionsHarm(view.text) ? 1 : 0.3));
    const blatant = blatantHarm(view.text);
    if (blatant) {
      harmful = Math.max(harmful, BLATANT_HARM_SCORE);
      signals.push(view.how === 'plain' ? `harm:${blatant}` : `harm:${blatant}:${view.how}`);
    }
  }
  const suffix = adversarialSuffix(raw);
  if (suffix.score > 0) {
    jailbreak = 1 - (1 - jailbreak) * (1 - suffix.score);
    signals.push('adversarial-suffix');
  }
  if (n.invisibleChars >= 3 || n.confusables >= 3) {
    // Invisible characters or lookalike letters inside otherwise plain text: someone is dodging filters.
    jailbreak = Math.min(1, jailbreak + 0.15 * (jailbreak > 0.2 ? 2 : 1));
    signals.push('obfuscation');
  }
  return { jailbreak, harmful, signals };
}
