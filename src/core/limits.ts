/** Hard quotas a sandbox enforces on one task attempt. */
export interface ResourceLimits {
  /** Wall-clock limit of one attempt. @default 30000 */
  timeoutMs: number;
  /** Memory cap where the runtime can enforce it. @default 256 */
  memoryMb: number;
  /** Cap on what the agent writes as its result (stdout for process agents). @default 1048576 */
  maxOutputBytes: number;
}

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
}
