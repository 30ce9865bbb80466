// On-disk form of a VectorIndex: one directory holding meta.json and three data files of one
// generation (the USearch graph, the slot → key table, the full float32 vectors). Data files are
// written under fresh generation names first and meta.json is renamed over last, so a crash at any
// point leaves either the old snapshot or the new one, never a mix.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError } from '../core/index.js';

export const FORMAT_VERSION = 1;
const META = 'meta.json';

export interface FileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

export interface SnapshotMeta {
  format: number;
  dimensions: number;
  quantization: 'f32' | 'i8' | 'b1';
  metric: string;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  oversample: number;
  /** Live vectors. */
  count: number;
  /** Slots in the tables (live + free); a free slot has key −1. */
  slots: number;
  savedAt: string;
  files: { graph: FileEntry; keys: FileEntry; vectors: FileEntry };
}

export interface Snapshot {
  meta: SnapshotMeta;
  keys: Float64Array;
  vectors: Float32Array;
  graphPath: string;
}

export function corrupt(dir: string, reason: string, cause?: unknown): WardenError {
  return new WardenError(
    'VECTOR_INDEX_CORRUPT',
    `The vector index in ${dir} is unreadable (${reason}); delete that directory and it is rebuilt from the database.`,
    { details: { dir, reason }, cause },
  );
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the renames durable; some filesystems refuse fsync on a directory, which only costs durability.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

function asBytes(view: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export interface PendingSnapshot {
  dir: string;
  generation: string;
  graphName: string;
}

/** Creates `dir` and picks fresh file names; call before taking the synchronous snapshot. */
export async function prepareSnapshot(dir: string): Promise<PendingSnapshot> {
  await mkdir(dir, { recursive: true });
  const generation = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  return { dir, generation, graphName: `graph-${generation}.usearch` };
}

/**
 * Finishes a snapshot whose graph file the caller has already written (synchronously, in the same tick
 * as copying `keys` and `vectors`, so the three agree).
 */
export async function commitSnapshot(
  pending: PendingSnapshot,
  meta: Omit<SnapshotMeta, 'files' | 'format' | 'savedAt'>,
  keys: Float64Array,
  vectors: Float32Array,
): Promise<void> {
  const { dir, generation, graphName } = pending;
  const previous = await readMeta(dir).catch(() => undefined);
  const keysName = `keys-${generation}.f64`;
  const vectorsName = `vectors-${generation}.f32`;
  const keyBytes = asBytes(keys);
  const vectorBytes = asBytes(vectors);
  await writeDurably(join(dir, keysName), keyBytes);
  await writeDurably(join(dir, vectorsName), vectorBytes);
  const graph = await sha256File(join(dir, graphName));
  const full: SnapshotMeta = {
    format: FORMAT_VERSION,
    ...meta,
    savedAt: new Date().toISOString(),
    files: {
      graph: { name: graphName, ...graph },
      keys: { name: keysName, bytes: keyBytes.length, sha256: sha256(keyBytes) },
      vectors: { name: vectorsName, bytes: vectorBytes.length, sha256: sha256(vectorBytes) },
    },
  };
  const tmp = join(dir, `${META}.${generation}.tmp`);
  await writeDurably(tmp, `${JSON.stringify(full, null, 2)}\n`);
  await rename(tmp, join(dir, META));
  await syncDir(dir);
  // Only the generation this save replaced is removed: files of a concurrent writer are never touched.
  if (previous)
    for (const entry of Object.values(previous.files))
      if (!Object.values(full.files).some((f) => f.name === entry.name))
        await rm(join(dir, entry.name), { force: true });
}

/** Removes the files of a snapshot that failed before its meta.json was renamed into place. */
export async function abandonSnapshot(pending: PendingSnapshot): Promise<void> {
  const { dir, generation } = pending;
  for (const name of [
    pending.graphName,
    `keys-${generation}.f64`,
    `vectors-${generation}.f32`,
    `${META}.${generation}.tmp`,
  ])
    await rm(join(dir, name), { force: true });
}

const SAFE_NAME = /^[a-z]+-[a-z0-9-]+\.(usearch|f64|f32)$/;

function checkMeta(dir: string, value: unknown): SnapshotMeta {
  const meta = value as SnapshotMeta;
  const int = (n: unknown, min: number) => typeof n === 'number' && Number.isInteger(n) && n >= min;
  if (typeof meta !== 'object' || meta === null) throw corrupt(dir, 'meta.json is not an object');
  if (meta.format !== FORMAT_VERSION)
    throw corrupt(dir, `format ${String(meta.format)}, this Warden reads ${FORMAT_VERSION}`);
  if (!['f32', 'i8', 'b1'].includes(meta.quantization)) throw corrupt(dir, 'unknown quantization');
  if (
    !int(meta.dimensions, 1) ||
    !int(meta.count, 0) ||
    !int(meta.slots, meta.count) ||
    !int(meta.connectivity, 0) ||
    !int(meta.expansionAdd, 0) ||
    !int(meta.expansionSearch, 0) ||
    !int(meta.oversample, 1) ||
    typeof meta.metric !== 'string'
  )
    throw corrupt(dir, 'meta.json has missing or invalid fields');
  for (const key of ['graph', 'keys', 'vectors'] as const) {
    const f = meta.files?.[key];
    if (!f || typeof f.name !== 'string' || !SAFE_NAME.test(f.name) || !int(f.bytes, 0))
      throw corrupt(dir, `meta.json names no valid ${key} file`);
  }
  return meta;
}

/** meta.json's text, or undefined when unreadable: tells one committed snapshot from the next. */
export async function metaText(dir: string): Promise<string | undefined> {
  return readFile(join(dir, META), 'utf8').catch(() => undefined);
}

async function readMeta(dir: string): Promise<SnapshotMeta> {
  const text = await readFile(join(dir, META), 'utf8');
  return checkMeta(dir, JSON.parse(text));
}

/**
 * Reads and verifies a snapshot (sizes and SHA-256 of every file). Throws FILE_NOT_FOUND when `dir`
 * holds no meta.json, VECTOR_INDEX_CORRUPT for anything unreadable or inconsistent.
 */
export async function readSnapshot(dir: string): Promise<Snapshot> {
  let text: string;
  try {
    text = await readFile(join(dir, META), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new WardenError('FILE_NOT_FOUND', `No saved vector index in ${dir} (no ${META}).`, {
        details: { dir },
        cause: error,
      });
    throw corrupt(dir, `cannot read ${META}`, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt(dir, `${META} is not JSON`, error);
  }
  const meta = checkMeta(dir, parsed);
  const load = async (entry: FileEntry): Promise<Buffer> => {
    let data: Buffer;
    try {
      data = await readFile(join(dir, entry.name));
    } catch (error) {
      throw corrupt(dir, `cannot read ${entry.name}`, error);
    }
    if (data.length !== entry.bytes || sha256(data) !== entry.sha256)
      throw corrupt(dir, `${entry.name} does not match its checksum`);
    return data;
  };
  const keyData = await load(meta.files.keys);
  const vectorData = await load(meta.files.vectors);
  if (keyData.length !== meta.slots * 8 || vectorData.length !== meta.slots * meta.dimensions * 4)
    throw corrupt(dir, 'table sizes disagree with meta.json');
  const graphPath = join(dir, meta.files.graph.name);
  let graph: { sha256: string; bytes: number };
  try {
    graph = await sha256File(graphPath);
  } catch (error) {
    throw corrupt(dir, `cannot read ${meta.files.graph.name}`, error);
  }
  if (graph.bytes !== meta.files.graph.bytes || graph.sha256 !== meta.files.graph.sha256)
    throw corrupt(dir, `${meta.files.graph.name} does not match its checksum`);
  // Copies into fresh, aligned buffers (a Buffer from readFile may sit at any offset of a pool).
  const keys = new Float64Array(meta.slots);
  new Uint8Array(keys.buffer).set(keyData);
  const vectors = new Float32Array(meta.slots * meta.dimensions);
  new Uint8Array(vectors.buffer).set(vectorData);
  return { meta, keys, vectors, graphPath };
}
