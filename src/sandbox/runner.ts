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
  /**
   * The attempt's trace (set only while tracing is on): agents get its `traceparent` as TRACEPARENT (and
   * TRACESTATE) in their environment, so their own spans join the task's trace.
   */
  trace?: RunTrace | undefined;
}

/** The attempt span a runtime parents its agent's work to (src/telemetry implements it). */
export interface RunTrace {
  /** W3C traceparent of the attempt span. */
  readonly traceparent: string;
  /** W3C tracestate that came with the task's trace, if any. */
  readonly tracestate?: string | undefined;
  /**
   * A child span of the attempt around one model call (GenAI semantic conventions): its traceparent goes on
   * the request to the provider.
   */
  modelCall(call: ModelCallStart): ModelCallTrace;
}

export interface ModelCallStart {
  /** Warden's provider name: openai, anthropic or llama. */
  provider: string;
  model: string;
  /** The provider's endpoint (absent for local models). */
  url?: URL;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
}

export interface ModelCallTrace {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
  /** Ends the span: usage on success, the error otherwise. */
  end(
    outcome:
      | {
          promptTokens: number | null;
          completionTokens: number | null;
          finishReason: string | null;
          timeToFirstTokenMs: number | null;
        }
      | { error: unknown },
  ): void;
}

/** TRACEPARENT (and TRACESTATE) for an agent's environment; empty when the attempt is not traced. */
export function traceEnv(ctx: RunContext): Record<string, string> | undefined {
  const t = ctx.trace;
  if (!t) return undefined;
  return t.tracestate
    ? { TRACEPARENT: t.traceparent, TRACESTATE: t.tracestate }
    : { TRACEPARENT: t.traceparent };
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
  /**
   * How the agent is isolated, for traces: `bwrap` (process sandbox), `none` (a process without one),
   * `wasm`, `in-process` (inline handlers, LLM calls).
   */
  readonly isolation?: string;
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
