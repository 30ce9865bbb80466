import type { Session } from '../core/index.js';

/** Sessions: the unit of isolation and concurrency the scheduler claims within. */
export interface SessionPort {
  createSession(session: Session): Promise<Session>;
  /**
   * A session by id or name. With `tenant`, only that tenant's sessions are found, by id or name; without
   * it, an id finds any tenant's session and a name is looked up in the default tenant (library use).
   */
  getSession(idOrName: string, tenant?: string): Promise<Session | undefined>;
  listSessions(tenant?: string): Promise<Session[]>;
}
