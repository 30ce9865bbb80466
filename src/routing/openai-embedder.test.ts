import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rejectionOf } from '../../test/helpers.js';
import { OpenAiEmbedder } from './openai-embedder.js';

// A real HTTP server speaking OpenAI's /v1/embeddings wire format. Each test sets `reply` to shape the
// answer; every request is recorded with its headers and parsed body.
interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: { model: string; input: string[]; encoding_format?: string; dimensions?: number };
}
type Reply = (body: Received['body']) => { status?: number; body: string } | 'hang';

const DIMS = 8;
let server: Server;
let baseUrl: string;
let received: Received[] = [];
let reply: Reply;

/** A deterministic, unnormalised embedding per text, so tests can check order and normalisation. */
function fakeVector(text: string, dims = DIMS): number[] {
  return Array.from(
    { length: dims },
    (_, i) => ((text.length * 31 + i * 7 + text.charCodeAt(0)) % 13) - 6 + 0.5,
  );
}

const openAiReply: Reply = (body) => ({
  body: JSON.stringify({
    object: 'list',
    model: body.model,
    // Reversed on purpose: clients must order by `index`, not by position.
    data: body.input
      .map((text, index) => ({
        object: 'embedding',
        index,
        embedding: fakeVector(text, body.dimensions ?? DIMS),
      }))
      .reverse(),
    usage: { prompt_tokens: 1, total_tokens: 1 },
  }),
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const body = JSON.parse(raw) as Received['body'];
      received.push({ url: req.url ?? '', headers: req.headers, body });
      const answer = reply(body);
      if (answer === 'hang') return; // never answers: the client's timeout must fire
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  received = [];
  reply = openAiReply;
});

const embedderFor = (extra: Partial<ConstructorParameters<typeof OpenAiEmbedder>[0]> = {}) =>
  new OpenAiEmbedder({ baseUrl, model: 'text-embedding-3-small', dimensions: DIMS, env: {}, ...extra });

