import { useEffect } from 'preact/hooks';
import { ERROR_CODES } from '../../../src/core/errors';
import { Page } from '../components';
import type { Route } from '../router';

/** The error catalogue (docs/errors.md), bundled from the same registry the server uses. */
export function ErrorsPage({ route }: { route: Route }) {
  const focus = route.parts[1];
  useEffect(() => {
    if (focus) document.getElementById(`error-${focus}`)?.scrollIntoView({ block: 'center' });
  }, [focus]);
  return (
    <Page title="Error codes">
      <p class="muted">
        Every error Warden reports has a stable code. <em>Retryable</em> failures of a task are retried with
        backoff until the agent's <code>retry.maxAttempts</code>, then dead-lettered.
      </p>
      <table class="table">
        <thead>
          <tr>
            <th>code</th>
            <th>HTTP</th>
            <th>retryable</th>
            <th>meaning</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(ERROR_CODES).map(([code, e]) => (
            <tr key={code} id={`error-${code}`} class={code === focus ? 'focus' : ''}>
              <td>
                <code>{code}</code>
              </td>
              <td>{e.status}</td>
              <td>{e.retryable ? 'yes' : 'no'}</td>
              <td>{e.doc}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
