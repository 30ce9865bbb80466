import { apiErrorOf, transportError, WardenApiError, ValidationError } from './errors.js';
import {
  compileRetry,
  isRetrySafe,
  parseRetryAfter,
  retryDelay,
  RETRY_STATUSES,
  sleep,
  type CompiledRetry,
  type RetryOptions,
} from './retry.js';
import { readSse, type EventSourceMessage } from './sse.js';
import type {
  Body,
  CallOptions,
  HttpMethod,
  OperationAt,
  PathsWithMethod,
  Query,
  RequestArgs,
  ResponseOf,
  Result,
  TaskResult,
  TaskStreamEvent,
  TenantEvent,
} from './types.js';

export interface WardenClientOptions {
  /** The server's base URL, e.g. `https://warden.example.com:8080` (a path prefix is kept). */
  baseUrl: string;
  /** The API key, sent as `Authorization: Bearer <key>` (`warden keys create`). */
  apiKey?: string;
  /** The fetch to use (a test double, a proxy-aware fetch). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds; 0 for none. Streams time out only until their headers arrive. @default 30000 */
  timeoutMs?: number;
  /** Retries of 429 and 503 answers (only requests safe to send twice); false for none. @default { maxRetries: 2, maxDelayMs: 30000 } */
  retry?: RetryOptions | false;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

interface CompiledOptions {
  baseUrl: string;
  apiKey: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  retry: CompiledRetry;
  headers: Record<string, string>;
}

/** A raw answer: the status, the parsed body and the headers (for X-Warden-* and Retry-After). */
export interface ApiResponse<T> {
  status: number;
  data: T;
  headers: Headers;
  requestId: string | undefined;
}

interface SendOptions {
  params?: Record<string, unknown> | undefined;
  query?: Record<string, unknown> | undefined;
  body?: unknown;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  idempotent?: boolean | undefined;
  /** Return the Response with its body unread (SSE). */
  stream?: boolean;
  /** Return the body as text, unparsed (a bundle whose bytes are what is signed). */
  text?: boolean;
}

/** A provenance bundle as POST /artifacts/export streams it, with the tree size to pass as `since` next time. */
export interface ExportedBundle {
  /** The bundle's JSON text: write it to a file, verify it offline with `warden verify bundle.json`. */
  text: string;
  treeSize: number;
  since: number;
  records: number;
}

export interface TaskEventsOptions {
  /** Resume after this event id (a `log` id such as `2:l5`, or `end`). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Reconnect with Last-Event-ID when the stream drops before the result. @default 5 reconnects in a row */
  maxReconnects?: number;
}

export interface EventsFilter {
  session?: string;
  agent?: string;
  state?: NonNullable<Query<'streamEvents'>['state']>;
  priority?: NonNullable<Query<'streamEvents'>['priority']>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled', 'quarantined']);

/**
 * A typed client of the Warden HTTP API, for Node 20 and browsers (fetch only). Every route of the
 * OpenAPI document is callable through `request(method, path, { params, query, body })`, typed from the
 * document; the common ones have methods of their own.
 * @example
 * const client = new WardenClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: key });
 * const { task, result } = await client.execute('default', { agent: 'echo@1.0.0', input: { text: 'hi' } }, { wait: 5000 });
 * for await (const e of client.taskEvents(task.id!)) if (e.event === 'log') console.log(e.data.message);
 */
export class WardenClient {
  readonly options: Readonly<CompiledOptions>;

  constructor(options: WardenClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw new ValidationError('INVALID_INPUT', `Not a URL: ${JSON.stringify(options.baseUrl)}`, {
        status: 0,
        cause,
      });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new ValidationError(
        'INVALID_INPUT',
        `The server URL must be http(s)://..., got ${options.baseUrl}`,
        {
          status: 0,
        },
      );
    const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.options = {
      baseUrl: base.href.replace(/\/+$/, ''),
      apiKey: options.apiKey,
      fetch: fetchImpl,
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: compileRetry(options.retry),
      headers: { ...options.headers },
    };
  }

  // ---- The typed low level: any route of the document ----

