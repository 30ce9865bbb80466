export { buildServer } from './server.js';
export type { ApiOptions } from './server.js';
export { createApiKey, KeyVerifier, ROLES, roleAllows } from './keys.js';
