export { buildServer } from './server.js';
export type { ApiOptions } from './server.js';
export { createApiKey, KeyVerifier, ROLES, roleAllows } from './keys.js';
export type { ApiKeyPort, ApiKeyRecord, Role } from './key-port.js';
