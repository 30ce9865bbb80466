import { describe, expect, it } from 'vitest';
import { AnomalyDetector } from './detectors/anomaly-detector.js';
import { mad, median } from './detectors/robust-stats.js';

// A deterministic "normal" history: latency 100 ± 10 ms, output 20 KiB ± 100 B, 5% failures.
function history(d: AnomalyDetector, agent: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const ok = i % 20 !== 7;
    const found = d.observe(agent, {
      ok,
      wallMs: 100 + ((i * 37) % 21) - 10,
      outputBytes: 20480 + ((i * 53) % 201) - 100,
    });
    expect(found).toEqual([]);
  }
}

describe('anomaly detector (median / MAD of each agent version)', () => {
  it('computes median and MAD', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(mad([1, 1, 2, 2, 4, 6, 9])).toBeCloseTo(1.4826, 4); // deviations from 2: 1,1,0,0,2,4,7 -> median 1
  });

  it('stays quiet on a normal history and flags a latency outlier', () => {
    const d = new AnomalyDetector();
    history(d, 'a@1', 200);
    const [flag] = d.observe('a@1', { ok: true, wallMs: 900, outputBytes: 20480 });
    expect(flag).toMatchObject({ type: 'Anomaly', detector: 'anomaly' });
    expect(flag!.reason).toMatch(/latency 900 ms vs median 100 ms/);
    expect(flag!.severity).toBeGreaterThanOrEqual(4);
    expect(flag!.severity).toBeLessThanOrEqual(7);
  });

  it('flags an output far larger (or smaller) than usual', () => {
    const d = new AnomalyDetector();
    history(d, 'a@1', 200);
    expect(d.observe('a@1', { ok: true, wallMs: 100, outputBytes: 500_000 })[0]?.reason).toMatch(
      /output 500000 B/,
    );
    expect(d.observe('a@1', { ok: true, wallMs: 100, outputBytes: 2 })[0]?.reason).toMatch(/output 2 B/);
  });

  it('flags a jump in failure rate over a block of runs', () => {
    const d = new AnomalyDetector();
    history(d, 'a@1', 200);
    const found = Array.from({ length: 20 }, () =>
      d.observe('a@1', { ok: false, wallMs: null, outputBytes: 0 }),
    ).flat();
    expect(found.some((f) => /failure rate 100%/.test(f.reason))).toBe(true);
  });

  it('judges each agent version against its own history, and not before it has one', () => {
    const d = new AnomalyDetector();
    history(d, 'slow@1', 200);
    // A fresh version has no baseline yet: nothing is anomalous.
    expect(d.observe('fresh@1', { ok: true, wallMs: 5000, outputBytes: 1 })).toEqual([]);
    // A slow agent's normal is not another agent's anomaly.
    const slow = new AnomalyDetector();
    for (let i = 0; i < 100; i++)
      slow.observe('s@1', { ok: true, wallMs: 4000 + (i % 7) * 50, outputBytes: 100 });
    expect(slow.observe('s@1', { ok: true, wallMs: 4100, outputBytes: 100 })).toEqual([]);
  });

  it('is not fooled by a perfectly steady history (spread floor)', () => {
    const d = new AnomalyDetector();
    for (let i = 0; i < 100; i++) d.observe('c@1', { ok: true, wallMs: 1, outputBytes: 4 });
    expect(d.observe('c@1', { ok: true, wallMs: 30, outputBytes: 40 })).toEqual([]);
  });
});
