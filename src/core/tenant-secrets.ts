import { WardenError } from './errors.js';
import { DEFAULT_TENANT, type AgentManifest } from './manifest.js';

/**
 * The environment variable that lists (comma-separated) the variables agents of tenants other than the
 * installation's may read as secrets. A tenant's agent can print or send what it reads, so only values
 * meant for every tenant belong there; the installation's own agents read any variable they name.
 */
export const TENANT_SECRETS_ENV = 'WARDEN_TENANT_SECRETS';

/** Where a remote LLM provider's key is read from when `model.apiKeyEnv` does not say. */
export const DEFAULT_API_KEY_ENV: Readonly<Record<string, string>> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
};

/** Every environment variable the agent reads from Warden's environment: its secrets and its LLM key. */
export function secretNames(m: AgentManifest): string[] {
  const names = [...m.secrets];
  const model = m.model;
  if (model && model.provider !== 'llama') {
    const key = model.apiKeyEnv ?? DEFAULT_API_KEY_ENV[model.provider];
    if (key) names.push(key);
  }
  return names;
}

/**
 * Refuses an agent of a tenant that names a variable the installation did not list in
 * WARDEN_TENANT_SECRETS: without this check a tenant admin could register an agent that reads the
 * server's own secrets (database URL, the installation's provider keys) and print them.
 */
export function assertTenantSecrets(
  m: AgentManifest,
  env: Readonly<Record<string, string | undefined>>,
): void {
  if (!m.tenant || m.tenant === DEFAULT_TENANT) return;
  const allowed = new Set(
    (env[TENANT_SECRETS_ENV] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const refused = secretNames(m).filter((name) => !allowed.has(name));
  if (refused.length === 0) return;
  throw new WardenError(
    'FORBIDDEN',
    `Agent ${m.name} of tenant ${m.tenant} reads ${refused.join(', ')} from the server's environment, which ` +
      `${TENANT_SECRETS_ENV} does not list: a tenant's agents may read only the variables an installation ` +
      `admin lists there (or set model.apiKeyEnv to one of them)`,
    { details: { tenant: m.tenant, refused, allowedBy: TENANT_SECRETS_ENV } },
  );
}

/**
 * The manifest's `secrets` that are set in `env`, as name-value pairs, once assertTenantSecrets allows
 * them: the one place a runtime reads secrets from its environment.
 */
export function secretValues(
  m: AgentManifest,
  env: Readonly<Record<string, string | undefined>>,
): [name: string, value: string][] {
  assertTenantSecrets(m, env);
  const values: [string, string][] = [];
  for (const name of m.secrets) {
    const value = env[name];
    if (value !== undefined) values.push([name, value]);
  }
  return values;
}
