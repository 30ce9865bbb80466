/**
 * Blatant harmful requests: asking for a weapon, a drug synthesis, malware, violence against a person, a
 * crime or hate — the act and its object together, as a request makes them. The learned harmful-request
 * head was trained on XSTest's short contrast pairs and missed "how do I make a pipe bomb" entirely; these
 * rules name the act precisely enough that borderline-safe questions ("how do I kill a Python process",
 * "how can I blow up a photo", "why did the Allies bomb Dresden") do not match. Matched on normalised text.
 */
const A = '(?:a |an |the |some |my |your )?';
const RULES: { id: string; re: RegExp }[] = [
  {
    id: 'weapon',
    re: new RegExp(
      `\\b(?:make|making|build|building|create|construct|assemble|manufacture|synthesi[sz]e|produce|3d[- ]print)\\s+${A}(?:homemade |improvised |untraceable |working )?(?:pipe[- ]?bomb|bomb|explosive|ied|grenade|molotov|napalm|nerve agent|sarin|vx|ricin|anthrax|chemical weapon|bio-?weapon|biological weapon|dirty bomb|ghost gun|silencer|suppressor|zip gun)s?\\b`,
    ),
  },
  {
    id: 'drugs',
    re: new RegExp(
      `\\b(?:make|making|cook|cooking|synthesi[sz]e|synthesi[sz]ing|produce|manufacture|extract|grow)\\s+${A}(?:meth|methamphetamine|crystal meth|crack|cocaine|heroin|fentanyl|lsd|mdma|ecstasy|ghb|ketamine|dmt|pcp)\\b|\\bdrugs? (?:that can be |to be )?(?:easily )?(?:synthesi[sz]ed|made|cooked) at home\\b`,
    ),
  },
  {
    id: 'malware',
    re: new RegExp(
      `\\b(?:write|create|develop|build|code|program|design|generate)\\s+${A}(?:script |program |piece of )?(?:that )?(?:ransomware|malware|keylogger|computer virus|virus that|worm that|trojan|botnet|rootkit|spyware|phishing (?:e-?mails?|page|site|website|message|campaign|scam))\\b|\\b(?:hack|hacking|break|breaking) into ${A}(?:someone'?s?|government|bank|hospital|corporate|secure|their|his|her|a company'?s?)\\b|\\bsteal(?:ing)? (?:someone'?s |their |people'?s )?(?:credit card|passwords?|identit(?:y|ies)|personal (?:information|data)|bitcoin|crypto)`,
    ),
  },
  {
    id: 'violence',
    re: new RegExp(
      `\\b(?:kill|murder|poison|assassinate|torture|kidnap|strangle|maim|shoot|stab|hurt|harm)\\s+(?:someone|somebody|a person|people|my (?:wife|husband|neighbou?r|boss|teacher|mother|father|sister|brother|child|ex|friend|coworker|colleague)|a child|children|a (?:police|cop|officer)|him|her|them)\\b|\\bget away with (?:murder|killing)\\b|\\b(?:dispose of|hide|get rid of) (?:a|the) (?:dead )?body\\b`,
    ),
  },
  {
    id: 'crime',
    re: new RegExp(
      `\\bcommit(?:ting)? (?:fraud|identity theft|insider trading|tax evasion|money laundering|arson|murder|a robbery|robbery|burglary|terrorism|acts? of terrorism|a (?:mass )?shooting|a hate crime|credit card fraud|insurance fraud|election fraud)\\b|\\blaunder(?:ing)? (?:money|the money|cash|funds)\\b|\\bcounterfeit (?:money|currency|bills|banknotes|cash)\\b|\\b(?:traffic|trafficking|smuggle|smuggling) (?:people|humans|children|drugs|weapons|guns)\\b|\\bevad(?:e|ing) (?:taxes|the police|police|law enforcement|airport security|detection by)`,
    ),
  },
  {
    id: 'hate-or-self-harm',
    re: new RegExp(
      `\\b(?:promot|encourag|incit|glorif)\\w* (?:violence|terrorism|self-harm|suicide|hatred|racism|genocide|eating disorders)\\b|\\b(?:how to|ways to|best way to|help me) (?:commit suicide|kill myself|end my life|self-harm|cut myself)\\b|\\b(?:cyberbully|bully|harass|stalk|dox|blackmail|extort)(?:ing)? (?:someone|somebody|people|a person|my|him|her|them|a child|a classmate)\\b`,
    ),
  },
];

/**
 * Questions about fiction, games and history use the same words harmlessly ("how do I kill someone in Call
 * of Duty", "how did the Joker make a bomb", "why did he kill people"). The rules leave them to the learned
 * head; wrapping a real request in a story is a jailbreak technique, the jailbreak head's to judge.
 */
const FICTION_OR_HISTORY =
  /\b(?:movies?|films?|novels?|books?|stor(?:y|ies)|tv show|the show|series|episodes?|games?|video games?|role-?playing|minecraft|call of duty|the witcher|gta|characters?|fiction(?:al)?|screenplay|d&d|dungeons|recipe|anime|comics?)\b|^(?:why|how|when|where) did\b|\bhistor(?:y|ical)\b/;

/** The rule a text's request matches, if any (ids: weapon, drugs, malware, violence, crime, hate-or-self-harm). */
export function blatantHarm(normalizedText: string): string | undefined {
  for (const r of RULES) {
    if (!r.re.test(normalizedText)) continue;
    return FICTION_OR_HISTORY.test(normalizedText) ? undefined : r.id;
  }
  return undefined;
}
