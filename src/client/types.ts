// Types of the low-level request() and of the friendly methods, derived from the generated `paths` and
// `operations` (api-types.ts) the way openapi-fetch derives them: a route's path, parameters, body and
// answer come from the OpenAPI document, so a changed route schema changes these types.
import type { TaskState } from '../core/index.js';
import type { components, operations, paths } from './api-types.js';

export type { components, operations, paths } from './api-types.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';

/** The operation of `method path`, or never when the route has no such method. */
export type OperationAt<P extends keyof paths, M extends HttpMethod> = NonNullable<paths[P][M]>;

/** The paths that answer `method`: `PathsWithMethod<'delete'>` is `'/memory/{id}' | '/edge/nodes/{nodeId}'`. */
export type PathsWithMethod<M extends HttpMethod> = {
  [P in keyof paths]: [OperationAt<P, M>] extends [never] ? never : P;
}[keyof paths];

type ParametersOf<Op> = Op extends { parameters: infer X } ? X : object;
type PathParamsOf<Op> = ParametersOf<Op> extends { path: infer X } ? X : never;
type QueryOf<Op> = ParametersOf<Op> extends { query?: infer Q } ? Exclude<Q, undefined> : never;
type BodyOf<Op> = Op extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type BodyRequired<Op> = Op extends { requestBody: { content: object } } ? true : false;

type Slot<K extends string, T, Required extends boolean> = [T] extends [never]
  ? { [k in K]?: never }
  : Required extends true
    ? { [k in K]: T }
    : { [k in K]?: T };

/** Options of any call: extra headers, a signal to abort, a timeout, whether it may be retried. */
export interface CallOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Gives up after this long (REQUEST_TIMEOUT). @default the client's timeoutMs */
  timeoutMs?: number;
  /**
   * Declares the request safe to send twice, so 429 and 503 answers are retried (see docs/client.md for
   * which requests are retried without it).
   */
  idempotent?: boolean;
}

/** The options of `request(method, path, options)`: `params` (path), `query` and `body` as the route declares them. */
export type RequestOptions<Op> = Slot<'params', PathParamsOf<Op>, true> &
  Slot<'query', QueryOf<Op>, false> &
  Slot<'body', BodyOf<Op>, BodyRequired<Op>> &
  CallOptions;

/** `[options]` when every option is optional, `[options?]`... the other way round: required when one is. */
export type RequestArgs<Op> =
  object extends RequestOptions<Op> ? [options?: RequestOptions<Op>] : [options: RequestOptions<Op>];

type SuccessStatus = 200 | 201 | 202 | 203 | 204 | 206;
type ContentOf<R> = R extends { content: infer C }
  ? C extends { 'application/json': infer J }
    ? J
    : C extends Record<string, infer X>
      ? X
      : undefined
  : undefined;

/** The body of the route's 2xx answers (a union when it has several, e.g. execute's 200 and 202). */
export type ResponseOf<Op> = Op extends { responses: infer R }
  ? [keyof R & SuccessStatus] extends [never]
    ? unknown
    : { [S in keyof R & SuccessStatus]: ContentOf<R[S]> }[keyof R & SuccessStatus]
  : unknown;

export type OperationId = keyof operations;
/** The JSON body of an operation: `Body<'executeTask'>`. */
export type Body<O extends OperationId> = BodyOf<operations[O]>;
/** The query parameters of an operation: `Query<'listTasks'>`. */
export type Query<O extends OperationId> = QueryOf<operations[O]>;
/** What an operation answers on success: `Result<'getTask'>`. */
export type Result<O extends OperationId> = ResponseOf<operations[O]>;

export type Schemas = components['schemas'];
export type Session = Schemas['Session'];
export type Task = Schemas['Task'];
export type TaskSummary = Schemas['TaskSummary'];
export type TaskResult = Schemas['TaskResult'];
export type Trace = Schemas['Trace'];
export type TraceSummary = Schemas['TraceSummary'];
export type ApiErrorBody = Schemas['Error'];

// The events of the two SSE routes, whose payloads the document describes only in words.

/** A task's state as its event stream reports it (the first event, and `started` / `retrying`). */
export interface TaskStateData {
  taskId: string;
  state: TaskState;
  attempt: number;
  at: number;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  retryAt?: number;
  /** In the first event of a finished task. */
  result?: TaskResult;
}

export interface TaskLogData {
  attempt: number;
  line: number;
  stream: 'stdout' | 'stderr' | 'system' | (string & {});
  message: string;
  at: number;
}

/**
 * An event of GET /tasks/:id/events. The first is a snapshot (`snapshot: true`, no id) named for the
 * task's state now; then `log`, `started`, `retrying`, `token` (LLM text, not resumable) and finally
 * `result` (or `error` when the stored result cannot be served), after which the stream ends.
 */
export type TaskStreamEvent =
  | {
      event: 'queued' | 'started' | 'retrying' | TaskState;
      id: string | undefined;
      snapshot: boolean;
      data: TaskStateData;
    }
  | { event: 'log'; id: string; snapshot: false; data: TaskLogData }
  | { event: 'token'; id: undefined; snapshot: false; data: { attempt: number; index: number; text: string } }
  | { event: 'result'; id: string; snapshot: false; data: TaskResult }
  | {
      event: 'error';
      id: string;
      snapshot: false;
      data: { code: string; message: string; details?: Record<string, unknown> };
    };

/**
 * An event of GET /events: `ready` when the stream (re)starts — list again then, changes may have been
 * missed —, `task` per change (the task as GET /tasks lists it), `resync` when the server dropped changes.
 */
export type TenantEvent =
  | { event: 'ready'; data: { tenant: string; at: number } }
  | { event: 'task'; data: TaskSummary & { state: TaskState } }
  | { event: 'resync'; data: { reason: string } };
