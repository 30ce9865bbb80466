// Provenance bundle verification in the browser (WebCrypto): pure functions, no Node APIs, so the same
// code runs in the dashboard and, under test, in Node 20 beside the server's verifier.
export {
  verifyBundle,
  verifyBundleText,
  GENESIS_HASH,
  type BrowserVerification,
  type BundleProblem,
} from './verify-bundle.js';
export { canonicalJson, serializeBundle } from './canonical-json.js';
export { BUNDLE_FORMAT, INCREMENTAL_BUNDLE_FORMAT } from './shape.js';
export { treeHeadMessage, type SignedTreeHead } from './tree-head.js';
