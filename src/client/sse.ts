// Server-Sent Events as an async iterable, with fetch (browsers and Node alike): the EventSource API
// cannot send an Authorization header, so the client reads the stream itself.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type { EventSourceMessage } from 'eventsource-parser';

/** What one stream read: its messages, and the server's `retry:` hint for reconnecting. */
export interface SseRead {
  messages: AsyncGenerator<EventSourceMessage, void, undefined>;
  /** The last `retry:` field the server sent, in milliseconds. */
  retryMs(): number | undefined;
}

/** Parses a text/event-stream body; the generator ends when the body ends (or throws when it breaks). */
export function readSse(body: ReadableStream<Uint8Array>): SseRead {
  let retry: number | undefined;
  async function* messages(): AsyncGenerator<EventSourceMessage, void, undefined> {
    const queue: EventSourceMessage[] = [];
    const parser = createParser({
      onEvent: (m) => queue.push(m),
      onRetry: (ms) => {
        retry = ms;
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        while (queue.length > 0) yield queue.shift()!;
      }
      parser.feed(decoder.decode());
      while (queue.length > 0) yield queue.shift()!;
    } finally {
      // Stopping early (break, return, abort) releases the connection.
      await reader.cancel().catch(() => undefined);
    }
  }
  return { messages: messages(), retryMs: () => retry };
}
