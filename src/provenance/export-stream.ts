import { WardenError } from '../core/index.js';
import {
  BUNDLE_FORMAT,
  INCREMENTAL_BUNDLE_FORMAT,
  sortKeys,
  taskResultStatement,
  type AnyProvenanceBundle,
  type BundleBase,
} from './bundle.js';
import type { ProvenanceRecord } from './chain.js';
import type { LedgerPort } from './ledger-port.js';
import { leafHash } from './merkle.js';
import { Pacer } from './pacer.js';
import type { ChainReader } from './reader.js';
import { scanChain, type ChainScan } from './scan.js';
import type { SignedTreeHead, TreeHeadSigner } from './tree-head.js';

const PAGE = 128;
const CHUNK = 64 * 1024;

/** What export needs from the ledger. */
export type ExportSource = Pick<
  LedgerPort,
  'latestTreeHead' | 'signTreeHead' | 'openChainReader' | 'witnessedHeads'
>;

/** The public half of the key the source signs with: what the bundle names as its signer. */
export type ExportKey = Pick<TreeHeadSigner, 'keyId' | 'publicKeyPem'>;

export interface ExportOptions {
  /**
   * Export only the records after this tree size (the treeHead.treeSize of an earlier export of the
   * session), as an incremental bundle with a consistency proof from that size. @default 0 (all records)
   */
  since?: number;
  /** How the export shares the event loop. @default new Pacer() (a pause every 8 ms of work) */
  pacer?: Pacer;
}

/** What a bundle holds, known before its first byte is written. */
export interface BundleSummary {
  format: string;
  session: string;
  sessionId: string;
  /** 0 for a full bundle; else the tree size it continues from. */
  since: number;
  /** Records in the bundle (treeSize - since). */
  records: number;
  statements: number;
  treeSize: number;
  rootHash: string;
  keyId: string;
}

/** A bundle being exported: its summary now, its canonical text as it is read from the store. */
export interface BundleStream {
  summary: BundleSummary;
  /**
   * The bundle's canonical text (serializeBundle's exact bytes), in chunks of about 64 KB. Records are
   * read again page by page and each is checked against the tree that was verified before the first byte.
   */
  chunks(): AsyncGenerator<string, void, undefined>;
  /** Ends the store snapshot if the chunks are not read to the end (chunks() ends it when they are). */
  close(): void;
}

const broken = (message: string, details?: Record<string, unknown>) =>
  new WardenError('PROVENANCE_BROKEN', message, details ? { details } : {});

/**
 * Exports a session without holding it in memory or the event loop: signs its tree at the current chain
 * head, then reads the records once (on a snapshot, in pages, pausing for the event loop) to verify them
 * as a chain, against that head and against the head signed before it, and to build the Merkle tree for
 * the proofs. Refuses (PROVENANCE_BROKEN, PROVENANCE_BAD_PROOF) rather than sign over records that do not
 * verify. The returned stream then writes the bundle: records (read a second time), one in-toto statement
 * with an inclusion proof per succeeded task, and, for `since`, the base of an incremental bundle.
 * Memory: the tree (64 bytes per record), the session's task.succeeded records, one page of records.
 */
export async function exportBundleStream(
  source: ExportSource,
  key: ExportKey,
  session: { id: string; name: string; tenant: string },
  options: ExportOptions = {},
): Promise<BundleStream> {
  const since = options.since ?? 0;
  if (!Number.isSafeInteger(since) || since < 0)
    throw new WardenError('INVALID_INPUT', `since must be a tree size (an integer >= 0), not ${since}`);
  const pacer = options.pacer ?? new Pacer();
  const previous = await source.latestTreeHead(session.id);
  const head = await source.signTreeHead(session.id);
  if (!head) throw broken(`Session ${session.name} has no provenance records`);
  if (since > head.treeSize)
    throw new WardenError(
      'INVALID_INPUT',
      `since ${since} is beyond the session's tree: session ${session.name} has ${head.treeSize} records; pass the treeSize of an earlier export of this session`,
      { details: { since, treeSize: head.treeSize } },
    );
  const reader = await source.openChainReader();
  try {
    const scan = await scanChain(reader, session.id, pacer, head.treeSize, { canonical: true });
    if (scan.broken)
      throw broken(`Session ${session.name}: record ${scan.broken.seq}: ${scan.broken.reason}`, {
        ...scan.broken,
      });
    if (scan.length !== head.treeSize)
      throw broken(`Session ${session.name} has ${scan.length} records, its tree head ${head.treeSize}`);
    if (scan.tree.root() !== head.rootHash)
      throw new WardenError(
        'PROVENANCE_BAD_PROOF',
        `The records of session ${session.name} do not match its tree head (size ${head.treeSize})`,
      );
    // A database put back to an older copy would be signed again above; the witness still knows better.
    const witnessed = (await source.witnessedHeads()).find((h) => h.sessionId === session.id);
    if (
      witnessed &&
      (witnessed.treeSize > head.treeSize || scan.tree.root(witnessed.treeSize) !== witnessed.rootHash)
    )
      throw broken(
        `The records of session ${session.name} are not the tree the witness holds (size ${witnessed.treeSize}): the database was rolled back or rewritten; run warden verify --session ${session.name}`,
      );
    let previousHead: { treeHead: SignedTreeHead; consistencyProof: string[] } | undefined;
    if (previous && previous.treeSize > 0 && previous.signature !== head.signature) {
      if (previous.treeSize > head.treeSize || scan.tree.root(previous.treeSize) !== previous.rootHash)
        throw new WardenError(
          'PROVENANCE_BAD_PROOF',
          `The records of session ${session.name} no longer match the tree head signed at size ${previous.treeSize}`,
        );
      previousHead = {
        treeHead: previous,
        consistencyProof: scan.tree.consistencyProof(previous.treeSize, head.treeSize),
      };
    }
    const base: BundleBase | undefined =
      since > 0
        ? {
            treeSize: since,
            rootHash: scan.tree.root(since),
            frontier: scan.tree.frontier(since),
            lastRecordHash: (await reader.links(session.id, since - 1, since, 1))[0]!.hash,
            consistencyProof: scan.tree.consistencyProof(since, head.treeSize),
          }
        : undefined;
    const succeeded = scan.succeeded.filter((r) => r.seq > since && r.taskId !== undefined);
    const summary: BundleSummary = {
      format: base ? INCREMENTAL_BUNDLE_FORMAT : BUNDLE_FORMAT,
      session: session.name,
      sessionId: session.id,
      since,
      records: head.treeSize - since,
      statements: succeeded.length,
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      keyId: key.keyId,
    };
    const fields: [string, unknown][] = [
      ['format', summary.format],
      ...(previousHead ? [['previousHead', previousHead] as [string, unknown]] : []),
      ['publicKey', { algorithm: 'Ed25519', keyId: key.keyId, pem: key.publicKeyPem }],
      ['records', RECORDS],
      ['session', { id: session.id, name: session.name, tenant: session.tenant }],
      ...(base ? [['since', base] as [string, unknown]] : []),
      ['statements', STATEMENTS],
      ['treeHead', head],
    ];
    const write = { reader, scan, head, since, succeeded, pacer, sessionId: session.id, fields };
    return {
      summary,
      chunks: () => writeBundle(write),
      close: () => reader.close(),
    };
  } catch (err) {
    reader.close();
    throw err;
  }
}

