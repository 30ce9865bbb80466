import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, saveFile } from './api';
import { href } from './router';

/** An error as the user should see it: its code (linking to the error catalogue), message and next step. */
export function ErrorBanner({ error, onDismiss }: { error: Error | undefined; onDismiss?: () => void }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div class="banner error" role="alert">
      {code && (
        <a class="code" href={href('errors', code)} title="What this error means">
          {code}
        </a>
      )}
      <span>{error.message}</span>
      {onDismiss && (
        <button class="link" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page">
      <header class="page-head">
        <h1>{title}</h1>
        <div class="actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}

export function Card({
  title,
  children,
  wide,
}: {
  title?: string;
  children: ComponentChildren;
  wide?: boolean;
}) {
  return (
    <div class={`card${wide ? ' wide' : ''}`}>
      {title && <h2>{title}</h2>}
      {children}
    </div>
  );
}

const STATE_CLASS: Record<string, string> = {
  queued: 'neutral',
  running: 'info',
  retrying: 'warn',
  succeeded: 'ok',
  failed: 'bad',
  dead: 'bad',
  cancelled: 'neutral',
  quarantined: 'warn',
  open: 'bad',
  half_open: 'warn',
  'half-open': 'warn',
  closed: 'ok',
  active: 'ok',
  draining: 'warn',
  idle: 'neutral',
};

/** A coloured pill for a task state, breaker state or version status. */
export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span class={`badge ${kind ?? STATE_CLASS[value] ?? 'neutral'}`}>{value}</span>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Loading() {
  return (
    <p class="loading" aria-busy="true">
      Loading…
    </p>
  );
}

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return d.toLocaleString(undefined, { hour12: false });
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** A short id for tables: the last 8 characters of a UUIDv7 differ between tasks. */
export function shortId(id: string): string {
  return id.length > 12 ? `…${id.slice(-8)}` : id;
}

const JSON_PREVIEW_CHARS = 20_000;

/** Pretty JSON; a large value is truncated on screen with a button to download the whole of it. */
export function JsonView({ value, filename }: { value: unknown; filename?: string }) {
  const text = JSON.stringify(value, null, 2) ?? 'undefined';
  const truncated = text.length > JSON_PREVIEW_CHARS;
  return (
    <div class="json">
      <pre>{truncated ? `${text.slice(0, JSON_PREVIEW_CHARS)}\n…` : text}</pre>
      {truncated && (
        <p class="muted">
          Showing {JSON_PREVIEW_CHARS.toLocaleString()} of {text.length.toLocaleString()} characters.{' '}
          <button class="link" onClick={() => saveFile(filename ?? 'value.json', text)}>
            Download all
          </button>
        </p>
      )}
    </div>
  );
}

/** A button that asks before it acts (purge, cancel): the second click within the prompt confirms. */
export function ConfirmButton({
  label,
  confirm,
  onConfirm,
  disabled,
  danger,
}: {
  label: string;
  confirm: string;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button class={danger ? 'danger' : ''} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span class="confirm" role="group">
      <span>{confirm}</span>
      <button
        class={danger ? 'danger' : 'primary'}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button onClick={() => setAsking(false)}>Keep</button>
    </span>
  );
}
