import { WardenError } from '../../core/index.js';

const PAGE = 64 * 1024;
const SECTION_IMPORT = 2;
const SECTION_TABLE = 4;
const SECTION_MEMORY = 5;
const SECTION_GLOBAL = 6;
const SECTION_START = 8;
const SECTION_ELEMENT = 9;
const SECTION_DATA_COUNT = 12;
/** Largest initial memory an instance is reused with: restoring it copies this much per task. */
const MAX_RESET_PAGES = 4;

/** A 32-bit wasm memory's limits, in 64 KiB pages. */
interface Limits {
  flags: number;
  min: number;
  max: number | undefined;
}

/**
 * Rewrites a module so every memory it defines or imports has `maximum ≤ capPages`. The engine then refuses
 * any `memory.grow` past the cap (it returns -1), so the cap holds however the module behaves: it is
 * enforced by V8, not sampled. Nothing else in the module changes (no index shifts, no code rewriting).
 */
export function capMemory(bytes: Uint8Array, memoryMb: number): Uint8Array {
  const capPages = Math.max(1, Math.floor((memoryMb * 1024 * 1024) / PAGE));
  if (bytes.length < 8 || readU32le(bytes, 0) !== 0x6d736100) {
    throw new WardenError('INVALID_MANIFEST', 'spec.module is not a WebAssembly binary (bad magic number)');
  }
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, sizeEnd] = readLeb(bytes, pos + 1);
    const payload = bytes.subarray(sizeEnd, sizeEnd + size);
    if (sizeEnd + size > bytes.length) throw malformed('section runs past the end');
    if (id === SECTION_MEMORY || id === SECTION_IMPORT) {
      const patched =
        id === SECTION_MEMORY ? patchMemories(payload, capPages) : patchImports(payload, capPages);
      out.push(Uint8Array.of(id), leb(patched.length), patched);
    } else {
      out.push(bytes.subarray(pos, sizeEnd + size));
    }
    pos = sizeEnd + size;
  }
  return concat(out);
}

/**
 * Whether an instance of this module can be reset to exactly its state right after instantiation by
 * copying its memory back, so that one instance serves many tasks as a fresh one would. An instance's
 * mutable state is its memories, tables, globals and the dropped state of its data and element segments.
 * This holds for a module with no table and no global (defined or imported: then no table.set/grow, no
 * global.set), no element section (no elem.drop), no data count section (which memory.init and data.drop
 * require), no start function (it would run, and call the host, once per fresh instance), and exactly one
 * memory, not shared, of at most MAX_RESET_PAGES initial pages. The worker reuses the instance only while
 * that memory has not grown, restoring its bytes after every task; anything else gets a fresh instance.
 */
export function resettable(bytes: Uint8Array): boolean {
  let memories = 0;
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, sizeEnd] = readLeb(bytes, pos + 1);
    const payload = bytes.subarray(sizeEnd, sizeEnd + size);
    pos = sizeEnd + size;
    if (id === SECTION_TABLE || id === SECTION_GLOBAL || id === SECTION_START) {
      if (readLeb(payload, 0)[0] > 0 || id === SECTION_START) return false;
    } else if (id === SECTION_ELEMENT || id === SECTION_DATA_COUNT) {
      return false;
    } else if (id === SECTION_MEMORY) {
      const [count, start] = readLeb(payload, 0);
      let at = start;
      for (let i = 0; i < count; i++) {
        const [limits, end] = readLimits(payload, at);
        if (!resettableMemory(limits)) return false;
        at = end;
      }
      memories += count;
    } else if (id === SECTION_IMPORT) {
      const imported = importedKinds(payload);
      if (imported.tables > 0 || imported.globals > 0) return false;
      if (!imported.memories.every(resettableMemory)) return false;
      memories += imported.memories.length;
    }
  }
  return memories === 1;
}

/** 0x02: a shared memory (threads), whose state other agents could see; 0x04: 64-bit. */
function resettableMemory(limits: Limits): boolean {
  return (limits.flags & 0x06) === 0 && limits.min <= MAX_RESET_PAGES;
}

