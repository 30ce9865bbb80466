import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, saveFile } from '../api';
import { Card, Empty, ErrorBanner, Loading, Page, formatTime } from '../components';
import { useLoad } from '../hooks';
import { href, navigate, type Route } from '../router';
import { verifyBundleText } from '../verify';
import { VerifyBadge, type VerifyState } from './provenance-badge';
import { RecordsTable, type RecordRow } from './provenance-records';

interface Session {
  id: string;
  tenant: string;
  name: string;
  maxConcurrency?: number;
  allowNetwork?: boolean;
  policy?: string;
  placement?: string;
  createdAt?: number;
}

/** The part of a bundle the page shows beside the verdict (the verifier reads all of it). */
interface Shown {
  source: string;
  session?: { id?: string; name?: string; tenant?: string };
  records: RecordRow[];
  treeHead?: { timestamp?: number; treeSize?: number };
  previousHead?: { treeHead?: { treeSize?: number; timestamp?: number } };
}

function readShown(text: string, source: string): Shown {
  try {
    const b = JSON.parse(text) as Partial<Shown> | null;
    const records = Array.isArray(b?.records) ? b.records : [];
    return { ...b, source, records };
  } catch {
    return { source, records: [] };
  }
}

const RECORD_WHERE = /^records\[(\d+)\]/;

/**
 * `#/provenance/<session>`: the session's provenance bundle, fetched (POST /artifacts/export) and verified
 * here with WebCrypto: the hash chain, the Merkle root against the signed tree head, the previous head's
 * consistency proof and every statement's inclusion proof. A bundle file can be verified the same way.
 */
