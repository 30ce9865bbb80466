import type { AgentManifest } from '../core/index.js';
import type { PreparedAgent } from '../sandbox/index.js';

/** What the scheduler needs to know about agents: which it can run here, and each one ready to run. */
export interface AgentDirectory {
  /** Agent keys (name@version) this process can run. */
  runnableKeys(): readonly string[];
  /**
   * The manifest of a registered version known here (every runnable one is), without running a task:
   * its retry and breaker policies apply to tasks this process has not started yet.
   */
  manifest(key: string): AgentManifest | undefined;
  /** The manifest and prepared runner of one agent version; prepared once, then cached. */
  prepared(key: string): Promise<{ manifest: AgentManifest; agent: PreparedAgent }>;
  /**
   * What prepared(key) resolves to, synchronously, once it did: saves each task of a ready version the
   * awaits (and their allocations) of the asynchronous path. Undefined when not ready (or not offered).
   */
  preparedNow?(key: string): { manifest: AgentManifest; agent: PreparedAgent } | undefined;
  /** Picks up agent versions registered by other processes. */
  refresh(): Promise<void>;
}
