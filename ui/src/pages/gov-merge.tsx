import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, Card, ErrorBanner, shortId } from '../components';
import { useCan } from '../context';
import { useAction } from '../hooks';
import { href } from '../router';

interface MergeReport {
  ok: boolean;
  session: string;
  policy: string;
  verdicts: { id: string; taskId: string | null; accepted: boolean; reasons: string[] }[];
}

export interface SessionOption {
  id: string;
  name: string;
}

/** validate_merge (POST /governance/validate-merge, operator keys): may these results be merged? */
export function MergeCard({ sessions, session }: { sessions: SessionOption[]; session: string }) {
  const mayRun = useCan('operator');
  const [chosen, setChosen] = useState('');
  const [ids, setIds] = useState('');
  const [report, setReport] = useState<MergeReport | null>(null);
  const target = chosen || session || sessions[0]?.id || '';
  const check = useAction(async () => {
    setReport(null);
    const list = ids.split(/[\s,]+/).filter(Boolean);
    setReport(await api.post<MergeReport>('/governance/validate-merge', { session: target, ids: list }));
  });
  if (!mayRun)
    return (
      <Card title="Validate merge">
        <p class="muted">
          Checking whether results may be merged records the decision in the session's provenance chain: it
          needs an operator key.
        </p>
      </Card>
    );
  return (
    <Card title="Validate merge">
      <form
        class="gov-form"
        onSubmit={(e) => {
          e.preventDefault();
          void check.run();
        }}
      >
        <label>
          Session
          <select
            name="merge-session"
            value={target}
            onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}
          >
            {sessions.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Task or trace ids (one a line, or separated by commas)
          <textarea
            name="merge-ids"
            rows={4}
            spellcheck={false}
            value={ids}
            onInput={(e) => setIds((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="filters">
          <button
            class="primary"
            type="submit"
            data-requires="operator"
            disabled={check.pending || !target || !ids.trim()}
          >
            Validate merge
          </button>
          <span class="muted">The decision is recorded in the session's chain.</span>
        </div>
      </form>
      <ErrorBanner error={check.error} onDismiss={check.clear} />
      {report && (
        <div class="gov-result" data-testid="merge-result">
          <p>
            <Badge value={report.ok ? 'mergeable' : 'refused'} kind={report.ok ? 'ok' : 'bad'} /> under policy{' '}
            <strong>{report.policy}</strong>
          </p>
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th>Id</th>
                  <th>Verdict</th>
                  <th>Why</th>
                </tr>
              </thead>
              <tbody>
                {report.verdicts.map((v) => (
                  <tr key={v.id}>
                    <td class="mono" title={v.id}>
                      {v.taskId ? <a href={href('tasks', v.taskId)}>{shortId(v.id)}</a> : shortId(v.id)}
                    </td>
                    <td>
                      <Badge value={v.accepted ? 'accepted' : 'refused'} kind={v.accepted ? 'ok' : 'bad'} />
                    </td>
                    <td>{v.reasons.join('; ') || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Card>
  );
}
