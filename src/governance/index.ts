// Governance: policies, trace flags, detectors, the task gate, quarantine and merge validation.
export { Governance } from './governance.js';
export type { GovernanceOptions, GovernanceStats, FlagRequest, ScreenResult } from './governance.js';
export { GovernanceGate } from './gate.js';
export type {
  GovernancePort,
  GovernanceStore,
  TraceFlagRecord,
  GovernanceRecord,
  FlagFilter,
  FlagCount,
  AgentRunStat,
} from './governance-port.js';
export type { TaskGate, GateDecision, SubmitContext, RunContext, FailureContext } from './gate.js';
export { FLAG_TYPES, isFlagType, parseFlagType, checkSeverity } from './flags.js';
export type { FlagType, FlagStage, FlagFinding, TraceFlag } from './flags.js';
export { PRESETS, PRESET_NAMES, presetPolicy, decide, inScope } from './policy.js';
export type {
  GovernancePolicy,
  GateAction,
  PolicyRule,
  RuleMatch,
  DetectorScope,
  PresetName,
} from './policy.js';
export { parsePolicy, loadPolicyFile, policyFileSchema } from './policy-file.js';
export type { PolicyIssue } from './policy-file.js';
export { PolicyRegistry } from './policies.js';
export { validateMerge } from './merge.js';
export type { MergeReport, MergeVerdict } from './merge.js';
export { extractTexts } from './detectors/detector.js';
export type { Detector, DetectionContext, DetectionTarget } from './detectors/detector.js';
export { JailbreakDetector } from './detectors/jailbreak-detector.js';
export {
  UnsafeCodeDetector,
  unsafeCodeMatches,
  UNSAFE_CODE_RULES,
} from './detectors/unsafe-code-detector.js';
export { AnomalyDetector } from './detectors/anomaly-detector.js';
export type { AnomalyOptions, RunObservation } from './detectors/anomaly-detector.js';
export { EndpointDetector } from './detectors/endpoint-detector.js';
export type { EndpointDetectorOptions } from './detectors/endpoint-detector.js';
export { median, mad, RobustWindow } from './detectors/robust-stats.js';
export { analyzeText } from './text-analysis.js';
export type { TextAnalysis } from './text-analysis.js';
export { normalize, decodedViews, rot13, unleet } from './normalize.js';
export { adversarialSuffix } from './adversarial-suffix.js';
export { usesTechnique } from './technique.js';
export { matchPatterns, ATTACK_PATTERNS } from './patterns.js';
export { featurize } from './features.js';
export { trainLogistic, predict } from './logistic.js';
export { decodeModel, encodeHead } from './model.js';
export type { DetectorModel, DetectorModelFile } from './model.js';
export { defaultDetectorModel } from './default-model.js';
export { trainDetector, evaluate, stratifiedFolds, isBenign } from './training.js';
export type { CorpusRow, SourceMetrics, TrainDetectorOptions } from './training.js';
export { rocAuc, thresholdAtFpr, recallAtFpr, ratesAt, perSource } from './evaluation.js';
export type { ScoredRow, OperatingPoint, SourceReport } from './evaluation.js';
