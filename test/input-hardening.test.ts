import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { parseManifest, Warden, type WardenError } from '../src/index.js';
import { sha256Hex } from '../src/provenance/index.js';
import type { NewTask } from '../src/store/index.js';

// Bad input from one caller must get that caller a clear 400, in bounded time, and must never fail
// anybody else's request: lone surrogates, deeply nested values and YAML alias bombs.

let warden: Warden;
let root: string;
let app: FastifyInstance;
const key: Record<string, string> = {};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-hardening-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 8 } });
  await warden.registerHandler('ok', (input: unknown) => input, { shared: true });
  app = await buildServer(warden, { logger: false, rateLimit: false });
  for (const tenant of ['acme', 'globex'])
    key[tenant] = (await createApiKey(warden.store, { tenant, role: 'admin', name: tenant })).key;
  for (const tenant of ['acme', 'globex'])
    await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { authorization: `Bearer ${key[tenant]}` },
      payload: { name: 'work' },
    });
});

afterAll(async () => {
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

/** POSTs raw JSON text (so that escapes such as \ud800 reach the server as written). */
function post(url: string, tenant: string, json: string) {
  return app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key[tenant]}`, 'content-type': 'application/json' },
    payload: json,
  });
}

const LONE = '"\\ud800"';
const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('strings are well-formed Unicode at the edge', () => {
  it.each([
    ['idempotencyKey', `{"agent":"ok","idempotencyKey":${LONE}}`],
    ['input', `{"agent":"ok","input":{"text":${LONE}}}`],
    ['an input key', `{"agent":"ok","input":{${LONE}:1}}`],
    ['metadata', `{"agent":"ok","metadata":{"who":${LONE}}}`],
    ['agent name', `{"agent":${LONE}}`],
  ])('refuses a lone surrogate in %s with 400 INVALID_INPUT', async (_what, body) => {
    const res = await post('/sessions/work/execute', 'acme', body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/well-formed Unicode/);
  });

  it('refuses lone surrogates in traces, sessions and manifests too', async () => {
    for (const [url, body] of [
      ['/traces', `{"session":"work","data":{"note":${LONE}}}`],
      ['/sessions', `{"name":${LONE}}`],
      ['/agents', `{"manifest":${LONE}}`],
      ['/governance/flag', `{"taskId":"x","type":"HighRisk","severity":5,"reason":${LONE}}`],
    ] as const) {
      const res = await post(url, 'acme', body);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
  });

  it("one tenant's bad submit never fails another tenant's submits in the same group commit", async () => {
    const good = Array.from({ length: 400 }, (_, i) =>
      post('/sessions/work/execute', 'globex', JSON.stringify({ agent: 'ok', input: { i } })),
    );
    const bad = Array.from({ length: 5 }, () =>
      post('/sessions/work/execute', 'acme', `{"agent":"ok","idempotencyKey":${LONE}}`),
    );
    const [goods, bads] = await Promise.all([Promise.all(good), Promise.all(bad)]);
    expect(goods.map((r) => r.statusCode).filter((s) => s !== 202)).toEqual([]);
    expect(bads.map((r) => r.statusCode)).toEqual([400, 400, 400, 400, 400]);
  });

  // An outside audit: an invalid 10 KB id came back whole in the 404's message and details.
  it('bounds what an error quotes of the request', async () => {
    const long = 'x'.repeat(300_000);
    const res = await app.inject({
      method: 'GET',
      url: `/governance/flags?task=${'y'.repeat(10_000)}`,
      headers: { authorization: `Bearer ${key['acme']}` },
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.body.length).toBeLessThan(8_000);
    const big = await post('/sessions/work/execute', 'acme', JSON.stringify({ agent: long }));
    expect(big.statusCode).toBeGreaterThanOrEqual(400);
    expect(big.body.length).toBeLessThan(8_000);
  });

  // An outside audit: raw invalid UTF-8 in a body was accepted and stored as U+FFFD.
  it('refuses a body that is not valid UTF-8 instead of storing replacement characters', async () => {
    const body = Buffer.concat([
      Buffer.from('{"agent":"ok","input":{"text":"'),
      Buffer.from([0xed, 0xa0, 0x80, 0xff]),
      Buffer.from('"}}'),
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/sessions/work/execute',
      headers: { authorization: `Bearer ${key['acme']}`, 'content-type': 'application/json' },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
    const fine = await post(
      '/sessions/work/execute?wait=5000',
      'acme',
      '{"agent":"ok","input":{"text":"h\u00e9llo ✓"}}',
    );
    expect(fine.json<{ result: { output: unknown } }>().result.output).toEqual({ text: 'héllo ✓' });
  });

  // An outside audit: `{"x":1e999}` was accepted and stored as `{"x":null}`.
  it('refuses numbers JSON cannot hold (1e999, NaN) instead of storing null', async () => {
    const res = await post('/sessions/work/execute', 'acme', '{"agent":"ok","input":{"x":1e999}}');
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    await expect(warden.submit({ agent: 'ok', input: { x: Number.NaN } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('the library refuses a lone surrogate with INVALID_INPUT', async () => {
    await expect(warden.submit({ agent: 'ok', idempotencyKey: '\ud800' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(warden.submit({ agent: 'ok', input: { ['\udc00']: 1 } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});

describe('the group commit isolates a row that fails', () => {
  const newTask = (id: string, sessionId: string, i: number): NewTask => {
    const inputJson = JSON.stringify({ i });
    return {
      id,
      sessionId,
      agentKey: 'ok@1.0.0',
      priority: 'normal',
      maxAttempts: 1,
      inputJson,
      inputDigest: sha256Hex(inputJson),
      deadline: null,
      timeoutMs: null,
      idempotencyKey: null,
      metadata: {},
      now: Date.now(),
    };
  };

  it('fails only the bad submits of a batch and commits every other one', async () => {
    const session = await warden.getSession('default');
    // Rows that pass the edge but fail in the store: a duplicate task id (a primary-key violation) and a
    // lone surrogate that reached the scheduler without validation. They share one batch with good rows.
    const taken = uuidv7();
    const tasks = Array.from({ length: 50 }, (_, i) => newTask(uuidv7(), session.id, i));
    tasks.splice(10, 0, newTask(taken, session.id, -1), newTask(taken, session.id, -2));
    tasks.splice(30, 0, { ...newTask(uuidv7(), session.id, -3), idempotencyKey: '\ud800' });
    const outcomes = await Promise.allSettled(tasks.map((t) => warden.scheduler.enqueue(t)));
    const rejected = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    expect(rejected).toEqual([11, 30]);
    for (const i of rejected)
      expect((outcomes[i] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_ERROR' });
    for (const [i, t] of tasks.entries()) {
      if (rejected.includes(i)) continue;
      expect(await warden.store.getTask(t.id), `task ${i}`).toBeDefined();
    }
    expect((await warden.store.getTask(taken))?.input).toEqual({ i: -1 });
    expect((await warden.verify('default')).ok).toBe(true);
  });
});

describe('nesting and YAML alias bombs are refused in bounded time', () => {
  it('refuses a 10,000-deep manifest object with 400', async () => {
    const started = Date.now();
    const res = await post('/agents', 'acme', `{"manifest":${deep(10_000)}}`);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ error: { code: string } }>().error.code).toMatch(/^INVALID_(INPUT|MANIFEST)$/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses 10,000-deep task input and trace data with 400', async () => {
    for (const [url, body] of [
      ['/sessions/work/execute', `{"agent":"ok","input":${deep(10_000)}}`],
      ['/traces', `{"session":"work","data":${deep(10_000)}}`],
    ] as const) {
      const res = await post(url, 'acme', body);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    await expect(
      warden.submit({ agent: 'ok', input: JSON.parse(deep(10_000)) as unknown }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  const BOMB = `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: bomb, version: 1.0.0 }
x:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
spec: { runtime: node, entry: ./main.js }
`;

  it('refuses a YAML alias bomb (billion laughs) with INVALID_MANIFEST', async () => {
    const started = Date.now();
    let error: WardenError | undefined;
    try {
      parseManifest(BOMB, 'bomb.yaml');
    } catch (err) {
      error = err as WardenError;
    }
    expect(error?.code).toBe('INVALID_MANIFEST');
    expect(error?.message).toMatch(/bomb\.yaml.*alias/is);
    const res = await post('/agents', 'acme', JSON.stringify({ manifest: BOMB }));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses deeply nested YAML text with INVALID_MANIFEST', async () => {
    const text = `apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: deep, version: 1.0.0 }\nspec: { runtime: node, entry: ./main.js, outputSchema: ${'['.repeat(10_000)}${']'.repeat(10_000)} }\n`;
    const res = await post('/agents', 'acme', JSON.stringify({ manifest: text }));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
  });

  it('stays healthy afterwards', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});

describe('uploaded agents stay inside their own files', () => {
  const yaml = (name: string, spec: string) =>
    `apiVersion: warden.dev/v1\nkind: Agent\nmetadata: { name: ${name}, version: 1.0.0 }\nspec:\n${spec}\n`;
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const main = { 'main.js': b64('process.stdout.write("1")') };
  /** POST /agents with this manifest spec and these files (raw values: a test may send non-base64). */
  const upload = (name: string, spec: string, files: Record<string, string> = main) =>
    post('/agents', 'acme', JSON.stringify({ manifest: yaml(name, spec), files }));

  // An outside audit: `entry: ../../../../../etc/passwd` registered (its digest was the host file's) and
  // its lines came back in the task's log.
  it.each([
    ['a relative path that climbs out', '  runtime: node\n  entry: ../../../../../etc/passwd'],
    ['an absolute entry', '  runtime: node\n  entry: /etc/passwd'],
    ['the directory itself', '  runtime: node\n  entry: ./'],
    ['a WASM module outside', '  runtime: wasm\n  module: ../../../../etc/hostname'],
    ['a venv outside', '  runtime: python\n  entry: ./main.js\n  venv: /usr'],
    ['a command outside the system directories', '  runtime: process\n  command: [/etc/passwd]'],
    [
      'a local model outside',
      '  runtime: llm\n  model: { provider: llama, model: /etc/passwd }\n  prompt: hi',
    ],
  ])('refuses %s with INVALID_MANIFEST', async (_, spec) => {
    const res = await upload('escape', spec);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
  });

  it('refuses an entry that is an uploaded directory, and files that collide, with 400', async () => {
    const dir = await upload('dirent', '  runtime: node\n  entry: ./lib', { 'lib/x.js': b64('1') });
    expect(dir.statusCode, dir.body).toBe(400);
    expect(dir.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
    for (const files of [
      { 'main.js': b64('1'), 'main.js/x': b64('2') },
      { [`${'n'.repeat(300)}.js`]: b64('1'), 'main.js': b64('1') },
    ]) {
      const res = await upload('collide', '  runtime: node\n  entry: ./main.js', files);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
  });

  it('refuses files that are not base64 and env values with a NUL, with 400', async () => {
    const notB64 = await upload('rawtext', '  runtime: node\n  entry: ./main.js', {
      'main.js': 'process.stdout.write(1)',
    });
    expect(notB64.statusCode, notB64.body).toBe(400);
    expect(notB64.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    const badLength = await upload('oddb64', '  runtime: node\n  entry: ./main.js', { 'main.js': 'abcde' });
    expect(badLength.statusCode, badLength.body).toBe(400);
    const nul = await upload('nulenv', '  runtime: node\n  entry: ./main.js\n  env: { A: "x\\0y" }');
    expect(nul.statusCode, nul.body).toBe(400);
    expect(nul.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
  });

  it('refuses a WASM module that is not WebAssembly at registration', async () => {
    const res = await upload('notwasm', '  runtime: wasm\n  module: ./agent.wasm', {
      'agent.wasm': b64('process.stdout.write("1")'),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_MANIFEST' } });
  });

  it('still takes a system executable and files of its own', async () => {
    const res = await upload('sysbin', '  runtime: process\n  command: [/bin/sh, ./run.sh]', {
      'run.sh': b64('echo 1'),
    });
    expect(res.statusCode, res.body).toBe(201);
  });
});

describe('requests the HTTP parser refuses', () => {
  /** Sends raw bytes to a listening copy of the server and returns the whole reply. */
  async function raw(bytes: Buffer): Promise<string> {
    const server = await buildServer(warden, { logger: false, rateLimit: false });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = server.server.address() as { port: number };
      return await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
        let reply = '';
        socket.on('data', (c) => (reply += c.toString('latin1')));
        socket.on('end', () => resolve(reply));
        socket.on('error', reject);
      });
    } finally {
      await server.close();
    }
  }

  // An outside audit: these came back as {"error":"Bad Request","message":"Client Error"}, without a code.
  it.each([
    [
      'a raw invalid byte in the path',
      Buffer.from('GET /tasks/\xed\xa0\x80 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
    ],
    [
      'a malformed chunked body',
      Buffer.from(
        'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        'latin1',
      ),
    ],
  ])('answers %s with the JSON error shape', async (_, bytes) => {
    const reply = await raw(bytes);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    expect(body.error.code).toBe('INVALID_INPUT');
  });
});
