import type { AgentHealth } from './runner.js';

/**
 * Runs a health probe and reports it: ok with its latency, or the error's code and message. A probe that
 * answers with its own report (a runtime's health check) is passed through as it is.
 */
export async function timedHealth(
  check: string,
  probe: () => Promise<void | AgentHealth>,
): Promise<AgentHealth> {
  const started = performance.now();
  try {
    return (await probe()) ?? { ok: true, check, latencyMs: round(performance.now() - started) };
  } catch (err) {
    const e = err as Error & { code?: string };
    return {
      ok: false,
      check,
      latencyMs: round(performance.now() - started),
      code: e.code ?? 'INTERNAL',
      message: e.message,
    };
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
