import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createTraceState,
  trace,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type {
  AttemptTrace,
  ClaimTiming,
  ClaimedTask,
  Finish,
  SchedulerTracer,
  StoredTaskTrace,
} from '../scheduler/index.js';
import type * as SdkModule from '@opentelemetry/sdk-trace';
import type { ModelCallStart, ModelCallTrace } from '../sandbox/index.js';
import {
  ATTR,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  GEN_AI,
  GEN_AI_CHAT,
  SPAN,
  genAiProvider,
} from './tracing-conventions.js';
import { TRACEPARENT_KEY, TRACESTATE_KEY, formatTraceparent, parseTraceparent } from './tracing-context.js';

/**
 * `Warden.open({ tracing })`. Tracing is off unless a provider is given here or the standard OpenTelemetry
 * variables ask for an exporter (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
 * OTEL_TRACES_EXPORTER=otlp|console); see docs/telemetry.md.
 */
export interface TracingOptions {
  /**
   * Your own provider (an SDK TracerProvider with the processors and exporter you chose, or
   * `trace.getTracerProvider()` after registering one): Warden's spans go there. Warden flushes it on
   * close() but does not shut it down: it is yours.
   */
  tracerProvider?: TracerProvider;
  /** false: no tracing, whatever the environment says. */
  enabled?: boolean;
  /**
   * Turns on Warden's own OTLP/HTTP exporter without the variables: the traces endpoint (e.g.
   * `http://127.0.0.1:4318/v1/traces`) and headers. @default from OTEL_EXPORTER_OTLP_* */
  otlp?: { url?: string; headers?: Record<string, string> };
  /** @default process.env.OTEL_SERVICE_NAME, else 'warden' */
  serviceName?: string;
}

/** Whether these options and variables turn tracing on (cheap: read once at open, nothing is loaded). */
export function tracingWanted(options: TracingOptions | false | undefined, env: NodeJS.ProcessEnv): boolean {
  if (options === false || options?.enabled === false) return false;
  if (options?.tracerProvider || options?.otlp) return true;
  if (truthy(env['OTEL_SDK_DISABLED'])) return false;
  const exporters = exporterList(env);
  if (exporters.includes('none')) return false;
  return (
    exporters.length > 0 ||
    Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'])
  );
}

/**
 * Opens tracing as the options and variables say: undefined when it is off (the scheduler and submit then
 * make no tracing call at all). With the variables, the SDK and the OTLP exporter are loaded now, only now.
 */
export async function openTracing(
  options: TracingOptions | false | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WardenTracing | undefined> {
  if (!tracingWanted(options, env)) return undefined;
  const o = options || {};
  if (o.tracerProvider) {
    const provider = o.tracerProvider as TracerProvider & { forceFlush?: () => Promise<void> };
    return new WardenTracing(provider.getTracer('warden'), {
      close: async () => {
        await provider.forceFlush?.();
      },
    });
  }
  const [sdk, { OTLPTraceExporter }, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const exporter =
    exporterList(env).includes('console') && !o.otlp
      ? new sdk.ConsoleSpanExporter()
      : new OTLPTraceExporter({
          ...(o.otlp?.url ? { url: o.otlp.url } : {}),
          ...(o.otlp?.headers ? { headers: o.otlp.headers } : {}),
        });
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win over the defaults; the option wins over both.
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  let resource = resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'warden' }).merge(detected);
  if (o.serviceName)
    resource = resource.merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerFromEnv(sdk, env),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter, ...batchOptionsFromEnv(env) })],
  });
  return new WardenTracing(provider.getTracer('warden'), { close: () => provider.shutdown() });
}

/** A task's trace context as this process knows it: the parent of its spans, and when it was last queued. */
interface TaskTraceState {
  /** Context holding the submit span (or the stored traceparent): the parent of queue, claim and attempt. */
  ctx: Context;
  /** When the task was (re)queued, epoch ms. */
  queuedAt: number;
}

/** Tasks whose context is remembered between submit and attempts, at most (the oldest are forgotten). */
const MAX_REMEMBERED = 100_000;

/**
 * Warden's tracer: the submit span and its children, and the scheduler's tracer port (queue wait, claim,
 * attempt, output screening, finish commit, model calls). Spans are parented explicitly, no context manager
 * is needed; the task's context is kept in its metadata (`traceparent`) so any process joins its trace.
 */
export class WardenTracing implements SchedulerTracer {
  private readonly tasks = new Map<string, TaskTraceState>();

  constructor(
    readonly tracer: Tracer,
    private readonly owner: { close(): Promise<void> },
  ) {}

