import { Page } from '../components';
import type { Route } from '../router';

export function GovernancePage({ route }: { route: Route }) {
  return <Page title="GovernancePage">Coming soon {route.parts.join('/')}.</Page>;
}
