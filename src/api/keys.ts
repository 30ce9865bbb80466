import { randomBytes } from 'node:crypto';
import { DEFAULT_TENANT, WardenError } from '../core/index.js';
import { sha256Hex } from '../provenance/index.js';
import type { ApiKeyPort, ApiKeyRecord, Role } from './key-port.js';

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/**
 * Creates a key; the plaintext is returned once and only its SHA-256 is stored. `installation: true`
 * makes an installation-wide admin key: only an admin of the default tenant can be one.
 */
export async function createApiKey(
  store: ApiKeyPort,
  options: { tenant: string; role: Role; name: string; installation?: boolean },
): Promise<{ key: string; record: ApiKeyRecord }> {
  if (!ROLES.includes(options.role)) {
    throw new WardenError('INVALID_INPUT', `role must be one of ${ROLES.join(', ')}`, {
      details: { role: options.role },
    });
  }
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(options.tenant)) {
    throw new WardenError('INVALID_INPUT', 'tenant must be 1-128 characters: letters, digits, . _ -');
  }
  if (options.installation && (options.role !== 'admin' || options.tenant !== DEFAULT_TENANT)) {
    throw new WardenError(
      'INVALID_INPUT',
      `An installation-wide key must be an admin key of the ${DEFAULT_TENANT} tenant (--tenant ${DEFAULT_TENANT} --role admin)`,
    );
  }
  // 32 random bytes: hashing without a salt or a slow KDF is safe for keys this long (no dictionary to try).
  const key = `wdn_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    id: `key_${randomBytes(6).toString('hex')}`,
    tenant: options.tenant,
    role: options.role,
    name: options.name,
    createdAt: Date.now(),
    revokedAt: null,
    installation: options.installation === true,
  };
  await store.createApiKey(record, sha256Hex(key));
  return { key, record };
}

/** Resolves bearer keys to their records, caching hits briefly so a request costs no store read. */
export class KeyVerifier {
  private readonly cache = new Map<string, { record: ApiKeyRecord; until: number }>();

  constructor(
    private readonly store: ApiKeyPort,
    private readonly ttlMs = 5_000,
  ) {}

  async verify(key: string): Promise<ApiKeyRecord | undefined> {
    if (!key.startsWith('wdn_') || key.length > 200) return undefined;
    const hash = sha256Hex(key);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.record;
    const record = await this.store.findApiKey(hash);
    if (record) this.cache.set(hash, { record, until: Date.now() + this.ttlMs });
    else this.cache.delete(hash);
    return record;
  }

  forget(): void {
    this.cache.clear();
  }
}
