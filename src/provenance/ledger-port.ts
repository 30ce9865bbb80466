import type { ChainVerification, StoredLink } from './chain.js';
import type { ChainReader } from './reader.js';
import type { SignedTreeHead } from './tree-head.js';

/** A trace: a JSON document (e.g. an agent's reasoning) stored in a session and recorded in its chain. */
export interface TraceRecord {
  id: string;
  sessionId: string;
  taskId: string | null;
  data: unknown;
  digest: string;
  createdAt: number;
}

/** A trace without its document, as lists return it. */
export type TraceSummary = Omit<TraceRecord, 'data'>;

export interface TraceFilter {
  sessionId?: string;
  /** Only traces in this tenant's sessions. */
  tenant?: string;
  taskId?: string;
  /** Only traces created before this one (keyset pagination, newest first). */
  before?: { createdAt: number; id: string };
  limit: number;
}

/**
 * The ledger port: what provenance (verify, export) and the trace API need from a store. Sessions' hash
 * chains, their signed tree heads and the witness outside the database, and traces recorded in the chains.
 * The store signs with the node key it was handed; the public half is the signer's, not the store's.
 */
export interface LedgerPort {
  readChain(sessionId: string): Promise<StoredLink[]>;
  /**
   * Verifies a session end to end (see verifyStoredSession): the chain, its latest signed tree head, the
   * witness outside the database, and every task's result row against its records. Reads a snapshot in
   * pages and gives way to the event loop between them.
   */
  verifyChain(sessionId: string): Promise<ChainVerification>;
  /** A consistent read-only view for verifying and exporting; close it when done. */
  openChainReader(): Promise<ChainReader>;
  /** The latest head of every session that the witness outside the database holds (none without one). */
  witnessedHeads(): Promise<SignedTreeHead[]>;
  /** The session's latest signed tree head: signed after commits, at most once per sign interval. */
  latestTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;
  /** Signs the session's tree at its current chain head now, stores it and returns it (undefined: no records). */
  signTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;

  /** Stores a trace and records it in its session's provenance chain. */
  createTrace(trace: Omit<TraceRecord, 'data'> & { dataJson: string }): Promise<TraceRecord>;
  getTrace(id: string): Promise<TraceRecord | undefined>;
  /** Traces newest first, without their documents. */
  listTraces(filter: TraceFilter): Promise<TraceSummary[]>;
  /** The records of the trace's session chain that are about the trace (created, provenance), in order. */
  readTraceProvenance(sessionId: string, traceId: string): Promise<StoredLink[]>;
  /** Appends a caller-provided provenance record about a trace to its session's chain; returns its seq and hash. */
  appendTraceProvenance(
    traceId: string,
    event: { kind: string; data: Record<string, unknown> },
    now: number,
  ): Promise<{ seq: number; hash: string }>;
}