  /**
   * Calls any route of the OpenAPI document; its path, parameters, body and answer are typed from it.
   * Throws a WardenApiError subclass for a non-2xx answer.
   * @example await client.request('get', '/tasks/{id}', { params: { id } })
   */
  async request<M extends HttpMethod, P extends PathsWithMethod<M>>(
    method: M,
    path: P,
    ...[options]: RequestArgs<OperationAt<P, M>>
  ): Promise<ResponseOf<OperationAt<P, M>>> {
    return (await this.send(method, path, (options ?? {}) as SendOptions)).data as ResponseOf<
      OperationAt<P, M>
    >;
  }

  /** request() with the status and headers of the answer. */
  async requestWithResponse<M extends HttpMethod, P extends PathsWithMethod<M>>(
    method: M,
    path: P,
    ...[options]: RequestArgs<OperationAt<P, M>>
  ): Promise<ApiResponse<ResponseOf<OperationAt<P, M>>>> {
    return (await this.send(method, path, (options ?? {}) as SendOptions)) as ApiResponse<
      ResponseOf<OperationAt<P, M>>
    >;
  }

  /** The URL of a path template with its parameters and query filled in. */
  url(path: string, params?: Record<string, unknown>, query?: Record<string, unknown>): string {
    const filled = path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const value = params?.[name];
      if (value === undefined || value === null || value === '')
        throw new ValidationError('INVALID_INPUT', `Missing path parameter ${name} of ${path}`, {
          status: 0,
        });
      return encodeURIComponent(String(value));
    });
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
    }
    const qs = search.toString();
    return `${this.options.baseUrl}${filled}${qs ? `?${qs}` : ''}`;
  }

  private async send(method: string, path: string, o: SendOptions): Promise<ApiResponse<unknown>> {
    const url = this.url(path, o.params, o.query);
    const headers: Record<string, string> = {
      accept: o.stream ? 'text/event-stream' : 'application/json',
      ...this.options.headers,
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...o.headers,
    };
    const verb = method.toUpperCase();
    const safe = o.idempotent ?? isRetrySafe(verb, path, o.body, o.headers ?? {});
    const { retry } = this.options;
    for (let attempt = 0; ; attempt++) {
      let failure: WardenApiError;
      try {
        return await this.once(verb, url, path, headers, o);
      } catch (err) {
        if (!(err instanceof WardenApiError)) throw err; // the caller's abort
        failure = err;
      }
      const retryable =
        safe &&
        attempt < retry.maxRetries &&
        (RETRY_STATUSES.has(failure.httpStatus) ||
          // No answer at all (connection refused or reset): as safe to repeat as a 503.
          (failure.httpStatus === 0 && failure.code === 'SERVER_UNREACHABLE'));
      const delay = retryDelay(attempt + 1, failure.retryAfterMs, retry);
      if (!retryable || delay > retry.maxDelayMs) throw failure;
      await sleep(delay, o.signal);
    }
  }

  /** One attempt: fetch with the timeout, then the body parsed or the error built. */
  private async once(
    method: string,
    url: string,
    path: string,
    headers: Record<string, string>,
    o: SendOptions,
  ): Promise<ApiResponse<unknown>> {
    const timeoutMs = o.timeoutMs ?? this.options.timeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs)
        : undefined;
    const onAbort = () => controller.abort(o.signal!.reason);
    if (o.signal?.aborted) throw o.signal.reason;
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (cause: unknown): never => {
      cleanup();
      if (timedOut)
        throw transportError(
          'REQUEST_TIMEOUT',
          `${method} ${path} got no answer within ${timeoutMs} ms (the server may still have acted on it)`,
          cause,
        );
      if (o.signal?.aborted) throw o.signal.reason;
      throw transportError(
        'SERVER_UNREACHABLE',
        `${method} ${path}: cannot reach ${this.options.baseUrl} (${describeCause(cause)})`,
        cause,
      );
    };
    let response: Response;
    try {
      response = await this.options.fetch(url, {
        method,
        headers,
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        signal: controller.signal,
      });
    } catch (err) {
      return fail(err);
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (response.ok && o.stream) {
      // A stream lives as long as the caller reads it: the timeout covered the wait for its headers.
      clearTimeout(timer);
      return { status: response.status, data: response, headers: response.headers, requestId };
    }
    let text: string;
    try {
      text = method === 'HEAD' || response.status === 204 ? '' : await response.text();
    } catch (err) {
      return fail(err);
    }
    cleanup();
    const type = response.headers.get('content-type') ?? '';
    let data: unknown = text;
    if (type.includes('json') && text !== '' && !(o.text && response.ok)) {
      try {
        data = JSON.parse(text) as unknown;
      } catch {
        data = text;
      }
    } else if (text === '') data = undefined;
    if (!response.ok) {
      throw apiErrorOf(response.status, data, {
        requestId,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
        method,
        path,
      });
    }
    return { status: response.status, data, headers: response.headers, requestId };
  }

  // ---- Sessions ----

  /** The key's id, name, tenant and role. */
  whoami(o?: CallOptions): Promise<Result<'whoami'>> {
    return this.request('get', '/whoami', { ...o });
  }

  /** Liveness and load (no key needed). */
  health(o?: CallOptions): Promise<Result<'getHealth'>> {
    return this.request('get', '/health', { ...o });
  }

  /** Creates a session in the key's tenant (or returns the existing one of that name). */
  createSession(body: Body<'createSession'>, o?: CallOptions): Promise<Result<'createSession'>> {
    return this.request('post', '/sessions', { body, ...o });
  }

  listSessions(o?: CallOptions): Promise<Result<'listSessions'>> {
    return this.request('get', '/sessions', { ...o });
  }

  /** A session by id or name. */
  getSession(idOrName: string, o?: CallOptions): Promise<Result<'getSession'>> {
    return this.request('get', '/sessions/{id}', { params: { id: idOrName }, ...o });
  }

  // ---- Tasks ----

  /**
   * Submits a task to a session; with `wait` (ms, at most 60000) the server waits that long for its result.
   * Retried on 429/503 only with an `idempotencyKey` (without one the server may have queued it already).
   */
  async execute(
    session: string,
    body: Body<'executeTask'>,
    o: CallOptions & { wait?: number } = {},
  ): Promise<{
    task: NonNullable<Result<'executeTask'>['task']>;
    result: TaskResult | undefined;
    finished: boolean;
  }> {
    const { wait, ...call } = o;
    const res = await this.requestWithResponse('post', '/sessions/{id}/execute', {
      params: { id: session },
      ...(wait !== undefined ? { query: { wait: String(wait) } } : {}),
      body,
      ...call,
      // The server holds the answer up to `wait`: the timeout starts after it.
      ...(wait !== undefined ? { timeoutMs: (call.timeoutMs ?? this.options.timeoutMs) + wait } : {}),
    });
    const data = res.data as { task?: Result<'executeTask'>['task']; result?: TaskResult };
    return {
      task: data.task!,
      result: data.result,
      finished: res.status === 200 && data.result !== undefined,
    };
  }

  /** Submits a task and returns at once (the task as queued). */
  async submit(session: string, body: Body<'executeTask'>, o?: CallOptions) {
    return (await this.execute(session, body, { ...o })).task;
  }

  /**
   * Submits and waits for the result, however long it takes (up to timeoutMs): the server waits up to 60 s
   * per call, then the client polls GET /tasks/:id. undefined when the task is still not finished.
   */
  async run(
    session: string,
    body: Body<'executeTask'>,
    o: CallOptions & { waitMs?: number; pollMs?: number } = {},
  ): Promise<{ task: NonNullable<Result<'executeTask'>['task']>; result: TaskResult | undefined }> {
    const { waitMs = 300_000, pollMs, ...call } = o;
    const started = Date.now();
    const first = await this.execute(session, body, { ...call, wait: Math.min(waitMs, 60_000) });
    if (first.finished) return { task: first.task, result: first.result };
    const result = await this.result(first.task.id!, {
      ...call,
      waitMs: Math.max(0, waitMs - (Date.now() - started)),
      ...(pollMs !== undefined ? { pollMs } : {}),
    });
    return { task: first.task, result };
  }

  listTasks(query: Query<'listTasks'> = {}, o?: CallOptions): Promise<Result<'listTasks'>> {
    return this.request('get', '/tasks', { query, ...o });
  }

  /** A task and, once it is finished, its result (null before). */
  getTask(id: string, o?: CallOptions): Promise<Result<'getTask'>> {
    return this.request('get', '/tasks/{id}', { params: { id }, ...o });
  }

  /**
   * Polls GET /tasks/:id until the task has a result; undefined after waitMs.
   * @default waitMs 300000, pollMs 500
   */
  async result(
    id: string,
    o: CallOptions & { waitMs?: number; pollMs?: number } = {},
  ): Promise<TaskResult | undefined> {
    const { waitMs = 300_000, pollMs = 500, ...call } = o;
    const until = Date.now() + waitMs;
    for (;;) {
      const { task, result } = await this.getTask(id, call);
      if (result) return result;
      if (task?.state && TERMINAL.has(task.state) && Date.now() >= until) return undefined;
      if (Date.now() >= until) return undefined;
      await sleep(Math.min(pollMs, Math.max(0, until - Date.now())), call.signal);
    }
  }

  /** Cancels a queued task now, or asks the worker running it to stop. */
  cancelTask(id: string, o?: CallOptions): Promise<Result<'cancelTask'>> {
    return this.request('post', '/tasks/{id}/cancel', { params: { id }, ...o });
  }

  /** A task's provenance records in chain order. */
  taskHistory(id: string, o?: CallOptions): Promise<Result<'getTaskHistory'>> {
    return this.request('get', '/tasks/{id}/history', { params: { id }, ...o });
  }

  /** Records feedback on a finished task (its agent's KPIs). */
  feedback(id: string, body: Body<'putTaskFeedback'>, o?: CallOptions): Promise<Result<'putTaskFeedback'>> {
    return this.request('post', '/tasks/{id}/feedback', { params: { id }, body, ...o });
  }

  /**
   * A task's events as they happen (GET /tasks/:id/events): the snapshot, log lines, state changes, and the
   * result, after which the iteration ends. A dropped connection is resumed with Last-Event-ID, so no log
   * line is lost or repeated.
   * @example for await (const e of client.taskEvents(id)) if (e.event === 'log') console.log(e.data.message)
   */
  async *taskEvents(id: string, o: TaskEventsOptions = {}): AsyncGenerator<TaskStreamEvent, void, undefined> {
    let last = o.lastEventId;
    let reconnects = 0;
    const max = o.maxReconnects ?? 5;
    for (;;) {
      let response: Response | undefined;
      let retryMs: number | undefined;
      try {
        const res = await this.send('GET', '/tasks/{id}/events', {
          params: { id },
          stream: true,
          idempotent: false, // reconnecting is this loop's job
          ...(last ? { headers: { 'last-event-id': last } } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        });
        response = res.data as Response;
        if (res.status === 204 || !response.body) return;
        const sse = readSse(response.body);
        try {
          for await (const m of sse.messages) {
            if (m.id) last = m.id;
            const event = taskEventOf(m);
            if (!event) continue;
            reconnects = 0;
            yield event;
            if (event.event === 'result' || event.event === 'error') return;
          }
        } finally {
          retryMs = sse.retryMs();
        }
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        // Only a lost connection is resumed; an answer such as 404 is final.
        if (!(err instanceof WardenApiError && err.httpStatus === 0) && response === undefined) throw err;
      }
      if (o.signal?.aborted) throw o.signal.reason;
      if (++reconnects > max)
        throw transportError(
          'SERVER_UNREACHABLE',
          `The event stream of task ${id} dropped ${max + 1} times before its result`,
          undefined,
        );
      await sleep(retryMs ?? 1000, o.signal);
    }
  }

  /** A task's log lines (the `log` events of taskEvents), until the task finishes. */
  async *logs(id: string, o: TaskEventsOptions = {}) {
    for await (const e of this.taskEvents(id, o)) if (e.event === 'log') yield e.data;
  }

  /**
   * Every change to the key's tenant's tasks (GET /events), filtered; endless until `signal` aborts or the
   * loop breaks. After a reconnect the stream starts with `ready` again: list again then.
   */
  async *events(
    filter: EventsFilter = {},
    o: { signal?: AbortSignal; maxReconnects?: number } = {},
  ): AsyncGenerator<TenantEvent, void, undefined> {
    let reconnects = 0;
    const max = o.maxReconnects ?? 5;
    for (;;) {
      let opened = false;
      let retryMs: number | undefined;
      try {
        const res = await this.send('GET', '/events', {
          query: { ...filter },
          stream: true,
          idempotent: false,
          ...(o.signal ? { signal: o.signal } : {}),
        });
        opened = true;
        const body = (res.data as Response).body;
        if (!body) return;
        const sse = readSse(body);
        try {
          for await (const m of sse.messages) {
            const event = tenantEventOf(m);
            if (!event) continue;
            reconnects = 0;
            yield event;
          }
        } finally {
          retryMs = sse.retryMs();
        }
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        if (!(err instanceof WardenApiError && err.httpStatus === 0) && !opened) throw err;
      }
      if (o.signal?.aborted) throw o.signal.reason;
      if (++reconnects > max)
        throw transportError(
          'SERVER_UNREACHABLE',
          `GET /events dropped ${max + 1} times in a row`,
          undefined,
        );
      await sleep(retryMs ?? 1000, o.signal);
    }
  }

  // ---- Agents ----

  listAgents(o?: CallOptions): Promise<Result<'listAgents'>> {
    return this.request('get', '/agents', { ...o });
  }

  /**
   * Registers an agent version: its agent.yaml (text or object) and files (base64, see `encodeFiles`).
   * An identical version already registered is success; a different one is AGENT_VERSION_CONFLICT.
   */
  registerAgent(body: Body<'registerAgent'>, o?: CallOptions): Promise<Result<'registerAgent'>> {
    return this.request('post', '/agents', { body, ...o });
  }

  agentStatus(o?: CallOptions): Promise<Result<'getAgentStatus'>> {
    return this.request('get', '/agents/status', { ...o });
  }

  agentHealth(query: Query<'getAgentHealth'> = {}, o?: CallOptions): Promise<Result<'getAgentHealth'>> {
    return this.request('get', '/agents/health', { query, ...o });
  }

  resetBreaker(agent: string, o?: CallOptions): Promise<Result<'resetAgentBreaker'>> {
    return this.request('post', '/agents/{agent}/breaker/reset', { params: { agent }, ...o });
  }

  agentKpi(agent: string, query: Query<'getAgentKpi'> = {}, o?: CallOptions): Promise<Result<'getAgentKpi'>> {
    return this.request('get', '/agents/{agent}/kpi', { params: { agent }, query, ...o });
  }

  // ---- Dead letters ----

  listDeadLetters(query: Query<'listDeadLetters'> = {}, o?: CallOptions): Promise<Result<'listDeadLetters'>> {
    return this.request('get', '/dlq', { query, ...o });
  }

  replayDeadLetter(id: string, o?: CallOptions): Promise<Result<'replayDeadLetter'>> {
    return this.request('post', '/dlq/{id}/replay', { params: { id }, ...o });
  }

  purgeDeadLetters(body: Body<'purgeDeadLetters'>, o?: CallOptions): Promise<Result<'purgeDeadLetters'>> {
    return this.request('post', '/dlq/purge', { body, ...o });
  }

  // ---- Traces and provenance ----

  listTraces(query: Query<'listTraces'>, o?: CallOptions): Promise<Result<'listTraces'>> {
    return this.request('get', '/traces', { query, ...o });
  }

  createTrace(body: Body<'createTrace'>, o?: CallOptions): Promise<Result<'createTrace'>> {
    return this.request('post', '/traces', { body, ...o });
  }

  getTrace(id: string, o?: CallOptions): Promise<Result<'getTrace'>> {
    return this.request('get', '/traces/{id}', { params: { id }, ...o });
  }

  /**
   * A session's provenance bundle (POST /artifacts/export); verify it offline with `warden verify`.
   * With `since` (an earlier export's treeSize), only the records after it.
   */
  async exportProvenance(body: Body<'exportProvenance'>, o?: CallOptions): Promise<ExportedBundle> {
    const res = await this.send('POST', '/artifacts/export', { body, ...o, text: true });
    const n = (h: string) => Number(res.headers.get(h) ?? NaN);
    return {
      text: String(res.data),
      treeSize: n('x-warden-tree-size'),
      since: n('x-warden-since'),
      records: n('x-warden-records'),
    };
  }

  // ---- Governance, operations, rate-distortion, edge, routing ----

  governanceStats(
    query: Query<'getGovernanceStats'> = {},
    o?: CallOptions,
  ): Promise<Result<'getGovernanceStats'>> {
    return this.request('get', '/governance/stats', { query, ...o });
  }

  listFlags(query: Query<'listFlags'> = {}, o?: CallOptions): Promise<Result<'listFlags'>> {
    return this.request('get', '/governance/flags', { query, ...o });
  }

  screen(body: Body<'screenText'>, o?: CallOptions): Promise<Result<'screenText'>> {
    return this.request('post', '/governance/screen', { body, ...o });
  }

  releaseTask(body: Body<'releaseTask'>, o?: CallOptions): Promise<Result<'releaseTask'>> {
    return this.request('post', '/governance/release', { body, ...o });
  }

  schedulerStats(o?: CallOptions): Promise<Result<'getSchedulerStats'>> {
    return this.request('get', '/scheduler/stats', { ...o });
  }

  /** The Prometheus metrics text. */
  async metrics(o?: CallOptions): Promise<string> {
    return String((await this.send('GET', '/metrics', { ...o })).data);
  }

  overview(query: Query<'getOverview'> = {}, o?: CallOptions): Promise<Result<'getOverview'>> {
    return this.request('get', '/stats/overview', { query, ...o });
  }

  /** The knee of a rate-distortion curve. */
  rdKnee(body: Body<'findKnee'>, o?: CallOptions): Promise<Result<'findKnee'>> {
    return this.request('post', '/rd/knee', { body, ...o });
  }

  /** The FGW distortion between two graphs. */
  rdFgw(body: Body<'measureFgw'>, o?: CallOptions): Promise<Result<'measureFgw'>> {
    return this.request('post', '/rd/fgw', { body, ...o });
  }

  createEdgeInvite(body: Body<'createEdgeInvite'>, o?: CallOptions): Promise<Result<'createEdgeInvite'>> {
    return this.request('post', '/edge/invites', { body, ...o });
  }

  listEdgeNodes(o?: CallOptions): Promise<Result<'listEdgeNodes'>> {
    return this.request('get', '/edge/nodes', { ...o });
  }

  revokeEdgeNode(nodeId: string, o?: CallOptions): Promise<Result<'revokeEdgeNode'>> {
    return this.request('delete', '/edge/nodes/{nodeId}', { params: { nodeId }, ...o });
  }

  explainRoute(body: Body<'explainRoute'>, o?: CallOptions): Promise<Result<'explainRoute'>> {
    return this.request('post', '/route/explain', { body, ...o });
  }

  listRollouts(o?: CallOptions): Promise<Result<'listRollouts'>> {
    return this.request('get', '/rollouts', { ...o });
  }
}

