export {
  GENESIS_HASH,
  ChainChecker,
  chainRecord,
  canonicalRecordJson,
  verifyChain,
  sha256Hex,
} from './chain.js';
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
export type { TreeHead, SignedTreeHead, TreeHeadSigner } from './tree-head.js';
export { TREE_HEAD_KEY_FILE, loadOrCreateTreeHeadKey } from './node-key.js';
export { checkTreeHeadAgainstChain } from './verify-head.js';
export { RESULT_RECORD_STATUS, resultRecordProblem } from './result-check.js';
export { Pacer } from './pacer.js';
export type { ChainReader, StoredTaskRow } from './reader.js';
export { scanChain } from './scan.js';
export type { ChainScan, TaskFacts } from './scan.js';
export { HeadWitness } from './witness.js';
export { verifyStoredSession } from './verify-store.js';
export type { StoredSessionCheck } from './verify-store.js';
export type { StoredResultRow } from './result-check.js';
export {
  BUNDLE_FORMAT,
  INCREMENTAL_BUNDLE_FORMAT,
  STATEMENT_TYPE,
  TASK_RESULT_PREDICATE,
  serializeBundle,
} from './bundle.js';
export type {
  AnyProvenanceBundle,
  BundleBase,
  IncrementalProvenanceBundle,
  ProvenanceBundle,
  TaskResultStatement,
} from './bundle.js';
export { bundleText, exportBundle, exportBundleStream } from './export-stream.js';
export type { BundleStream, BundleSummary, ExportKey, ExportOptions, ExportSource } from './export-stream.js';
export type { LedgerPort, TraceFilter, TraceRecord, TraceSummary } from './ledger-port.js';
export { readTaskHistory } from './task-history.js';
export type { TaskHistory, TaskHistoryOptions, TaskHistoryRecord } from './task-history.js';
export { verifyBundle, verifyBundleText } from './verify-bundle.js';
export type { BundleProblem, BundleVerification, VerifyBundleOptions } from './verify-bundle.js';
export * as records from './records.js';
export { ChainBatch } from './records.js';
export type { OnAppended, FlagFacts, FinishFacts } from './records.js';
