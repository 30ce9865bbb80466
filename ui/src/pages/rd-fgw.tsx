import { useState } from 'preact/hooks';
import { api } from '../api';
import { Heatmap } from '../charts/heatmap';
import { Badge, Card, ErrorBanner, formatDuration } from '../components';
import { useCan } from '../context';
import { useAction } from '../hooks';
import { compactJson, EXAMPLE_GRAPH_A, EXAMPLE_GRAPH_B } from './rd-examples';

/** POST /rd/fgw's answer (the report of `warden rd fgw --json`). */
interface FgwReport {
  distance: number;
  alpha: number;
  epsilon: number;
  solver: string;
  iterations: number;
  converged: boolean;
  featureCost: number;
  structureCost: number;
  tieRestarts: number;
  coupling: number[][];
}

/** A graph's text as an object, or an Error that names the graph (the server checks the rest). */
function parseGraphText(text: string, name: string): Record<string, unknown> {
  if (!text.trim()) throw new Error(`Graph ${name} is empty: paste one, upload a file or load the example.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Graph ${name} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`Graph ${name} must be a JSON object ({"nodes", "edges"} or {"structure"}).`);
  return value as Record<string, unknown>;
}

function GraphInput({
  name,
  value,
  onChange,
}: {
  name: 'a' | 'b';
  value: string;
  onChange: (text: string) => void;
}) {
  const [fileError, setFileError] = useState<Error | undefined>(undefined);
  return (
    <div class="rd-graph">
      <label>
        Graph {name.toUpperCase()}
        <textarea
          name={`graph-${name}`}
          rows={12}
          spellcheck={false}
          placeholder='{"nodes": 3, "edges": [[0, 1], [1, 2]], "features": [[0.1], [0.9], [0.4]]}'
          value={value}
          onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <label class="rd-upload">
        <span>Upload a JSON file</span>
        <input
          type="file"
          name={`file-${name}`}
          accept=".json,application/json"
          onChange={(e) => {
            const file = (e.target as HTMLInputElement).files?.[0];
            setFileError(undefined);
            file
              ?.text()
              .then(onChange)
              .catch((err: Error) => setFileError(err));
          }}
        />
      </label>
      <ErrorBanner error={fileError} />
    </div>
  );
}

/** Two graphs in, their FGW distance and the transport plan out (POST /rd/fgw: operator keys). */
export function FgwCard() {
  const mayRun = useCan('operator');
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [alpha, setAlpha] = useState('0.5');
  const [epsilon, setEpsilon] = useState('0');
  const [result, setResult] = useState<{ report: FgwReport; ms: number } | null>(null);
  const compute = useAction(async () => {
    setResult(null);
    const body = {
      a: parseGraphText(a, 'A'),
      b: parseGraphText(b, 'B'),
      ...(alpha.trim() ? { alpha: Number(alpha) } : {}),
      ...(epsilon.trim() ? { epsilon: Number(epsilon) } : {}),
    };
    const started = performance.now();
    const report = await api.post<FgwReport>('/rd/fgw', body);
    setResult({ report, ms: performance.now() - started });
  });

  if (!mayRun)
    return (
      <Card title="FGW distance" wide>
        <p class="muted">
          Computing a Fused Gromov–Wasserstein distance is the API's most expensive request: it needs an
          operator key. <code>warden rd fgw a.json b.json</code> computes it locally.
        </p>
      </Card>
    );

  const r = result?.report;
  return (
    <Card title="FGW distance" wide>
      <p class="muted">
        Two attributed graphs, as <code>{'{"nodes", "edges", "features"?, "weights"?}'}</code> or{' '}
        <code>{'{"structure": n×n}'}</code> (docs/rd.md); at most 400 nodes each.
      </p>
      <div class="rd-graphs">
        <GraphInput name="a" value={a} onChange={setA} />
        <GraphInput name="b" value={b} onChange={setB} />
      </div>
      <form
        class="filters rd-controls"
        onSubmit={(e) => {
          e.preventDefault();
          void compute.run();
        }}
      >
        <button
          type="button"
          onClick={() => {
            setA(compactJson(EXAMPLE_GRAPH_A));
            setB(compactJson(EXAMPLE_GRAPH_B));
            compute.clear();
          }}
        >
          Load example
        </button>
        <label>
          alpha (structure weight)
          <input
            name="alpha"
            type="number"
            min="0"
            max="1"
            step="0.05"
            value={alpha}
            onInput={(e) => setAlpha((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          epsilon (0 = exact)
          <input
            name="epsilon"
            type="number"
            min="0"
            step="0.01"
            value={epsilon}
            onInput={(e) => setEpsilon((e.target as HTMLInputElement).value)}
          />
        </label>
        <button
          class="primary"
          type="submit"
          data-requires="operator"
          disabled={compute.pending || !a.trim() || !b.trim()}
        >
          {compute.pending ? 'Computing…' : 'Compute distance'}
        </button>
      </form>
      <ErrorBanner error={compute.error} onDismiss={compute.clear} />
      {r && result && (
        <div class="rd-result" data-testid="fgw-result">
          <div class="stats">
            <div class="stat">
              <div class="value" data-testid="fgw-distance">
                {r.distance.toPrecision(6)}
              </div>
              <div class="label">FGW distance (α {r.alpha})</div>
            </div>
            <div class="stat">
              <div class="value">{r.iterations}</div>
              <div class="label">
                iterations{' '}
                <Badge
                  value={r.converged ? 'converged' : 'not converged'}
                  kind={r.converged ? 'ok' : 'warn'}
                />
              </div>
            </div>
            <div class="stat">
              <div class="value">{formatDuration(result.ms)}</div>
              <div class="label">time (request, {r.solver})</div>
            </div>
            <div class="stat">
              <div class="value rd-small">
                {r.featureCost.toPrecision(4)} / {r.structureCost.toPrecision(4)}
              </div>
              <div class="label">feature / structure cost</div>
            </div>
          </div>
          <h2>Transport plan</h2>
          <p class="muted">
            How much of each node of A ({r.coupling.length}) is matched to each node of B (
            {r.coupling[0]?.length ?? 0}): rows sum to A's weights, columns to B's.
          </p>
          <Heatmap matrix={r.coupling} rowTitle="A node" colTitle="B node" testId="transport-plan" />
        </div>
      )}
    </Card>
  );
}
