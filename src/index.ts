// The public library API of Warden. Everything not exported here is internal.
export { Warden, loadManifest, resolveDataDirectory } from './warden/index.js';
export type { StorageOptions, PostgresSettings } from './warden/index.js';
export type { ChangeFeed, TaskChange, LogChange, MaintenanceOptions } from './store/index.js';
export type {
  WardenOptions,
  SubmitReceipt,
  HandlerOptions,
  DataDirectory,
  TypedAgent,
  TypedSubmitTask,
  AgentStatus,
  BreakerReset,
} from './warden/index.js';
export {
  WardenError,
  ERROR_CODES,
  isWardenError,
  parseManifest,
  PRIORITIES,
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  DEFAULT_BREAKER,
  backoffDelayMs,
  backoffCeilingMs,
  canonicalJson,
} from './core/index.js';
export type {
  AgentManifest,
  ErrorCode,
  SerializedError,
  Session,
  SessionOptions,
  SubmitTask,
  Task,
  TaskResult,
  TaskState,
  PriorityName,
  ResourceLimits,
  ResourceUsage,
  RetryPolicy,
  BreakerPolicy,
  BreakerSnapshot,
  BreakerStatus,
} from './core/index.js';
export {
  verifyChain,
  chainRecord,
  GENESIS_HASH,
  serializeBundle,
  verifyBundle,
  verifyBundleText,
} from './provenance/index.js';
export type {
  ChainVerification,
  ProvenanceRecord,
  ProvenanceEvent,
  ProvenanceBundle,
  BundleProblem,
  BundleVerification,
  VerifyBundleOptions,
  TaskHistory,
  TaskHistoryRecord,
} from './provenance/index.js';
export type { TaskEvent, SchedulerOptions } from './scheduler/index.js';
export type { InlineHandler, HandlerContext } from './sandbox/index.js';
export type { LogLine, DeadLetter, AgentRecord } from './store/index.js';
export {
  Governance,
  EndpointDetector,
  FLAG_TYPES,
  PRESETS as GOVERNANCE_PRESETS,
  parsePolicy,
  loadPolicyFile,
} from './governance/index.js';
export type {
  GovernanceOptions,
  GovernanceStats,
  GovernancePolicy,
  GateAction,
  PolicyRule,
  FlagType,
  TraceFlag,
  MergeReport,
  MergeVerdict,
  Detector,
  DetectionContext,
  DetectionTarget,
  EndpointDetectorOptions,
  TaskGate,
} from './governance/index.js';
export {
  fusedGromovWasserstein,
  fgwDistance,
  shortestPathMatrix,
  kneedle,
  mengerKnee,
  shannonRate,
  rateDistortionCurve,
  findRdKnee,
} from './rd/index.js';
export type {
  FgwProblem,
  FgwOptions,
  FgwResult,
  AttributedGraph,
  KneedleResult,
  MengerResult,
  RatePoint,
  RefinementPoint,
} from './rd/index.js';
export {
  NodeIdentity,
  TrustRegistry,
  SwarmChannel,
  createRegistration,
  createInvite,
  signReceipt,
  verifyReceipt,
  digestBytes,
  digestJson,
  saveIdentity,
  loadIdentity,
} from './swarm/index.js';
export type { MemoryItem, MemoryHit, MemoryOptions, RetrievedMemory, RememberItem } from './memory/index.js';
export {
  HashEmbedder,
  OpenAiEmbedder,
  LlamaEmbedder,
  openEmbedder,
  seededRandom,
  cosine,
  VectorIndex,
} from './routing/index.js';
export type {
  Embedder,
  EmbeddingsOptions,
  RouteCandidate,
  RouteExplanation,
  RolloutRecord,
  RolloutState,
  Quantization,
  VectorIndexOptions,
  VectorMatch,
} from './routing/index.js';
export type { AgentKpi } from './warden/index.js';
export type { OverviewOptions, TenantOverview } from './warden/index.js';
export type { RoutingOptions } from './warden/index.js';
// The MCP server is the `warden/mcp` entry: importing the library does not load the MCP SDK.
