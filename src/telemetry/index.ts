export { WardenMetrics } from './metrics.js';
export { WardenTracing, SubmitTrace, openTracing, tracingWanted } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export { parseTraceparent, formatTraceparent, TRACEPARENT_KEY, TRACESTATE_KEY } from './tracing-context.js';
export type { TraceParent } from './tracing-context.js';
export {
  SPAN as TRACE_SPANS,
  ATTR as TRACE_ATTRIBUTES,
  GEN_AI as GEN_AI_ATTRIBUTES,
} from './tracing-conventions.js';
