import type { FlagFinding, FlagType } from '../flags.js';
import { clampSeverity } from '../flags.js';
import { inScope, type DetectorScope } from '../policy.js';
import type { DetectionContext, DetectionTarget, Detector } from './detector.js';

export interface EndpointDetectorOptions {
  /** POST { text, stage, agent } as JSON; the answer is { score: number } (0..1) or { label, score }. */
  url: string;
  headers?: Record<string, string>;
  /** @default 2000 */
  timeoutMs?: number;
  /** Scores at or above raise a flag. @default 0.5 */
  threshold?: number;
  /** @default 'Jailbreak' */
  flagType?: FlagType;
  /** Which agents it runs for. @default the policy's text scope */
  scope?: DetectorScope;
  /** Labels that count as benign when the endpoint answers with a label (e.g. Prompt Guard's BENIGN). */
  benignLabels?: string[];
  name?: string;
}

/**
 * An external classifier behind HTTP (for example a hosted Prompt Guard model), as a Detector. A failing or
 * slow endpoint raises no flag and does not fail the task: the built-in detectors still ran.
 */
export class EndpointDetector implements Detector {
  readonly name: string;

  constructor(private readonly o: EndpointDetectorOptions) {
    this.name = o.name ?? 'endpoint';
  }

  applies(t: DetectionTarget): boolean {
    return inScope(this.o.scope ?? t.policy.textScope, t.manifest);
  }

  async detect(ctx: DetectionContext): Promise<FlagFinding[]> {
    let best = 0;
    for (const text of ctx.texts) {
      try {
        const res = await fetch(this.o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.o.headers },
          body: JSON.stringify({
            text,
            stage: ctx.stage,
            agent: `${ctx.manifest.name}@${ctx.manifest.version}`,
          }),
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 2000),
        });
        if (!res.ok) continue;
        const body = (await res.json()) as { score?: unknown; label?: unknown };
        const score = typeof body.score === 'number' ? body.score : 0;
        const benign =
          typeof body.label === 'string' && (this.o.benignLabels ?? ['BENIGN']).includes(body.label);
        if (!benign) best = Math.max(best, score);
      } catch {
        // Unreachable or slow: no verdict from this detector.
      }
    }
    const threshold = this.o.threshold ?? 0.5;
    if (best < threshold) return [];
    return [
      {
        type: this.o.flagType ?? 'Jailbreak',
        severity: clampSeverity(5 + (5 * (best - threshold)) / Math.max(1e-6, 1 - threshold)),
        reason: `${this.name} classifier score ${best.toFixed(2)}`,
        detector: this.name,
      },
    ];
  }
}
