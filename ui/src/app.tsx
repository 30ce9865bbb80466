import { useEffect, useState } from 'preact/hooks';
import { ApiError, storeKey, storedKey } from './api';
import { ErrorBanner } from './components';
import { PrincipalContext } from './context';
import { href, useRoute, type Route } from './router';
import { whoami, type Principal } from './session';
import { OverviewPage } from './pages/overview';
import { TasksPage } from './pages/tasks';
import { ProvenancePage } from './pages/provenance';
import { AgentsPage } from './pages/agents';
import { DlqPage } from './pages/dlq';
import { GovernancePage } from './pages/governance';
import { RdPage } from './pages/rd';
import { ErrorsPage } from './pages/errors';

interface NavItem {
  path: string;
  label: string;
  render: (route: Route) => preact.JSX.Element;
}

// The order of the sidebar. Later pages (edge nodes, memory) add an entry here.
const NAV: NavItem[] = [
  { path: 'overview', label: 'Overview', render: () => <OverviewPage /> },
  { path: 'tasks', label: 'Tasks', render: (r) => <TasksPage route={r} /> },
  { path: 'provenance', label: 'Provenance', render: (r) => <ProvenancePage route={r} /> },
  { path: 'agents', label: 'Agents', render: (r) => <AgentsPage route={r} /> },
  { path: 'dlq', label: 'Dead letters', render: () => <DlqPage /> },
  { path: 'governance', label: 'Governance', render: (r) => <GovernancePage route={r} /> },
  { path: 'rd', label: 'Rate–distortion', render: () => <RdPage /> },
];

function Login({ onSignedIn, error }: { onSignedIn: (key: string) => void; error?: Error | undefined }) {
  const [key, setKey] = useState('');
  return (
    <main class="login">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (key.trim()) onSignedIn(key.trim());
        }}
      >
        <h1>
          <span class="logo">◆</span> Warden
        </h1>
        <p class="muted">
          Enter an API key (<code>warden keys create --role viewer</code> makes one). It is kept in this tab
          only.
        </p>
        <label>
          API key
          <input
            name="apiKey"
            type="password"
            autoComplete="off"
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
            autoFocus
          />
        </label>
        <ErrorBanner error={error} />
        <button class="primary" type="submit" disabled={!key.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}

export function App() {
  const route = useRoute();
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [checking, setChecking] = useState(() => storedKey() !== null);

  const signIn = (key: string) => {
    storeKey(key);
    setChecking(true);
    whoami()
      .then((p) => {
        setPrincipal(p);
        setError(undefined);
      })
      .catch((err: Error) => {
        storeKey(null);
        setPrincipal(null);
        setError(
          err instanceof ApiError && err.code === 'UNAUTHORIZED'
            ? new ApiError(401, err.code, 'That key is unknown or revoked')
            : err,
        );
      })
      .finally(() => setChecking(false));
  };
  useEffect(() => {
    const key = storedKey();
    if (key) signIn(key);
  }, []);

  if (checking) return <p class="loading">Checking the key…</p>;
  if (!principal) return <Login onSignedIn={signIn} error={error} />;

  const current = route.parts[0] ?? 'overview';
  const page =
    current === 'errors'
      ? { render: (r: Route) => <ErrorsPage route={r} /> }
      : NAV.find((n) => n.path === current);
  return (
    <PrincipalContext.Provider value={principal}>
      <div class="shell">
        <nav class="sidebar" aria-label="Pages">
          <a class="brand" href={href('overview')}>
            <span class="logo">◆</span> Warden
          </a>
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a href={href(n.path)} aria-current={n.path === current ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
          <div class="whoami">
            <div>
              tenant <strong>{principal.tenant}</strong>
            </div>
            <div>
              role <strong data-testid="role">{principal.role}</strong>
            </div>
            <button
              class="link"
              onClick={() => {
                storeKey(null);
                setPrincipal(null);
              }}
            >
              Sign out
            </button>
            <a class="muted" href="/docs" target="_blank" rel="noreferrer">
              API docs
            </a>
          </div>
        </nav>
        <main class="content">{page ? page.render(route) : <p>No page {current}.</p>}</main>
      </div>
    </PrincipalContext.Provider>
  );
}
