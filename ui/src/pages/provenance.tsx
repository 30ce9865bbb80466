import { Page } from '../components';
import type { Route } from '../router';

export function ProvenancePage({ route }: { route: Route }) {
  return <Page title="ProvenancePage">Coming soon {route.parts.join('/')}.</Page>;
}
