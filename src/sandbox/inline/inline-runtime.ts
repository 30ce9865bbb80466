import { performance } from 'node:perf_hooks';
import { WardenError, agentKey, type AgentManifest } from '../../core/index.js';
import type { AgentRuntime, PreparedAgent, RunContext, RunOutcome } from '../runner.js';

/** What an inline handler sees besides its input. */
export interface HandlerContext {
  taskId: string;
  sessionId: string;
  attempt: number;
  signal: AbortSignal;
  log(message: string): void;
  /**
   * W3C traceparent of the attempt span while tracing is on (docs/telemetry.md): parent the handler's own
   * spans to it (and pass it on to the services it calls) so they join the task's trace.
   */
  traceparent?: string;
  tracestate?: string;
}

export type InlineHandler<I = unknown, O = unknown> = (input: I, ctx: HandlerContext) => O | Promise<O>;

/**
 * Trusted TypeScript handlers registered in code, run in this process. Time limits are enforced by not
 * waiting past them (the handler is told through its signal); memory is not isolated: use the wasm or
 * process runtimes for untrusted code.
 */
export class InlineRuntime implements AgentRuntime {
  readonly name = 'inline' as const;
  private readonly handlers = new Map<string, InlineHandler>();

  /** Handlers are per agent version (`name@version`): each version keeps its own code. */
  register(key: string, handler: InlineHandler): void {
    this.handlers.set(key, handler);
  }

  has(key: string): boolean {
    return this.handlers.has(key);
  }

  async prepare(manifest: AgentManifest): Promise<PreparedAgent> {
    const handler = this.handlers.get(agentKey(manifest));
    if (!handler) {
      throw new WardenError(
        'HANDLER_NOT_REGISTERED',
        `No inline handler named ${manifest.name} is registered in this process`,
      );
    }
    return { isolation: 'in-process', run: (inputJson, ctx) => runInline(handler, inputJson, ctx) };
  }
}

async function runInline(handler: InlineHandler, inputJson: string, ctx: RunContext): Promise<RunOutcome> {
  const started = performance.now();
  const handlerCtx = new InlineHandlerContext(ctx);
  if (ctx.trace) {
    handlerCtx.traceparent = ctx.trace.traceparent;
    if (ctx.trace.tracestate) handlerCtx.tracestate = ctx.trace.tracestate;
  }
  const result = handler(JSON.parse(inputJson) as unknown, handlerCtx);
  const output = isPromise(result) ? await raceAbort(result, ctx.signal) : result;
  const outputJson = JSON.stringify(output === undefined ? null : output);
  if (outputJson.length > ctx.limits.maxOutputBytes) {
    throw new WardenError('OUTPUT_LIMIT', `Output is larger than ${ctx.limits.maxOutputBytes} bytes`);
  }
  return {
    outputJson,
    usage: {
      wallMs: performance.now() - started,
      // Inline handlers share the process: their CPU time cannot be told apart, so it is not reported.
      cpuMs: 0,
      peakMemoryBytes: 0,
      outputBytes: outputJson.length,
    },
  };
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === 'function';
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/**
 * The handler's view of its attempt. A class, so that `signal` is a prototype getter: the scheduler makes
 * the signal only when something reads it, and a getter in an object literal costs V8 (Node 20) ~0.5 µs.
 */
class InlineHandlerContext implements HandlerContext {
  readonly taskId: string;
  readonly sessionId: string;
  readonly attempt: number;
  /** An own function, not a method: handlers may take it out of the context (`const { log } = ctx`). */
  readonly log: (message: string) => void;
  declare traceparent?: string;
  declare tracestate?: string;
  readonly #run: RunContext;

  constructor(run: RunContext) {
    this.#run = run;
    this.taskId = run.taskId;
    this.sessionId = run.sessionId;
    this.attempt = run.attempt;
    this.log = (message) => run.log('event', message);
  }

  get signal(): AbortSignal {
    return this.#run.signal;
  }
}
