export { GENESIS_HASH, chainRecord, canonicalRecordJson, verifyChain, sha256Hex } from './chain.js';
export type {
  ProvenanceEvent,
  ProvenanceEventType,
  ProvenanceRecord,
  ChainHead,
  ChainedRecord,
  StoredLink,
  ChainVerification,
} from './chain.js';
export {
  EMPTY_ROOT,
  MerkleTree,
  isHashHex,
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export type { ProofCheck } from './merkle.js';
export { MerkleFrontier } from './frontier.js';
export { SessionTrees } from './session-trees.js';
export type { TreeState, TreeStateSource } from './session-trees.js';
export {
  TREE_HEAD_TYPE,
  TreeHeadKey,
  publicKeyId,
  treeHeadMessage,
  verifyTreeHeadSignature,
} from './tree-head.js';
export type { TreeHead, SignedTreeHead } from './tree-head.js';
export { TREE_HEAD_KEY_FILE, loadOrCreateTreeHeadKey } from './node-key.js';
export { checkTreeHeadAgainstChain } from './verify-head.js';
export {
  BUNDLE_FORMAT,
  STATEMENT_TYPE,
  TASK_RESULT_PREDICATE,
  exportBundle,
  serializeBundle,
} from './bundle.js';
export type { ProvenanceBundle, ProvenanceSource, TaskResultStatement } from './bundle.js';
export { verifyBundle, verifyBundleText } from './verify-bundle.js';
export type { BundleProblem, BundleVerification, VerifyBundleOptions } from './verify-bundle.js';
