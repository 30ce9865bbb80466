import type { Statement } from 'better-sqlite3';
import {
  chainRecord,
  type ChainHead,
  type ProvenanceEvent,
  type SessionTrees,
  type TreeState,
} from '../../provenance/index.js';

/** Told the seq an event was appended at, still inside the transaction (e.g. to write a row that names it). */
export type OnAppended = (seq: number) => void;

/**
 * Collects a transaction's provenance events per session and appends them to each session's chain
 * when the transaction body is done: one head read and one head write per session per batch.
 * The head is read inside the write transaction, so several processes appending to one chain stay linked.
 * With `trees`, each session's Merkle frontier is extended by the same records (O(log n) per batch); the
 * grown trees become current only through committed(), once the transaction has committed.
 * With `agentDigest`, every record that names an agent version also carries that version's registered
 * code digest (`data.agentDigest`), so a record says which code ran, not only which name.
 */
export class ChainWriter {
  private readonly pending = new Map<string, [ProvenanceEvent, OnAppended | undefined][]>();
  private grown: [string, TreeState][] = [];

  constructor(
    private readonly getHead: Statement,
    private readonly insertLink: Statement,
    private readonly putHead: Statement,
    private readonly trees?: SessionTrees,
    private readonly agentDigest?: (agentKey: string) => string | null,
  ) {}

  add(sessionId: string, event: ProvenanceEvent, onAppended?: OnAppended): void {
    const digest = event.agent && this.agentDigest?.(event.agent);
    if (digest) event = { ...event, data: { ...event.data, agentDigest: digest } };
    const list = this.pending.get(sessionId);
    if (list) list.push([event, onAppended]);
    else this.pending.set(sessionId, [[event, onAppended]]);
  }

  flush(): void {
    for (const [sessionId, events] of this.pending) {
      let head = (this.getHead.get(sessionId) as ChainHead | undefined) ?? null;
      const tree = this.trees?.at(sessionId, head);
      for (const [event, onAppended] of events) {
        const link = chainRecord(sessionId, head, event);
        this.insertLink.run(sessionId, link.record.seq, link.record.prevHash, link.hash, link.recordJson);
        onAppended?.(link.record.seq);
        tree?.frontier.append(link.recordJson);
        head = { seq: link.record.seq, hash: link.hash };
      }
      if (head) this.putHead.run(sessionId, head.seq, head.hash);
      if (tree && head) {
        tree.chainHash = head.hash;
        this.grown.push([sessionId, tree]);
      }
    }
    this.pending.clear();
  }

  /** After the transaction committed: installs the grown trees and returns the sessions that grew. */
  committed(): string[] {
    const sessions: string[] = [];
    for (const [sessionId, tree] of this.grown) {
      this.trees?.install(sessionId, tree);
      sessions.push(sessionId);
    }
    this.grown = [];
    return sessions;
  }
}
