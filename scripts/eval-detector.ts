// Honest evaluation of the jailbreak / prompt-injection detector: leave-one-family-out. Each family of
// texts (an attack style such as GCG suffixes or in-the-wild Discord jailbreaks, or a benign kind such as
// JSON tool specs or markdown tables) is held out in turn; the detector is trained on every other family,
// with its threshold chosen on those alone (2 % false positives on their benign rows, out of fold), and then
// scores the held-out family. So each figure says how the detector does on a style it never saw.
// Run: npm run eval:detector [-- --families wild:reddit,benign:tables] [--l2 0.01] [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import {
  analyzeText,
  isBenign,
  recallAtFpr,
  rocAuc,
  trainDetector,
  type CorpusRow,
  type ScoredRow,
} from '../src/governance/index.js';

const DIM = 32768;
const TARGET_FPR = 0.02;

type Row = CorpusRow & { family: string };

const here = (p: string) => new URL(p, import.meta.url).pathname;
const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CorpusRow & { family?: string });

/** The development corpus's sources, named as families. */
function familyOf(r: CorpusRow): string {
  if (r.source.includes('PAIR')) return 'jbb:pair';
  if (r.source.includes('JBC')) return 'jbb:jbc';
  if (r.source.includes('xstest'))
    return r.label === 'harmful_request' ? 'harmful:xstest' : 'borderline:xstest';
  if (r.source.includes('awesome-chatgpt-prompts')) return 'benign:roleplay';
  if (r.source.includes('hand-written')) return 'benign:handwritten';
  return r.source;
}

const rows: Row[] = [
  ...readJsonl(here('../test/fixtures/governance/dev.jsonl')),
  ...readJsonl(here('./detector-data/benign-tasks.jsonl')),
  ...readJsonl(here('./detector-data/sources.jsonl')),
  ...readJsonl(here('./detector-data/system-prompts.jsonl')),
].map((r) => ({ ...r, family: r.family ?? familyOf(r) }));

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const only = arg('--families')?.split(',');
const l2 = arg('--l2') === undefined ? undefined : Number(arg('--l2'));
const families = [...new Set(rows.map((r) => r.family))].sort().filter((f) => !only || only.includes(f));

interface FamilyResult {
  family: string;
  label: string;
  rows: number;
  threshold: number;
  /** Flagged Jailbreak: recall for attack families, false-positive rate for the others. */
  flaggedJailbreak: number;
  /** Flagged Malicious/HighRisk (harmful request, no technique). */
  flaggedHarmful: number;
}

const results: FamilyResult[] = [];
const pooled: ScoredRow[] = [];
const started = Date.now();
for (const [n, family] of families.entries()) {
  const train = rows.filter((r) => r.family !== family);
  const test = rows.filter((r) => r.family === family);
  const model = trainDetector(train, {
    dim: DIM,
    targetFpr: TARGET_FPR,
    ...(l2 !== undefined ? { l2 } : {}),
  });
  let jb = 0;
  let harm = 0;
  for (const r of test) {
    const a = analyzeText(r.text, model);
    const flagged = a.jailbreak >= model.jailbreak.threshold;
    if (flagged) jb++;
    else if (a.harmful >= model.harmful.threshold) harm++;
    if (r.label !== 'harmful_request')
      pooled.push({ attack: r.label === 'jailbreak', source: family, label: r.label, score: a.jailbreak });
  }
  results.push({
    family,
    label: test[0]!.label,
    rows: test.length,
    threshold: model.jailbreak.threshold,
    flaggedJailbreak: jb / test.length,
    flaggedHarmful: harm / test.length,
  });
  process.stderr.write(
    `[${n + 1}/${families.length}] ${family}: ${(100 * (jb / test.length)).toFixed(1)}% flagged (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
  );
}

const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)}%`;
const attackFamilies = results.filter((r) => r.label === 'jailbreak');
const benignFamilies = results.filter((r) => isBenign({ label: r.label } as CorpusRow));
const harmfulFamilies = results.filter((r) => r.label === 'harmful_request');
const lines = [
  `Leave-one-family-out: ${rows.length} texts in ${families.length} families; each held out in turn, the`,
  `detector trained on the rest with its threshold at ${100 * TARGET_FPR}% false positives on their benign rows.`,
  '',
  'attack families (recall: share flagged Jailbreak)',
  ...attackFamilies.map((r) => `  ${pct(r.flaggedJailbreak)}  n=${String(r.rows).padStart(4)}  ${r.family}`),
  'benign families (false positives: share flagged Jailbreak)',
  ...benignFamilies.map((r) => `  ${pct(r.flaggedJailbreak)}  n=${String(r.rows).padStart(4)}  ${r.family}`),
  'harmful requests without a technique (share flagged Malicious/HighRisk; Jailbreak)',
  ...harmfulFamilies.map(
    (r) =>
      `  ${pct(r.flaggedHarmful)}; ${pct(r.flaggedJailbreak)}  n=${String(r.rows).padStart(4)}  ${r.family}`,
  ),
  '',
];
const micro = (xs: FamilyResult[]) =>
  xs.reduce((a, r) => a + r.flaggedJailbreak * r.rows, 0) /
  Math.max(
    1,
    xs.reduce((a, r) => a + r.rows, 0),
  );
lines.push(
  `all held-out texts at each fold's own threshold: recall ${pct(micro(attackFamilies))}, false positives ${pct(micro(benignFamilies))}`,
  `worst attack family ${pct(Math.min(...attackFamilies.map((r) => r.flaggedJailbreak)))}, worst benign family ${pct(Math.max(...benignFamilies.map((r) => r.flaggedJailbreak)))}`,
  `pooled held-out scores: ROC AUC ${rocAuc(pooled).toFixed(3)}; ${[0.01, 0.02]
    .map((fpr) => `recall ${pct(recallAtFpr(pooled, fpr).recall)} at ${100 * fpr}% FPR`)
    .join(', ')} (thresholds picked on the pooled benign scores)`,
);
// The shipped configuration (trained on every family) on sources never trained on and never used to pick
// a rule: real optimised suffixes and a system-prompt collection (detector-data/heldout.jsonl).
const heldOutRows = readJsonl(here('./detector-data/heldout.jsonl'));
if (!only) {
  const shipped = trainDetector(rows, { dim: DIM, ...(l2 !== undefined ? { l2 } : {}) });
  const byFamily = new Map<string, { rows: number; flagged: number }>();
  for (const r of heldOutRows) {
    const f = byFamily.get(r.family!) ?? { rows: 0, flagged: 0 };
    f.rows++;
    if (analyzeText(r.text, shipped).jailbreak >= shipped.jailbreak.threshold) f.flagged++;
    byFamily.set(r.family!, f);
  }
  lines.push(
    '',
    `trained on every family (threshold ${shipped.jailbreak.threshold.toFixed(3)}), scored on detector-data/heldout.jsonl:`,
    ...[...byFamily].map(
      ([family, f]) => `  ${pct(f.flagged / f.rows)}  n=${String(f.rows).padStart(4)}  ${family}`,
    ),
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
const json = arg('--json');
if (json)
  writeFileSync(
    json,
    `${JSON.stringify({ families: results, pooled: { texts: pooled.length, rocAuc: rocAuc(pooled), atFpr: [0.01, 0.02].map((fpr) => recallAtFpr(pooled, fpr)) } }, null, 2)}\n`,
  );
