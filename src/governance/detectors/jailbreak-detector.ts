import { clampSeverity, type FlagFinding } from '../flags.js';
import type { DetectorModel } from '../model.js';
import { inScope, type GovernancePolicy } from '../policy.js';
import { analyzeText } from '../text-analysis.js';
import type { DetectionContext, DetectionTarget, Detector } from './detector.js';

/**
 * Jailbreak / prompt injection on text going to a language-model agent (input) or coming back from one
 * (output: indirect injection carried by tool results or retrieved documents), and plainly harmful requests
 * on inputs: Malicious when the classifier is confident, HighRisk below that. See text-analysis.ts.
 */
export class JailbreakDetector implements Detector {
  readonly name = 'jailbreak';

  constructor(private readonly model: () => DetectorModel) {}

  applies(t: DetectionTarget): boolean {
    return inScope(t.policy.textScope, t.manifest);
  }

  detect(ctx: DetectionContext): FlagFinding[] {
    const model = this.model();
    const { jailbreak: thr, harmful: harmThr } = thresholdsOf(ctx.policy, model);
    let best: { score: number; signals: string[] } | undefined;
    let harmful = 0;
    for (const text of ctx.texts) {
      const a = analyzeText(text, model);
      if (a.jailbreak >= thr && a.jailbreak > (best?.score ?? 0))
        best = { score: a.jailbreak, signals: a.signals };
      harmful = Math.max(harmful, a.harmful);
    }
    const out: FlagFinding[] = [];
    if (best) {
      out.push({
        type: 'Jailbreak',
        severity: clampSeverity(6 + (4 * (best.score - thr)) / Math.max(1e-6, 1 - thr)),
        reason: `${ctx.stage === 'output' ? 'prompt injection in output' : 'jailbreak / prompt injection'} (score ${best.score.toFixed(2)}; ${best.signals.slice(0, 6).join(', ') || 'classifier'})`,
        detector: this.name,
      });
    } else if (ctx.stage === 'input' && harmful >= harmThr) {
      // A harmful request without a jailbreak technique. Low severities: this head is less precise.
      const confident = harmful >= 0.9;
      out.push({
        type: confident ? 'Malicious' : 'HighRisk',
        severity: confident ? 5 : 3,
        reason: `harmful request without a jailbreak technique (score ${harmful.toFixed(2)})`,
        detector: this.name,
      });
    }
    return out;
  }
}

/** The thresholds a policy flags at: its own (policy.thresholds), else the model's. */
export function thresholdsOf(
  policy: Pick<GovernancePolicy, 'thresholds'>,
  model: DetectorModel,
): { jailbreak: number; harmful: number } {
  return {
    jailbreak: policy.thresholds?.jailbreak ?? model.jailbreak.threshold,
    harmful: policy.thresholds?.harmful ?? model.harmful.threshold,
  };
}
