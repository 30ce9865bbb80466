import { describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { openWarden } from './helpers.js';

// A server closing (warden serve on SIGTERM) ends its open event streams instead of waiting for the clients
// to leave: a dashboard tab left open must not keep it running.

describe('open event streams at shutdown', () => {
  it('ends /events and /tasks/:id/events streams when the server closes', async () => {
    const warden = await openWarden();
    await warden.registerHandler('wait', () => new Promise((r) => setTimeout(() => r({ ok: true }), 2_000)));
    const app = await buildServer(warden, { logger: false });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { key } = await createApiKey(warden.apiKeys, { tenant: 'default', role: 'admin', name: 't' });
    const session = await warden.ensureSession({ name: 's' });
    const task = await warden.submit({ agent: 'wait', session: session.id, input: {} });

    const ended: string[] = [];
    const follow = async (path: string) => {
      const res = await fetch(`${address}${path}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the first event is there: the stream is open
      // Wrapped: an async function returning a promise would wait for it.
      const done = (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // a destroyed connection ends the stream too
        }
        ended.push(path);
      })();
      return { done };
    };
    const streams = [await follow('/events'), await follow(`/tasks/${task.id}/events`)];

    const started = Date.now();
    await app.close();
    await Promise.all(streams.map((s) => s.done));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ended.sort()).toEqual(['/events', `/tasks/${task.id}/events`].sort());
  });
});
