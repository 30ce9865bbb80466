// API keys: the HTTP API's port (Warden.apiKeys hands it over); only SHA-256 hashes of keys are stored.

export type Role = 'admin' | 'operator' | 'viewer';

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  createdAt: number;
  revokedAt: number | null;
  /**
   * An installation-wide admin key (default tenant, created with `warden keys create --installation`):
   * it may share agents with every tenant and read installation-wide data such as metrics.
   */
  installation: boolean;
}

export interface ApiKeyPort {
  createApiKey(key: ApiKeyRecord, keyHash: string): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenant?: string): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;
}
