import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { Card, ErrorBanner } from '../components';
import { usePrincipal } from '../context';
import { useAction } from '../hooks';

// Registering an agent version over POST /agents: the agent.yaml text and, for agents with code, its files
// (base64, named by their path relative to the agent.yaml). The request body is capped (2 MiB by default).

interface CodeFile {
  file: File;
  path: string;
}

interface Registered {
  key: string;
  name: string;
  version: string;
  runtime: string;
  moduleDigest: string | null;
}

interface Issue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** The fields of a manifest that name files, read with a regex (no YAML parser in the bundle): a hint only. */
function manifestHints(text: string): { runtime?: string; files: string[] } {
  const runtime = /^\s*runtime:\s*['"]?([a-z-]+)/m.exec(text)?.[1];
  const files = [...text.matchAll(/^\s*(?:entry|module):\s*['"]?([^'"#\s,}]+)/gm)].map((m) =>
    m[1]!.replace(/^\.\//, ''),
  );
  return { ...(runtime ? { runtime } : {}), files };
}

const NEEDS: Record<string, string> = {
  node: 'a node agent needs its entry script (spec.entry) and any files it imports.',
  python: 'a python agent needs its entry script (spec.entry) and any modules it imports.',
  wasm: 'a wasm agent needs its compiled module (spec.module), e.g. build/agent.wasm.',
  process: "a process agent needs the files its command and args name, if they are not on the server's PATH.",
  llm: 'an llm agent needs no files: the model endpoint and prompt are in the manifest (a local GGUF model must already be on the server).',
};

async function base64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  // In chunks: String.fromCharCode with a whole large file overflows the argument list.
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function issuesOf(error: Error | undefined): Issue[] {
  if (!(error instanceof ApiError)) return [];
  const issues = error.details?.['issues'];
  return Array.isArray(issues) ? (issues as Issue[]) : [];
}

function firstLine(error: Error | undefined): Error | undefined {
  if (!(error instanceof ApiError)) return error;
  return new ApiError(error.status, error.code, error.message.split('\n')[0] ?? error.message, error.details);
}

/** The "Register agent" form (admin only): paste or upload agent.yaml, add code files, submit. */
export function RegisterAgent({
  onRegistered,
  onClose,
}: {
  onRegistered: (r: Registered) => void;
  onClose: () => void;
}) {
  const principal = usePrincipal();
  const [manifest, setManifest] = useState('');
  const [files, setFiles] = useState<CodeFile[]>([]);
  const [shared, setShared] = useState(false);
  const hints = manifestHints(manifest);
  const submit = useAction(async () => {
    const encoded: Record<string, string> = {};
    for (const f of files) encoded[f.path.trim() || f.file.name] = await base64(f.file);
    const registered = await api.post<Registered>('/agents', {
      manifest,
      ...(files.length ? { files: encoded } : {}),
      ...(shared ? { shared: true } : {}),
    });
    onRegistered(registered);
    setManifest('');
    setFiles([]);
  });
  const issues = issuesOf(submit.error);
  const guessPath = (name: string) => hints.files.find((p) => p === name || p.endsWith(`/${name}`)) ?? name;
  return (
    <Card title="Register an agent version" wide>
      <form
        class="agent-register"
        data-testid="register-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <div class="agent-register-cols">
          <label>
            agent.yaml
            <textarea
              name="manifest"
              rows={14}
              spellcheck={false}
              placeholder={
                'apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: echo, version: 1.0.0 }\nspec:\n  runtime: node\n  entry: ./main.js'
              }
              value={manifest}
              onInput={(e) => setManifest((e.target as HTMLTextAreaElement).value)}
            />
          </label>
          <div class="agent-register-side">
            <label>
              Or upload agent.yaml
              <input
                type="file"
                name="manifestFile"
                accept=".yaml,.yml,text/yaml,application/yaml"
                onChange={(e) => {
                  const file = (e.target as HTMLInputElement).files?.[0];
                  if (file) void file.text().then(setManifest);
                }}
              />
            </label>
            <label>
              Code files
              <input
                type="file"
                name="codeFiles"
                multiple
                onChange={(e) => {
                  const input = e.target as HTMLInputElement;
                  const picked = [...(input.files ?? [])].map((file) => ({
                    file,
                    path: guessPath(file.name),
                  }));
                  setFiles((fs) => [...fs.filter((f) => !picked.some((p) => p.path === f.path)), ...picked]);
                  input.value = '';
                }}
              />
            </label>
            <p class="muted small">
              Files are stored with the version, named by their path relative to agent.yaml (edit a path
              below, e.g. <code>build/agent.wasm</code>).{' '}
              {hints.runtime && NEEDS[hints.runtime] ? (
                <>
                  This manifest's runtime is {hints.runtime}: {NEEDS[hints.runtime]}
                </>
              ) : (
                <>
                  node and python agents need their entry script, wasm agents their module; llm agents need
                  none.
                </>
              )}{' '}
              {hints.files.length > 0 && (
                <>
                  It names <code>{hints.files.join(', ')}</code>.
                </>
              )}{' '}
              The whole request may be at most 2 MiB.
            </p>
            {files.length > 0 && (
              <ul class="agent-files">
                {files.map((f, i) => (
                  <li key={`${f.file.name}-${i}`}>
                    <input
                      name="filePath"
                      aria-label={`Path of ${f.file.name}`}
                      value={f.path}
                      onInput={(e) => {
                        const path = (e.target as HTMLInputElement).value;
                        setFiles((fs) => fs.map((x, j) => (j === i ? { ...x, path } : x)));
                      }}
                    />
                    <span class="muted small">{(f.file.size / 1024).toFixed(1)} KiB</span>
                    <button
                      type="button"
                      class="link"
                      aria-label={`Remove ${f.file.name}`}
                      onClick={() => setFiles((fs) => fs.filter((_, j) => j !== i))}
                    >
                      ×
                    </button>
                  </li>
                ))}
              </ul>
            )}
            {principal.installation && (
              <label class="inline">
                <input
                  type="checkbox"
                  name="shared"
                  checked={shared}
                  onChange={(e) => setShared((e.target as HTMLInputElement).checked)}
                />
                Share with every tenant (installation key)
              </label>
            )}
          </div>
        </div>
        {/* The message repeats every issue on its own line: the list below shows them with their lines. */}
        <ErrorBanner
          error={issues.length ? firstLine(submit.error) : submit.error}
          onDismiss={submit.clear}
        />
        {issues.length > 0 && (
          <ul class="agent-issues" data-testid="register-issues">
            {issues.map((i, n) => (
              <li key={n}>
                {i.line !== undefined && <span class="muted">line {i.line}: </span>}
                <code>{i.path}</code> {i.message}
              </li>
            ))}
          </ul>
        )}
        <div class="actions">
          <button
            class="primary"
            type="submit"
            data-testid="register-submit"
            data-requires="admin"
            disabled={submit.pending || !manifest.trim()}
          >
            {submit.pending ? 'Registering…' : 'Register'}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </Card>
  );
}
