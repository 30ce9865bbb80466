import { Page } from '../components';
import type { Route } from '../router';

export function TasksPage({ route }: { route: Route }) {
  return <Page title="TasksPage">Coming soon {route.parts.join('/')}.</Page>;
}
