export { Warden, loadManifest } from './warden.js';
export type { WardenOptions, SubmitReceipt, AgentHealthReport, AgentStatus, BreakerReset } from './warden.js';
export { versionStates } from './agent-registry.js';
export type { HandlerOptions, AgentVersionState } from './agent-registry.js';
export { compareVersions } from './version.js';
