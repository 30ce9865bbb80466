import type { ChainReader } from './reader.js';

/** One provenance record about a task, as its history lists it. */
export interface TaskHistoryRecord {
  seq: number;
  type: string;
  at: number;
  /** The attempt the record is about (started, attempt_failed, succeeded…); null for the others. */
  attempt: number | null;
  data: Record<string, unknown>;
}

export interface TaskHistory {
  /** The task's records in chain order, from its task.submitted record on. */
  records: TaskHistoryRecord[];
  /** False when the scan stopped at its cap before reaching the task.submitted record. */
  complete: boolean;
  /** How many records of the session were read to find them. */
  scanned: number;
}

export interface TaskHistoryOptions {
  /** Most records of the session to read. @default 20000 */
  maxScan?: number;
  /** Records per read. @default 500 */
  pageSize?: number;
}

/**
 * A task's provenance records. No index maps tasks to records, but a task's records all lie between its
 * task.submitted record and the session head, so the chain is read backwards from the head in pages (seqs
 * run 1..head without gaps) until that record: the cost is the number of records appended to the session
 * since the task was submitted, capped by `maxScan`.
 */
export async function readTaskHistory(
  reader: Pick<ChainReader, 'chainHead' | 'links'>,
  task: { id: string; sessionId: string },
  options: TaskHistoryOptions = {},
): Promise<TaskHistory> {
  const maxScan = options.maxScan ?? 20_000;
  const pageSize = options.pageSize ?? 500;
  const found: TaskHistoryRecord[] = [];
  let upto = (await reader.chainHead(task.sessionId))?.seq ?? 0;
  let scanned = 0;
  while (upto > 0) {
    if (scanned >= maxScan) return { records: found.reverse(), complete: false, scanned };
    const after = Math.max(0, upto - Math.min(pageSize, maxScan - scanned));
    const page = await reader.links(task.sessionId, after, upto, upto - after);
    scanned += page.length;
    for (let i = page.length - 1; i >= 0; i--) {
      const link = page[i]!;
      const r = JSON.parse(link.recordJson) as {
        type: string;
        at: number;
        taskId?: string;
        attempt?: number;
        data?: Record<string, unknown>;
      };
      if (r.taskId !== task.id) continue;
      found.push({ seq: link.seq, type: r.type, at: r.at, attempt: r.attempt ?? null, data: r.data ?? {} });
      if (r.type === 'task.submitted') return { records: found.reverse(), complete: true, scanned };
    }
    upto = after;
  }
  // The start of the chain: nothing older to read.
  return { records: found.reverse(), complete: true, scanned };
}
