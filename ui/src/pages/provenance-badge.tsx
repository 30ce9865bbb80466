import { ERROR_CODES } from '../../../src/core/errors';
import { ApiError } from '../api';
import { formatDuration } from '../components';
import { href } from '../router';
import type { BrowserVerification } from '../verify';

/** What the badge shows: a check under way, or its outcome (or the server's refusal to export). */
export type VerifyState =
  | { status: 'idle' }
  | { status: 'checking'; source: string }
  | { status: 'done'; source: string; result: BrowserVerification }
  | { status: 'refused'; source: string; error: Error };

function CodeLink({ code }: { code: string }) {
  // Codes of the error catalogue link to it; BROWSER_UNSUPPORTED (the page's own) and NETWORK do not.
  if (!Object.hasOwn(ERROR_CODES, code)) return <code>{code}</code>;
  return (
    <a class="code" href={href('errors', code)} title="What this error means">
      {code}
    </a>
  );
}

/**
 * The verdict of the browser's own check (ui/src/verify, WebCrypto): `data-status` is checking, verified
 * or failed. A refused export is a failure too, with the server's code.
 */
export function VerifyBadge({ state }: { state: VerifyState }) {
  if (state.status === 'idle') return null;
  if (state.status === 'checking')
    return (
      <div class="verify-badge checking" data-testid="verify-badge" data-status="checking" aria-busy="true">
        <strong>Verifying in your browser…</strong>
        <span class="muted">{state.source}</span>
      </div>
    );
  if (state.status === 'refused') {
    const code = state.error instanceof ApiError ? state.error.code : undefined;
    return (
      <div class="verify-badge failed" data-testid="verify-badge" data-status="failed" role="alert">
        <strong>✗ Not verified: the server refused the export</strong>
        <span class="muted">{state.source}</span>
        <p>
          {code && <CodeLink code={code} />} {state.error.message}
        </p>
      </div>
    );
  }
  const r = state.result;
  if (r.ok)
    return (
      <div class="verify-badge verified" data-testid="verify-badge" data-status="verified">
        <strong>✓ Verified in your browser</strong>
        <span class="muted">
          {state.source} · {formatDuration(r.elapsedMs)}
        </span>
        <dl class="facts">
          <dt>Records</dt>
          <dd>
            {r.records.toLocaleString()} in one hash chain
            {r.since ? ` after tree size ${r.since.toLocaleString()}` : ''}
          </dd>
          <dt>Tree size</dt>
          <dd>{r.treeSize?.toLocaleString()} (signed head, Ed25519)</dd>
          <dt>Merkle root</dt>
          <dd class="mono hash">{r.rootHash}</dd>
          <dt>Key id</dt>
          <dd class="mono hash">{r.keyId}</dd>
          <dt>Statements</dt>
          <dd>{r.statements?.toLocaleString()} task results, each with its inclusion proof</dd>
        </dl>
        {r.notes.map((n) => (
          <p class="muted" key={n}>
            {n}
          </p>
        ))}
      </div>
    );
  return (
    <div class="verify-badge failed" data-testid="verify-badge" data-status="failed" role="alert">
      <strong>
        ✗ Verification failed: {r.problems.length} problem{r.problems.length === 1 ? '' : 's'}
        {r.problems.length >= 50 ? ' (the first 50)' : ''}
      </strong>
      <span class="muted">
        {state.source} · {formatDuration(r.elapsedMs)}
      </span>
      <ul class="problems">
        {r.problems.map((p, i) => (
          <li key={i}>
            <CodeLink code={p.code} /> <span class="mono">{p.where}</span>: {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
