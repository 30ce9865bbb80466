// Retries of 429 and 503 honouring Retry-After, only for requests safe to send twice, within a bound;
// timeouts. Against a tiny HTTP server that answers what each test scripts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RateLimitedError, ServerError, WardenClient, parseRetryAfter } from '../../src/client/index.js';
import { rejectionOf } from '../helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
let server: Server;
let base: string;
let handler: Handler;
let hits: { at: number; method: string; url: string }[] = [];

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': `req-${hits.length}`,
    ...headers,
  });
  res.end(JSON.stringify(body));
};
const busy = (code = 'CLOSED') => ({ error: { code, message: 'busy, retry later' } });

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push({ at: Date.now(), method: req.method!, url: req.url! });
    req.resume();
    req.on('end', () => handler(req, res, hits.length));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  hits = [];
});

describe('retries', () => {
  it('503 with Retry-After: 1, then 200: one retry after about a second', async () => {
    handler = (_req, res, n) =>
      n === 1 ? json(res, 503, busy(), { 'retry-after': '1' }) : json(res, 200, { status: 'ok' });
    const client = new WardenClient({ baseUrl: base });
    expect(await client.health()).toEqual({ status: 'ok' });
    expect(hits).toHaveLength(2);
    const waited = hits[1]!.at - hits[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(2000);
  });

  it('429 with an HTTP date: waits until then', async () => {
    // HTTP dates have whole seconds: the wait is between one and two seconds.
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    handler = (_req, res, n) =>
      n === 1
        ? json(res, 429, busy('RATE_LIMITED'), { 'retry-after': at.toUTCString() })
        : json(res, 200, { tasks: [], nextCursor: null });
    const client = new WardenClient({ baseUrl: base, apiKey: 'k' });
    expect(await client.listTasks()).toEqual({ tasks: [], nextCursor: null });
    expect(hits).toHaveLength(2);
    expect(hits[1]!.at).toBeGreaterThanOrEqual(at.getTime() - 50);
  });

  it('a POST /execute without an idempotency key is not retried; with one it is', async () => {
    handler = (_req, res, n) =>
      n === 1
        ? json(res, 503, busy(), { 'retry-after': '0' })
        : json(res, 202, { task: { id: 't1', state: 'queued' } });
    const client = new WardenClient({ baseUrl: base });
    const err = await rejectionOf(client.submit('default', { agent: 'a' }));
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({ code: 'CLOSED', status: 503, requestId: 'req-1' });
    expect(hits).toHaveLength(1);

    hits = [];
    const task = await client.submit('default', { agent: 'a', idempotencyKey: 'order-42' });
    expect(task.id).toBe('t1');
    expect(hits).toHaveLength(2);

    // DLQ replay is not safe to repeat either; a caller that knows better says so.
    hits = [];
    handler = (_req, res, n) =>
      n === 1 ? json(res, 503, busy(), { 'retry-after': '0' }) : json(res, 200, { id: 't1' });
    expect((await rejectionOf(client.replayDeadLetter('t1'))).code).toBe('CLOSED');
    hits = [];
    expect(await client.replayDeadLetter('t1', { idempotent: true })).toEqual({ id: 't1' });
    expect(hits).toHaveLength(2);
  });

  it('stops after maxRetries, and does not wait beyond maxDelayMs', async () => {
    handler = (_req, res) => json(res, 503, busy(), { 'retry-after': '0' });
    const client = new WardenClient({ baseUrl: base, retry: { maxRetries: 3 } });
    const err = await rejectionOf(client.listAgents());
    expect(err.code).toBe('CLOSED');
    expect(hits).toHaveLength(4);

    hits = [];
    handler = (_req, res) => json(res, 429, busy('RATE_LIMITED'), { 'retry-after': '120' });
    const started = Date.now();
    const limited = await rejectionOf(
      new WardenClient({ baseUrl: base, retry: { maxDelayMs: 5000 } }).listAgents(),
    );
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterMs).toBe(120_000);
    expect(hits).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('other statuses are not retried', async () => {
    handler = (_req, res) => json(res, 500, { error: { code: 'INTERNAL', message: 'boom' } });
    const err = await rejectionOf(new WardenClient({ baseUrl: base }).listAgents());
    expect(err).toMatchObject({ code: 'INTERNAL', status: 500 });
    expect(hits).toHaveLength(1);
  });

  it('a body that is not the API’s error shape still gives a coded error', async () => {
    handler = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    };
    const err = await rejectionOf(new WardenClient({ baseUrl: base }).listAgents());
    expect(err).toMatchObject({ code: 'SERVER_UNREACHABLE', status: 502 });
    expect(err.message).toContain('bad gateway');
    expect(hits).toHaveLength(1);
  });
});

describe('timeouts', () => {
  it('a request without an answer fails with REQUEST_TIMEOUT; the caller’s signal aborts', async () => {
    handler = () => undefined; // never answers
    const client = new WardenClient({ baseUrl: base, timeoutMs: 200, retry: false });
    const started = Date.now();
    const err = await rejectionOf(client.listAgents());
    expect(err).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1500);

    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('user stopped')), 50);
    const aborted = await rejectionOf(client.listAgents({ signal: stop.signal, timeoutMs: 0 }));
    expect(aborted.message).toBe('user stopped');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
