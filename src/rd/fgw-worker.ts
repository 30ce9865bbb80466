// The code one FgwPool worker thread runs: it solves FGW problems one at a time for the main thread.
import { parentPort } from 'node:worker_threads';
import { toThreadFailure, type ThreadFailure } from '../threads/index.js';
import { fgwReport } from './fgw-report.js';
import { fgwDistance, type AttributedGraph } from './graph.js';
import type { FgwOptions } from './options.js';
import type { FgwResult } from './result.js';

/** Main thread → worker. */
export interface FgwJob {
  a: AttributedGraph;
  b: AttributedGraph;
  options: FgwOptions;
  /** 'json': reply with the JSON text of the report, so the main thread has nothing to serialise. */
  as: 'result' | 'json';
}

/** Worker → main thread: ready once loaded, then one reply per job. */
export type FgwReply =
  | { kind: 'ready' }
  | { kind: 'done'; result: FgwResult }
  | { kind: 'json'; text: string }
  | ({ kind: 'failed' } & ThreadFailure);

const port = parentPort;
if (port) {
  port.on('message', (job: FgwJob) => {
    let reply: FgwReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const result = fgwDistance(job.a, job.b, job.options);
      if (job.as === 'json') {
        reply = { kind: 'json', text: JSON.stringify(fgwReport(result, job.options)) };
      } else {
        const buffer = result.coupling.data.buffer;
        if (buffer instanceof ArrayBuffer) transfer.push(buffer);
        reply = { kind: 'done', result };
      }
    } catch (error: unknown) {
      reply = { kind: 'failed', ...toThreadFailure(error, 'INTERNAL') };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ kind: 'ready' } satisfies FgwReply);
}
