export { Warden, loadManifest } from './warden.js';
export type {
  WardenOptions,
  SubmitReceipt,
  AgentHealthReport,
  AgentStatus,
  BreakerReset,
  TypedAgent,
  TypedSubmitTask,
} from './warden.js';
export { versionStates } from './agent-registry.js';
export type { HandlerOptions, RegisterOptions, AgentVersionState } from './agent-registry.js';
export { compareVersions } from './version.js';
export { resolveDataDirectory } from './data-dir.js';
export { compileStorageOptions } from './storage-options.js';
export type { StorageOptions, PostgresSettings, CompiledStorage } from './storage-options.js';
export type { DataDirectory } from './data-dir.js';
export type { AgentPort, AgentRecord } from './agent-port.js';
export { agentListing } from './agent-port.js';
export type { AgentKpi, KpiFilter, KpiPort, TaskFeedback } from './kpi-port.js';
export type { ActivityBucket, ActivityQuery, OverviewPort, TenantActivity } from './overview-port.js';
export { OVERVIEW_LIMITS } from './overview.js';
export type { OverviewOptions, OverviewBreaker, TenantOverview } from './overview.js';
export type { RoutingOptions } from './task-routing.js';