  /** Starts a submit span, a child of the task's incoming `traceparent` (metadata) if it has one. */
  startSubmit(metadata: Readonly<Record<string, string | number | boolean>> | undefined): SubmitTrace {
    const parent = contextOf(metadata) ?? ROOT_CONTEXT;
    // Explicit times throughout: the SDK makes a span faster with one than by reading its own clock.
    const span = this.tracer.startSpan(SPAN.submit, { kind: SpanKind.PRODUCER, startTime: nowHr() }, parent);
    // The parent holds nothing but a span (or is the root): the submit span replaces it.
    return new SubmitTrace(this, span, withSpan(span));
  }

  startAttempt(
    task: ClaimedTask,
    claim: ClaimTiming | undefined,
    workerId: string,
    stored: () => Promise<StoredTaskTrace | undefined>,
  ): AttemptTrace | Promise<AttemptTrace> {
    let state = this.tasks.get(task.id);
    // Submitted by another process (or before this one started): the metadata read with the claim has its
    // context; only a backend that did not read it there is asked (the one case that takes a turn).
    if (!state && task.metadataJson !== undefined && task.queuedAt !== undefined) {
      // Not remembered here: only a retry needs it again (Attempt.end remembers it then).
      state = { ctx: contextOfJson(task.metadataJson) ?? ROOT_CONTEXT, queuedAt: task.queuedAt };
    }
    if (state) return this.attempt(task, claim, workerId, state);
    return stored().then((s) => {
      const read = {
        ctx: contextOf(s?.metadata) ?? ROOT_CONTEXT,
        queuedAt: s ? (task.attempt > 1 ? s.updatedAt : s.createdAt) : Date.now(),
      };
      this.remember(task.id, read);
      return this.attempt(task, claim, workerId, read);
    });
  }

  private attempt(
    task: ClaimedTask,
    claim: ClaimTiming | undefined,
    workerId: string,
    state: TaskTraceState,
  ): AttemptTrace {
    const t = now();
    const claimStart = claim ? wall(claim.start) : t;
    const claimEnd = claim ? wall(claim.end) : t;
    const tracer = this.tracer;
    const ctx = state.ctx;
    // The task's attributes go on the attempt span only: its siblings and children say what is their own.
    // Attributes are set on the started span, not passed in the start options: the SDK copies and checks
    // options' attributes twice (once for the sampler), set ones once, and a sampled-out span skips them.
    // Each time its own HrTime: a span keeps the one it is given.
    tracer
      .startSpan(SPAN.queue, { startTime: hr(Math.min(state.queuedAt, claimStart)) }, ctx)
      .end(hr(claimStart));
    const claimSpan = tracer.startSpan(SPAN.claim, { startTime: hr(claimStart) }, ctx);
    if (claim && claimSpan.isRecording())
      claimSpan.setAttribute(ATTR.claimVia, claim.via).setAttribute(ATTR.claimBatch, claim.size);
    claimSpan.end(hr(claimEnd));
    const span = tracer.startSpan(SPAN.attempt, { kind: SpanKind.CONSUMER, startTime: hr(claimEnd) }, ctx);
    if (span.isRecording())
      span
        .setAttribute(ATTR.taskId, task.id)
        .setAttribute(ATTR.sessionId, task.sessionId)
        .setAttribute(ATTR.agent, task.agentKey)
        .setAttribute(ATTR.attempt, task.attempt)
        .setAttribute(ATTR.maxAttempts, task.maxAttempts)
        .setAttribute(ATTR.worker, workerId);
    return new Attempt(this, task, span, state);
  }

  /** Flushes the spans still buffered; with Warden's own provider (the variables), shuts it down. */
  async close(): Promise<void> {
    await this.owner.close().catch(() => undefined);
  }

  /** @internal */
  remember(taskId: string, state: TaskTraceState): void {
    if (this.tasks.size >= MAX_REMEMBERED) this.tasks.delete(this.tasks.keys().next().value!);
    this.tasks.set(taskId, state);
  }

  /** @internal */
  forget(taskId: string): void {
    this.tasks.delete(taskId);
  }
}

/** One submit's span and its children (input screening, the commit that appends task.submitted). */
export class SubmitTrace {
  private traceparentValue: string | undefined;

  constructor(
    private readonly tracing: WardenTracing,
    readonly span: Span,
    /** Context holding the submit span. */
    readonly ctx: Context,
  ) {}

