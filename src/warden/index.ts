export { Warden, loadManifest } from './warden.js';
export type { WardenOptions, SubmitReceipt } from './warden.js';
export type { HandlerOptions } from './agent-registry.js';
export { compareVersions } from './version.js';
