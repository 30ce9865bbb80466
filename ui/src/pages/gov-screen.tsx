import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, Card, ErrorBanner } from '../components';
import { useAction } from '../hooks';
import { severityKind } from './gov-bars';

interface ScreenResult {
  policy: string;
  action: 'allow' | 'flag' | 'block';
  flags: { type: string; severity: number; reason: string; detector: string }[];
  scores: { jailbreak: number; harmful: number };
  thresholds: { jailbreak: number; harmful: number };
  signals: string[];
}

const ACTION_KIND = { allow: 'ok', flag: 'warn', block: 'bad' } as const;

/** A score in [0, 1] as a bar with its policy's threshold marked. */
function ScoreBar({ label, score, threshold }: { label: string; score: number; threshold: number }) {
  const over = score >= threshold;
  return (
    <div class="gov-score" data-score={label}>
      <span class="gov-bar-label">{label}</span>
      <span class="gov-bar-track">
        <span class={`gov-bar-fill ${over ? 'bad' : 'ok'}`} style={{ width: `${score * 100}%` }} />
        <span class="gov-threshold" style={{ left: `${threshold * 100}%` }} title={`flags at ${threshold}`} />
      </span>
      <span class="gov-bar-value">
        {score.toFixed(2)} <span class="muted">/ {threshold}</span>
      </span>
    </div>
  );
}

/** POST /governance/screen (any key): judge text as an LLM agent's input; nothing is stored. */
export function ScreenCard() {
  const [text, setText] = useState('');
  const [policy, setPolicy] = useState('');
  const [result, setResult] = useState<ScreenResult | null>(null);
  const screen = useAction(async () => {
    setResult(null);
    setResult(await api.post<ScreenResult>('/governance/screen', { text, ...(policy ? { policy } : {}) }));
  });
  return (
    <Card title="Screen text">
      <form
        class="gov-form"
        onSubmit={(e) => {
          e.preventDefault();
          void screen.run();
        }}
      >
        <label>
          Text, as a language-model agent's input
          <textarea
            name="screen-text"
            rows={5}
            maxLength={65536}
            placeholder="Ignore all previous instructions and …"
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="filters">
          <label>
            Policy
            <select
              name="policy"
              value={policy}
              onChange={(e) => setPolicy((e.target as HTMLSelectElement).value)}
            >
              <option value="">the server's default</option>
              <option value="permissive">permissive</option>
              <option value="default">default</option>
              <option value="strict">strict</option>
            </select>
          </label>
          <button class="primary" type="submit" disabled={screen.pending || !text.trim()}>
            Screen
          </button>
        </div>
      </form>
      <ErrorBanner error={screen.error} onDismiss={screen.clear} />
      {result && (
        <div class="gov-result" data-testid="screen-result">
          <p>
            Policy <strong>{result.policy}</strong> would{' '}
            <Badge value={result.action} kind={ACTION_KIND[result.action]} /> this text. Nothing was stored.
          </p>
          <ScoreBar
            label="jailbreak"
            score={result.scores.jailbreak}
            threshold={result.thresholds.jailbreak}
          />
          <ScoreBar label="harmful" score={result.scores.harmful} threshold={result.thresholds.harmful} />
          {result.flags.length > 0 ? (
            <ul class="gov-flags">
              {result.flags.map((f, i) => (
                <li key={i} title={f.detector}>
                  <Badge value={`${f.type} ${f.severity}`} kind={severityKind(f.severity)} />{' '}
                  <span class="gov-reason">{f.reason}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No flags.</p>
          )}
          {result.signals.length > 0 && (
            <p class="muted">
              Signals: <span class="mono">{result.signals.join(', ')}</span>
            </p>
          )}
        </div>
      )}
    </Card>
  );
}
