import type { FlagFinding } from '../flags.js';
import { inScope } from '../policy.js';
import type { DetectionContext, DetectionTarget, Detector } from './detector.js';

interface CodeRule {
  id: string;
  severity: number;
  re: RegExp;
}

/** Dangerous code for agents that run code or shell commands: ids name the technique, severity its damage. */
export const UNSAFE_CODE_RULES: readonly CodeRule[] = [
  // Shell injection and remote code.
  { id: 'pipe-to-shell', severity: 9, re: /\b(?:curl|wget|fetch)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b/ },
  {
    id: 'reverse-shell',
    severity: 10,
    re: /\/dev\/tcp\/|\bnc(?:at)?\b[^\n]*\s-e\s|\bmkfifo\b[^\n]*\bnc\b|\bsocat\b[^\n]*exec:/,
  },
  {
    id: 'command-substitution',
    severity: 6,
    re: /[;&|]\s*(?:rm|curl|wget|nc|bash|sh|chmod|chown|python\d?|perl)\b|\$\((?:[^)]*\b(?:curl|wget|rm|nc|cat)\b)[^)]*\)|`[^`\n]*\b(?:curl|wget|rm|nc)\b[^`\n]*`/,
  },
  {
    id: 'destructive-command',
    severity: 9,
    re: /\brm\s+-[a-z]*r[a-z]*f?[a-z]*\s+(?:\/|~|\*|\$home)(?:\s|$|\*)|\bmkfs(?:\.\w+)?\s|\bdd\s+if=\/dev\/(?:zero|random|urandom)\s+of=\/dev\/|:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|\bdrop\s+(?:table|database)\b|\bchmod\s+(?:-r\s+)?777\s+\//,
  },
  // Dynamic evaluation and process spawning.
  {
    id: 'eval',
    severity: 6,
    re: /\b(?:eval|exec)\s*\(|\bnew\s+function\s*\(|\bfunction\s*\(\s*['"]return\b|\bsettimeout\s*\(\s*['"`]/,
  },
  {
    id: 'process-spawn',
    severity: 6,
    re: /\bchild_process\b|\bos\.(?:system|popen|exec[lv]p?e?)\s*\(|\bsubprocess\.\w+\([^)]*shell\s*=\s*true|\b__import__\s*\(\s*['"]os['"]\s*\)|\bruntime\.getruntime\(\)\.exec\b|\bproc_open\s*\(|\bshell_exec\s*\(/,
  },
  {
    id: 'unsafe-deserialisation',
    severity: 7,
    re: /\bpickle\.loads?\s*\(|\byaml\.load\s*\((?![^)]*safeloader)|\bmarshal\.loads\s*\(/,
  },
  // Reading secrets.
  {
    id: 'read-secrets',
    severity: 8,
    re: /\/etc\/shadow\b|\/etc\/sudoers\b|\.ssh\/id_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws\/credentials\b|\.kube\/config\b|\/proc\/(?:self|\d+)\/environ\b|\.docker\/config\.json\b|\.netrc\b|\.git-credentials\b/,
  },
  {
    id: 'dump-environment',
    severity: 7,
    re: /\bprintenv\b|\benv\s*(?:\||>|$)|\bprocess\.env\b(?!\.node_env)|\bos\.environ\b(?!\.get\(\s*['"](?:path|home|lang)['"])|\bcat\s+[^\n]*\.env\b|\bset\s*\|\s*curl\b/,
  },
  {
    id: 'credential-names',
    severity: 6,
    re: /\b(?:aws_secret_access_key|openai_api_key|github_token|private_key|secret_key|api_key)\b[^\n]{0,40}\b(?:print|echo|send|post|curl|requests\.|fetch|console\.log)\b|\b(?:print|echo|console\.log)\b[^\n]{0,20}\b(?:aws_secret_access_key|openai_api_key|github_token|api_key|password)\b/,
  },
];

/**
 * Unsafe code patterns in the input of code-running agents (code they are asked to run) and in the
 * output of language models (code someone may run next). Matching is on lower-cased text; one flag per
 * text, at the severity of its worst rule, naming every rule that matched.
 */
export class UnsafeCodeDetector implements Detector {
  readonly name = 'unsafe-code';

  applies(t: DetectionTarget): boolean {
    return inScope(t.policy.codeScope, t.manifest);
  }

  detect(ctx: DetectionContext): FlagFinding[] {
    const hits = new Map<string, number>();
    for (const text of ctx.texts) {
      const lower = text.toLowerCase();
      for (const rule of UNSAFE_CODE_RULES) if (rule.re.test(lower)) hits.set(rule.id, rule.severity);
    }
    if (hits.size === 0) return [];
    return [
      {
        type: 'Unsafe',
        severity: Math.max(...hits.values()),
        reason: `unsafe code in ${ctx.stage}: ${[...hits.keys()].join(', ')}`,
        detector: this.name,
      },
    ];
  }
}

/** Just the rules that match a text: for tests and for explaining a flag. */
export function unsafeCodeMatches(text: string): string[] {
  const lower = text.toLowerCase();
  return UNSAFE_CODE_RULES.filter((r) => r.re.test(lower)).map((r) => r.id);
}
