import { WardenError } from '../core/index.js';
import { TRACEPARENT_KEY, TRACESTATE_KEY, parseTraceparent } from '../telemetry/index.js';

/**
 * The task metadata that makes a submitted task join a W3C trace (docs/telemetry.md): `--traceparent`, or
 * else the TRACEPARENT (and TRACESTATE) this process was started with, as a traced agent or CI job passes on.
 * A malformed flag is an error; a malformed variable is ignored, as W3C Trace Context says.
 */
export function traceMetadata(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> | undefined {
  if (flag !== undefined) {
    if (!parseTraceparent(flag))
      throw new WardenError(
        'INVALID_INPUT',
        `--traceparent must be a W3C traceparent such as 00-<32 hex>-<16 hex>-01, got ${JSON.stringify(flag.slice(0, 80))}`,
      );
    return { [TRACEPARENT_KEY]: flag.trim() };
  }
  const inherited = env['TRACEPARENT'];
  if (!inherited || !parseTraceparent(inherited)) return undefined;
  const state = env['TRACESTATE'];
  return { [TRACEPARENT_KEY]: inherited.trim(), ...(state ? { [TRACESTATE_KEY]: state } : {}) };
}
