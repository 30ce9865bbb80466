/** Hard quotas a sandbox enforces on one task attempt. */
export interface ResourceLimits {
  /** Wall-clock limit of one attempt. @default 30000 */
  timeoutMs: number;
  /** Memory cap where the runtime can enforce it. @default 256 */
  memoryMb: number;
  /** Cap on what the agent writes as its result (stdout for process agents). @default 1048576 */
  maxOutputBytes: number;
  /**
   * Process sandboxes: the size of the agent's private /tmp, a tmpfs (writes past it fail with ENOSPC).
   * It is memory, so what /tmp holds also counts toward memoryMb. @default 128
   */
  diskMb?: number;
}

/** The /tmp size of a process sandbox when the manifest sets no `resources.diskMb`. */
export const DEFAULT_DISK_MB = 128;

export const DEFAULT_LIMITS: ResourceLimits = Object.freeze({
  timeoutMs: 30_000,
  memoryMb: 256,
  maxOutputBytes: 1024 * 1024,
});

/** Usage one attempt reports back; cpu and memory are best-effort where the runtime cannot measure exactly. */
export interface ResourceUsage {
  wallMs: number;
  cpuMs: number;
  peakMemoryBytes: number;
  outputBytes: number;
  /** Language-model accounting of `runtime: llm` agents. */
  llm?: LlmUsage;
}

/** Tokens and cost of one LLM attempt. Counts are null when the provider did not report them. */
export interface LlmUsage {
  provider: string;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  /** From the price table in the Warden config; null when the model has no price there. */
  costUsd: number | null;
  /** From sending the request to the first token; null when nothing was generated. */
  timeToFirstTokenMs: number | null;
  /** Why generation stopped, as the provider says it (stop, length, end_turn, …). */
  finishReason: string | null;
}
