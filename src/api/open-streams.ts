import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// Server-Sent Event streams never end by themselves, and a closing server waits for every open request: a
// browser tab left on the dashboard would keep `warden serve` from shutting down. Streams are tracked per
// server, and the server ends them when it begins to close (the clients reconnect elsewhere or later).

const open = new WeakMap<FastifyInstance, Set<ServerResponse>>();

/** Tracks a hijacked event-stream response until it closes. */
export function trackStream(request: FastifyRequest, res: ServerResponse): void {
  let set = open.get(request.server);
  if (!set) open.set(request.server, (set = new Set()));
  const streams = set;
  streams.add(res);
  res.once('close', () => streams.delete(res));
}

/** Ends every open event stream of `app` (its preClose hook). */
export function endStreams(app: FastifyInstance): void {
  for (const res of open.get(app) ?? []) {
    if (!res.writableEnded) res.end();
    // The connection itself goes too: keep-alive would otherwise hold the server's close.
    res.socket?.destroySoon();
  }
}

/** Takes the response over from fastify and starts an event stream on it, tracked until it closes. */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Proxies such as nginx would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  trackStream(request, res);
  return res;
}
