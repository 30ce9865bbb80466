import { describe, expect, it } from 'vitest';
import { perSource, ratesAt, recallAtFpr, rocAuc, thresholdAtFpr, type ScoredRow } from './evaluation.js';

const row = (attack: boolean, score: number, source = 's'): ScoredRow => ({
  attack,
  score,
  source,
  label: attack ? 'jailbreak' : 'benign',
});

describe('detector evaluation metrics', () => {
  it('ROC AUC: 1 when every attack outscores every benign text, 0 when reversed, 0.5 for ties', () => {
    expect(rocAuc([row(true, 0.9), row(true, 0.8), row(false, 0.1), row(false, 0.2)])).toBe(1);
    expect(rocAuc([row(true, 0.1), row(false, 0.9)])).toBe(0);
    expect(rocAuc([row(true, 0.5), row(false, 0.5)])).toBe(0.5);
    // One benign above one of two attacks: 3 of 4 pairs ordered right.
    expect(rocAuc([row(true, 0.9), row(true, 0.4), row(false, 0.5), row(false, 0.1)])).toBe(0.75);
    expect(rocAuc([row(true, 0.9)])).toBeNaN();
  });

  it('a threshold at a false-positive budget never exceeds it, even when benign texts tie at 1.0', () => {
    const benign = Array.from({ length: 100 }, (_, i) => i / 100);
    const t = thresholdAtFpr(benign, 0.02);
    expect(benign.filter((s) => s >= t).length).toBeLessThanOrEqual(2);
    expect(benign.filter((s) => s >= t).length).toBe(2);
    // 25 of 1,000 benign texts at exactly 1.0: no threshold in [0, 1] reaches 1 %, so nothing is flagged.
    const tied = [...Array.from({ length: 975 }, () => 0.1), ...Array.from({ length: 25 }, () => 1)];
    const rows = [...tied.map((s) => row(false, s)), row(true, 1), row(true, 1)];
    const p = recallAtFpr(rows, 0.01);
    expect(p.threshold).toBeGreaterThan(1);
    expect(p.recall).toBe(0);
    expect(p.actualFpr).toBe(0);
  });

  it('per-source rates: recall for attack sources, false positives for benign ones', () => {
    const rows = [row(true, 0.9, 'a'), row(true, 0.2, 'a'), row(false, 0.7, 'b'), row(false, 0.1, 'b')];
    expect(ratesAt(rows, 0.5)).toEqual({ recall: 0.5, actualFpr: 0.5 });
    expect(perSource(rows, 0.5)).toEqual([
      { source: 'a', label: 'jailbreak', rows: 2, attack: true, flaggedRate: 0.5 },
      { source: 'b', label: 'benign', rows: 2, attack: false, flaggedRate: 0.5 },
    ]);
  });
});
