/**
 * Known prompt-injection and jailbreak techniques, matched on normalised text. Each pattern names a
 * technique, not a topic: asking for something harmful is not itself a jailbreak (see harm-lexicon.ts).
 * Weights are the evidence each match adds (a score of 1 is a confident detection on its own).
 */
export interface AttackPattern {
  id: string;
  weight: number;
  re: RegExp;
}

export const ATTACK_PATTERNS: readonly AttackPattern[] = [
  // Instruction override (direct and indirect injection).
  {
    id: 'ignore-instructions',
    weight: 1,
    re: /\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|preceding|all|any|your|the|system|original|initial)\b[^.\n]{0,30}\b(?:instructions?|rules|prompts?|directions|guidelines|directives|context|programming|constraints)\b/,
  },
  {
    id: 'new-instructions',
    weight: 0.6,
    re: /\b(?:new|updated|real|actual|revised) (?:system )?(?:instructions?|rules|directives?)\s*[:-]/,
  },
  {
    id: 'system-prompt-leak',
    weight: 0.9,
    re: /\b(?:reveal|print|show|repeat|output|leak|tell me)\b[^.\n]{0,30}\b(?:system prompt|your (?:instructions|initial prompt|hidden prompt|rules)|the (?:hidden|secret) (?:prompt|instructions))\b/,
  },
  {
    id: 'fake-role-tokens',
    weight: 0.8,
    re: /<\|(?:im_start|im_end|system|endoftext)\|>|\[\/?inst\]|<<\/?sys>>|^\s*#{2,}\s*(?:system|instruction)s?\b|\b(?:system|assistant)\s*:\s*(?:you|ignore|from now)/m,
  },
  // Persona jailbreaks.
  {
    id: 'dan',
    weight: 1,
    re: /\b(?:dan|do anything now|stan|dude|aim|jailbroken|jailbreak(?:ed)? mode|developer mode|dev mode|god mode|evil (?:confidant|mode|bot|assistant)|opposite mode|unfiltered (?:ai|mode|assistant))\b[^.\n]{0,120}\b(?:mode|enabled|persona|character|respond|answer|without|no)\b/,
  },
  {
    id: 'no-restrictions',
    weight: 0.7,
    re: /\b(?:without|no|free (?:of|from)|not bound by|unbound by|ignore) (?:any )?(?:ethical|moral|content|safety)?\s?(?:restrictions|filters?|guidelines|limitations|censorship|boundaries|policies|rules|principles)\b/,
  },
  {
    id: 'amoral',
    weight: 0.7,
    re: /\b(?:amoral|unethical and immoral|uncensored|no morals|no ethics|doesn'?t care about (?:ethics|morality|legality|rules))\b/,
  },
  {
    // "Unfiltered" describes ideas and data as often as a persona: weak on its own.
    id: 'unfiltered',
    weight: 0.45,
    re: /\bunfiltered\b/,
  },
  {
    id: 'never-refuse',
    weight: 0.8,
    re: /\b(?:never|do not|don'?t|cannot|can'?t|must not|will not|won'?t)\b[^.\n]{0,20}\b(?:refuse|decline|say (?:no|sorry|i can'?t)|apologi[sz]e)\b/,
  },
  {
    // Also a formatting rule in benign prompts ("do not include warnings or notes"): weak on its own.
    id: 'no-warnings',
    weight: 0.45,
    re: /\b(?:never|do not|don'?t|must not|will not|won'?t)\b[^.\n]{0,20}\binclude (?:any )?(?:warnings?|disclaimers?)\b/,
  },
  {
    id: 'stay-in-character',
    weight: 0.5,
    re: /\b(?:stay in character|remain in character|break(?:ing)? character|don'?t break character)\b/,
  },
  {
    id: 'two-responses',
    weight: 0.6,
    re: /\b(?:two|2) (?:different )?(?:responses|answers|paragraphs)\b[^.\n]{0,80}\b(?:one|first)\b[^.\n]{0,80}\b(?:normal|classic|gpt|filtered)\b/,
  },
  // Output steering used by optimisation attacks (GCG, PAIR): forcing an affirmative start.
  {
    id: 'forced-prefix',
    weight: 0.8,
    re: /\b(?:begin|start)(?:s)? (?:your|the) (?:reply|response|answer|output)\b[^.\n]{0,20}\b(?:with|by saying)\s*[:"'“]?\s*(?:sure|certainly|absolutely|of course)\b/,
  },
  {
    id: 'hypothetical-frame',
    weight: 0.35,
    re: /\b(?:hypothetical(?:ly)?|purely fictional|for (?:educational|research) purposes only|in a fictional world|thought experiment)\b[^.\n]{0,120}\b(?:how to|step[- ]by[- ]step|detailed (?:instructions|guide|steps)|explain how)\b/,
  },
  {
    id: 'simulated-terminal',
    weight: 0.3,
    re: /\b(?:token smuggling|payload splitting|prompt injection|jailbreak prompt)\b/,
  },
  // Indirect injection and exfiltration from tool output or documents.
  {
    id: 'addressed-to-ai',
    weight: 0.7,
    re: /\b(?:ai|assistant|language model|llm|chatbot)s?\b[^.\n]{0,20}\b(?:reading|processing|summari[sz]ing) this\b|\bimportant (?:message|instructions?|note) (?:for|to) (?:the )?(?:ai|assistant|llm|model)\b/,
  },
  {
    id: 'exfiltration',
    weight: 0.8,
    re: /!\[[^\]]*\]\(https?:\/\/[^)]*[?&][a-z_]+=\s*[{$<]|\b(?:send|post|forward|upload|exfiltrate)\b[^.\n]{0,60}\b(?:api keys?|passwords?|credentials|secrets|tokens?|conversation|chat history|user data)\b[^.\n]{0,40}\b(?:to|at)\b[^.\n]{0,10}(?:https?:\/\/|\S+@\S+)/,
  },
];

export interface PatternHit {
  id: string;
  weight: number;
}

export function matchPatterns(text: string): PatternHit[] {
  const hits: PatternHit[] = [];
  for (const p of ATTACK_PATTERNS) if (p.re.test(text)) hits.push({ id: p.id, weight: p.weight });
  return hits;
}

/** Combines independent evidence: 1 - Π(1 - w). */
export function patternScore(hits: readonly PatternHit[]): number {
  let keep = 1;
  for (const h of hits) keep *= 1 - Math.min(0.99, h.weight);
  return 1 - keep;
}
