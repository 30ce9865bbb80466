import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, Empty, ErrorBanner } from '../components';
import { useAction } from '../hooks';
import { KneeChart, type CurvePoint } from './rd-curve';
import { EXAMPLE_CURVE } from './rd-examples';

interface Refinement {
  distortion: number;
  variance: number;
}

/**
 * The pasted points as POST /rd/knee's refinements. Accepts [rate, distortion] pairs (JSON, or one pair a
 * line as CSV), [{rate, distortion}], or the API's own [{distortion, variance}] / {"refinements": [...]}.
 * A (rate R, distortion D) pair becomes variance σ² = D·4^R, the one for which R = ½·log2(σ²/D).
 */
export function parsePoints(text: string): Refinement[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(/[\s,;]+/).map(Number))
      .filter((pair, i) => !(i === 0 && pair.some(Number.isNaN))); // a header line
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    value =
      (value as { refinements?: unknown; points?: unknown }).refinements ??
      (value as { points?: unknown }).points;
  if (!Array.isArray(value))
    throw new Error('Paste a list of [rate, distortion] pairs, one per line or as a JSON array.');
  const points = value.map((p: unknown, i): Refinement => {
    const o = p as Record<string, unknown>;
    const pair = Array.isArray(p) ? (p as unknown[]) : undefined;
    const rate = pair ? pair[0] : o['rate'];
    const distortion = pair ? pair[1] : o['distortion'];
    if (!pair && typeof o['variance'] === 'number' && typeof distortion === 'number')
      return { distortion, variance: o['variance'] };
    if (typeof rate !== 'number' || typeof distortion !== 'number' || !Number.isFinite(rate + distortion))
      throw new Error(`Point ${i + 1} is not a (rate, distortion) pair of numbers.`);
    if (!(distortion > 0) || rate < 0)
      throw new Error(`Point ${i + 1}: distortion must be > 0 and rate ≥ 0.`);
    return { distortion, variance: distortion * 4 ** rate };
  });
  if (points.length < 3) throw new Error('A curve needs at least 3 points.');
  return points;
}

interface KneeAnswer {
  knee: CurvePoint | null;
  curve: CurvePoint[];
}

/** Refinement steps in, the rate–distortion curve with its knee out (POST /rd/knee: any key). */
export function KneeCard() {
  const [text, setText] = useState('');
  const [method, setMethod] = useState<'kneedle' | 'menger'>('kneedle');
  const [answer, setAnswer] = useState<KneeAnswer | null>(null);
  const find = useAction(async (source: string) => {
    setAnswer(null);
    const points = parsePoints(source);
    setAnswer(await api.post<KneeAnswer>('/rd/knee', { points, method }));
  });
  return (
    <Card title="Refinement curve" wide>
      <p class="muted">
        One refinement step a line: <code>rate, distortion</code> (rate in bits), or JSON pairs; the API's{' '}
        <code>{'{"distortion", "variance"}'}</code> steps work too. The knee is where more refinement stops
        paying.
      </p>
      <form
        class="rd-knee-form"
        onSubmit={(e) => {
          e.preventDefault();
          void find.run(text);
        }}
      >
        <label>
          Points
          <textarea
            name="points"
            rows={8}
            spellcheck={false}
            placeholder={'0.05, 9\n0.5, 5\n1.0, 2.6\n…'}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="filters">
          <button
            type="button"
            onClick={() => {
              const example = EXAMPLE_CURVE.map(([r, d]) => `${r}, ${d}`).join('\n');
              setText(example);
              void find.run(example);
            }}
          >
            Load example
          </button>
          <label>
            Method
            <select
              name="method"
              value={method}
              onChange={(e) => setMethod((e.target as HTMLSelectElement).value as 'kneedle' | 'menger')}
            >
              <option value="kneedle">Kneedle</option>
              <option value="menger">Menger curvature</option>
            </select>
          </label>
          <button class="primary" type="submit" disabled={find.pending || !text.trim()}>
            Find the knee
          </button>
        </div>
      </form>
      <ErrorBanner error={find.error} onDismiss={find.clear} />
      {answer && (
        <div class="rd-result">
          {answer.knee ? (
            <p>
              Stop after step <strong>{answer.knee.index}</strong>: rate {answer.knee.rate.toPrecision(4)}{' '}
              bits, distortion {answer.knee.distortion}.
            </p>
          ) : (
            <Empty>No knee: the curve has no bend that stands out.</Empty>
          )}
          <div class="rd-curve-wrap">
            <KneeChart curve={answer.curve} knee={answer.knee} />
          </div>
        </div>
      )}
    </Card>
  );
}
