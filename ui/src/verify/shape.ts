// The bundle's shape, as the zod schema of src/provenance/verify-bundle.ts states it, written out by hand
// so the dashboard bundle carries no schema library. Each check returns the problems at `where`.

export const BUNDLE_FORMAT = 'https://warden.dev/provenance/bundle/v1';
export const INCREMENTAL_BUNDLE_FORMAT = 'https://warden.dev/provenance/incremental-bundle/v1';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const TASK_RESULT_PREDICATE = 'https://warden.dev/provenance/task-result/v1';

export interface ShapeIssue {
  where: string;
  message: string;
}

type Check = (value: unknown, where: string, out: ShapeIssue[]) => void;

const HEX64 = /^[0-9a-f]{64}$/;
const join = (where: string, key: string | number) =>
  typeof key === 'number' ? `${where}[${key}]` : where ? `${where}.${key}` : key;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, where, out) => {
  if (typeof v !== 'string') out.push({ where, message: 'must be a string' });
};
const num: Check = (v, where, out) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) out.push({ where, message: 'must be a finite number' });
};
const count: Check = (v, where, out) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    out.push({ where, message: 'must be a non-negative integer' });
};
const positive: Check = (v, where, out) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
    out.push({ where, message: 'must be a positive integer' });
};
const hex64: Check = (v, where, out) => {
  if (typeof v !== 'string' || !HEX64.test(v))
    out.push({ where, message: 'must be a 64-character lowercase hex SHA-256 digest' });
};
const literal =
  (expected: string): Check =>
  (v, where, out) => {
    if (v !== expected) out.push({ where, message: `must be ${JSON.stringify(expected)}` });
  };
const optional =
  (check: Check): Check =>
  (v, where, out) => {
    if (v !== undefined) check(v, where, out);
  };
const array =
  (item: Check): Check =>
  (v, where, out) => {
    if (!Array.isArray(v)) return void out.push({ where, message: 'must be an array' });
    v.forEach((x, i) => item(x, join(where, i), out));
  };
const tuple1 =
  (item: Check): Check =>
  (v, where, out) => {
    if (!Array.isArray(v) || v.length !== 1)
      return void out.push({ where, message: 'must be an array of exactly one item' });
    item(v[0], join(where, 0), out);
  };
const plainObject: Check = (v, where, out) => {
  if (!isObject(v)) out.push({ where, message: 'must be an object' });
};

/** An object with these members; `strict`: and no others (zod's strictObject), else any others too. */
function object(members: Record<string, Check>, strict = true): Check {
  return (v, where, out) => {
    if (!isObject(v)) return void out.push({ where, message: 'must be an object' });
    for (const [key, check] of Object.entries(members)) check(v[key], join(where, key), out);
    const unknown = strict ? Object.keys(v).filter((key) => !Object.hasOwn(members, key)) : [];
    // One issue at the object for all its unknown members, as zod reports them.
    if (unknown.length > 0)
      out.push({
        where: where || 'bundle',
        message: `unknown member${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
      });
  };
}

const treeHead = object({
  sessionId: str,
  treeSize: count,
  rootHash: hex64,
  timestamp: count,
  keyId: hex64,
  signature: str,
});
const record = object({ type: str, at: num, sessionId: str, seq: count, prevHash: hex64 }, false);
const statement = object({
  _type: literal(STATEMENT_TYPE),
  subject: tuple1(object({ name: str, digest: object({ sha256: hex64 }) })),
  predicateType: literal(TASK_RESULT_PREDICATE),
  predicate: object({
    sessionId: str,
    taskId: str,
    agent: str,
    attempt: count,
    inputDigest: hex64,
    finishedAt: num,
    model: optional(plainObject),
    recordSeq: count,
    inclusionProof: object({ leafIndex: count, treeSize: count, rootHash: hex64, hashes: array(hex64) }),
  }),
});
const members: Record<string, Check> = {
  format: str,
  session: object({ id: str, name: str, tenant: str }),
  publicKey: object({ algorithm: literal('Ed25519'), keyId: hex64, pem: str }),
  treeHead,
  previousHead: optional(object({ treeHead, consistencyProof: array(hex64) })),
  records: array(record),
  statements: array(statement),
};
const full = object(members);
const incremental = object({
  ...members,
  since: object({
    treeSize: positive,
    rootHash: hex64,
    frontier: array(hex64),
    lastRecordHash: hex64,
    consistencyProof: array(hex64),
  }),
});

/** What is wrong with the bundle's shape; empty when it has the shape of a full or incremental bundle. */
export function shapeIssues(value: unknown): ShapeIssue[] {
  const out: ShapeIssue[] = [];
  if (!isObject(value)) return [{ where: 'bundle', message: 'must be an object' }];
  if (value['format'] === BUNDLE_FORMAT) full(value, '', out);
  else if (value['format'] === INCREMENTAL_BUNDLE_FORMAT) incremental(value, '', out);
  else
    out.push({
      where: 'format',
      message: `must be ${JSON.stringify(BUNDLE_FORMAT)} or ${JSON.stringify(INCREMENTAL_BUNDLE_FORMAT)}`,
    });
  return out;
}
