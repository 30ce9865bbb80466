// Choosing an embedder: environment parsing and openEmbedder over each provider, with real parts (a local
// HTTP server speaking OpenAI's format, a tiny GGUF model).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../scripts/build-tiny-gguf.js';
import type { WardenError } from '../core/index.js';
import { embeddingsOptionsFromEnv, openEmbedder } from './embedder-config.js';
import { HashEmbedder } from './hash-embedder.js';
import { LlamaEmbedder } from './llama-embedder.js';
import { OpenAiEmbedder } from './openai-embedder.js';

describe('embeddingsOptionsFromEnv', () => {
  it('returns undefined when WARDEN_EMBEDDINGS is unset or blank', () => {
    expect(embeddingsOptionsFromEnv({})).toBeUndefined();
    expect(
      embeddingsOptionsFromEnv({ WARDEN_EMBEDDINGS: '  ', WARDEN_EMBEDDINGS_DIMENSIONS: 'x' }),
    ).toBeUndefined();
  });

  it.each<[string, NodeJS.ProcessEnv, unknown]>([
    ['builtin', { WARDEN_EMBEDDINGS: 'builtin' }, { provider: 'builtin' }],
    [
      'builtin with a length',
      { WARDEN_EMBEDDINGS: 'builtin', WARDEN_EMBEDDINGS_DIMENSIONS: '256' },
      { provider: 'builtin', dimensions: 256 },
    ],
    [
      'openai',
      {
        WARDEN_EMBEDDINGS: 'openai',
        WARDEN_EMBEDDINGS_URL: 'https://api.openai.com/v1',
        WARDEN_EMBEDDINGS_MODEL: 'text-embedding-3-small',
      },
      { provider: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'text-embedding-3-small' },
    ],
    [
      'openai with key variable and length',
      {
        WARDEN_EMBEDDINGS: 'openai',
        WARDEN_EMBEDDINGS_URL: 'http://127.0.0.1:8080/v1',
        WARDEN_EMBEDDINGS_MODEL: 'nomic',
        WARDEN_EMBEDDINGS_API_KEY_ENV: 'LOCAL_EMBED_KEY',
        WARDEN_EMBEDDINGS_DIMENSIONS: '512',
      },
      {
        provider: 'openai',
        baseUrl: 'http://127.0.0.1:8080/v1',
        model: 'nomic',
        apiKeyEnv: 'LOCAL_EMBED_KEY',
        dimensions: 512,
      },
    ],
    [
      'llama',
      { WARDEN_EMBEDDINGS: 'llama', WARDEN_EMBEDDINGS_MODEL_PATH: '/models/bge.gguf' },
      { provider: 'llama', modelPath: '/models/bge.gguf' },
    ],
  ])('reads %s', (_, env, expected) => {
    expect(embeddingsOptionsFromEnv(env)).toEqual(expected);
  });

  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['an unknown provider', { WARDEN_EMBEDDINGS: 'cohere' }, 'WARDEN_EMBEDDINGS'],
    [
      'a non-numeric length',
      { WARDEN_EMBEDDINGS: 'builtin', WARDEN_EMBEDDINGS_DIMENSIONS: 'big' },
      'WARDEN_EMBEDDINGS_DIMENSIONS',
    ],
    [
      'a fractional length',
      { WARDEN_EMBEDDINGS: 'builtin', WARDEN_EMBEDDINGS_DIMENSIONS: '3.5' },
      'WARDEN_EMBEDDINGS_DIMENSIONS',
    ],
    [
      'a length of 1',
      { WARDEN_EMBEDDINGS: 'builtin', WARDEN_EMBEDDINGS_DIMENSIONS: '1' },
      'WARDEN_EMBEDDINGS_DIMENSIONS',
    ],
    [
      'openai without a URL',
      { WARDEN_EMBEDDINGS: 'openai', WARDEN_EMBEDDINGS_MODEL: 'm' },
      'WARDEN_EMBEDDINGS_URL',
    ],
    [
      'openai with a bad URL',
      { WARDEN_EMBEDDINGS: 'openai', WARDEN_EMBEDDINGS_URL: 'api.openai.com', WARDEN_EMBEDDINGS_MODEL: 'm' },
      'WARDEN_EMBEDDINGS_URL',
    ],
    [
      'openai without a model',
      { WARDEN_EMBEDDINGS: 'openai', WARDEN_EMBEDDINGS_URL: 'http://h/v1' },
      'WARDEN_EMBEDDINGS_MODEL',
    ],
    [
      'a key where its variable name belongs',
      {
        WARDEN_EMBEDDINGS: 'openai',
        WARDEN_EMBEDDINGS_URL: 'http://h/v1',
        WARDEN_EMBEDDINGS_MODEL: 'm',
        WARDEN_EMBEDDINGS_API_KEY_ENV: 'sk-proj-abc123',
      },
      'WARDEN_EMBEDDINGS_API_KEY_ENV',
    ],
    ['llama without a model path', { WARDEN_EMBEDDINGS: 'llama' }, 'WARDEN_EMBEDDINGS_MODEL_PATH'],
    [
      'llama with a length',
      {
        WARDEN_EMBEDDINGS: 'llama',
        WARDEN_EMBEDDINGS_MODEL_PATH: '/m.gguf',
        WARDEN_EMBEDDINGS_DIMENSIONS: '64',
      },
      'WARDEN_EMBEDDINGS_DIMENSIONS',
    ],
  ])('refuses %s with INVALID_INPUT naming the variable', (_, env, variable) => {
    let err: WardenError | undefined;
    try {
      embeddingsOptionsFromEnv(env);
    } catch (e) {
      err = e as WardenError;
    }
    expect(err?.code).toBe('INVALID_INPUT');
    expect(err?.message).toContain(variable);
    expect(err?.details).toEqual({ variable });
    // A key pasted in the wrong variable is never echoed back.
    expect(err?.message).not.toContain('sk-proj');
  });
});

