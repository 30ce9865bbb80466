// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a task carries from its submit to
// every attempt, in whichever process runs it. Pure: no OpenTelemetry package is loaded to read or write one.

/** The parts of a `traceparent` header. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  flags: number;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Reads a `traceparent` value; undefined when it is not one (as the specification says, an invalid header
 * is ignored and a new trace starts, it is not an error). Version ff is invalid; a future version may carry
 * more fields after the flags.
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.traceId
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  // version-traceid-spanid-flags[-more]: read by position (it is on every claim of a traced task).
  const v = value.trim();
  if (v.length < 55 || !isHex(v, 0, 2) || v.charCodeAt(2) !== DASH) return undefined;
  if (!isHex(v, 3, 35) || v.charCodeAt(35) !== DASH || !isHex(v, 36, 52) || v.charCodeAt(52) !== DASH)
    return undefined;
  if (!isHex(v, 53, 55)) return undefined;
  const version = v.slice(0, 2);
  if (v.length > 55) {
    // A future version's further fields: '-' and then anything on the same line.
    if (version === '00' || v.charCodeAt(55) !== DASH || LINE_BREAK.test(v)) return undefined;
  }
  if (version === 'ff') return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: parseInt(v.slice(53, 55), 16) };
}

const DASH = 45;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** Whether s[from, to) is lowercase hex. */
function isHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The `traceparent` value (version 00) of a span. */
export function formatTraceparent(p: TraceParent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The metadata keys a task's trace context is kept under (what the submit span's children are parented to). */
export const TRACEPARENT_KEY = 'traceparent';
export const TRACESTATE_KEY = 'tracestate';