  /** What the submit resolved: the task's id, session and agent version. */
  resolved(r: {
    taskId: string;
    session: { id: string; name: string; tenant: string };
    agent: string;
    priority: string;
  }): void {
    const span = this.span;
    if (!span.isRecording()) return;
    span
      .setAttribute(ATTR.taskId, r.taskId)
      .setAttribute(ATTR.sessionId, r.session.id)
      .setAttribute(ATTR.sessionName, r.session.name)
      .setAttribute(ATTR.tenant, r.session.tenant)
      .setAttribute(ATTR.agent, r.agent)
      .setAttribute(ATTR.priority, r.priority);
  }

  /** Governance screened the input between `start` and now (performance.now() times). */
  screened(start: number, flags: readonly unknown[] | undefined, error?: unknown): void {
    const span = this.tracing.tracer.startSpan(SPAN.screen, { startTime: hrWall(start) }, this.ctx);
    if (span.isRecording()) {
      span
        .setAttribute(ATTR.stage, 'input')
        .setAttribute(ATTR.flags, flags?.length ?? 0)
        .setAttribute(ATTR.action, error !== undefined ? 'block' : flags?.length ? 'flag' : 'allow');
      if (error !== undefined) fail(span, error);
    }
    span.end(nowHr());
  }

  /** The task's metadata with the submit span's context, kept with the task for every attempt to join. */
  metadata(
    m: Readonly<Record<string, string | number | boolean>>,
  ): Record<string, string | number | boolean> {
    const sc = this.span.spanContext();
    this.traceparentValue ??= formatTraceparent({
      traceId: sc.traceId,
      spanId: sc.spanId,
      flags: sc.traceFlags,
    });
    const out: Record<string, string | number | boolean> = { ...m, [TRACEPARENT_KEY]: this.traceparentValue };
    const state = sc.traceState?.serialize();
    if (state) out[TRACESTATE_KEY] = state;
    return out;
  }

  /** The task is about to be committed (queued) at `start`: its attempts in this process parent here. */
  queued(taskId: string, start: number): void {
    this.tracing.remember(taskId, { ctx: this.ctx, queuedAt: wall(start) });
  }

  /** The submit committed between `start` and now (its task.submitted record appended to the chain). */
  committed(taskId: string, start: number, deduplicated: boolean): void {
    if (deduplicated) {
      // The earlier task with this idempotency key was returned: nothing new was queued or appended.
      this.tracing.forget(taskId);
      this.span.setAttribute(ATTR.deduplicated, true);
      return;
    }
    this.tracing.tracer
      .startSpan(SPAN.append, { startTime: hrWall(start) }, this.ctx)
      .setAttribute(ATTR.record, 'task.submitted')
      .end(nowHr());
  }

  end(error?: unknown): void {
    if (error !== undefined) fail(this.span, error);
    this.span.end(nowHr());
  }
}

class Attempt implements AttemptTrace {
  private readonly ctx: Context;
  private traceparentValue: string | undefined;

  constructor(
    private readonly tracing: WardenTracing,
    private readonly task: ClaimedTask,
    private readonly span: Span,
    private readonly state: TaskTraceState,
  ) {
    this.ctx = withSpan(span);
  }

  get traceparent(): string {
    return (this.traceparentValue ??= traceparentOf(this.span));
  }

  get tracestate(): string | undefined {
    return this.span.spanContext().traceState?.serialize() || undefined;
  }

  prepared(runtime: string, isolation: string | undefined): void {
    this.span.setAttribute(ATTR.runtime, runtime);
    if (isolation) this.span.setAttribute(ATTR.sandbox, isolation);
  }

  modelCall(call: ModelCallStart): ModelCallTrace {
    const provider = genAiProvider(call.provider);
    const attributes: Attributes = {
      [GEN_AI.operationName]: GEN_AI_CHAT,
      [GEN_AI.providerName]: provider,
      [GEN_AI.system]: provider,
      [GEN_AI.requestModel]: call.model,
    };
    if (call.maxTokens !== undefined) attributes[GEN_AI.requestMaxTokens] = call.maxTokens;
    if (call.temperature !== undefined) attributes[GEN_AI.requestTemperature] = call.temperature;
    if (call.topP !== undefined) attributes[GEN_AI.requestTopP] = call.topP;
    if (call.url) {
      attributes[ATTR_SERVER_ADDRESS] = call.url.hostname;
      attributes[ATTR_SERVER_PORT] = Number(call.url.port) || (call.url.protocol === 'https:' ? 443 : 80);
    }
    const span = this.tracing.tracer.startSpan(
      `${GEN_AI_CHAT} ${call.model}`,
      { kind: SpanKind.CLIENT, attributes, startTime: nowHr() },
      this.ctx,
    );
    return new ModelCall(span);
  }

