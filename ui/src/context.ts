import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { can, type Principal, type Role } from './session';

export const PrincipalContext = createContext<Principal | null>(null);

/** The signed-in key; pages render only after sign-in, so it is always there. */
export function usePrincipal(): Principal {
  const p = useContext(PrincipalContext);
  if (!p) throw new Error('usePrincipal outside the signed-in app');
  return p;
}

/** Whether the signed-in key may do what `role` allows (buttons it may not use are not rendered). */
export function useCan(role: Role): boolean {
  return can(usePrincipal(), role);
}
