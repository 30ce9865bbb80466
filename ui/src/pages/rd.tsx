import { Page } from '../components';

export function RdPage() {
  return <Page title="RdPage">Coming soon.</Page>;
}
