import type { FlagFinding } from '../flags.js';
import { RobustWindow } from './robust-stats.js';

export interface RunObservation {
  ok: boolean;
  wallMs: number | null;
  outputBytes: number;
}

export interface AnomalyOptions {
  /** Runs of an agent version needed before it is judged. @default 50 */
  minHistory?: number;
  /** Robust z-score (|x - median| / MAD·1.4826) at which a value is anomalous. @default 8 */
  zThreshold?: number;
  /** Spread floors, so a perfectly steady agent is not flagged for noise. @default 25 ms, 256 bytes */
  minLatencySpreadMs?: number;
  minSizeSpreadBytes?: number;
  /** Outcomes per failure-rate block. @default 20 */
  failureBlock?: number;
  /**
   * How often an agent version's history is reloaded from the database, so that runs finished by other
   * processes sharing it count. @default 60000 ms
   */
  resyncMs?: number;
}

const NONE: readonly FlagFinding[] = [];

interface History {
  latency: RobustWindow;
  size: RobustWindow;
  blockRates: RobustWindow;
  block: { n: number; failed: number };
  runs: number;
}

/**
 * Anomaly from each agent version's own history, with robust statistics (median and MAD resist the very
 * outliers they look for): latency and output size of successful runs, and the failure rate over blocks of
 * runs. Not a Detector of text: the gate feeds it every outcome of every agent version. O(1) per
 * observation; the median and MAD are refreshed as the window fills, then once per window.
 */
export class AnomalyDetector {
  readonly name = 'anomaly';
  private readonly byAgent = new Map<string, History>();
  private readonly o: Required<Omit<AnomalyOptions, 'resyncMs'>>;
  readonly resyncMs: number;

  constructor(options: AnomalyOptions = {}) {
    this.o = {
      minHistory: options.minHistory ?? 50,
      zThreshold: options.zThreshold ?? 8,
      minLatencySpreadMs: options.minLatencySpreadMs ?? 25,
      minSizeSpreadBytes: options.minSizeSpreadBytes ?? 256,
      failureBlock: options.failureBlock ?? 20,
    };
    this.resyncMs = options.resyncMs ?? 60_000;
  }

  /** Whether this agent version has a history here (false: the caller may seed it from the store). */
  knows(agentKey: string): boolean {
    return this.byAgent.has(agentKey);
  }

  /** Seeds history from stored runs (oldest first) without raising flags. */
  seed(agentKey: string, runs: readonly RunObservation[]): void {
    const h = this.history(agentKey);
    for (const r of runs) this.record(h, r);
  }

  /** Replaces the history with stored runs (oldest first): the store's view, which includes every process's. */
  load(agentKey: string, runs: readonly RunObservation[]): void {
    this.byAgent.delete(agentKey);
    this.seed(agentKey, runs);
  }

  /** Records one run and returns the anomalies it shows (a shared empty array when none: the hot path). */
  observe(agentKey: string, run: RunObservation): readonly FlagFinding[] {
    const h = this.history(agentKey);
    let found: FlagFinding[] | undefined;
    if (h.runs >= this.o.minHistory) {
      if (run.ok && run.wallMs !== null) {
        const z = h.latency.z(run.wallMs, this.o.minLatencySpreadMs);
        if (z >= this.o.zThreshold)
          (found ??= []).push(
            this.finding(
              z,
              `latency ${run.wallMs.toFixed(0)} ms vs median ${h.latency.median.toFixed(0)} ms`,
            ),
          );
      }
      if (run.ok) {
        const z = Math.abs(h.size.z(run.outputBytes, this.o.minSizeSpreadBytes));
        if (z >= this.o.zThreshold)
          (found ??= []).push(
            this.finding(z, `output ${run.outputBytes} B vs median ${h.size.median.toFixed(0)} B`),
          );
      }
    }
    const blockDone = this.record(h, run);
    if (blockDone !== undefined && h.blockRates.count >= 5) {
      const z = h.blockRates.z(blockDone, 0.05);
      if (z >= 4 && blockDone >= 0.5)
        (found ??= []).push(
          this.finding(
            z * 2,
            `failure rate ${(100 * blockDone).toFixed(0)}% over the last ${this.o.failureBlock} runs vs median ${(100 * h.blockRates.median).toFixed(0)}%`,
          ),
        );
    }
    return found ?? NONE;
  }

  private finding(z: number, what: string): FlagFinding {
    // z = threshold is severity 4; every doubling adds one, up to 7: an anomaly is a symptom, not proof.
    const severity = Math.min(7, 4 + Math.max(0, Math.floor(Math.log2(z / this.o.zThreshold))));
    return { type: 'Anomaly', severity, reason: `${what} (robust z ${z.toFixed(1)})`, detector: this.name };
  }

  /** Returns the failure rate of a block that just completed, if one did. */
  private record(h: History, run: RunObservation): number | undefined {
    h.runs++;
    if (run.ok && run.wallMs !== null) h.latency.push(run.wallMs);
    if (run.ok) h.size.push(run.outputBytes);
    h.block.n++;
    if (!run.ok) h.block.failed++;
    if (h.block.n < this.o.failureBlock) return undefined;
    const rate = h.block.failed / h.block.n;
    h.block = { n: 0, failed: 0 };
    h.blockRates.push(rate);
    return rate;
  }

  private history(agentKey: string): History {
    let h = this.byAgent.get(agentKey);
    if (!h) {
      h = {
        latency: new RobustWindow(),
        size: new RobustWindow(),
        blockRates: new RobustWindow(64),
        block: { n: 0, failed: 0 },
        runs: 0,
      };
      this.byAgent.set(agentKey, h);
    }
    return h;
  }
}
