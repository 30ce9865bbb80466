import { badEncoding } from './bytes.js';
import { isNodeId } from './node-id.js';

/** Version 1 envelope header: authenticated as AES-256-GCM additional data and covered by the signature. */
export interface EnvelopeHeader {
  /** Envelope format version. */
  v: 1;
  /** Swarm id; must equal the receiver's registry. */
  swarm: string;
  /** Sender node id, resolved in the receiver's trust registry. */
  from: string;
  /** Recipient node id (pairwise session key); exclusive with `topic`. */
  to?: string;
  /** Topic name (group key derived from the swarm key); exclusive with `to`. */
  topic?: string;
  /** Per-sender monotonic counter. */
  ctr: number;
  /** 12 random bytes, base64url: the AES-GCM IV and a replay nonce. */
  nonce: string;
  /** Sender clock, milliseconds since the epoch. */
  ts: number;
  /** Payload media type or application message type. */
  type: string;
}

export const ENVELOPE_VERSION = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;
/** version byte + 16-bit header length. */
export const FRAME_BYTES = 3;
const MAX_HEADER_BYTES = 0xffff;
const HEADER_KEYS = new Set(['v', 'swarm', 'from', 'to', 'topic', 'ctr', 'nonce', 'ts', 'type']);
const NONCE_TEXT = /^[A-Za-z0-9_-]{16}$/;

/**
 * RFC 8785 canonical JSON of a header, written directly: keys in code-unit order and values that are
 * strings (JSON.stringify escaping is JCS escaping) or safe integers. Tests check it against `canonicalize`.
 */
export function encodeHeader(h: EnvelopeHeader): string {
  const dest = h.to !== undefined ? `"to":${JSON.stringify(h.to)}` : `"topic":${JSON.stringify(h.topic)}`;
  return (
    `{"ctr":${h.ctr},"from":${JSON.stringify(h.from)},"nonce":${JSON.stringify(h.nonce)},` +
    `"swarm":${JSON.stringify(h.swarm)},${dest},"ts":${h.ts},"type":${JSON.stringify(h.type)},"v":${h.v}}`
  );
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** Strictly validates a parsed header object. @throws SWARM_BAD_ENCODING */
export function validateHeader(value: unknown): EnvelopeHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badEncoding('Envelope header is not an object');
  const h = value as Record<string, unknown>;
  for (const key of Object.keys(h))
    if (!HEADER_KEYS.has(key)) throw badEncoding(`Unknown envelope header field ${key}`);
  if (h.v !== ENVELOPE_VERSION) throw badEncoding(`Unsupported envelope version ${String(h.v)}`);
  if (!isText(h.swarm, 128)) throw badEncoding('Envelope swarm id is invalid');
  if (!isNodeId(h.from)) throw badEncoding('Envelope sender id is invalid');
  if ((h.to === undefined) === (h.topic === undefined))
    throw badEncoding('Envelope needs exactly one of to and topic');
  if (h.to !== undefined && !isNodeId(h.to)) throw badEncoding('Envelope recipient id is invalid');
  if (h.topic !== undefined && !isText(h.topic, 256)) throw badEncoding('Envelope topic is invalid');
  if (!Number.isSafeInteger(h.ctr) || (h.ctr as number) < 0) throw badEncoding('Envelope counter is invalid');
  if (typeof h.nonce !== 'string' || !NONCE_TEXT.test(h.nonce))
    throw badEncoding('Envelope nonce is invalid');
  if (!Number.isSafeInteger(h.ts) || (h.ts as number) < 0) throw badEncoding('Envelope timestamp is invalid');
  if (!isText(h.type, 128)) throw badEncoding('Envelope payload type is invalid');
  return h as unknown as EnvelopeHeader;
}

export interface ParsedEnvelope {
  header: EnvelopeHeader;
  /** Exact header bytes received (the GCM additional data). */
  headerBytes: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  sealed: Buffer;
  /** Everything before the signature: what the signature covers. */
  signed: Buffer;
  signature: Buffer;
}

/**
 * Splits `0x01 | u16 header length | header | ciphertext | tag | signature` and checks the header
 * is valid canonical JSON. @throws SWARM_BAD_ENCODING
 */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < FRAME_BYTES + 2 + TAG_BYTES + SIGNATURE_BYTES) throw badEncoding('Envelope is too short');
  if (buf[0] !== ENVELOPE_VERSION) throw badEncoding(`Unsupported envelope format ${buf[0] ?? 'none'}`);
  const headerLength = buf.readUInt16BE(1);
  const headerEnd = FRAME_BYTES + headerLength;
  const signedEnd = buf.length - SIGNATURE_BYTES;
  if (headerEnd + TAG_BYTES > signedEnd) throw badEncoding('Envelope header length is out of range');
  const headerBytes = buf.subarray(FRAME_BYTES, headerEnd);
  const text = headerBytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badEncoding('Envelope header is not JSON');
  }
  const header = validateHeader(parsed);
  if (!headerBytes.equals(Buffer.from(encodeHeader(header), 'utf8')))
    throw badEncoding('Envelope header is not canonical JSON');
  return {
    header,
    headerBytes,
    sealed: buf.subarray(headerEnd, signedEnd),
    signed: buf.subarray(0, signedEnd),
    signature: buf.subarray(signedEnd),
  };
}

export function headerTooLarge(length: number): boolean {
  return length > MAX_HEADER_BYTES;
}
