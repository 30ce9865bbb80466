/** A signed document as the swarm layer makes them: a JSON body and a signature over its canonical bytes. */
export interface SignedBody {
  body: Record<string, unknown>;
  signature: string;
}

/**
 * What an edge node returns beside a task's output: its receipt (agent@version, module digest, input and
 * output digests, timing; signed by the node) and the node's self-signed registration, whose keys verify the
 * receipt offline. Stored in the session's provenance chain as a `task.receipt` record.
 */
export interface TaskReceipt {
  nodeId: string;
  registration: SignedBody;
  receipt: SignedBody;
}
