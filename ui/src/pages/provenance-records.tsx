import { useEffect, useMemo, useState } from 'preact/hooks';
import { Empty, formatTime, shortId } from '../components';
import { href } from '../router';

/** A record of the bundle as the table reads it (any other fields are ignored here). */
export interface RecordRow {
  seq: number;
  type: string;
  at: number;
  taskId?: string;
  agent?: string;
  attempt?: number;
}

const PAGE_ROWS = 500;

/**
 * The bundle's records, 500 rows to a screen (a session can hold many thousands), filterable by type.
 * `hashes[i]` is record i's chain hash as the browser computed it; `flagged` the indexes with a problem.
 */
export function RecordsTable({
  records,
  hashes,
  flagged,
}: {
  records: readonly RecordRow[];
  hashes: readonly string[] | undefined;
  flagged: ReadonlySet<number>;
}) {
  const [type, setType] = useState('');
  const [page, setPage] = useState(0);
  const types = useMemo(() => [...new Set(records.map((r) => r.type))].sort(), [records]);
  const shown = useMemo(
    () => records.map((r, i) => ({ r, i })).filter(({ r }) => !type || r.type === type),
    [records, type],
  );
  useEffect(() => setPage(0), [records, type]);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_ROWS));
  const at = Math.min(page, pages - 1);
  const rows = shown.slice(at * PAGE_ROWS, (at + 1) * PAGE_ROWS);

  return (
    <div class="records">
      <div class="filters">
        <label>
          Type
          <select name="type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            <option value="">all ({records.length.toLocaleString()})</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {pages > 1 && (
          <span class="pager" data-testid="records-pager">
            <button disabled={at === 0} onClick={() => setPage(at - 1)}>
              ← Previous
            </button>
            <span class="muted">
              rows {(at * PAGE_ROWS + 1).toLocaleString()}–{(at * PAGE_ROWS + rows.length).toLocaleString()}{' '}
              of {shown.length.toLocaleString()}
            </span>
            <button disabled={at >= pages - 1} onClick={() => setPage(at + 1)}>
              Next →
            </button>
          </span>
        )}
      </div>
      {rows.length === 0 ? (
        <Empty>No records.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid="provenance-records">
            <thead>
              <tr>
                <th>seq</th>
                <th>type</th>
                <th>task</th>
                <th>agent</th>
                <th>attempt</th>
                <th>at</th>
                <th>hash</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ r, i }) => (
                <tr key={i} class={flagged.has(i) ? 'focus' : ''}>
                  <td>{r.seq}</td>
                  <td>
                    <code>{r.type}</code>
                  </td>
                  <td>
                    {r.taskId ? (
                      <a href={href('tasks', r.taskId)} title={r.taskId}>
                        {shortId(r.taskId)}
                      </a>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>{r.agent ?? '—'}</td>
                  <td>{r.attempt ?? '—'}</td>
                  <td>{formatTime(r.at)}</td>
                  <td class="mono" title={hashes?.[i]}>
                    {hashes?.[i] ? hashes[i].slice(0, 12) : '…'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
