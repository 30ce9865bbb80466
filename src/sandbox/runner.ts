import type {
  AgentManifest,
  EdgePlacement,
  ResourceLimits,
  ResourceUsage,
  Runtime,
  TaskReceipt,
} from '../core/index.js';

/** What a runtime gets for one attempt of one task. */
export interface RunContext {
  taskId: string;
  sessionId: string;
  attempt: number;
  /** The session's network switch: when false, the manifest's network.allow is not opened for this task. */
  allowNetwork: boolean;
  /** The session's placement, when it restricts where tasks run (edge nodes). */
  placement?: EdgePlacement;
  /** Effective limits of this attempt (the manifest's, tightened by the task's timeout and deadline). */
  limits: ResourceLimits;
  /** Aborted on timeout, deadline, cancel or shutdown; `signal.reason` is the WardenError to report. */
  signal: AbortSignal;
  /** A log line from the agent (stderr for process agents, ctx.log for inline ones). */
  log(stream: 'stdout' | 'stderr' | 'event', message: string): void;
  /**
   * Streams a piece of generated text (LLM agents) as a `token` task event. Absent when nobody may see
   * output before it is screened (the session's policy can quarantine outputs).
   */
  token?: (text: string) => void;
}

export interface RunOutcome {
  /** The output as JSON text, exactly as stored and digested. */
  outputJson: string;
  usage: ResourceUsage;
  /** Set when the task ran on an edge node: its signed receipt, recorded in provenance. */
  receipt?: TaskReceipt;
}

/** An agent version made ready once (resolved paths, compiled module, loaded model) and run many times. */
export interface PreparedAgent {
  run(inputJson: string, ctx: RunContext): Promise<RunOutcome>;
  dispose?(): Promise<void>;
}

/**
 * The Runner port every runtime implements. Runtimes throw WardenError with codes TIMEOUT, OUTPUT_LIMIT,
 * MEMORY_LIMIT, INVALID_OUTPUT, AGENT_FAILED or AGENT_CRASHED; the scheduler decides about retries.
 */
export interface AgentRuntime {
  readonly name: Runtime;
  prepare(manifest: AgentManifest): Promise<PreparedAgent>;
  /** SHA-256 of the code a manifest points at, recorded with the agent version; null when there is none. */
  digest?(manifest: AgentManifest): Promise<string | null>;
  /** Whether an agent can run here now (endpoint answers, model file loads), without running a task. */
  health?(manifest: AgentManifest, signal: AbortSignal): Promise<AgentHealth>;
}

export interface AgentHealth {
  ok: boolean;
  /** What was checked, in a few words (GET /models, model file loads, module compiles). */
  check: string;
  latencyMs: number;
  /** Error code when not ok. */
  code?: string;
  message?: string;
}
