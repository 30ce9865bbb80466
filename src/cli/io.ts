import { readFile } from 'node:fs/promises';
import { WardenError, type TaskResult } from '../core/index.js';

/** Parses --input: inline JSON, or @path to a JSON file, or @- for standard input. */
export async function readInput(value: string | undefined): Promise<unknown> {
  if (value === undefined) return null;
  let text = value;
  let source = '--input';
  if (value.startsWith('@')) {
    const path = value.slice(1);
    source = path === '-' ? 'standard input' : path;
    try {
      text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
    } catch (cause) {
      throw new WardenError(
        'FILE_NOT_FOUND',
        `Cannot read input file ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
        { cause },
      );
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new WardenError(
      'INVALID_JSON',
      `${source} is not valid JSON (${(cause as Error).message}). Example: --input '{"text":"hello"}'`,
      { cause },
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parseIntOption(name: string, range?: { min: number; max: number }) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new WardenError('INVALID_INPUT', `${name} must be a non-negative integer, got ${value}`);
    if (range && (n < range.min || n > range.max))
      throw new WardenError(
        'INVALID_INPUT',
        `${name} must be from ${range.min} to ${range.max}, got ${value}`,
      );
    return n;
  };
}

/** A list's page size: what the API takes (1 to 1000). */
export const LIMIT_RANGE = { min: 1, max: 1000 };

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatResult(r: TaskResult): string {
  const lines = [`status:   ${r.status}`, `attempts: ${r.attempts}`];
  if (r.status === 'succeeded') lines.push(`output:   ${JSON.stringify(r.output)}`);
  if (r.error) lines.push(`error:    [${r.error.code}] ${r.error.message}`);
  if (r.usage) {
    const u = r.usage;
    lines.push(
      `usage:    wall ${u.wallMs.toFixed(1)} ms, cpu ${u.cpuMs.toFixed(0)} ms, peak memory ${(u.peakMemoryBytes / 1048576).toFixed(1)} MB, output ${u.outputBytes} B`,
    );
    if (u.llm) {
      const l = u.llm;
      const n = (v: number | null) => (v === null ? '?' : String(v));
      lines.push(
        `model:    ${l.provider} ${l.model}: ${n(l.promptTokens)} prompt + ${n(l.completionTokens)} completion tokens` +
          (l.timeToFirstTokenMs !== null ? `, first token ${l.timeToFirstTokenMs} ms` : '') +
          (l.costUsd !== null ? `, $${l.costUsd.toFixed(6)}` : '') +
          (l.finishReason ? `, finish ${l.finishReason}` : ''),
      );
    }
  }
  return lines.join('\n');
}

/** A one-line spinner on stderr while waiting, only when stderr is a terminal. */
export class Progress {
  private readonly frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  private timer: NodeJS.Timeout | undefined;
  private text = '';
  private readonly started = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);

  start(text: string): void {
    this.text = text;
    if (!this.tty) return;
    let i = 0;
    this.timer = setInterval(() => {
      const secs = ((Date.now() - this.started) / 1000).toFixed(1);
      process.stderr.write(`\r${this.frames[i++ % this.frames.length]} ${this.text} ${secs}s\x1b[K`);
    }, 80);
  }

  update(text: string): void {
    this.text = text;
  }

  /** A line that stays (an event), printed above the spinner. */
  note(line: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[K${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
