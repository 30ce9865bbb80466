import { Page } from '../components';

export function OverviewPage() {
  return <Page title="OverviewPage">Coming soon.</Page>;
}
