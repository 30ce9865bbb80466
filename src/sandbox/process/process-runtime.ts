import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { WardenError, type AgentManifest, type Runtime } from '../../core/index.js';
import type { AgentRuntime, PreparedAgent, RunContext, RunOutcome } from '../runner.js';
import { resolveCommand, type ResolvedCommand } from './process-command.js';
import { UsageSampler } from './usage-sampler.js';

/** Only these reach the agent besides the manifest's env and named secrets. */
const BASE_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
const MAX_LOG_BYTES = 64 * 1024;
const SAMPLE_INTERVAL_MS = 50;

/**
 * Runs node, python or any command as a child process: JSON input on stdin, JSON output on stdout, logs on
 * stderr. Its own process group is killed as a whole on timeout, cancel or an exceeded cap; the environment
 * is scrubbed. This is not a security boundary: the hardened bubblewrap sandbox comes with issue 3.
 */
export class ProcessRuntime implements AgentRuntime {
  constructor(readonly name: Extract<Runtime, 'node' | 'python' | 'process'>) {}

  async prepare(manifest: AgentManifest): Promise<PreparedAgent> {
    const command = resolveCommand(manifest);
    const env: Record<string, string> = { ...BASE_ENV, ...manifest.env };
    for (const name of manifest.secrets) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    return { run: (inputJson, ctx) => runProcess(command, env, inputJson, ctx) };
  }

  async digest(manifest: AgentManifest): Promise<string | null> {
    const { codePath } = resolveCommand(manifest);
    if (!codePath) return null;
    return createHash('sha256')
      .update(await readFile(codePath))
      .digest('hex');
  }
}

function runProcess(
  command: ResolvedCommand,
  env: Record<string, string>,
  inputJson: string,
  ctx: RunContext,
): Promise<RunOutcome> {
  const { limits, signal } = ctx;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  const started = performance.now();
  return new Promise<RunOutcome>((resolve, reject) => {
    const child = spawn(command.file, command.args, {
      cwd: command.cwd,
      env: { ...env, WARDEN_TASK_ID: ctx.taskId, WARDEN_ATTEMPT: String(ctx.attempt) },
      detached: true, // its own process group, so one kill reaches every descendant
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let failure: WardenError | undefined;
    const killGroup = (why: WardenError) => {
      failure ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const onAbort = () => killGroup(signal.reason as WardenError);
    signal.addEventListener('abort', onAbort, { once: true });
    const memoryCap = limits.memoryMb * 1024 * 1024;
    const sampler = child.pid
      ? new UsageSampler(child.pid, SAMPLE_INTERVAL_MS, (s) => {
          if (s.rssBytes > memoryCap)
            killGroup(
              new WardenError('MEMORY_LIMIT', `The agent used more than ${limits.memoryMb} MB of memory`),
            );
        })
      : undefined;

    const stdout: Buffer[] = [];
    let outputBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (outputBytes > limits.maxOutputBytes) {
        killGroup(
          new WardenError(
            'OUTPUT_LIMIT',
            `The agent wrote more than ${limits.maxOutputBytes} bytes to stdout`,
          ),
        );
        return;
      }
      stdout.push(chunk);
    });

    let logBytes = 0;
    let partial = '';
    const tail: string[] = [];
    const emitLine = (line: string) => {
      tail.push(line);
      if (tail.length > 5) tail.shift();
      logBytes += line.length;
      if (logBytes <= MAX_LOG_BYTES) ctx.log('stderr', line);
      else if (logBytes - line.length <= MAX_LOG_BYTES)
        ctx.log('event', `stderr truncated after ${MAX_LOG_BYTES} bytes`);
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) emitLine(line);
    });

    child.stdin.on('error', () => {
      // The agent may exit without reading its input; its exit status tells what happened.
    });
    child.stdin.end(inputJson);

    child.on('error', (err) => {
      failure ??= new WardenError('AGENT_CRASHED', `Cannot start ${command.file}: ${err.message}`, {
        cause: err,
      });
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      sampler?.sample();
      sampler?.stop();
      if (partial) emitLine(partial);
      const usage = {
        wallMs: performance.now() - started,
        cpuMs: sampler?.cpuMs ?? 0,
        peakMemoryBytes: sampler?.peakMemoryBytes ?? 0,
        outputBytes,
      };
      if (failure) return reject(failure);
      const stderrTail = tail.join('\n');
      if (sig)
        return reject(
          new WardenError('AGENT_CRASHED', `The agent was killed by ${sig}`, {
            details: { stderr: stderrTail },
          }),
        );
      if (code !== 0) {
        return reject(
          new WardenError(
            'AGENT_FAILED',
            `The agent exited with code ${code}${stderrTail ? `: ${stderrTail}` : ''}`,
            { details: { exitCode: code, stderr: stderrTail } },
          ),
        );
      }
      const text = Buffer.concat(stdout).toString('utf8').trim();
      let value: unknown;
      try {
        value = text === '' ? null : JSON.parse(text);
      } catch {
        return reject(
          new WardenError('INVALID_OUTPUT', `The agent's stdout is not JSON: ${text.slice(0, 200)}`),
        );
      }
      resolve({ outputJson: JSON.stringify(value), usage });
    });
  });
}
