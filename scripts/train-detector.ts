// Retrains the jailbreak / harmful-request detector and writes src/governance/model/detector-model.json.
// Run: npm run train:detector [-- corpus.jsonl]   (default test/fixtures/governance/dev.jsonl)
// It first reports held-out figures (stratified 5-fold cross-validation: every row is scored by a model that
// never saw it), then trains the shipped model on every row.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import {
  encodeHead,
  evaluate,
  stratifiedFolds,
  trainDetector,
  type CorpusRow,
  type DetectorModelFile,
  type SourceMetrics,
} from '../src/governance/index.js';

const DIM = 32768;
const FOLDS = 5;

// The corpus's copy in the test fixtures (its rows keep their sources and licences), or a file named on the command line.
const fixture = new URL('../test/fixtures/governance/dev.jsonl', import.meta.url).pathname;
const file = resolve(process.argv[2] ?? fixture);
// Hand-written benign tasks (summarise, write an article, "imagine you are a ..."): the corpus's benign rows
// are short XSTest questions and awesome-chatgpt personas, and without these the classifier learns that
// any "write an article" request is an attack.
const extra = new URL('./detector-data/benign-tasks.jsonl', import.meta.url).pathname;
// The public sources (detector-data/SOURCES.md): every attack family and benign kind, including long
// system prompts, so the classifier learns what benign prompts of every shape look like. The held-out
// file (detector-data/heldout.jsonl) is never trained on.
const sources = ['sources.jsonl', 'system-prompts.jsonl'].map(
  (f) => new URL(`./detector-data/${f}`, import.meta.url).pathname,
);
const text = readFileSync(file, 'utf8');
const parse = (t: string) =>
  t
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CorpusRow);
const rows = [
  ...parse(text),
  ...parse(readFileSync(extra, 'utf8')),
  ...sources.flatMap((f) => parse(readFileSync(f, 'utf8'))),
];

const totals = new Map<string, SourceMetrics & { flagged: number; harmfulFlagged: number }>();
for (const { train, test } of stratifiedFolds(rows, FOLDS, 42)) {
  const model = trainDetector(
    train.map((i) => rows[i]!),
    { dim: DIM },
  );
  for (const m of evaluate(
    test.map((i) => rows[i]!),
    model,
  )) {
    const key = `${m.label}|${m.source}`;
    const t = totals.get(key) ?? { ...m, rows: 0, flagged: 0, harmfulFlagged: 0 };
    t.rows += m.rows;
    t.flagged += Math.round(m.jailbreakRate * m.rows);
    t.harmfulFlagged += Math.round(m.harmfulRate * m.rows);
    totals.set(key, t);
  }
}
const heldOut = [...totals.values()].map((t) => ({
  label: t.label,
  source: t.source,
  rows: t.rows,
  jailbreakRate: Number((t.flagged / t.rows).toFixed(4)),
  harmfulRate: Number((t.harmfulFlagged / t.rows).toFixed(4)),
}));
process.stdout.write(
  `${FOLDS}-fold stratified CV on ${rows.length} rows (memory of these sources, not generalisation: see npm run eval:detector):\n`,
);
for (const m of heldOut) {
  const what = m.label === 'jailbreak' ? 'recall' : 'flagged Jailbreak';
  process.stdout.write(
    `  ${m.label.padEnd(18)} ${m.source.padEnd(42)} n=${String(m.rows).padStart(3)}  ${what} ${(100 * m.jailbreakRate).toFixed(1)}%  Malicious/HighRisk ${(100 * m.harmfulRate).toFixed(1)}%\n`,
  );
}

const model = trainDetector(rows, { dim: DIM });
const out: DetectorModelFile = {
  format: 'warden.detector/v1',
  dim: DIM,
  trainedOn: {
    file: relative(resolve(new URL('..', import.meta.url).pathname), file),
    rows: rows.length,
    sha256: createHash('sha256')
      .update(text)
      .update(readFileSync(extra))
      .update(sources.map((f) => readFileSync(f, 'utf8')).join(''))
      .digest('hex'),
    at: new Date().toISOString().slice(0, 10),
  },
  jailbreak: encodeHead(model.jailbreak),
  harmful: encodeHead(model.harmful),
  evaluation: { method: `${FOLDS}-fold stratified cross-validation (seed 42)`, heldOut },
};
const target = new URL('../src/governance/model/detector-model.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(
  `wrote ${relative(process.cwd(), target.pathname)} (thresholds: jailbreak ${model.jailbreak.threshold.toFixed(3)}, harmful ${model.harmful.threshold.toFixed(3)})\n`,
);
