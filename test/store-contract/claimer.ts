import type { ClaimedTask, Finish, Store } from '../../src/store/index.js';

/**
 * A worker loop on the Store port alone: claims (limit `batch`), "runs" each task for a moment, finishes it
 * as succeeded and claims the next in the same transaction, until the queue is empty and nothing runs.
 * Returns the ids it claimed, in order. Used in-process and by the child-process fixture.
 */
export async function claimUntilDrained(
  store: Store,
  options: { owner: string; runnable: string[]; batch: number; workMs: number },
): Promise<{ claimed: string[]; emptyClaims: number }> {
  const claimed: string[] = [];
  let emptyClaims = 0;
  const base = { owner: options.owner, leaseMs: 60_000, runnable: options.runnable, held: [], probing: [] };
  let batch = (await store.claim({ ...base, now: Date.now(), limit: options.batch })).claimed;
  for (;;) {
    if (batch.length === 0) {
      emptyClaims++;
      const { byState } = await store.stats({ light: true });
      if (!byState['queued'] && !byState['running']) return { claimed, emptyClaims };
      await sleep(2 + Math.random() * 5);
      batch = (await store.claim({ ...base, now: Date.now(), limit: options.batch })).claimed;
      continue;
    }
    for (const c of batch) claimed.push(c.id);
    if (options.workMs > 0) await sleep(Math.random() * options.workMs);
    const now = Date.now();
    const out = await store.finish(
      batch.map((c) => done(c, options.owner, now)),
      [],
      { ...base, now, limit: options.batch },
    );
    if (out.applied.some((a) => !a))
      throw new Error(`${options.owner}: a finish of its own lease was refused`);
    batch = out.next?.claimed ?? [];
  }
}

function done(c: ClaimedTask, owner: string, now: number): Finish {
  return {
    kind: 'succeeded',
    taskId: c.id,
    sessionId: c.sessionId,
    agentKey: c.agentKey,
    owner,
    attempt: c.attempt,
    now,
    usage: null,
    outputJson: 'null',
    outputDigest: '74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b',
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
