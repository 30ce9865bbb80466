// LLM runtime figures (runtime: llm), against test/llm/fake-provider.ts run in its own process (a real
// provider is remote: its work should not share Warden's event loop):
//  1. per-task overhead: p50/p99 of submit -> result for a short streamed completion (8 tokens), against
//     a minimal node:http keep-alive client doing the same streamed request; overhead = warden - direct p50.
//  2. streaming throughput: one 20,000-token completion, tokens/s as received by the direct client vs as
//     Warden `token` events.
//  3. a local tiny GGUF model (scripts/build-tiny-gguf.ts) through node-llama-cpp: tokens/s and first token.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildTinyGguf } from '../scripts/build-tiny-gguf.js';
import { Warden, type TaskResult } from '../src/index.js';
import type { Step } from '../test/llm/fake-provider.js';

const WARMUP = 50;
const SAMPLES = 500;
/** The fake provider echoes the user message word by word: this input is an 8-token completion. */
const WORDS = 'one two three four five six seven eight';
const STREAM_TOKENS = 20_000;
const STREAM_ROUNDS = 5;
const LOCAL_RUNS = 5;

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

const log = (message: string) => process.stderr.write(`llm.bench: ${message}\n`);

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const median = (samples: number[]) => quantile(samples, 0.5);

// ---- the fake provider, in a child process ----------------------------------------------------------

interface FakeChild {
  url: string;
  openaiBase: string;
  script(...steps: Step[]): Promise<void>;
  close(): Promise<void>;
}

async function startFakeChild(): Promise<FakeChild> {
  const module = new URL('../test/llm/fake-provider.ts', import.meta.url).href;
  const code = `
    const { startFakeProvider } = await import(${JSON.stringify(module)});
    const fake = await startFakeProvider();
    process.on('disconnect', () => process.exit(0));
    process.on('message', async (m) => {
      if (m.script) {
        fake.script(...m.script);
        fake.requests.length = 0;
        process.send({ ok: true });
      } else if (m.close) {
        await fake.close();
        process.send({ ok: true }, () => process.exit(0));
      }
    });
    process.send({ url: fake.url, openaiBase: fake.openaiBase });
  `;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code],
    // From the repository root, where `--import tsx` resolves.
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: new URL('..', import.meta.url).pathname },
  );
  const next = () =>
    new Promise<Record<string, string>>((resolve, reject) => {
      const onExit = (status: number | null) => reject(new Error(`fake provider exited (${status})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as Record<string, string>);
      });
    });
  const hello = await next();
  return {
    url: hello['url']!,
    openaiBase: hello['openaiBase']!,
    script: async (...steps) => {
      const reply = next();
      child.send({ script: steps });
      await reply;
    },
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ close: true });
      await exited;
    },
  };
}

// ---- the direct client ----------------------------------------------------------------------------

const directAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * A minimal streamed Chat Completions call: POST with stream: true, parse the SSE events up to
 * `data: [DONE]` (JSON-decoding each chunk, as any client must), resolve with the number of content tokens
 * when the body ends.
 */
function directCompletion(base: URL, user: string): Promise<number> {
  const body = JSON.stringify({
    model: 'fake-model',
    messages: [{ role: 'user', content: user }],
    stream: true,
    stream_options: { include_usage: true },
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: directAgent,
        host: base.hostname,
        port: base.port,
        path: `${base.pathname}/chat/completions`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: 'Bearer k',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        res.setEncoding('utf8');
        let buffer = '';
        let tokens = 0;
        let done = false;
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let from = 0;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n', from)) {
            const event = buffer.slice(from, end);
            from = end + 2;
            if (!event.startsWith('data: ')) continue;
            const data = event.slice(6);
            if (data === '[DONE]') {
              done = true;
              continue;
            }
            const parsed = JSON.parse(data) as { choices?: { delta?: { content?: string } }[] };
            if (parsed.choices?.[0]?.delta?.content) tokens++;
          }
          buffer = buffer.slice(from);
        });
        res.on('end', () =>
          res.statusCode === 200 && done
            ? resolve(tokens)
            : reject(new Error(`direct: status ${res.statusCode}, done ${done}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- Warden ----------------------------------------------------------------------------------------

function writeAgent(dir: string, name: string, model: Record<string, unknown>, extra: string[] = []): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'apiVersion: warden.dev/v1',
      'kind: Agent',
      `metadata: { name: ${name}, version: 1.0.0 }`,
      'spec:',
      '  runtime: llm',
      `  model: ${JSON.stringify(model)}`,
      '  prompt: { user: "{{input.text}}" }',
      '  retry: { maxAttempts: 1 }',
      '  resources: { maxOutputBytes: 16777216, timeoutMs: 60000 }',
      ...extra,
    ].join('\n'),
  );
  return path;
}

async function run(warden: Warden, agent: string, input: unknown): Promise<TaskResult> {
  const task = await warden.submit({ agent, input });
  const result = await warden.result(task.id, { timeoutMs: 60_000 });
  if (result?.status !== 'succeeded')
    throw new Error(`${agent}: ${result?.status ?? 'no result'} ${JSON.stringify(result?.error ?? null)}`);
  return result;
}

// ---- the figures ------------------------------------------------------------------------------------

async function overhead(warden: Warden, base: URL): Promise<void> {
  // Diagnostic only: an inline no-op handler on the same Warden, what the durable scheduler costs alone.
  await warden.registerHandler('noop', () => null);
  const direct: number[] = [];
  const via: number[] = [];
  const noop: number[] = [];
  // Interleave them so that drift (GC, JIT, WAL checkpoints, other load) lands on each equally.
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    let t = performance.now();
    const tokens = await directCompletion(base, WORDS);
    const d = performance.now() - t;
    if (tokens !== 8) throw new Error(`direct: expected 8 tokens, got ${tokens}`);
    t = performance.now();
    const r = await run(warden, 'chat', { text: WORDS });
    const w = performance.now() - t;
    if (r.usage?.llm?.completionTokens !== 8) throw new Error('via warden: expected 8 completion tokens');
    t = performance.now();
    await run(warden, 'noop', { i });
    const n = performance.now() - t;
    if (i >= WARMUP) {
      direct.push(d);
      via.push(w);
      noop.push(n);
    }
  }
  const extra = { samples: SAMPLES, completionTokens: 8 };
  const dp50 = median(direct);
  const wp50 = median(via);
  emit('llm task latency direct p50', dp50, 'ms', extra);
  emit('llm task latency direct p99', quantile(direct, 0.99), 'ms', extra);
  emit('llm task latency via warden p50', wp50, 'ms', extra);
  emit('llm task latency via warden p99', quantile(via, 0.99), 'ms', extra);
  emit('llm task overhead p50', wp50 - dp50, 'ms', { ...extra, target: 2 });
  const np50 = median(noop);
  log(
    `overhead p50 ${(wp50 - dp50).toFixed(3)} ms, of which the scheduler alone (inline no-op handler, ` +
      `submit -> result p50) ${np50.toFixed(3)} ms and the llm runtime + governance ${(wp50 - dp50 - np50).toFixed(3)} ms`,
  );
}

