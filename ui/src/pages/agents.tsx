import { Page } from '../components';
import type { Route } from '../router';

export function AgentsPage({ route }: { route: Route }) {
  return <Page title="AgentsPage">Coming soon {route.parts.join('/')}.</Page>;
}