function importedKinds(payload: Uint8Array): { tables: number; globals: number; memories: Limits[] } {
  const out = { tables: 0, globals: 0, memories: [] as Limits[] };
  const [count, start] = readLeb(payload, 0);
  let pos = start;
  for (let i = 0; i < count; i++) {
    pos = skipName(payload, skipName(payload, pos));
    const kind = payload[pos++];
    if (kind === 0) pos = readLeb(payload, pos)[1];
    else if (kind === 1) {
      out.tables++;
      pos = readLimits(payload, pos + 1)[1];
    } else if (kind === 2) {
      const [limits, end] = readLimits(payload, pos);
      out.memories.push(limits);
      pos = end;
    } else if (kind === 3) {
      out.globals++;
      pos += 2;
    } else if (kind === 4) pos = readLeb(payload, pos + 1)[1];
    else throw malformed(`unknown import kind ${kind}`);
  }
  return out;
}

function patchMemories(payload: Uint8Array, capPages: number): Uint8Array {
  const [count, start] = readLeb(payload, 0);
  const out: Uint8Array[] = [leb(count)];
  let pos = start;
  for (let i = 0; i < count; i++) {
    const [limits, end] = readLimits(payload, pos);
    out.push(encodeLimits(clamp(limits, capPages)));
    pos = end;
  }
  return concat(out);
}

function patchImports(payload: Uint8Array, capPages: number): Uint8Array {
  const [count, start] = readLeb(payload, 0);
  const out: Uint8Array[] = [leb(count)];
  let pos = start;
  for (let i = 0; i < count; i++) {
    const entryStart = pos;
    pos = skipName(payload, skipName(payload, pos));
    const kind = payload[pos++];
    if (kind === 2) {
      out.push(payload.subarray(entryStart, pos));
      const [limits, end] = readLimits(payload, pos);
      out.push(encodeLimits(clamp(limits, capPages)));
      pos = end;
      continue;
    }
    if (kind === 0) pos = readLeb(payload, pos)[1];
    else if (kind === 1) pos = readLimits(payload, pos + 1)[1];
    else if (kind === 3) pos += 2;
    else if (kind === 4) pos = readLeb(payload, pos + 1)[1];
    else throw malformed(`unknown import kind ${kind}`);
    out.push(payload.subarray(entryStart, pos));
  }
  return concat(out);
}

function clamp(limits: Limits, capPages: number): Limits {
  if (limits.flags & 0x04) throw malformed('64-bit memories are not supported');
  if (limits.min > capPages) {
    throw new WardenError(
      'MEMORY_LIMIT',
      `The module needs at least ${(limits.min * PAGE) / 1024 / 1024} MB of memory, more than its memoryMb cap`,
    );
  }
  return { flags: limits.flags | 0x01, min: limits.min, max: Math.min(limits.max ?? capPages, capPages) };
}

function readLimits(b: Uint8Array, pos: number): [Limits, number] {
  const flags = b[pos]!;
  const [min, afterMin] = readLeb(b, pos + 1);
  if (!(flags & 0x01)) return [{ flags, min, max: undefined }, afterMin];
  const [max, afterMax] = readLeb(b, afterMin);
  return [{ flags, min, max }, afterMax];
}

function encodeLimits(l: Limits): Uint8Array {
  return concat([Uint8Array.of(l.flags), leb(l.min), ...(l.max === undefined ? [] : [leb(l.max)])]);
}

function skipName(b: Uint8Array, pos: number): number {
  const [len, start] = readLeb(b, pos);
  return start + len;
}

function readLeb(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined || shift > 28) throw malformed('bad LEB128 number');
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) return [result, pos];
  }
}

function leb(value: number): Uint8Array {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return Uint8Array.from(bytes);
}

function readU32le(b: Uint8Array, pos: number): number {
  return (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function malformed(why: string): WardenError {
  return new WardenError('INVALID_MANIFEST', `spec.module is not a valid WebAssembly module: ${why}`);
}
