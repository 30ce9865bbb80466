// agent_benchmark: two versions of one agent run the same labelled tasks; their KPIs (success rate,
// latency p50/p95, user reward) are printed side by side, and the better version is named.
// Run: node examples/agent-benchmark/main.mjs [--data DIR]   (after `npm ci`, or `npm run build`)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Warden } from 'warden';

const here = fileURLToPath(new URL('.', import.meta.url));
const { root, cleanup } = dataDirectory(process.argv.slice(2));

// The benchmark set: texts with the label a person gave them.
const CASES = [
  ['I love this phone, the battery is great', 'positive'],
  ['Great service and a good price', 'positive'],
  ['Excellent build, I recommend it', 'positive'],
  ['Works perfectly, very happy', 'positive'],
  ['Fast delivery, perfect fit', 'positive'],
  ['Not bad at all for the money', 'positive'],
  ['This is awful, I hate it', 'negative'],
  ['Bad quality and a bad smell', 'negative'],
  ['The app crashes every morning', 'negative'],
  ['Slow, broken and poor support', 'negative'],
  ['I want a refund, terrible experience', 'negative'],
  ['Not good, the screen is not great', 'negative'],
  ['It never works when I need it', 'negative'],
  ['Oh great, another update that breaks everything', 'negative'],
  ['The box arrived on Tuesday', 'neutral'],
  ['It is blue and weighs two kilos', 'neutral'],
  ['I ordered the medium size', 'neutral'],
  ['???', 'neutral'],
  ['...', 'neutral'],
];
const VERSIONS = ['1.0.0', '1.1.0'];

const warden = await Warden.open({ storage: { root } });
try {
  for (const v of VERSIONS) {
    const a = await warden.registerAgent({ path: join(here, `sentiment-${v}`, 'agent.yaml') });
    console.log(`registered ${a.key}: ${a.manifest.description}`);
  }
  await warden.ensureSession({ name: 'benchmark', maxConcurrency: 8 });

  // The same tasks through each version (pinned by name@version), interleaved so both share the machine.
  console.log(`\nrunning ${CASES.length} labelled tasks through each version…`);
  const runs = [];
  for (const [text, expected] of CASES)
    for (const v of VERSIONS)
      runs.push({
        v,
        expected,
        task: await warden.submit({ agent: `sentiment@${v}`, session: 'benchmark', input: { text } }),
      });
  const wrong = Object.fromEntries(VERSIONS.map((v) => [v, []]));
  for (const run of runs) {
    const r = await warden.result(run.task, { timeoutMs: 20_000 });
    if (!r) throw new Error(`task ${run.task.id} did not finish in 20 s`);
    const correct = r.status === 'succeeded' && r.output.label === run.expected;
    // The user's verdict on each answer: 1 right, 0 wrong or no answer. It feeds the reward KPI.
    await warden.feedback(run.task.id, { score: correct ? 1 : 0 });
    if (!correct)
      wrong[run.v].push(
        `${JSON.stringify(run.task.input.text)}: ${r.status === 'succeeded' ? r.output.label : `${r.status} (${r.error?.code})`}, expected ${run.expected}`,
      );
  }
  for (const v of VERSIONS) {
    console.log(`\nsentiment@${v}: ${wrong[v].length} of ${CASES.length} wrong or failed`);
    for (const w of wrong[v]) console.log(`  ${w}`);
  }

  // warden.agentKpis: the KPIs of every version of 'sentiment' over its finished tasks (docs/kpi.md).
  const kpis = await warden.agentKpis({ agent: 'sentiment' });
  const byVersion = new Map(kpis.map((k) => [k.version, k]));
  const rows = [
    ['', ...VERSIONS.map((v) => `sentiment@${v}`)],
    ['tasks finished', ...VERSIONS.map((v) => String(byVersion.get(v).finished))],
    ['success rate', ...VERSIONS.map((v) => pct(byVersion.get(v).successRate))],
    ['latency p50', ...VERSIONS.map((v) => ms(byVersion.get(v).latencyMs.p50))],
    ['latency p95', ...VERSIONS.map((v) => ms(byVersion.get(v).latencyMs.p95))],
    ['reward (mean)', ...VERSIONS.map((v) => byVersion.get(v).reward.mean.toFixed(3))],
  ];
  console.log('\nKPIs');
  for (const row of rows)
    console.log(
      `  ${row[0].padEnd(16)}${row
        .slice(1)
        .map((c) => c.padStart(18))
        .join('')}`,
    );

  // The winner: higher reward, then higher success rate, then lower p95 latency.
  const [best, other] = [...kpis].sort(
    (a, b) =>
      b.reward.mean - a.reward.mean || b.successRate - a.successRate || a.latencyMs.p95 - b.latencyMs.p95,
  );
  console.log(
    `\nwinner: ${best.agent} (reward ${best.reward.mean.toFixed(3)} vs ${other.reward.mean.toFixed(3)}, ` +
      `success ${pct(best.successRate)} vs ${pct(other.successRate)}, p95 ${ms(best.latencyMs.p95)} vs ${ms(other.latencyMs.p95)})`,
  );
} finally {
  await warden.close();
  cleanup();
}

function pct(x) {
  return x === null ? '-' : `${(x * 100).toFixed(1)} %`;
}
function ms(x) {
  return x === null ? '-' : `${x.toFixed(0)} ms`;
}

/** `--data DIR` keeps the store there; otherwise a temporary directory, removed at the end. */
function dataDirectory(args) {
  const i = args.indexOf('--data');
  if (i >= 0 && args[i + 1]) return { root: args[i + 1], cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'warden-example-'));
  return { root: dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
