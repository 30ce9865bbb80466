import type { Statement } from 'better-sqlite3';
import { chainRecord, type ChainHead, type ProvenanceEvent } from '../../provenance/index.js';

/**
 * Collects a transaction's provenance events per session and appends them to each session's chain
 * when the transaction body is done: one head read and one head write per session per batch.
 * The head is read inside the write transaction, so several processes appending to one chain stay linked.
 */
export class ChainWriter {
  private readonly pending = new Map<string, ProvenanceEvent[]>();

  constructor(
    private readonly getHead: Statement,
    private readonly insertLink: Statement,
    private readonly putHead: Statement,
  ) {}

  add(sessionId: string, event: ProvenanceEvent): void {
    const list = this.pending.get(sessionId);
    if (list) list.push(event);
    else this.pending.set(sessionId, [event]);
  }

  flush(): void {
    for (const [sessionId, events] of this.pending) {
      let head = (this.getHead.get(sessionId) as ChainHead | undefined) ?? null;
      for (const event of events) {
        const link = chainRecord(sessionId, head, event);
        this.insertLink.run(sessionId, link.record.seq, link.record.prevHash, link.hash, link.recordJson);
        head = { seq: link.record.seq, hash: link.hash };
      }
      if (head) this.putHead.run(sessionId, head.seq, head.hash);
    }
    this.pending.clear();
  }
}
