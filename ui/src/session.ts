import { api } from './api';

export type Role = 'admin' | 'operator' | 'viewer';

/** Who the entered key is (GET /whoami). */
export interface Principal {
  keyId: string;
  name: string;
  tenant: string;
  role: Role;
  installation: boolean;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when the principal's role may do what `need` allows: the UI hides what the API would refuse. */
export function can(principal: Principal, need: Role): boolean {
  return RANK[principal.role] >= RANK[need];
}

export function whoami(): Promise<Principal> {
  return api.get<Principal>('/whoami');
}
