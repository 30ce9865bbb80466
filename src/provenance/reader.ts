import type { ChainHead, StoredLink } from './chain.js';
import type { StoredResultRow } from './result-check.js';
import type { SignedTreeHead } from './tree-head.js';

/** A task row as verification needs it, with its result row if it has one. */
export interface StoredTaskRow {
  id: string;
  state: string;
  result: StoredResultRow | null;
}

/**
 * A consistent, read-only view of the store for verifying and exporting sessions (the Store port hands one
 * out, on its own connection where it can, so reading a large session never holds up the writers). Reads
 * come in pages, so the caller can give way to the event loop between them.
 */
export interface ChainReader {
  /** The session's stored chain head, null when it has none. */
  chainHead(sessionId: string): MaybePromise<ChainHead | null>;
  /** The session's latest signed tree head in the database, with the frontier stored with it. */
  treeHead(sessionId: string): MaybePromise<{ head: SignedTreeHead; frontier: string } | undefined>;
  /** Up to `limit` links with afterSeq < seq <= uptoSeq, in seq order. */
  links(sessionId: string, afterSeq: number, uptoSeq: number, limit: number): MaybePromise<StoredLink[]>;
  /** Up to `limit` of the session's tasks with an id after `afterId`, in id order. */
  tasks(sessionId: string, afterId: string, limit: number): MaybePromise<StoredTaskRow[]>;
  /** Ends the view (and its transaction). Callers do not wait for it. */
  close(): void;
}

/** The embedded store reads synchronously, a networked one asynchronously: readers may do either. */
export type MaybePromise<T> = T | Promise<T>;
