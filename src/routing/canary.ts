import type { RolloutPolicy } from '../core/index.js';

/** What is known of one version's finished tasks. */
export interface VersionOutcomes {
  /** Tasks that succeeded. */
  succeeded: number;
  /** Tasks that failed, went dead, or were quarantined. */
  failed: number;
  /** Tasks with at least one governance flag. */
  flagged: number;
}

export type RolloutVerdict = { kind: 'promoted' | 'rolled-back'; reason: string };

export interface CanaryDecision {
  /** Which version this task goes to. */
  route: 'canary' | 'stable';
  /** A promotion or rollback decided now (recorded in provenance by the caller). */
  verdict?: RolloutVerdict;
  /** P(canary's success rate > stable's) under both versions' Beta posteriors, when computed. */
  pCanaryBetter?: number;
}

/** Posterior draws used to estimate P(canary better); enough for ±0.01 at the 0.95 bar. */
const PROBABILITY_DRAWS = 4000;
/** Bars for the bandit's verdicts on P(canary better). */
const PROMOTE_AT = 0.95;
const ROLL_BACK_AT = 0.05;

const finishedOf = (o: VersionOutcomes) => o.succeeded + o.failed;

/**
 * One routing decision of a canary rollout. Before the canary has `minSamples` finished tasks it gets its
 * configured share (a cap on the exposure of untested code). Then:
 * - rolled back when its flag rate passes `maxFlagRate`, when its failure rate exceeds the stable version's
 *   by more than `failureRateMargin`, or (bandit) when P(canary better) falls to 5 %;
 * - promoted (bandit) when P(canary better) reaches 95 % and the stable version has `minSamples` too;
 * - otherwise routed by Thompson sampling (bandit: each version's success rate drawn from its Beta
 *   posterior, the higher draw takes the task) or by the fixed share.
 * `random` is the only source of chance: a seeded one makes every decision reproducible.
 */
export function decideCanary(
  policy: RolloutPolicy,
  canary: VersionOutcomes,
  stable: VersionOutcomes,
  random: () => number,
): CanaryDecision {
  const nCanary = finishedOf(canary);
  const nStable = finishedOf(stable);
  const exposure = (): CanaryDecision => ({ route: random() < policy.canary ? 'canary' : 'stable' });
  if (nCanary < policy.minSamples) return exposure();

  const flagRate = canary.flagged / nCanary;
  if (flagRate > policy.rollback.maxFlagRate)
    return {
      route: 'stable',
      verdict: {
        kind: 'rolled-back',
        reason: `flag rate ${pct(flagRate)} is above maxFlagRate ${pct(policy.rollback.maxFlagRate)}`,
      },
    };
  const failCanary = canary.failed / nCanary;
  const failStable = nStable > 0 ? stable.failed / nStable : 0;
  if (nStable >= policy.minSamples && failCanary - failStable > policy.rollback.failureRateMargin)
    return {
      route: 'stable',
      verdict: {
        kind: 'rolled-back',
        reason: `failure rate ${pct(failCanary)} exceeds the stable version's ${pct(failStable)} by more than ${pct(policy.rollback.failureRateMargin)}`,
      },
    };
  if (policy.strategy === 'fixed') return exposure();

  const p = probabilityBetter(canary, stable, random);
  if (nStable >= policy.minSamples && p >= PROMOTE_AT)
    return {
      route: 'canary',
      pCanaryBetter: p,
      verdict: { kind: 'promoted', reason: `P(canary better) = ${p.toFixed(3)} ≥ ${PROMOTE_AT}` },
    };
  if (p <= ROLL_BACK_AT)
    return {
      route: 'stable',
      pCanaryBetter: p,
      verdict: { kind: 'rolled-back', reason: `P(canary better) = ${p.toFixed(3)} ≤ ${ROLL_BACK_AT}` },
    };
  const draw = (o: VersionOutcomes) => sampleBeta(o.succeeded + 1, o.failed + 1, random);
  return { route: draw(canary) > draw(stable) ? 'canary' : 'stable', pCanaryBetter: p };
}

/** P(θ_canary > θ_stable) with θ ~ Beta(succeeded + 1, failed + 1), estimated by posterior draws. */
export function probabilityBetter(
  canary: VersionOutcomes,
  stable: VersionOutcomes,
  random: () => number,
): number {
  let wins = 0;
  for (let i = 0; i < PROBABILITY_DRAWS; i++) {
    const c = sampleBeta(canary.succeeded + 1, canary.failed + 1, random);
    const s = sampleBeta(stable.succeeded + 1, stable.failed + 1, random);
    if (c > s) wins++;
  }
  return wins / PROBABILITY_DRAWS;
}

/** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, random: () => number): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x / (x + y);
}

/** Marsaglia and Tsang's method (a ≥ 1; every shape here is a count + 1). */
function sampleGamma(shape: number, random: () => number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** mulberry32: a small seedable generator, identical on every platform, for reproducible routing. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