describe('openEmbedder', () => {
  let server: Server;
  let baseUrl: string;
  let authorizations: (string | undefined)[] = [];
  let dir: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        authorizations.push(req.headers.authorization);
        const { input } = JSON.parse(raw) as { input: string[] };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: input.map((_, index) => ({ index, embedding: [1, 2, 2] })) }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    dir = mkdtempSync(join(tmpdir(), 'warden-embed-config-'));
  });

  afterAll(async () => {
    server.close();
    await once(server, 'close');
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to the built-in embedder', async () => {
    const embedder = await openEmbedder();
    expect(embedder).toBeInstanceOf(HashEmbedder);
    expect(embedder.id).toBe('builtin-hash-v1-384');
    expect((await openEmbedder({ provider: 'builtin', dimensions: 128 })).dimensions).toBe(128);
  });

  it('connects to an OpenAI-compatible endpoint, reading the key from the named variable', async () => {
    authorizations = [];
    const embedder = await openEmbedder(
      { provider: 'openai', baseUrl, model: 'local-embed', apiKeyEnv: 'EMBED_KEY' },
      { env: { EMBED_KEY: 'sk-local' } },
    );
    expect(embedder).toBeInstanceOf(OpenAiEmbedder);
    expect(embedder.id).toBe('openai:local-embed');
    expect(embedder.dimensions).toBe(3); // learnt from the probe
    const [v] = await embedder.embed(['hello']);
    expect(Array.from(v!)).toEqual([1 / 3, 2 / 3, 2 / 3].map(Math.fround));
    expect(authorizations).toEqual(['Bearer sk-local', 'Bearer sk-local']);
  });

  it('fails at open, not at first use, when the endpoint is down', async () => {
    const err = await openEmbedder(
      { provider: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' },
      { env: {} },
    ).then(
      () => undefined,
      (e: unknown) => e as WardenError,
    );
    expect(err?.code).toBe('EMBEDDINGS_UNAVAILABLE');
  });

  it('opens a local GGUF model', async () => {
    const modelPath = join(dir, 'tiny.gguf');
    buildTinyGguf(modelPath);
    const embedder = await openEmbedder({ provider: 'llama', modelPath });
    try {
      expect(embedder).toBeInstanceOf(LlamaEmbedder);
      expect(embedder.id).toMatch(/^llama:[0-9a-f]{16}$/);
      expect((await embedder.embed(['hi']))[0]).toHaveLength(embedder.dimensions);
    } finally {
      await embedder.close?.();
    }
  });

  it('refuses an unknown provider', async () => {
    await expect(openEmbedder({ provider: 'cohere' } as never)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
