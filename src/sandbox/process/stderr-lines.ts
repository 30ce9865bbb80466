/** Longest stderr line kept (longer ones are cut, with a note of how much was dropped). */
export const MAX_LINE_CHARS = 2048;
/** What the tail of stderr (reported with a failure) holds at most. */
const TAIL_LINES = 5;
const TAIL_CHARS = 4096;
/** How much of the last line goes into a failure's message (the tail is in its details). */
const MESSAGE_CHARS = 300;

/**
 * An agent's stderr as log lines, at a bounded cost whatever it writes: linear in the bytes received
 * (a line is never re-scanned or re-concatenated past its cap), each line capped at MAX_LINE_CHARS, at most
 * `maxLogChars` logged in all, and a small tail kept for the failure report.
 */
export class StderrLines {
  private line = '';
  private dropped = 0;
  private open = false;
  private logged = 0;
  private readonly tail: string[] = [];

  constructor(
    private readonly log: (stream: 'stderr' | 'event', message: string) => void,
    private readonly maxLogChars: number,
  ) {}

  write(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      this.append(chunk, start, nl === -1 ? chunk.length : nl);
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** Ends a last line that had no newline. */
  end(): void {
    if (this.open) this.endLine();
  }

  /** The last lines (at most TAIL_LINES, TAIL_CHARS), for a failure's details. */
  tailText(): string {
    return this.tail.join('\n');
  }

  /** The last line, shortened for a failure's message ('' when there was none). */
  lastLine(): string {
    const last = this.tail[this.tail.length - 1] ?? '';
    return last.length > MESSAGE_CHARS ? `${last.slice(0, MESSAGE_CHARS)}…` : last;
  }

  private append(chunk: string, start: number, end: number): void {
    if (end > start) this.open = true;
    const room = Math.max(0, MAX_LINE_CHARS - this.line.length);
    const take = Math.min(room, end - start);
    if (take > 0) this.line += chunk.slice(start, start + take);
    this.dropped += end - start - take;
  }

  private endLine(): void {
    const text = this.dropped > 0 ? `${this.line}… [${this.dropped} more characters]` : this.line;
    this.line = '';
    this.dropped = 0;
    this.open = false;
    this.tail.push(text);
    let chars = this.tail.reduce((n, l) => n + l.length + 1, 0);
    while (this.tail.length > TAIL_LINES || (chars > TAIL_CHARS && this.tail.length > 1)) {
      chars -= this.tail.shift()!.length + 1;
    }
    this.logged += text.length;
    if (this.logged <= this.maxLogChars) this.log('stderr', text);
    else if (this.logged - text.length <= this.maxLogChars)
      this.log('event', `stderr truncated after ${this.maxLogChars} characters`);
  }
}
