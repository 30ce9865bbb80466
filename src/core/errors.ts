/**
 * One registry of coded errors. Every failure Warden reports carries a stable `code` from this table,
 * an HTTP status for the API, and whether retrying the same operation can succeed.
 * A retired code is never reused: add new ones at the end of their area.
 */
export const ERROR_CODES = {
  // Input and manifests
  INVALID_MANIFEST: {
    status: 400,
    retryable: false,
    doc: 'agent.yaml failed validation; details list each field.',
  },
  INVALID_INPUT: { status: 400, retryable: false, doc: 'Task input or options failed validation.' },
  INVALID_JSON: { status: 400, retryable: false, doc: 'A value that must be JSON could not be parsed.' },
  INPUT_TOO_LARGE: { status: 413, retryable: false, doc: 'Task input exceeds the configured size limit.' },
  FILE_NOT_FOUND: {
    status: 404,
    retryable: false,
    doc: 'A file named on the command line or in a manifest does not exist.',
  },
  // Registry and lookup
  SESSION_NOT_FOUND: { status: 404, retryable: false, doc: 'No session with that name or id.' },
  AGENT_NOT_FOUND: {
    status: 404,
    retryable: false,
    doc: 'No registered agent matches the name, version or capability.',
  },
  TASK_NOT_FOUND: { status: 404, retryable: false, doc: 'No task with that id.' },
  AGENT_VERSION_CONFLICT: {
    status: 409,
    retryable: false,
    doc: 'An agent with this name and version is already registered with a different manifest or code, or its code changed after registration: versions are immutable, bump metadata.version.',
  },
  INVALID_STATE: {
    status: 409,
    retryable: false,
    doc: 'The operation does not apply to the task in its current state.',
  },
  AGENT_CODE_UNAVAILABLE: {
    status: 409,
    retryable: false,
    doc: 'This worker cannot find the code of an agent version: it is not at its registered path here and the database holds no copy (code over the size cap, such as local model weights, must be present at the same path on every worker).',
  },
  // Execution
  DEADLINE_EXCEEDED: {
    status: 408,
    retryable: false,
    doc: 'The task reached its deadline before it could finish.',
  },
  TIMEOUT: {
    status: 504,
    retryable: true,
    doc: 'The agent ran longer than resources.timeoutMs and was killed.',
  },
  OUTPUT_LIMIT: { status: 507, retryable: false, doc: 'The agent wrote more than resources.maxOutputBytes.' },
  MEMORY_LIMIT: { status: 507, retryable: false, doc: 'The agent exceeded resources.memoryMb.' },
  INVALID_OUTPUT: {
    status: 502,
    retryable: true,
    doc: 'The agent produced output that is not valid JSON or fails its schema.',
  },
  AGENT_FAILED: { status: 502, retryable: true, doc: 'The agent exited with an error.' },
  AGENT_CRASHED: {
    status: 502,
    retryable: true,
    doc: 'The agent process died from a signal or could not start.',
  },
  CANCELLED: { status: 409, retryable: false, doc: 'The task was cancelled.' },
  LEASE_EXPIRED: {
    status: 503,
    retryable: true,
    doc: 'The worker running the task stopped renewing its lease (it probably died).',
  },
  CIRCUIT_OPEN: {
    status: 503,
    retryable: true,
    doc: 'The agent version has failed repeatedly; its circuit breaker is open.',
  },
  RUNTIME_UNAVAILABLE: {
    status: 501,
    retryable: false,
    doc: 'The manifest names a runtime this build or machine cannot run.',
  },
  HANDLER_NOT_REGISTERED: {
    status: 500,
    retryable: true,
    doc: 'An inline agent has no handler registered in this process.',
  },
  // Storage and integrity
  STORAGE_ERROR: { status: 500, retryable: true, doc: 'The store failed; the operation was rolled back.' },
  PROVENANCE_BROKEN: { status: 500, retryable: false, doc: 'A provenance chain failed verification.' },
  SCHEMA_TOO_NEW: {
    status: 500,
    retryable: false,
    doc: 'The database was migrated by a newer Warden than this one; upgrade this process (never downgrade a schema).',
  },
  STORAGE_CONFIG_INVALID: {
    status: 500,
    retryable: false,
    doc: 'The storage settings are wrong: an unknown STORAGE_BACKEND, or postgres without a database URL.',
  },
  SCHEMA_BEHIND: {
    status: 503,
    retryable: false,
    doc: 'The database schema is older than this build and auto-migration is off: run `warden migrate`.',
  },
  CLOSED: { status: 503, retryable: false, doc: 'Warden is closed or shutting down.' },
  INTERNAL: { status: 500, retryable: false, doc: 'An unexpected internal error; please report it.' },
  // HTTP API
  UNAUTHORIZED: {
    status: 401,
    retryable: false,
    doc: 'No API key, or an unknown or revoked one: send Authorization: Bearer <key>.',
  },
  FORBIDDEN: { status: 403, retryable: false, doc: "The API key's role does not allow this operation." },
  NOT_FOUND: { status: 404, retryable: false, doc: 'No such route or resource.' },
  RATE_LIMITED: {
    status: 429,
    retryable: true,
    doc: 'Too many requests for this API key; retry after the Retry-After header.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    retryable: false,
    doc: 'The request body is larger than the server accepts.',
  },
  TRACE_NOT_FOUND: { status: 404, retryable: false, doc: 'No trace with that id.' },
  PORT_IN_USE: {
    status: 503,
    retryable: true,
    doc: 'warden serve cannot listen: another process already uses that address; stop it or pick another with --bind host:port (or BIND_ADDRESS).',
  },
  UI_NOT_BUILT: {
    status: 503,
    retryable: false,
    doc: 'The dashboard bundle (dist/ui) is missing from this installation: run `npm run build:ui` in the Warden checkout, or set WARDEN_UI_DIR to a built copy.',
  },
  SERVER_UNREACHABLE: {
    status: 503,
    retryable: true,
    doc: 'The client (WardenClient, `warden --server`) could not reach the Warden server, or the connection broke before an answer: check the URL (--server / WARDEN_SERVER), the network and TLS.',
  },
  REQUEST_TIMEOUT: {
    status: 504,
    retryable: true,
    doc: "The client's request to the Warden server took longer than its timeoutMs; the server may still have acted on it.",
  },
  // Rate-distortion
  RD_INVALID_GRAPH: {
    status: 400,
    retryable: false,
    doc: 'An FGW input graph is invalid: structure matrix not square, not symmetric or not finite, or features/costs of the wrong shape.',
  },
  RD_INVALID_WEIGHTS: {
    status: 400,
    retryable: false,
    doc: 'FGW node weights are negative, not finite, of the wrong length or do not sum to 1.',
  },
  RD_INVALID_POINTS: {
    status: 400,
    retryable: false,
    doc: 'Rate-distortion points are invalid: too few, not finite, non-positive distortion or variance, or no x range.',
  },
  RD_INVALID_OPTIONS: { status: 400, retryable: false, doc: 'An FGW or knee option is out of range.' },
  RD_BUDGET_EXCEEDED: {
    status: 422,
    retryable: false,
    doc: "An FGW computation passed the server's time or memory budget and was stopped; use a larger epsilon, a lower maxIter or smaller graphs, or run `warden rd fgw` locally.",
  },
  RD_BUSY: {
    status: 503,
    retryable: true,
    doc: 'Every rate-distortion worker is busy and the wait queue is full; retry after the Retry-After header.',
  },
  // Swarm
  SWARM_BAD_ENCODING: {
    status: 400,
    retryable: false,
    doc: 'A swarm key, signature, envelope, identity file or signed document is malformed or uses an unknown version.',
  },
  SWARM_BAD_SIGNATURE: {
    status: 401,
    retryable: false,
    doc: 'A swarm signature (Ed25519, or either half of a hybrid) did not verify.',
  },
  SWARM_DECRYPT_FAILED: {
    status: 400,
    retryable: false,
    doc: 'AES-256-GCM decryption failed: wrong session/topic key, corrupted ciphertext, or a wrong identity passphrase.',
  },
  SWARM_REPLAY: {
    status: 409,
    retryable: false,
    doc: 'An envelope counter or nonce from this sender was already accepted.',
  },
  SWARM_REORDERED: {
    status: 409,
    retryable: false,
    doc: "An envelope counter is behind the sender's replay window.",
  },
  SWARM_STALE: {
    status: 400,
    retryable: false,
    doc: 'An envelope or registration timestamp is older than the accepted age.',
  },
  SWARM_FUTURE: {
    status: 400,
    retryable: false,
    doc: 'An envelope or registration timestamp is beyond the allowed clock skew.',
  },
  SWARM_UNKNOWN_SENDER: { status: 401, retryable: false, doc: 'The node id is not in the trust registry.' },
  SWARM_REVOKED: { status: 403, retryable: false, doc: 'The node has been revoked from the trust registry.' },
  // Edge nodes
  EDGE_PROTOCOL: {
    status: 400,
    retryable: false,
    doc: 'An edge node or control plane sent a frame that is not part of the edge protocol; the connection is closed.',
  },
  EDGE_INVITE_INVALID: {
    status: 403,
    retryable: false,
    doc: 'The edge invite is unknown, expired, already used, or was issued by another control plane: ask an admin for a new one (`warden edge invite`).',
  },
  EDGE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    doc: 'The task must run on an edge node (placement edge: required) and no connected edge can take it, or its edge disconnected mid-run; it is retried.',
  },
  EDGE_RECEIPT_INVALID: {
    status: 502,
    retryable: true,
    doc: "An edge node's result came with a receipt that does not verify or does not match the task; the result is refused.",
  },
  EDGE_NODE_NOT_FOUND: { status: 404, retryable: false, doc: 'No edge node has that id.' },
  SWARM_NOT_ADMITTED: {
    status: 403,
    retryable: false,
    doc: 'A registration has no valid admin invite and is not on the allow-list, or is for another swarm.',
  },
  SWARM_MISDIRECTED: {
    status: 400,
    retryable: false,
    doc: 'An envelope or receipt is for another swarm or node, or names a topic this node has no key for.',
  },
  SWARM_INSECURE_KEY_FILE: {
    status: 400,
    retryable: false,
    doc: 'An unencrypted identity file is readable by group or others; chmod 600 it or encrypt it.',
  },
  SWARM_KEY_MISMATCH: {
    status: 409,
    retryable: false,
    doc: "A registration or rotation names keys other than the node's current registered keys (keys change only through a rotation signed by every old and every new key), or the rotation was already superseded.",
  },
  SWARM_DOWNGRADE: {
    status: 403,
    retryable: false,
    doc: "A registration or rotation would drop a hybrid node's ML-DSA-65 key; a hybrid node stays hybrid.",
  },
  // Sandbox
  SANDBOX_UNAVAILABLE: {
    status: 501,
    retryable: false,
    doc: 'The process sandbox (bubblewrap with user namespaces) is missing or does not work here; install it (apt-get install -y bubblewrap) or opt out with --unsafe-no-sandbox.',
  },
  PROCESS_LIMIT: {
    status: 507,
    retryable: false,
    doc: 'The agent started more processes than its sandbox allows (fork bomb guard); the whole sandbox was killed.',
  },
  FILE_LIMIT: {
    status: 507,
    retryable: false,
    doc: 'The agent wrote a file larger than its sandbox allows (RLIMIT_FSIZE).',
  },
  NETWORK_DENIED: {
    status: 403,
    retryable: false,
    doc: 'The agent failed after the egress proxy refused a connection to a host:port not in spec.network.allow.',
  },
  SANDBOX_MOUNT_REFUSED: {
    status: 403,
    retryable: false,
    doc: "A directory the agent needs cannot be mounted into its sandbox: the sandbox user (nobody, when Warden runs as root) cannot read the agent's directory (chmod o+rx it), or it is Warden's data directory.",
  },
  // Provenance
  PROVENANCE_BAD_PROOF: {
    status: 422,
    retryable: false,
    doc: 'A Merkle inclusion or consistency proof, or a tree root, does not match the records.',
  },
  PROVENANCE_BAD_SIGNATURE: {
    status: 422,
    retryable: false,
    doc: 'A signed tree head does not verify under its public key, or the key is not the trusted one.',
  },
  PROVENANCE_INSECURE_KEY: {
    status: 500,
    retryable: false,
    doc: 'The tree-head signing key file is readable by group or others (chmod 600 it) or is not an Ed25519 key.',
  },
  BUNDLE_INVALID: {
    status: 422,
    retryable: false,
    doc: 'A provenance export bundle is malformed, not canonical, or its records, statements or proofs do not verify.',
  },
  PROVENANCE_RESULT_MISMATCH: {
    status: 500,
    retryable: false,
    doc: 'A stored task result does not match the provenance record that commits to it (status, output digest, or output bytes): the database was changed outside Warden; it is not served. Run warden verify --session <name>.',
  },
  // Governance
  GOVERNANCE_BLOCKED: {
    status: 403,
    retryable: false,
    doc: "The session's governance policy blocked the task: its input was flagged at or above the policy's block severity (details list the flags).",
  },
  INVALID_POLICY: {
    status: 400,
    retryable: false,
    doc: 'A governance policy is unknown, or its YAML failed validation; details list each field with its line.',
  },
  POLICY_FILE_FORBIDDEN: {
    status: 403,
    retryable: false,
    doc: "A session named a governance policy file through the API: only admin keys may, and only a file inside the server's policy directory (WARDEN_POLICY_DIR); otherwise name a preset or a registered policy.",
  },
  INVALID_FLAG: {
    status: 400,
    retryable: false,
    doc: 'A trace flag has an unknown type, a severity outside 1-10, or no reason.',
  },
  TASK_QUARANTINED: {
    status: 409,
    retryable: false,
    doc: 'Governance quarantined the result: the output is kept but held back until `warden governance release`.',
  },
  MERGE_REFUSED: {
    status: 409,
    retryable: false,
    doc: 'validate_merge refused a trace: flagged, quarantined, not succeeded, or its provenance does not verify.',
  },
  // LLM runtimes
  LLM_RATE_LIMITED: {
    status: 429,
    retryable: true,
    doc: 'The model provider answered 429; the retry waits at least its Retry-After (details.retryAfterMs).',
  },
  LLM_PROVIDER_ERROR: {
    status: 502,
    retryable: true,
    doc: 'The model provider answered 5xx or sent an error event mid-stream (overloaded, internal error).',
  },
  LLM_AUTH_FAILED: {
    status: 502,
    retryable: false,
    doc: 'The model provider refused the API key (401/403); check the variable named by model.apiKeyEnv.',
  },
  LLM_REQUEST_REJECTED: {
    status: 502,
    retryable: false,
    doc: 'The model provider refused the request (4xx: unknown model, context too long, bad parameter).',
  },
  LLM_BAD_RESPONSE: {
    status: 502,
    retryable: true,
    doc: 'The provider response was malformed or truncated (bad JSON, stream ended without its end marker).',
  },
  LLM_STALLED: {
    status: 504,
    retryable: true,
    doc: 'The provider sent nothing for model.idleTimeoutMs mid-response; the connection was closed.',
  },
  LLM_UNREACHABLE: {
    status: 503,
    retryable: true,
    doc: 'The model endpoint could not be reached (connection refused, DNS failure, connection reset).',
  },
  LLM_API_KEY_MISSING: {
    status: 500,
    retryable: false,
    doc: 'The environment variable named by model.apiKeyEnv is not set in the worker that ran the task.',
  },
  LLM_CONTEXT_OVERFLOW: {
    status: 400,
    retryable: false,
    doc: "The rendered prompt does not fit the local model's context (model.contextSize).",
  },
  MODEL_LOAD_FAILED: {
    status: 500,
    retryable: false,
    doc: 'A local GGUF model could not be loaded (missing or corrupt file, unsupported architecture).',
  },
  LOCAL_MODEL_UNAVAILABLE: {
    status: 501,
    retryable: false,
    doc: 'Local GGUF models (provider llama) need the optional package node-llama-cpp: `npm install node-llama-cpp` in the project that runs Warden; or it has no prebuilt binary for this platform.',
  },
  // Routing and memory
  NO_MATCHING_AGENT: {
    status: 422,
    retryable: false,
    doc: "No agent's description, capabilities or examples match the task's intent closely enough; details list the nearest candidates and their scores (`warden route explain --intent ...`). Name the agent, or add examples to its agent.yaml.",
  },
  MEMORY_NOT_FOUND: { status: 404, retryable: false, doc: 'No memory item with that id in this tenant.' },
  EMBEDDINGS_UNAVAILABLE: {
    status: 503,
    retryable: true,
    doc: 'The embedding model could not be reached or loaded (an OpenAI-compatible /v1/embeddings endpoint that fails, or a local GGUF model that does not load).',
  },
  VECTOR_DIMENSION_MISMATCH: {
    status: 400,
    retryable: false,
    doc: 'A vector has another number of dimensions than its index (vectors from different embedding models never mix in one index).',
  },
  VECTOR_INDEX_CORRUPT: {
    status: 500,
    retryable: false,
    doc: 'A persisted vector index file is unreadable or does not match its metadata; delete it and Warden rebuilds it from the database.',
  },
  ROLLOUT_INVALID: {
    status: 409,
    retryable: false,
    doc: 'A rollout operation does not apply: no canary is in progress for that agent, or the version named is not part of it.',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; doc: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WardenErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Overrides the code's default retryability (for example a non-retryable agent failure). */
  retryable?: boolean;
}

/** The one error class Warden throws and stores. `code` is stable; `message` is for people. */
export class WardenError extends Error {
  override readonly name = 'WardenError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: WardenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface SerializedError {
  /** A code of ERROR_CODES (documented in docs/errors.md). */
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export function isWardenError(value: unknown): value is WardenError {
  return value instanceof WardenError;
}

/** Turns anything thrown into a WardenError, keeping the original as `cause`. */
export function coerceError(value: unknown, fallback: ErrorCode = 'AGENT_FAILED'): WardenError {
  if (value instanceof WardenError) return value;
  if (value instanceof Error) return new WardenError(fallback, value.message, { cause: value });
  return new WardenError(
    fallback,
    typeof value === 'string' ? value : `Non-error thrown: ${safeString(value)}`,
  );
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
