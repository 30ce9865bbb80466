// src/client/api-types.ts is generated from the server's OpenAPI document: a route whose schema changes
// without the client being regenerated (npx tsx scripts/gen-client-types.ts) fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CLIENT_TYPES_FILE,
  buildOpenApiDocument,
  renderClientTypes,
} from '../../scripts/gen-client-types.js';
import type { Body, Query, Result, WardenClient } from '../../src/client/index.js';

describe('generated client types', () => {
  it('match the OpenAPI document the server builds', async () => {
    const committed = readFileSync(CLIENT_TYPES_FILE, 'utf8');
    expect(await renderClientTypes()).toBe(committed);
  }, 30_000);

  it('differ when a route schema changes (the check can fail)', async () => {
    const doc = await buildOpenApiDocument();
    const op = (doc.paths!['/tasks'] as { get: unknown }).get as {
      parameters?: { name: string; in: string; schema: object }[];
    };
    op.parameters = [
      ...(op.parameters ?? []),
      { name: 'newFilter', in: 'query', schema: { type: 'string' } },
    ];
    const changed = await renderClientTypes(doc);
    expect(changed).not.toBe(readFileSync(CLIENT_TYPES_FILE, 'utf8'));
    expect(changed).toContain('newFilter?: string');
  }, 30_000);

  it('type request() and the friendly methods from the document', () => {
    // Compile-time checks (tsc --noEmit runs over test/): the assertions below are types, not values.
    expectTypeOf<Body<'executeTask'>['priority']>().toEqualTypeOf<
      'critical' | 'high' | 'normal' | 'low' | 'background' | undefined
    >();
    expectTypeOf<Query<'listTasks'>['state']>().toEqualTypeOf<
      'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'quarantined' | undefined
    >();
    expectTypeOf<Result<'cancelTask'>>().toEqualTypeOf<{ state?: string; cancelledNow?: boolean }>();
    type Req = WardenClient['request'];
    expectTypeOf<Parameters<Req>>().not.toBeAny();
    const typed = async (client: WardenClient) => {
      const got = await client.request('get', '/tasks/{id}', { params: { id: 'x' } });
      expectTypeOf(got.result).toEqualTypeOf<Result<'getTask'>['result']>();
      // @ts-expect-error the path parameter is required
      await client.request('get', '/tasks/{id}');
      // @ts-expect-error no such route
      await client.request('get', '/no-such-route');
      // @ts-expect-error GET /tasks has no DELETE
      await client.request('delete', '/tasks');
      // @ts-expect-error an unknown priority does not compile
      await client.submit('default', { agent: 'a', priority: 'urgent' });
      // @ts-expect-error the body of createSession needs a name
      await client.request('post', '/sessions', { body: {} });
      const removed = await client.request('delete', '/memory/{id}', { params: { id: 'm' } });
      expectTypeOf(removed).toEqualTypeOf<undefined>();
    };
    expect(typeof typed).toBe('function');
  });
});
