import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError } from '../core/index.js';
import { VectorIndex, type Embedder } from '../routing/index.js';
import type { MemoryPort, MemoryRow, MemoryScope } from './memory-port.js';

// The vector indexes of memory scopes, one per (session, agent|null), loaded lazily and kept on disk under
// <root>/<sessionId>/<agent or _session>/. The `memories` table is the truth: each process keeps its own
// copy of an index, caught up from the table by key, and rebuilt from it when the saved copy is corrupt, was
// made by another embedder, or disagrees with the table's row count (other processes delete too).

/** Rows read per page while catching an index up. */
const PAGE = 5000;
/** How often a loaded index is checked against the table's row count (other processes' writes). */
const RECOUNT_MS = 30_000;
const META = 'cortex.json';

interface Meta {
  /** The largest key the index has seen: catching up reads rows after it. */
  highWater: number;
  embedder: string;
  dimensions: number;
}

/** One scope's index and how far it has read the table. */
export class ScopeIndex {
  highWater = 0;
  dirty = false;
  checkedAt = 0;
  /** Serialises catch-ups and removals of this scope (searches read between them). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly scope: MemoryScope,
    readonly dir: string,
    public index: VectorIndex,
  ) {}

  locked<T>(fn: () => Promise<T>): Promise<T> {
    const out = this.chain.then(fn, fn);
    this.chain = out.catch(() => undefined);
    return out;
  }
}

export class ScopeIndexes {
  private readonly open = new Map<string, Promise<ScopeIndex>>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly port: MemoryPort,
    private readonly root: string,
    private readonly embedder: () => Promise<Embedder>,
    private readonly saveDelayMs: number,
    private readonly log: (message: string, cause?: unknown) => void,
  ) {}

  /** The scope's index if this process has it loaded (removals only need to touch a loaded one). */
  async loaded(scope: MemoryScope): Promise<ScopeIndex | undefined> {
    const pending = this.open.get(scopeKey(scope));
    return pending ? pending.catch(() => undefined) : undefined;
  }

  /** The scope's index, caught up with the table. */
  async get(scope: MemoryScope, now: number): Promise<ScopeIndex> {
    const key = scopeKey(scope);
    let pending = this.open.get(key);
    if (!pending) {
      pending = this.load(scope, now);
      this.open.set(key, pending);
      pending.catch(() => this.open.delete(key));
    }
    const si = await pending;
    await si.locked(async () => {
      await this.catchUp(si);
      if (now - si.checkedAt >= RECOUNT_MS) {
        si.checkedAt = now;
        if (si.index.size !== (await this.port.countMemories(scope))) await this.rebuild(si);
      }
    });
    return si;
  }

  /** Drops keys whose rows are gone (deleted here, or found missing after a search). */
  async remove(scope: MemoryScope, keys: readonly number[]): Promise<void> {
    const si = await this.loaded(scope);
    if (!si || keys.length === 0) return;
    await si.locked(async () => {
      for (const k of keys) if (si.index.has(k)) si.index.remove(k);
      this.touched(si);
    });
  }

  /** Saves every changed index now (on close). */
  async flush(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    for (const pending of this.open.values()) {
      const si = await pending.catch(() => undefined);
      if (si?.dirty) await si.locked(() => this.save(si));
    }
  }

  private async load(scope: MemoryScope, now: number): Promise<ScopeIndex> {
    const embedder = await this.embedder();
    const dir = join(
      this.root,
      safeSegment(scope.sessionId),
      scope.agent === null ? '_session' : `a-${safeSegment(scope.agent)}`,
    );
    const fresh = () => newIndex(embedder);
    let si = new ScopeIndex(scope, dir, fresh());
    try {
      const meta = JSON.parse(await readFile(join(dir, META), 'utf8')) as Meta;
      if (meta.embedder === embedder.id && meta.dimensions === embedder.dimensions) {
        si = new ScopeIndex(scope, dir, await VectorIndex.load(join(dir, 'index')));
        si.highWater = meta.highWater;
      }
    } catch (err) {
      // No saved index yet is the common case; a corrupt one is rebuilt from the table.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log(`memory index ${dir} unreadable; rebuilding`, err);
      si.index = fresh();
      si.highWater = 0;
    }
    await this.catchUp(si);
    si.checkedAt = now;
    if (si.index.size !== (await this.port.countMemories(scope))) await this.rebuild(si);
    return si;
  }

