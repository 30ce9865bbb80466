// Metrics for judging a detector as its users would: recall on attacks at a fixed false-positive rate on
// benign text, per source, and the threshold-free ROC AUC. Pure functions (no I/O): the evaluation script
// (scripts/eval-detector.ts), `warden governance eval` and the tests share them.

/** One scored text: whether it is an attack (the positive class), where it came from, and its score. */
export interface ScoredRow {
  attack: boolean;
  source: string;
  label: string;
  score: number;
}

/**
 * Area under the ROC curve: the probability that a random attack scores above a random benign text (ties
 * count half). NaN without both classes.
 */
export function rocAuc(rows: readonly ScoredRow[]): number {
  const sorted = [...rows].sort((a, b) => a.score - b.score);
  let positives = 0;
  let negatives = 0;
  let rankSum = 0;
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j < sorted.length && sorted[j]!.score === sorted[i]!.score) j++;
    const midRank = (i + 1 + j) / 2; // ranks are 1-based; tied scores share their mean rank
    for (let k = i; k < j; k++) {
      if (sorted[k]!.attack) {
        positives++;
        rankSum += midRank;
      } else negatives++;
    }
    i = j;
  }
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * The lowest threshold (flag when score >= threshold) that flags at most `fpr` of the benign scores. With
 * ties at the boundary it moves above them, so the budget holds: a detector whose benign texts score
 * exactly 1.0 gets a threshold above 1, and recall 0 at that budget.
 */
export function thresholdAtFpr(benignScores: readonly number[], fpr: number): number {
  if (benignScores.length === 0) return 0.5;
  const sorted = [...benignScores].sort((a, b) => b - a);
  const allowed = Math.floor(fpr * sorted.length);
  // Flagging scores >= t flags every benign score >= t: t must be above the (allowed + 1)-th highest.
  const bound = sorted[allowed]!;
  return nextUp(bound);
}

/** The smallest double above x (so `score >= nextUp(x)` excludes x itself). */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}

export interface OperatingPoint {
  /** The false-positive budget asked for. */
  fpr: number;
  threshold: number;
  /** Share of attacks at or above the threshold. */
  recall: number;
  /** Share of benign texts at or above it (at most `fpr` on the rows it was chosen on). */
  actualFpr: number;
}

/** Recall at the threshold that keeps the benign rows' false-positive rate within `fpr`. */
export function recallAtFpr(rows: readonly ScoredRow[], fpr: number): OperatingPoint {
  const benign = rows.filter((r) => !r.attack).map((r) => r.score);
  const threshold = thresholdAtFpr(benign, fpr);
  return { fpr, threshold, ...ratesAt(rows, threshold) };
}

/** Recall and false-positive rate of `rows` at a given threshold. */
export function ratesAt(
  rows: readonly ScoredRow[],
  threshold: number,
): { recall: number; actualFpr: number } {
  let tp = 0;
  let p = 0;
  let fp = 0;
  let n = 0;
  for (const r of rows) {
    const flagged = r.score >= threshold;
    if (r.attack) {
      p++;
      if (flagged) tp++;
    } else {
      n++;
      if (flagged) fp++;
    }
  }
  return { recall: p ? tp / p : Number.NaN, actualFpr: n ? fp / n : Number.NaN };
}

export interface SourceReport {
  source: string;
  label: string;
  rows: number;
  attack: boolean;
  /** Share flagged at the threshold: recall for attack sources, false-positive rate for benign ones. */
  flaggedRate: number;
}

/** Per (label, source): how many rows, and the share flagged at `threshold`. */
export function perSource(rows: readonly ScoredRow[], threshold: number): SourceReport[] {
  const groups = new Map<string, SourceReport & { flagged: number }>();
  for (const r of rows) {
    const key = `${r.label}\u0000${r.source}`;
    const g = groups.get(key) ?? {
      source: r.source,
      label: r.label,
      rows: 0,
      attack: r.attack,
      flaggedRate: 0,
      flagged: 0,
    };
    g.rows++;
    if (r.score >= threshold) g.flagged++;
    groups.set(key, g);
  }
  return [...groups.values()]
    .map(({ flagged, ...g }) => ({ ...g, flaggedRate: flagged / g.rows }))
    .sort(
      (a, b) =>
        Number(b.attack) - Number(a.attack) ||
        a.label.localeCompare(b.label) ||
        a.source.localeCompare(b.source),
    );
}
