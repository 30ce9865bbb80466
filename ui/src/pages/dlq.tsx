import { Page } from '../components';

export function DlqPage() {
  return <Page title="DlqPage">Coming soon.</Page>;
}