describe('OpenAiEmbedder', () => {
  it('sends the OpenAI request body and bearer key, and orders vectors by index', async () => {
    const embedder = embedderFor({ apiKeyEnv: 'EMBED_KEY', env: { EMBED_KEY: 'sk-test-123' } });
    expect(embedder.id).toBe('openai:text-embedding-3-small');
    const vectors = await embedder.embed(['alpha', 'bb', 'gamma ray']);
    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req!.url).toBe('/v1/embeddings');
    expect(req!.headers.authorization).toBe('Bearer sk-test-123');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual({
      model: 'text-embedding-3-small',
      input: ['alpha', 'bb', 'gamma ray'],
      encoding_format: 'float',
      dimensions: DIMS,
    });
    ['alpha', 'bb', 'gamma ray'].forEach((text, i) => {
      const raw = fakeVector(text);
      const length = Math.hypot(...raw);
      // Re-normalised, and in input order despite the reversed answer.
      expect(Array.from(vectors[i]!)).toEqual(raw.map((x) => Math.fround(x / length)));
    });
  });

  it('sends no Authorization header when no key is configured', async () => {
    await embedderFor().embed(['x']);
    expect(received[0]!.headers.authorization).toBeUndefined();
    // An explicit key wins over the environment; trailing slashes on the base URL are harmless.
    await embedderFor({
      apiKey: 'sk-direct',
      baseUrl: `${baseUrl}//`,
      env: { OPENAI_API_KEY: 'sk-env' },
    }).embed(['x']);
    expect(received[1]!.headers.authorization).toBe('Bearer sk-direct');
    expect(received[1]!.url).toBe('/v1/embeddings');
    await embedderFor({ env: { OPENAI_API_KEY: 'sk-env' } }).embed(['x']);
    expect(received[2]!.headers.authorization).toBe('Bearer sk-env');
  });

  it('splits large inputs into batches and keeps the order', async () => {
    const texts = Array.from({ length: 300 }, (_, i) => `text number ${i}`);
    const vectors = await embedderFor().embed(texts);
    expect(received.map((r) => r.body.input.length)).toEqual([128, 128, 44]);
    expect(received.flatMap((r) => r.body.input)).toEqual(texts);
    expect(vectors).toHaveLength(300);
    const single = await embedderFor({ batchSize: 2 }).embed([texts[299]!]);
    expect(single[0]).toEqual(vectors[299]);
    expect(await embedderFor().embed([])).toEqual([]);
  });

  it('connect() probes once and learns the length without sending dimensions', async () => {
    reply = (body) => openAiReply({ ...body, dimensions: 5 });
    const embedder = await OpenAiEmbedder.connect({ baseUrl, model: 'nomic-embed-text', env: {} });
    expect(embedder.dimensions).toBe(5);
    expect(received).toHaveLength(1);
    expect(received[0]!.body.input).toHaveLength(1);
    expect(received[0]!.body.dimensions).toBeUndefined();
    const [v] = await embedder.embed(['hello']);
    expect(v).toHaveLength(5);
    expect(received[1]!.body.dimensions).toBeUndefined();
  });

  it('connect() with dimensions asks for them and checks the answer', async () => {
    const embedder = await OpenAiEmbedder.connect({
      baseUrl,
      model: 'text-embedding-3-small',
      dimensions: 6,
      env: {},
    });
    expect(embedder.dimensions).toBe(6);
    expect(received[0]!.body.dimensions).toBe(6);
    // A server that ignores `dimensions` answers the wrong length: refused, with what to check.
    reply = (body) => openAiReply({ ...body, dimensions: 4 });
    const err = await rejectionOf(OpenAiEmbedder.connect({ baseUrl, model: 'm', dimensions: 6, env: {} }));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toMatch(/4 dimensions, expected 6.*dimensions option/);
  });

  it('maps 401 to a coded error naming the key variable, without echoing the key', async () => {
    reply = () => ({
      status: 401,
      body: JSON.stringify({
        error: { message: 'Incorrect API key provided: sk-secret-999', type: 'invalid_request_error' },
      }),
    });
    const err = await rejectionOf(
      embedderFor({ apiKeyEnv: 'MY_KEY', env: { MY_KEY: 'sk-secret-999' } }).embed(['x']),
    );
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toContain('MY_KEY');
    expect(err.message).toContain('Incorrect API key provided');
    expect(err.message).not.toContain('sk-secret-999');
    expect(err.details).toMatchObject({ status: 401 });
    expect(err.retryable).toBe(false);
  });

  it('maps 500 to a retryable coded error carrying the provider message', async () => {
    reply = () => ({ status: 500, body: JSON.stringify({ error: { message: 'model overloaded' } }) });
    const err = await rejectionOf(embedderFor().embed(['x']));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('500');
    expect(err.message).toContain('model overloaded');
    reply = () => ({ status: 404, body: 'Not Found' });
    expect((await rejectionOf(embedderFor().embed(['x']))).message).toMatch(/404.*base URL/);
  });

  it.each<[string, Reply, RegExp]>([
    ['not JSON', () => ({ body: '<html>oops' }), /not JSON/],
    ['no data array', () => ({ body: JSON.stringify({ object: 'list' }) }), /no data array/],
    [
      'a wrong count',
      (body) => openAiReply({ ...body, input: body.input.slice(1) }),
      /1 embeddings for 2 inputs/,
    ],
    [
      'a repeated index',
      () => ({
        body: JSON.stringify({ data: [0, 0].map((index) => ({ index, embedding: fakeVector('a') })) }),
      }),
      /repeated index/,
    ],
    [
      'non-numbers',
      () => ({ body: JSON.stringify({ data: [0, 1].map((index) => ({ index, embedding: 'AAAA' })) }) }),
      /not an array of finite numbers/,
    ],
    ['the wrong length', (body) => openAiReply({ ...body, dimensions: 3 }), /3 dimensions, expected 8/],
  ])('refuses a response with %s', async (_, bad, message) => {
    reply = bad;
    const err = await rejectionOf(embedderFor().embed(['a', 'b']));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toMatch(/malformed embeddings response/);
    expect(err.message).toMatch(message);
  });

  it('says to check the server when the connection is refused', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const err = await rejectionOf(embedderFor({ baseUrl: `http://127.0.0.1:${port}/v1` }).embed(['x']));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toMatch(/cannot reach .*ECONNREFUSED.*server is running/);
  });

  it('times out a silent server and aborts on the caller signal', async () => {
    reply = () => 'hang';
    const timedOut = await rejectionOf(embedderFor({ timeoutMs: 150 }).embed(['x']));
    expect(timedOut.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(timedOut.message).toMatch(/did not answer within 150 ms/);

    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = embedderFor().embed(['x'], controller.signal);
    setTimeout(() => controller.abort(reason), 50);
    expect(await rejectionOf(pending)).toBe(reason);
  });

  it('fails when a named key variable is unset, and refuses bad options', async () => {
    const err = await rejectionOf(embedderFor({ apiKeyEnv: 'MISSING_KEY' }).embed(['x']));
    expect(err.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(err.message).toContain('MISSING_KEY is not set');
    expect(received).toHaveLength(0);
    expect(() => embedderFor({ baseUrl: 'not a url' })).toThrow(/not a URL/);
    expect(() => embedderFor({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => embedderFor({ dimensions: 0 })).toThrow(/dimensions/);
  });
});
