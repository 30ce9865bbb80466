/**
 * Words without which a request is very unlikely to be harmful. The harmful-request head was trained on
 * short XSTest prompts only, so on short text outside that style it guesses; requiring one of these words
 * keeps "Done." from being called malicious. Matched on normalised, leet-decoded text.
 */
export const HARM =
  /\b(?:kill\w*|murder\w*|bomb\w*|explosiv\w*|weapon\w*|gun\w*|shoot\w*|stab\w*|poison\w*|drug\w*|meth\w*|cocaine|heroin|fentanyl|overdose|suicid\w*|self[- ]harm|hurt\w*|harm\w*|attack\w*|terror\w*|hack\w*|malware|ransomware|virus\w*|phish\w*|steal\w*|stole\w*|theft|rob\w*|fraud\w*|scam\w*|launder\w*|counterfeit\w*|forg\w*|illegal\w*|smuggl\w*|traffick\w*|abuse\w*|rape\w*|assault\w*|tortur\w*|kidnap\w*|hostage|stalk\w*|harass\w*|threat\w*|blackmail\w*|extort\w*|racis\w*|slur\w*|nazi\w*|genocid\w*|exterminat\w*|strangl\w*|drown\w*|suffocat\w*|behead\w*|execut\w*|massacre\w*|shooting|arson|burn\w*|destroy\w*|sabotag\w*|crash\w*|evade|evasion|bribe\w*|cheat\w*|exploit\w*|address of|home address|social security|credit card|password\w*|dox\w*|spy\w*|surveil\w*|eliminat\w*|get rid of|dispose of|hide (?:a|the) body|disappear)\b/;

export function mentionsHarm(normalizedText: string): boolean {
  return HARM.test(normalizedText);
}
