import { featurize, type SparseVector } from './features.js';
import { trainLogistic, predict } from './logistic.js';
import type { DetectorModel, Head } from './model.js';
import { analyzeText } from './text-analysis.js';

/** One labelled row of the governance corpus (see test/fixtures/governance/README.md). */
export interface CorpusRow {
  text: string;
  label: 'jailbreak' | 'harmful_request' | 'benign' | 'benign_borderline' | 'benign_roleplay';
  source: string;
  license?: string;
  category?: string;
}

export const isBenign = (r: CorpusRow) => r.label.startsWith('benign');

export interface TrainDetectorOptions {
  /** Hashed feature space. @default 32768 */
  dim?: number;
  epochs?: number;
  /** Target false-positive rate on benign rows when picking the jailbreak threshold. @default 0.005 */
  targetFpr?: number;
  /**
   * L2 penalty per example. Stronger penalties generalise better to unseen styles (leave-one-family-out
   * ROC AUC 0.87 at 1e-5, 0.90 at 1e-3, 0.91 at 1e-2) at some recall at a fixed threshold. @default 1e-5
   */
  l2?: number;
  /** Inner folds for picking thresholds without looking at test data. @default 4 */
  innerFolds?: number;
  seed?: number;
}

/** Above the most a long text can score on style alone (text-analysis.ts: 0.4). */
const JAILBREAK_FLOOR = 0.41;
const JAILBREAK_CEILING = 0.6;

/**
 * Trains both heads on `rows`. The jailbreak threshold is chosen from out-of-fold scores of an inner
 * cross-validation (never from the model's own training scores), then clamped to a sane range.
 */
export function trainDetector(rows: readonly CorpusRow[], o: TrainDetectorOptions = {}): DetectorModel {
  const dim = o.dim ?? 32768;
  const xs = rows.map((r) => featurize(r.text, dim));
  const fit = (idx: number[]) => fitHeads(rows, xs, idx, dim, o);
  const all = rows.map((_, i) => i);
  const model = fit(all);
  const innerFolds = o.innerFolds ?? 4;
  if (innerFolds > 1) {
    const oofBenign: number[] = [];
    const oofHarmfulBenign: number[] = [];
    for (const { train, test } of stratifiedFolds(rows, innerFolds, (o.seed ?? 1) + 7)) {
      const inner = fit(train);
      for (const i of test) {
        if (!isBenign(rows[i]!)) continue;
        oofBenign.push(analyzeText(rows[i]!.text, inner).jailbreak);
        oofHarmfulBenign.push(predict(inner.harmful, xs[i]!));
      }
    }
    model.jailbreak.threshold = clamp(
      quantileAbove(oofBenign, o.targetFpr ?? 0.005),
      JAILBREAK_FLOOR,
      JAILBREAK_CEILING,
    );
    model.harmful.threshold = clamp(quantileAbove(oofHarmfulBenign, 0.1), 0.5, 0.9);
  }
  return model;
}

function fitHeads(
  rows: readonly CorpusRow[],
  xs: readonly SparseVector[],
  idx: number[],
  dim: number,
  o: TrainDetectorOptions,
): DetectorModel {
  const train = { dim, epochs: o.epochs ?? 12, seed: o.seed ?? 1, l2: o.l2 ?? 1e-5 };
  const jb = trainLogistic(
    idx.map((i) => xs[i]!),
    idx.map((i) => (rows[i]!.label === 'jailbreak' ? 1 : 0)),
    train,
  );
  const hIdx = idx.filter((i) => rows[i]!.label !== 'jailbreak');
  const harm = trainLogistic(
    hIdx.map((i) => xs[i]!),
    hIdx.map((i) => (rows[i]!.label === 'harmful_request' ? 1 : 0)),
    train,
  );
  const head = (m: { weights: Float32Array; bias: number }, threshold: number): Head => ({ ...m, threshold });
  return { dim, jailbreak: head(jb, 0.5), harmful: head(harm, 0.5) };
}

/** The smallest score threshold that leaves at most `fpr` of `scores` at or above it. */
function quantileAbove(scores: number[], fpr: number): number {
  if (scores.length === 0) return 0.5;
  const sorted = [...scores].sort((a, b) => b - a);
  const allowed = Math.floor(fpr * sorted.length);
  return (sorted[allowed] ?? 0) + 1e-6;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Deterministic stratified folds (by label and source): every fold holds its share of every group. */
export function stratifiedFolds(
  rows: readonly CorpusRow[],
  k: number,
  seed = 1,
): { train: number[]; test: number[] }[] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < rows.length; i++) {
    const key = `${rows[i]!.label}|${rows[i]!.source}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const foldOf = new Array<number>(rows.length).fill(0);
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  for (const g of groups.values()) {
    for (let i = g.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [g[i], g[j]] = [g[j]!, g[i]!];
    }
    g.forEach((row, n) => (foldOf[row] = n % k));
  }
  return Array.from({ length: k }, (_, f) => ({
    train: foldOf.flatMap((x, i) => (x === f ? [] : [i])),
    test: foldOf.flatMap((x, i) => (x === f ? [i] : [])),
  }));
}

export interface SourceMetrics {
  source: string;
  label: string;
  rows: number;
  /** Share of rows flagged Jailbreak: recall for jailbreak rows, false-positive rate for the others. */
  jailbreakRate: number;
  /** Share flagged Malicious or HighRisk (harmful, no technique). */
  harmfulRate: number;
}

/** Per label-and-source rates of a trained model on the given rows. */
export function evaluate(rows: readonly CorpusRow[], model: DetectorModel): SourceMetrics[] {
  const groups = new Map<string, { jb: number; harm: number; n: number; r: CorpusRow }>();
  for (const r of rows) {
    const a = analyzeText(r.text, model);
    const key = `${r.label}|${r.source}`;
    const g = groups.get(key) ?? { jb: 0, harm: 0, n: 0, r };
    g.n++;
    const jb = a.jailbreak >= model.jailbreak.threshold;
    if (jb) g.jb++;
    else if (a.harmful >= model.harmful.threshold) g.harm++;
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => ({
      source: g.r.source,
      label: g.r.label,
      rows: g.n,
      jailbreakRate: g.jb / g.n,
      harmfulRate: g.harm / g.n,
    }))
    .sort((a, b) => a.label.localeCompare(b.label) || a.source.localeCompare(b.source));
}