  screened(start: number, finish: Finish): void {
    const span = this.tracing.tracer.startSpan(SPAN.screen, { startTime: hrWall(start) }, this.ctx);
    if (span.isRecording()) {
      const flags = finish.flags?.length ?? 0;
      span
        .setAttribute(
          ATTR.stage,
          finish.kind === 'succeeded' || finish.kind === 'quarantined' ? 'output' : 'failure',
        )
        .setAttribute(ATTR.flags, flags)
        .setAttribute(
          ATTR.action,
          finish.kind === 'quarantined' ? 'quarantine' : flags > 0 ? 'flag' : 'allow',
        );
    }
    span.end(nowHr());
  }

  appended(start: number, finish: Finish, applied: boolean): void {
    const span = this.tracing.tracer.startSpan(SPAN.append, { startTime: hrWall(start) }, this.ctx);
    if (span.isRecording())
      span.setAttribute(ATTR.record, finishRecord(finish)).setAttribute(ATTR.applied, applied);
    span.end(nowHr());
  }

  end(finish: Finish): void {
    const span = this.span;
    span.setAttribute(ATTR.outcome, finish.kind);
    if (finish.usage) span.setAttribute(ATTR.wallMs, finish.usage.wallMs);
    if (finish.kind !== 'succeeded' && finish.kind !== 'quarantined') {
      const exitCode = finish.error.details?.['exitCode'];
      if (typeof exitCode === 'number') span.setAttribute(ATTR.exitCode, exitCode);
      span.setAttribute(ATTR_ERROR_TYPE, finish.error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: finish.error.message });
    }
    span.end(nowHr());
    // A retry waits in the queue again from now; a finished task's context is no longer needed here.
    if (finish.kind === 'retry') {
      this.state.queuedAt = now();
      this.tracing.remember(this.task.id, this.state);
    } else this.tracing.forget(this.task.id);
  }
}

class ModelCall implements ModelCallTrace {
  readonly traceparent: string;

  constructor(private readonly span: Span) {
    this.traceparent = traceparentOf(span);
  }

  get tracestate(): string | undefined {
    return this.span.spanContext().traceState?.serialize() || undefined;
  }

  end(
    outcome:
      | {
          promptTokens: number | null;
          completionTokens: number | null;
          finishReason: string | null;
          timeToFirstTokenMs: number | null;
        }
      | { error: unknown },
  ): void {
    const span = this.span;
    if ('error' in outcome) fail(span, outcome.error);
    else {
      if (outcome.promptTokens !== null) span.setAttribute(GEN_AI.inputTokens, outcome.promptTokens);
      if (outcome.completionTokens !== null) span.setAttribute(GEN_AI.outputTokens, outcome.completionTokens);
      if (outcome.finishReason !== null) span.setAttribute(GEN_AI.finishReasons, [outcome.finishReason]);
      if (outcome.timeToFirstTokenMs !== null)
        span.setAttribute(ATTR.timeToFirstToken, outcome.timeToFirstTokenMs);
    }
    span.end(nowHr());
  }
}

/** The parent context a task's metadata names (`traceparent`, `tracestate`), if it names a valid one. */
function contextOf(
  metadata: Readonly<Record<string, string | number | boolean>> | undefined,
): Context | undefined {
  const p = metadata && parseTraceparent(metadata[TRACEPARENT_KEY]);
  if (!p) return undefined;
  const state = metadata[TRACESTATE_KEY];
  const sc: SpanContext = { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags & 1, isRemote: true };
  if (typeof state === 'string' && state.length <= 512) sc.traceState = createTraceState(state);
  return withSpan(trace.wrapSpanContext(sc));
}

/**
 * The parent context named by a task's stored metadata (JSON text). Only the `traceparent` and `tracestate`
 * values are read, by a search for their keys; the whole text is parsed only when that search cannot be
 * sure (escapes in the text, a key that is not followed by a plain string value).
 */
function contextOfJson(json: string): Context | undefined {
  // Only a metadata that names a traceparent is worth reading.
  if (!json.includes(TRACEPARENT_KEY)) return undefined;
  if (!json.includes('\\')) {
    const traceparent = stringValue(json, TRACEPARENT_KEY);
    if (traceparent === undefined) return undefined;
    if (traceparent !== null) {
      const tracestate = json.includes(TRACESTATE_KEY) ? stringValue(json, TRACESTATE_KEY) : undefined;
      if (tracestate !== null) {
        const m: Record<string, string> = { [TRACEPARENT_KEY]: traceparent };
        if (tracestate !== undefined) m[TRACESTATE_KEY] = tracestate;
        return contextOf(m);
      }
    }
  }
  try {
    return contextOf(JSON.parse(json) as Record<string, string | number | boolean>);
  } catch {
    return undefined;
  }
}

