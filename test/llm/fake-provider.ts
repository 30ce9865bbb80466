import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real HTTP server that speaks OpenAI Chat Completions (`POST /v1/chat/completions`, `GET /v1/models`) and
 * the Anthropic Messages API (`POST /v1/messages`, `GET /v1/models`) on the wire, including their SSE
 * streams, usage fields and error bodies. Tests script what the next requests get; with no script it
 * streams the words of the user message back.
 */
export type Step =
  | {
      kind: 'complete';
      tokens: string[];
      usage?: { prompt: number; completion: number };
      /** Pause between tokens. */
      delayMs?: number;
      finishReason?: string;
    }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Stream `tokens`, then stop: `end` closes cleanly without the end marker, `destroy` cuts the socket. */
  | { kind: 'truncate'; tokens: string[]; how: 'end' | 'destroy' }
  /** Stream `tokens`, then a data line that is not JSON. */
  | { kind: 'malformed'; tokens: string[] }
  /** Stream `tokens`, then send nothing more (the connection stays open). */
  | { kind: 'stall'; tokens: string[] }
  /** Headers, then one SSE comment byte every intervalMs, forever (slow loris). */
  | { kind: 'trickle'; intervalMs: number }
  /** An in-stream error event (Anthropic `event: error`, OpenAI `data: {"error":…}`). */
  | { kind: 'stream-error'; tokens: string[]; type: string; message: string };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | null;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface FakeProvider {
  url: string;
  /** OpenAI-style base URL (with /v1). */
  openaiBase: string;
  requests: RecordedRequest[];
  /** Steps for the next completion requests, in order. */
  script(...steps: Step[]): void;
  /** Sockets currently open to the server. */
  openSockets(): number;
  close(): Promise<void>;
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const steps: Step[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => void handle(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, at });
    if (req.method === 'GET' && path.endsWith('/models')) {
      if (steps[0]?.kind === 'status')
        return respondStatus(res, steps.shift() as Extract<Step, { kind: 'status' }>);
      return json(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model' }] });
    }
    const anthropic = path.endsWith('/v1/messages');
    if (!anthropic && !path.endsWith('/chat/completions'))
      return json(res, 404, { error: { message: 'no route' } });
    const step: Step = steps.shift() ?? { kind: 'complete', tokens: echo(body) };
    if (step.kind === 'status') return respondStatus(res, step);
    const wire = anthropic ? anthropicWire : openaiWire;
    const stream = body?.['stream'] === true;
    if (!stream && step.kind === 'complete') {
      return json(
        res,
        200,
        wire.whole(step.tokens.join(''), step.usage ?? usageOf(body, step.tokens), step.finishReason),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (text: string) => res.write(text);
    const usage =
      step.kind === 'complete' && step.usage
        ? step.usage
        : usageOf(body, 'tokens' in step ? step.tokens : []);
    send(wire.start(usage));
    if (step.kind === 'trickle') {
      const t = setInterval(() => res.write(':'), step.intervalMs);
      timers.add(t);
      res.on('close', () => clearInterval(t));
      return;
    }
    for (const token of step.tokens) {
      if (step.kind === 'complete' && step.delayMs) await sleep(step.delayMs, timers);
      if (res.destroyed) return;
      send(wire.token(token));
    }
    switch (step.kind) {
      case 'complete':
        send(wire.end(usage, step.finishReason));
        res.end();
        return;
      case 'truncate':
        // Let the tokens reach the client first, so the cut lands mid-stream and not before the headers.
        if (step.how === 'destroy') await sleep(30, timers).then(() => res.destroy());
        else res.end();
        return;
      case 'malformed':
        send('data: {"choices": [{"delta": {"content": "unterminated\n\n');
        res.end();
        return;
      case 'stall':
        return; // leave it open
      case 'stream-error':
        send(wire.error(step.type, step.message));
        res.end();
        return;
    }
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    openaiBase: `${url}/v1`,
    requests,
    script: (...s) => steps.push(...s),
    openSockets: () => sockets.size,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Wire {
  whole(text: string, usage: { prompt: number; completion: number }, finish?: string): unknown;
  start(usage: { prompt: number; completion: number }): string;
  token(text: string): string;
  end(usage: { prompt: number; completion: number }, finish?: string): string;
  error(type: string, message: string): string;
}

const data = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;
const event = (name: string, v: unknown) => `event: ${name}\ndata: ${JSON.stringify(v)}\n\n`;

const openaiWire: Wire = {
  whole: (text, usage, finish = 'stop') => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
    usage: {
      prompt_tokens: usage.prompt,
      completion_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
    },
  }),
  start: () =>
    data({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
    }),
  token: (text) =>
    data({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
    }),
  end: (usage, finish = 'stop') =>
    data({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: {}, finish_reason: finish }],
    }) +
    data({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      choices: [],
      usage: {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.prompt + usage.completion,
      },
    }) +
    'data: [DONE]\n\n',
  error: (type, message) => data({ error: { type, message } }),
};

const anthropicWire: Wire = {
  whole: (text, usage, finish = 'end_turn') => ({
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'text', text }],
    stop_reason: finish,
    usage: { input_tokens: usage.prompt, output_tokens: usage.completion },
  }),
  start: (usage) =>
    event('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [],
        usage: { input_tokens: usage.prompt, output_tokens: 1 },
      },
    }) +
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }) +
    event('ping', { type: 'ping' }),
  token: (text) =>
    event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text },
    }),
  end: (usage, finish = 'end_turn') =>
    event('content_block_stop', { type: 'content_block_stop', index: 0 }) +
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: finish, stop_sequence: null },
      usage: { output_tokens: usage.completion },
    }) +
    event('message_stop', { type: 'message_stop' }),
  error: (type, message) => event('error', { type: 'error', error: { type, message } }),
};

function respondStatus(res: ServerResponse, step: Extract<Step, { kind: 'status' }>): void {
  res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
  res.end(JSON.stringify(step.body ?? { error: { type: 'error', message: `status ${step.status}` } }));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The user message split into words (with their spaces), as the default completion. */
function echo(body: Record<string, unknown> | null): string[] {
  const messages = (body?.['messages'] ?? []) as { role: string; content: string }[];
  const user = messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  return user.match(/\S+\s*/g) ?? [];
}

function usageOf(body: Record<string, unknown> | null, tokens: string[]) {
  const messages = (body?.['messages'] ?? []) as { content: string }[];
  const prompt = messages.reduce((n, m) => n + (m.content.match(/\S+/g)?.length ?? 0), 0);
  return { prompt, completion: tokens.length };
}

function sleep(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(() => {
      timers.delete(t);
      r();
    }, ms);
    timers.add(t);
  });
}