// Events of the two SSE routes, from their wire form.

function parseData(m: EventSourceMessage): unknown {
  try {
    return JSON.parse(m.data) as unknown;
  } catch {
    return m.data;
  }
}

function taskEventOf(m: EventSourceMessage): TaskStreamEvent | undefined {
  const name = m.event ?? 'message';
  const data = parseData(m);
  if (name === 'log' || name === 'result' || name === 'error')
    return { event: name, id: m.id ?? '', snapshot: false, data } as TaskStreamEvent;
  if (name === 'token') return { event: 'token', id: undefined, snapshot: false, data } as TaskStreamEvent;
  // State events: the first (no id) is the snapshot.
  return { event: name, id: m.id, snapshot: m.id === undefined, data } as TaskStreamEvent;
}

function tenantEventOf(m: EventSourceMessage): TenantEvent | undefined {
  const name = m.event ?? 'message';
  if (name !== 'ready' && name !== 'task' && name !== 'resync') return undefined;
  return { event: name, data: parseData(m) } as TenantEvent;
}

function describeCause(cause: unknown): string {
  const c = (cause as { cause?: { code?: string; message?: string } })?.cause;
  if (c?.code) return c.code;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Base64 of bytes, without Node's Buffer (browsers too). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, Math.min(i + 0x8000, bytes.length)));
  return btoa(binary);
}

/** The `files` of registerAgent from raw bytes: `{ 'main.js': bytes }` → `{ 'main.js': base64 }`. */
export function encodeFiles(files: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64(bytes)]));
}