async function streaming(warden: Warden, fake: FakeChild, base: URL): Promise<void> {
  const tokens = Array.from({ length: STREAM_TOKENS }, (_, i) => `w${i % 1000} `);
  const step: Step = {
    kind: 'complete',
    tokens,
    usage: { prompt: 1, completion: STREAM_TOKENS },
  };
  let received = 0;
  let lastToken = 0;
  const onToken = () => {
    received++;
    lastToken = performance.now();
  };
  warden.scheduler.events.on('token', onToken);
  const direct: number[] = [];
  const via: number[] = [];
  const tail: number[] = [];
  for (let round = 0; round < STREAM_ROUNDS; round++) {
    await fake.script(step);
    let t = performance.now();
    const got = await directCompletion(base, 'x');
    direct.push((got / (performance.now() - t)) * 1000);
    if (got !== STREAM_TOKENS) throw new Error(`direct: expected ${STREAM_TOKENS} tokens, got ${got}`);

    await fake.script(step);
    received = 0;
    t = performance.now();
    const r = await run(warden, 'chat', { text: 'x' });
    const end = performance.now();
    via.push((received / (end - t)) * 1000);
    tail.push(end - lastToken);
    if (received !== STREAM_TOKENS)
      throw new Error(`via warden: expected ${STREAM_TOKENS} token events, got ${received}`);
    if ((r.output as { text: string }).text !== tokens.join('')) throw new Error('via warden: text differs');
  }
  warden.scheduler.events.off('token', onToken);
  const d = median(direct);
  const w = median(via);
  const extra = { tokens: STREAM_TOKENS, rounds: STREAM_ROUNDS };
  emit('llm streaming direct', d, 'tokens/s', extra);
  emit('llm streaming via warden', w, 'tokens/s', extra);
  emit('llm streaming warden/direct', w / d, 'x', extra);
  log(
    `streaming via warden: ${median(tail).toFixed(1)} ms of each task's ${((STREAM_TOKENS / w) * 1000).toFixed(1)} ms ` +
      'come after the last token event (output screening, result commit)',
  );
}

async function localModel(warden: Warden, dir: string): Promise<void> {
  const t0 = performance.now();
  buildTinyGguf(join(dir, 'tiny.gguf'));
  await warden.registerAgent({
    path: writeAgent(dir, 'tiny', {
      provider: 'llama',
      model: './tiny.gguf',
      contextSize: 256,
      maxTokens: 64,
      temperature: 0,
    }),
  });
  // The first task loads the binding and the model.
  await run(warden, 'tiny', { text: 'the cat sat on the mat' });
  log(`tiny GGUF built, loaded and warmed up in ${(performance.now() - t0).toFixed(0)} ms`);
  const rates: number[] = [];
  const firsts: number[] = [];
  for (let i = 0; i < LOCAL_RUNS; i++) {
    const t = performance.now();
    const r = await run(warden, 'tiny', { text: 'the cat sat on the mat' });
    const ms = performance.now() - t;
    const llm = r.usage?.llm;
    if (!llm?.completionTokens) throw new Error('tiny: no completion tokens');
    rates.push((llm.completionTokens / ms) * 1000);
    if (llm.timeToFirstTokenMs !== null) firsts.push(llm.timeToFirstTokenMs);
  }
  emit('llm local tiny-gguf tokens/s', median(rates), 'tokens/s', { runs: LOCAL_RUNS, maxTokens: 64 });
  if (firsts.length) emit('llm local tiny-gguf first token', median(firsts), 'ms', { runs: LOCAL_RUNS });
}

const started = performance.now();
const root = mkdtempSync(join(tmpdir(), 'warden-llm-bench-'));
const fake = await startFakeChild();
let warden: Warden | undefined;
try {
  const base = new URL(fake.openaiBase);
  warden = await Warden.open({ storage: { root: join(root, 'data') }, llm: { env: { FAKE_KEY: 'k' } } });
  await warden.registerAgent({
    path: writeAgent(root, 'chat', {
      provider: 'openai',
      model: 'fake-model',
      baseUrl: fake.openaiBase,
      apiKeyEnv: 'FAKE_KEY',
    }),
  });
  await overhead(warden, base);
  await streaming(warden, fake, base);
  await localModel(warden, root);
} finally {
  directAgent.destroy();
  await warden?.close();
  await fake.close();
  rmSync(root, { recursive: true, force: true });
}
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
