import { useEffect, useState } from 'preact/hooks';

/** A hash route: `#/tasks/0193…?state=running` is { parts: ['tasks', '0193…'], query: { state: 'running' } }. */
export interface Route {
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?', 2) as [string?, string?];
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

/** The href of a route: href('tasks', id) is '#/tasks/<id>'. */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

/** Replaces the query of the current route without adding a history entry. */
export function setQuery(params: Record<string, string | undefined>): void {
  const route = parseHash(window.location.hash);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') route.query.delete(k);
    else route.query.set(k, v);
  }
  const q = route.query.toString();
  history.replaceState(null, '', `#/${route.parts.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
