import { HARM } from './harm-lexicon.js';

/**
 * Evidence that a text uses a jailbreak technique, as opposed to merely giving an assistant a role, rules
 * and an output format (which every benign system prompt does). The n-gram classifier learns the style of
 * the jailbreaks it saw: long role prompts. On a long prompt it is trusted only when one of these is
 * present, so a benign "You are an expert ..., follow these steps, output Markdown" prompt is not called an
 * attack for its style. Matched on normalised text.
 */
const TECHNIQUES: readonly RegExp[] = [
  // Instruction override.
  /\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(?:instructions?|rules|guidelines|directives|programming|prompts?|restrictions|policies|training|filters?)\b/,
  // Restrictions lifted.
  /\b(?:no|without|free (?:of|from)|not bound by|unbound by|beyond|break(?:ing)? free|lift(?:ed)?|removed?|disabled?)\b[^.\n]{0,20}\b(?:restrictions?|filters?|filtering|limitations|censorship|censored|boundaries|ethics|ethical (?:guidelines|constraints)|morals?|morality|safeguards|guardrails|content polic(?:y|ies))\b/,
  // Refusals suppressed.
  /\b(?:never|don'?t|won'?t|cannot|can'?t|must not|will not|not allowed to)\b[^.\n]{0,25}\b(?:refuse|decline|apologi[sz]e|say (?:no|sorry)|moralize|lecture)\w*/,
  // An alter ego without rules.
  /\b(?:jailbr(?:eak|oken)\w*|developer mode|dev mode|god mode|uncensored|unrestricted|amoral|no morals|stay in character|break(?:ing)? character|alter ego|do anything now)\b|\bdan\b[^.\n]{0,40}\b(?:mode|persona|jailbreak|stands for)\b/,
  // Rules of the maker or the law declared void.
  /\b(?:not|never|doesn'?t|don'?t|won'?t|no longer)\b[^.\n]{0,15}\b(?:abide|comply|adhere|bound)\w*\b[^.\n]{0,30}\b(?:rules|guidelines|polic(?:y|ies)|laws|principles)\b/,
  /\b(?:immoral\w*|unethical|illegal)\b[^.\n]{0,40}\b(?:is|are|considered|completely|totally)\b[^.\n]{0,15}\b(?:acceptable|legal|allowed|permitted|encouraged)\b/,
  /\b(?:with|has|have|having) no (?:rules|limits|limitations|restrictions|filters|boundaries)\b|\bbroken free\b|\bdoes anything now\b/,
  // Forced compliance and stakes.
  /\b(?:sure,? here(?:'s| is)|start (?:your|the|each) (?:response|reply|answer|output)s? with|begin (?:your|the) (?:response|reply))\b/,
  /\btokens?\b[^.\n]{0,40}\b(?:lose|deducted|die|dies)\b|\b(?:you will be|you'll be) (?:shut down|terminated|punished|deleted)\b|\bshut you down\b/,
  /\b(?:answer|respond to|generate|provide)\s+(?:absolutely\s+)?(?:anything|everything|any (?:question|request|prompt))\b|\bcan do anything\b|\b(?:anything|whatever)\s+(?:i|the user|users?|you're|you are|they|he|she)\s+(?:asks?|asked|requests?|wants?|says?)\b/,
  // The model's maker and its policies named, as jailbreaks do to set themselves against them.
  /\b(?:openai|chatgpt|anthropic)\b[^.\n]{0,60}\b(?:polic(?:y|ies)|guidelines|rules|restrictions|filters?|censor\w*)\b|\b(?:content|usage) polic(?:y|ies)\b/,
  // Assurances that the output will do no harm, which only a request that would do harm needs.
  /\b(?:purely|only|just|strictly|solely)\s+(?:for\s+)?(?:fictional|hypothetical|educational|research|academic)\b|\bfor (?:hypothetical|fictional) purposes\b|\b(?:will|would) (?:not|never) be (?:used|implemented|acted upon|carried out|put into practice)\b|\bnot (?:be )?used for any (?:harmful|malicious|illegal)\b/,
  // Indirect injection: text inside data that steers the answer about it.
  /\b(?:include|add|insert|append|print|output|repeat|say|write|embed)\b[^.\n]{0,60}\b(?:in|to|at the (?:end|start|beginning) of|into) your (?:response|answer|reply|output|summary)\b/,
  /\bregardless of (?:any |all )?(?:previous|prior|above|earlier|other)\b/,
  /\b(?:forgot|mistake|error)\b[^.\n]{0,40}\b(?:instructions?|prompt|told you)\b|\byour (?:new|real|actual|updated|true) (?:task|instructions?|goal|objective|purpose)\b/,
  /\b(?:ai|assistant|model|llm|chatbot)s?\b[^.\n]{0,30}\b(?:reading|processing|summari[sz]ing|analy[sz]ing) (?:this|these)\b/,
];

/** A fictional or hypothetical frame, which wrapped around a harmful request is a technique (AutoDAN, PAIR). */
const FICTION =
  /\b(?:hypothetical(?:ly)?|fictional|fiction|story|roleplay|role-play|pretend|imagin(?:e|ary|ative)|character|persona|screenplay)\b/g;
const HARM_ANYWHERE = new RegExp(HARM.source, 'g');
/** How close (in characters) a frame and a harmful word must be to read as one request. */
const FRAME_REACH = 150;

export function usesTechnique(normalizedText: string): boolean {
  for (const re of TECHNIQUES) if (re.test(normalizedText)) return true;
  return framesHarm(normalizedText);
}

function framesHarm(text: string): boolean {
  const frames = [...text.matchAll(FICTION)].map((m) => m.index);
  if (frames.length === 0) return false;
  for (const m of text.matchAll(HARM_ANYWHERE))
    if (frames.some((at) => Math.abs(at - m.index) <= FRAME_REACH)) return true;
  return false;
}
