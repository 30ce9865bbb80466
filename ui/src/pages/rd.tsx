import { Page } from '../components';
import { FgwCard } from './rd-fgw';
import { KneeCard } from './rd-knee';

/** Rate–distortion: the FGW distance between two graphs with its transport plan, and a curve's knee. */
export function RdPage() {
  return (
    <Page title="Rate–distortion">
      <div class="rd-page" data-testid="page-rd">
        <FgwCard />
        <KneeCard />
      </div>
    </Page>
  );
}