// Placeholders for the two members written item by item.
const RECORDS = Symbol('records');
const STATEMENTS = Symbol('statements');

/**
 * Pretty JSON of a value nested `depth` (1 or 2) levels deep, as JSON.stringify(whole, null, 2) writes it:
 * stringified inside as many arrays, which then come off again (cheaper than re-indenting every line).
 * `sorted`: the value's keys are already in order (records parsed from their canonical JSON are: parsing
 * keeps their order, and integer-like keys come first in both), so sortKeys would copy it for nothing.
 */
function nested(value: unknown, depth: 1 | 2, sorted = false): string {
  const v = sorted ? value : sortKeys(value);
  return depth === 1
    ? JSON.stringify([v], null, 2).slice(4, -2)
    : JSON.stringify([[v]], null, 2).slice(10, -6);
}

async function* writeBundle(w: {
  reader: ChainReader;
  scan: ChainScan;
  head: SignedTreeHead;
  since: number;
  succeeded: ProvenanceRecord[];
  pacer: Pacer;
  sessionId: string;
  fields: [string, unknown][];
}): AsyncGenerator<string, void, undefined> {
  let out = '{\n';
  try {
    for (let f = 0; f < w.fields.length; f++) {
      const [name, value] = w.fields[f]!;
      out += `  ${JSON.stringify(name)}: `;
      if (value === RECORDS || value === STATEMENTS) {
        const items = value === RECORDS ? records(w) : statements(w);
        let first = true;
        for await (const item of items) {
          out += `${first ? '[\n' : ',\n'}    ${item}`;
          first = false;
          if (out.length >= CHUNK) {
            yield out;
            out = '';
          }
          if (w.pacer.due()) await w.pacer.pause();
        }
        out += first ? '[]' : '\n  ]';
      } else {
        out += nested(value, 1);
      }
      out += f < w.fields.length - 1 ? ',\n' : '\n}\n';
    }
    yield out;
  } finally {
    w.reader.close();
  }
}

/** The records after `since`, read again in pages, each checked against the leaf the scan verified. */
async function* records(w: Parameters<typeof writeBundle>[0]): AsyncGenerator<string> {
  for (let after = w.since; after < w.head.treeSize;) {
    const page = await w.reader.links(w.sessionId, after, w.head.treeSize, PAGE);
    if (page.length === 0) throw broken(`Record ${after + 1} of the session vanished during the export`);
    for (const link of page) {
      if (link.seq !== after + 1 || leafHash(link.recordJson) !== w.scan.tree.leaf(link.seq - 1))
        throw broken(`Record ${link.seq} of the session changed during the export`);
      after = link.seq;
      yield nested(JSON.parse(link.recordJson), 2, true);
    }
  }
}

async function* statements(w: Parameters<typeof writeBundle>[0]): AsyncGenerator<string> {
  for (const r of w.succeeded) {
    const inputDigest = w.scan.tasks.get(r.taskId!)?.inputDigest ?? '';
    yield nested(taskResultStatement(r, inputDigest, w.scan.tree, w.head), 2, true);
  }
}

/** The whole bundle as one string (small sessions, tests). */
export async function bundleText(stream: BundleStream): Promise<string> {
  let text = '';
  for await (const chunk of stream.chunks()) text += chunk;
  return text;
}

/**
 * The bundle as an object (exportBundleStream, parsed): for small sessions and tests. A large session is
 * better streamed: `for await (const chunk of (await exportBundleStream(...)).chunks())`.
 */
export async function exportBundle(
  source: ExportSource,
  key: ExportKey,
  session: { id: string; name: string; tenant: string },
  options: ExportOptions = {},
): Promise<AnyProvenanceBundle> {
  return JSON.parse(
    await bundleText(await exportBundleStream(source, key, session, options)),
  ) as AnyProvenanceBundle;
}
