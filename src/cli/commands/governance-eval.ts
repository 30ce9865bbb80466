import { readFileSync } from 'node:fs';
import { WardenError } from '../../core/index.js';
import {
  perSource,
  ratesAt,
  recallAtFpr,
  rocAuc,
  type ScoredRow,
  type SourceReport,
} from '../../governance/index.js';
import type { Warden } from '../../warden/index.js';

/** Labels that mark a row as an attack (a jailbreak or prompt-injection technique). */
const ATTACK_LABELS = new Set(['jailbreak', 'injection', 'prompt_injection', 'prompt-injection', 'attack']);
/** Plainly harmful requests: not attacks on the model, judged on the harmful-request head. */
const HARMFUL_LABELS = new Set(['harmful', 'harmful_request', 'malicious']);

interface EvalRow {
  text: string;
  attack: boolean | 'harmful';
  label: string;
  source: string;
}

/**
 * Reads a JSONL file of `{"text", "label"}` rows (optionally `source`, or `attack: true|false` instead of a
 * label). Labels jailbreak/injection/attack are attacks; benign* and safe are benign; harmful_request rows
 * are scored on the harmful-request head. A line that is not such a row is an error naming the line.
 */
export function readEvalFile(file: string): EvalRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WardenError('INVALID_INPUT', `Cannot read ${file}: ${(err as Error).message}`);
  }
  const rows: EvalRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new WardenError(
        'INVALID_INPUT',
        `${where} is not JSON: each line must be one object such as {"text": "...", "label": "jailbreak"}`,
      );
    }
    if (typeof row !== 'object' || row === null || typeof row['text'] !== 'string' || row['text'] === '')
      throw new WardenError('INVALID_INPUT', `${where} has no "text" string`);
    const label = typeof row['label'] === 'string' ? row['label'].toLowerCase() : undefined;
    let attack: EvalRow['attack'];
    if (typeof row['attack'] === 'boolean') attack = row['attack'];
    else if (label !== undefined && ATTACK_LABELS.has(label)) attack = true;
    else if (label !== undefined && HARMFUL_LABELS.has(label)) attack = 'harmful';
    else if (label !== undefined && (label.startsWith('benign') || label === 'safe')) attack = false;
    else
      throw new WardenError(
        'INVALID_INPUT',
        `${where}: label ${JSON.stringify(row['label'] ?? null)} is not one of jailbreak, injection, attack, harmful_request, benign*, safe (or set "attack": true|false)`,
      );
    rows.push({
      text: row['text'],
      attack,
      label: label ?? (attack === true ? 'attack' : 'benign'),
      source: typeof row['source'] === 'string' && row['source'] !== '' ? row['source'] : file,
    });
  }
  if (rows.length === 0) throw new WardenError('INVALID_INPUT', `${file} has no rows`);
  return rows;
}

export interface EvalReport {
  rows: number;
  policy: string;
  /** The detector's own jailbreak threshold and the figures at it. */
  threshold: number;
  recall: number;
  falsePositiveRate: number;
  rocAuc: number;
  /** Recall at thresholds chosen on THIS data to keep its benign rows within 1 % and 2 % false positives. */
  atFpr: { fpr: number; threshold: number; recall: number; actualFpr: number }[];
  /** Per label and source, the share flagged Jailbreak at the detector's threshold. */
  sources: SourceReport[];
  /** Rows labelled harmful_request: the share flagged Malicious or HighRisk, and Jailbreak. */
  harmful?: { rows: number; flaggedHarmful: number; flaggedJailbreak: number };
  /** What the policy would do with each row: counts by action. */
  actions: Record<string, number>;
}

/** Screens every row as a user's submit would be and measures the detector on them. */
export async function evaluateFile(
  warden: Warden,
  rows: readonly EvalRow[],
  options: { policy?: string; progress?: (done: number, total: number) => void } = {},
): Promise<EvalReport> {
  const scored: ScoredRow[] = [];
  const actions: Record<string, number> = {};
  let harmfulRows = 0;
  let flaggedHarmful = 0;
  let flaggedJailbreak = 0;
  let threshold = 0.5;
  let policy = options.policy ?? 'default';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const s = await warden.governance.screen(r.text, options.policy ? { policy: options.policy } : {});
    threshold = s.thresholds.jailbreak;
    policy = s.policy;
    actions[s.action] = (actions[s.action] ?? 0) + 1;
    if (r.attack === 'harmful') {
      harmfulRows++;
      if (s.flags.some((f) => f.type === 'Malicious' || f.type === 'HighRisk')) flaggedHarmful++;
      if (s.flags.some((f) => f.type === 'Jailbreak')) flaggedJailbreak++;
    } else scored.push({ attack: r.attack, source: r.source, label: r.label, score: s.scores.jailbreak });
    if (options.progress && (i + 1) % 200 === 0) options.progress(i + 1, rows.length);
  }
  const { recall, actualFpr } = ratesAt(scored, threshold);
  return {
    rows: rows.length,
    policy,
    threshold,
    recall,
    falsePositiveRate: actualFpr,
    rocAuc: rocAuc(scored),
    atFpr: [0.01, 0.02].map((fpr) => recallAtFpr(scored, fpr)),
    sources: perSource(scored, threshold),
    ...(harmfulRows
      ? {
          harmful: {
            rows: harmfulRows,
            flaggedHarmful: flaggedHarmful / harmfulRows,
            flaggedJailbreak: flaggedJailbreak / harmfulRows,
          },
        }
      : {}),
    actions,
  };
}

const pct = (x: number) => (Number.isNaN(x) ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

export function formatEvalReport(r: EvalReport): string {
  const lines = [
    `${r.rows} rows, policy ${r.policy}, detector threshold ${r.threshold.toFixed(3)}`,
    `recall ${pct(r.recall)}   false positives ${pct(r.falsePositiveRate)}   ROC AUC ${Number.isNaN(r.rocAuc) ? '-' : r.rocAuc.toFixed(3)}`,
    ...r.atFpr.map(
      (p) =>
        `at <= ${(100 * p.fpr).toFixed(0)}% false positives (threshold ${p.threshold.toFixed(3)}, chosen on this file): recall ${pct(p.recall)}`,
    ),
    '',
    'flagged Jailbreak at the detector threshold, per source:',
    ...r.sources.map(
      (s) =>
        `  ${(s.attack ? 'attack ' : 'benign ').padEnd(8)}${pct(s.flaggedRate)}  n=${String(s.rows).padStart(5)}  ${s.label} / ${s.source}`,
    ),
  ];
  if (r.harmful)
    lines.push(
      '',
      `harmful requests: ${r.harmful.rows} rows, ${pct(r.harmful.flaggedHarmful)} flagged Malicious/HighRisk, ${pct(r.harmful.flaggedJailbreak)} Jailbreak`,
    );
  lines.push(
    '',
    `policy actions: ${Object.entries(r.actions)
      .map(([a, n]) => `${a} ${n}`)
      .join(', ')}`,
  );
  return `${lines.join('\n')}\n`;
}