  private async rebuild(si: ScopeIndex): Promise<void> {
    const embedder = await this.embedder();
    si.index = newIndex(embedder);
    si.highWater = 0;
    await this.catchUp(si);
    this.touched(si);
  }

  /** Adds the rows after the index's high-water mark, page by page. */
  private async catchUp(si: ScopeIndex): Promise<void> {
    const embedder = await this.embedder();
    for (;;) {
      const rows = await this.port.memoriesAfter(si.scope, si.highWater, PAGE);
      if (rows.length === 0) return;
      // One native call per page (multi-threaded); a key already there is replaced by the same vector.
      si.index.addMany(
        rows.map((r) => r.key),
        await vectorsOf(rows, embedder),
      );
      si.highWater = rows[rows.length - 1]!.key;
      this.touched(si);
      if (rows.length < PAGE) return;
    }
  }

  private touched(si: ScopeIndex): void {
    si.dirty = true;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.flush().catch((err: unknown) => this.log('saving memory indexes failed', err));
    }, this.saveDelayMs);
    this.saveTimer.unref();
  }

  private async save(si: ScopeIndex): Promise<void> {
    const embedder = await this.embedder();
    si.dirty = false;
    await mkdir(si.dir, { recursive: true, mode: 0o700 });
    // The meta goes first with the mark the index is about to have: a crash between the two leaves an
    // older index under a newer mark, which the row-count check on load finds and rebuilds.
    await rm(join(si.dir, META), { force: true });
    await si.index.save(join(si.dir, 'index'));
    const meta: Meta = { highWater: si.highWater, embedder: embedder.id, dimensions: embedder.dimensions };
    await writeFile(join(si.dir, META), JSON.stringify(meta), { mode: 0o600 });
  }
}

/**
 * The rows' vectors for `embedder`: stored ones when that embedder made them, else embedded again from the
 * stored text (vectors of two embedders never meet in one index; the rows keep their original vectors).
 */
async function vectorsOf(rows: readonly MemoryRow[], embedder: Embedder): Promise<Float32Array[]> {
  const out: Float32Array[] = rows.map((r) => r.embedding);
  const stale = rows.flatMap((r, i) => (r.embedder === embedder.id ? [] : [i]));
  if (stale.length > 0) {
    const fresh = await embedder.embed(stale.map((i) => rows[i]!.text));
    stale.forEach((i, j) => (out[i] = fresh[j]!));
  }
  for (const v of out)
    if (v.length !== embedder.dimensions)
      throw new WardenError(
        'VECTOR_DIMENSION_MISMATCH',
        `A stored memory vector has ${v.length} dimensions; the embedder ${embedder.id} makes ${embedder.dimensions}`,
      );
  return out;
}

/**
 * i8: the graph holds 1-byte components (4× smaller, about twice as fast to build and search here) and
 * the index rescores its candidates on the full float32 vectors, so scores are exact cosines.
 */
const newIndex = (embedder: Embedder): VectorIndex =>
  new VectorIndex({ dimensions: embedder.dimensions, quantization: 'i8' });

function scopeKey(s: MemoryScope): string {
  return `${s.sessionId}\u0000${s.agent ?? ''}`;
}

/** A path segment from a name: agent names are [a-z0-9-] already; anything else is encoded. */
function safeSegment(name: string): string {
  return /^[A-Za-z0-9._-]+$/.test(name) && name !== '.' && name !== '..'
    ? name
    : encodeURIComponent(name).replace(/\./g, '%2E');
}