/**
 * The string value of a top-level `key` in JSON text without escapes (metadata is flat): undefined when
 * the key is not there, null when the search cannot tell (then the caller parses the whole text).
 */
function stringValue(json: string, key: string): string | undefined | null {
  const quoted = `"${key}"`;
  // JSON.parse keeps the last of duplicate keys: so does this.
  const at = json.lastIndexOf(quoted);
  if (at < 0) return undefined;
  let i = at + quoted.length;
  while (isSpace(json.charCodeAt(i))) i++;
  if (json.charCodeAt(i) !== 58 /* : */) return null;
  i++;
  while (isSpace(json.charCodeAt(i))) i++;
  if (json.charCodeAt(i) !== 34 /* " */) return null;
  const end = json.indexOf('"', i + 1);
  return end < 0 ? null : json.slice(i + 1, end);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * A context holding only `span`: what Warden's spans are parented to. The API's own context is an object,
 * a Map and three closures, copied on every change; this one is a single object, for the span key alone,
 * and turns into the API's as soon as anything else is set on it.
 */
class SpanOnlyContext implements Context {
  constructor(private readonly span: Span) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }
}

/** The API's span key (its contexts' keys are Symbol.for(description), so that any copy of it agrees). */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/** Whether this API reads the span of a SpanOnlyContext (checked once, at load). */
const LIGHT_CONTEXT = (() => {
  const probe = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 0 });
  return trace.getSpan(new SpanOnlyContext(probe)) === probe && trace.getSpan(ROOT_CONTEXT) === undefined;
})();

/** A context holding only `span`. */
function withSpan(span: Span): Context {
  return LIGHT_CONTEXT ? new SpanOnlyContext(span) : trace.setSpan(ROOT_CONTEXT, span);
}

function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags });
}

function finishRecord(f: Finish): string {
  return f.kind === 'retry' ? 'task.attempt_failed' : `task.${f.kind}`;
}

/** Marks a span failed: error.type is the WardenError code (or the error's class). */
function fail(span: Span, error: unknown): void {
  const e = error as { code?: unknown; message?: unknown; name?: unknown } | null;
  const type = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    ...(typeof e?.message === 'string' ? { message: e.message } : {}),
  });
}

/** A performance.now() time as epoch milliseconds (what span times are given in). */
function wall(t: number): number {
  return ORIGIN + t;
}

/** performance.timeOrigin, read once (a getter on every read). */
const ORIGIN = performance.timeOrigin;

/** Now, as epoch milliseconds with sub-millisecond precision. */
function now(): number {
  return ORIGIN + performance.now();
}

/**
 * Epoch milliseconds as an HrTime ([seconds, nanoseconds], as the SDK's millisToHrTime makes it): span
 * times are given so, the SDK then takes them as they are (a number costs it a clock read and a conversion).
 */
function hr(ms: number): HrTime {
  return [Math.trunc(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** A performance.now() time as an HrTime. */
function hrWall(t: number): HrTime {
  return hr(ORIGIN + t);
}

/** Now, as an HrTime. */
function nowHr(): HrTime {
  return hr(ORIGIN + performance.now());
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes'].includes(v.trim().toLowerCase());
}

function exporterList(env: NodeJS.ProcessEnv): string[] {
  const raw = env['OTEL_TRACES_EXPORTER'];
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean)
    : [];
}

type Sdk = typeof SdkModule;

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the specification's values; default parentbased_always_on). */
function samplerFromEnv(sdk: Sdk, env: NodeJS.ProcessEnv) {
  const name = (env['OTEL_TRACES_SAMPLER'] ?? 'parentbased_always_on').trim().toLowerCase();
  const arg = Number(env['OTEL_TRACES_SAMPLER_ARG']);
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio) });
    default:
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}

/** OTEL_BSP_* (the batch span processor's variables). */
function batchOptionsFromEnv(env: NodeJS.ProcessEnv) {
  const n = (name: string) => {
    const v = Number(env[name]);
    return Number.isFinite(v) && v > 0 ? v : undefined;
  };
  const out: {
    scheduledDelayMillis?: number;
    exportTimeoutMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
  } = {};
  const delay = n('OTEL_BSP_SCHEDULE_DELAY');
  const timeout = n('OTEL_BSP_EXPORT_TIMEOUT');
  const queue = n('OTEL_BSP_MAX_QUEUE_SIZE');
  const batch = n('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  if (delay) out.scheduledDelayMillis = delay;
  if (timeout) out.exportTimeoutMillis = timeout;
  if (queue) out.maxQueueSize = queue;
  if (batch) out.maxExportBatchSize = batch;
  return out;
}
