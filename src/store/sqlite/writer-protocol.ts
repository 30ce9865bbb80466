import type { ThreadFailure } from '../../threads/index.js';

/**
 * The store methods the writer thread runs: every write on the task path (submits, claims, finishes, leases,
 * logs, cancels, dead letters, breakers) and the other writes that append to a provenance chain. Reads stay
 * on the calling thread's own connection (WAL readers never wait for the writer).
 */
export const WRITER_METHODS = [
  'createSession',
  'putAgent',
  'submit',
  'submitAndClaim',
  'claim',
  'finish',
  'renewLeases',
  'reapExpiredLeases',
  'cancel',
  'replayDeadLetter',
  'purgeDeadLetters',
  'resetBreaker',
  'appendLogs',
  'recordGovernance',
  'releaseQuarantined',
  'appendTraceProvenance',
  'recordRollout',
  'putFeedback',
  'signTreeHead',
  'signUnsigned',
] as const;

export type WriterMethod = (typeof WRITER_METHODS)[number];

/** The writer thread's options, as workerData. */
export interface WriterOptions {
  path: string;
  synchronous: 'normal' | 'full';
  signIntervalMs: number;
  witnessDir: string | false;
  /** The tree-head key (PKCS#8 PEM): the writer signs the heads of the chains it extends. */
  signerPem: string;
}

export interface WriterCall {
  id: number;
  method: WriterMethod;
  args: unknown[];
}

export type WriterOutcome = { id: number; value: unknown } | { id: number; error: ThreadFailure };

/** Calls made in one turn of the caller's event loop travel in one message, and their outcomes in one reply. */
export type WriterRequest = { kind: 'calls'; calls: WriterCall[] } | { kind: 'close' };

export type WriterReply =
  | { kind: 'ready' }
  | { kind: 'open-failed'; error: ThreadFailure }
  | { kind: 'outcomes'; outcomes: WriterOutcome[] };