export function ProvenancePage({ route }: { route: Route }) {
  const wanted = route.parts[1];
  const sessions = useLoad((signal) => api.get<{ sessions: Session[] }>('/sessions', signal), []);
  const list = sessions.data?.sessions ?? [];
  const session = wanted ? list.find((s) => s.id === wanted || s.name === wanted) : undefined;

  const [state, setState] = useState<VerifyState>({ status: 'idle' });
  // What the badge and table are about: the export of a session (its id), or a file the user chose.
  const [origin, setOrigin] = useState<{ session: string } | { file: string } | undefined>(undefined);
  const [shown, setShown] = useState<Shown | undefined>(undefined);
  const [exported, setExported] = useState<string | undefined>(undefined);
  // Each check has a number: a slower earlier one never overwrites a later one.
  const run = useRef(0);

  const verify = async (text: string, source: string, mine: number) => {
    if (run.current !== mine) return;
    setShown(readShown(text, source));
    const result = await verifyBundleText(text);
    if (run.current === mine) setState({ status: 'done', source, result });
  };

  const sessionKey = session?.id;
  useEffect(() => {
    if (!session) return;
    const mine = ++run.current;
    const ac = new AbortController();
    const source = `export of session ${session.name}`;
    setOrigin({ session: session.id });
    setState({ status: 'checking', source });
    setShown(undefined);
    setExported(undefined);
    api
      .postText('/artifacts/export', { session: session.id }, ac.signal)
      .then((text) => {
        if (run.current !== mine) return;
        setExported(text);
        return verify(text, source, mine);
      })
      .catch((err: Error) => {
        if (run.current === mine && err.name !== 'AbortError')
          setState({ status: 'refused', source, error: err });
      });
    return () => ac.abort();
  }, [sessionKey]);

  const onFile = (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (!file) return;
    const mine = ++run.current;
    const source = `file ${file.name}`;
    setOrigin({ file: file.name });
    setState({ status: 'checking', source });
    file
      .text()
      .then((text) => verify(text, source, mine))
      .catch((err: Error) => run.current === mine && setState({ status: 'refused', source, error: err }));
    input.value = '';
  };

  // Until the effect for a newly picked session has run, the last session's verdict must not show as its.
  const stale = !!origin && 'session' in origin && origin.session !== session?.id;
  const badge: VerifyState = !stale
    ? state
    : session
      ? { status: 'checking', source: `export of session ${session.name}` }
      : { status: 'idle' };
  const visible = stale ? undefined : shown;
  const result = !stale && state.status === 'done' ? state.result : undefined;
  const flagged = useMemo(() => {
    const out = new Set<number>();
    for (const p of result?.problems ?? []) {
      const m = RECORD_WHERE.exec(p.where);
      if (m) out.add(Number(m[1]));
    }
    return out;
  }, [result]);

  return (
    <Page
      title="Provenance"
      actions={
        <>
          <button
            data-testid="export-bundle"
            disabled={!exported || !session}
            onClick={() => exported && session && saveFile(`${session.name}-provenance.json`, exported)}
          >
            Download bundle
          </button>
          <label class="file-button">
            Verify a bundle file
            <input
              type="file"
              name="bundle"
              accept=".json,application/json"
              onChange={(e) => onFile(e.target as HTMLInputElement)}
            />
          </label>
        </>
      }
    >
      <div data-testid="page-provenance" class="provenance">
        <div class="filters">
          <label>
            Session
            <select
              name="session"
              value={session?.id ?? ''}
              onChange={(e) => {
                const id = (e.target as HTMLSelectElement).value;
                navigate(id ? href('provenance', id) : href('provenance'));
              }}
            >
              <option value="">{sessions.loading && !sessions.data ? 'Loading…' : 'Pick a session'}</option>
              {list.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <ErrorBanner error={sessions.error} />
        {sessions.data && wanted && !session && <Empty>No session {wanted} in this tenant.</Empty>}
        {sessions.data && list.length === 0 && <Empty>This tenant has no sessions yet.</Empty>}

        <VerifyBadge state={badge} />

        <div class="grid">
          {origin && 'file' in origin && visible && (
            <Card title="Bundle file">
              <dl class="facts">
                <dt>File</dt>
                <dd>{origin.file}</dd>
                <dt>Session</dt>
                <dd>{visible.session?.name ?? '—'}</dd>
                <dt>Id</dt>
                <dd class="mono">{visible.session?.id ?? '—'}</dd>
                <dt>Tenant</dt>
                <dd>{visible.session?.tenant ?? '—'}</dd>
              </dl>
            </Card>
          )}
          {session && !(origin && 'file' in origin) && (
            <Card title="Session">
              <dl class="facts">
                <dt>Name</dt>
                <dd>{session.name}</dd>
                <dt>Id</dt>
                <dd class="mono">{session.id}</dd>
                <dt>Tenant</dt>
                <dd>{session.tenant}</dd>
                <dt>Created</dt>
                <dd>{formatTime(session.createdAt)}</dd>
                <dt>Concurrency</dt>
                <dd>{session.maxConcurrency ?? '—'}</dd>
                <dt>Network</dt>
                <dd>{session.allowNetwork ? 'allowed' : 'denied'}</dd>
                {session.policy && (
                  <>
                    <dt>Policy</dt>
                    <dd>{session.policy}</dd>
                  </>
                )}
                {session.placement && (
                  <>
                    <dt>Placement</dt>
                    <dd>{session.placement}</dd>
                  </>
                )}
                <dt>Tasks</dt>
                <dd>
                  <a href={`${href('tasks')}?session=${encodeURIComponent(session.id)}`}>its tasks</a>
                </dd>
              </dl>
            </Card>
          )}
          {visible?.treeHead && (
            <Card title="Signed tree heads">
              <dl class="facts">
                <dt>At export</dt>
                <dd>
                  size {visible.treeHead.treeSize?.toLocaleString()}, {formatTime(visible.treeHead.timestamp)}
                </dd>
                <dt>At commit</dt>
                <dd>
                  {visible.previousHead?.treeHead
                    ? `size ${visible.previousHead.treeHead.treeSize?.toLocaleString()}, ${formatTime(visible.previousHead.treeHead.timestamp)}`
                    : 'none yet'}
                </dd>
              </dl>
            </Card>
          )}
        </div>

        {badge.status === 'checking' && !visible && <Loading />}
        {visible && (
          <Card title={`Records (${visible.source})`} wide>
            <RecordsTable records={visible.records} hashes={result?.hashes} flagged={flagged} />
          </Card>
        )}
        {!wanted && badge.status === 'idle' && (
          <Empty>
            Pick a session to fetch its provenance bundle and verify it here, or verify a bundle file.
          </Empty>
        )}
      </div>
    </Page>
  );
}
