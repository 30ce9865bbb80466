/**
 * A minimal WebAssembly assembler for the few numeric kernels of this folder (wasm-gemm.ts,
 * wasm-pricing.ts): they are written here as opcode sequences and assembled at load time, so the
 * repository holds their source and no opaque binary, and no build step is needed. Only the
 * opcodes those kernels use are listed; see the WebAssembly core and SIMD specifications.
 */

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  br: 0x0c,
  brIf: 0x0d,
  ret: 0x0f,
  call: 0x10,
  end: 0x0b,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  f64Load: 0x2b,
  i32Load8S: 0x2c,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  f64Store: 0x39,
  i32Store8: 0x3a,
  i32Const: 0x41,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32GtS: 0x4a,
  i32GeS: 0x4e,
  f64Eq: 0x61,
  f64Lt: 0x63,
  f64Gt: 0x64,
  f64Le: 0x65,
  f64Ge: 0x66,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivU: 0x6e,
  i32And: 0x71,
  i32Shl: 0x74,
  f64Abs: 0x99,
  f64Neg: 0x9a,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Max: 0xa5,
  f64ConvertI32S: 0xb7,
} as const;

/** Opcodes after the 0xfd SIMD prefix. */
export const simd = {
  load: 0x00,
  store: 0x0b,
  f64x2Splat: 0x14,
  f64x2ExtractLane: 0x21,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

/** Block type of a block or loop that leaves nothing on the stack. */
export const VOID_BLOCK = 0x40;

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** Builds one function body: locals are declared by type, code is appended by the helpers. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly params: readonly number[],
    readonly results: readonly number[] = [],
  ) {}

  /** A new local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  emit(...bytes: number[]): void {
    for (const b of bytes) this.code.push(b);
  }

  get(l: number): void {
    this.emit(op.localGet, ...uleb(l));
  }

  set(l: number): void {
    this.emit(op.localSet, ...uleb(l));
  }

  i32(v: number): void {
    this.emit(op.i32Const, ...sleb(v));
  }

  f64(v: number): void {
    const bytes = new Uint8Array(new Float64Array([v]).buffer);
    this.emit(op.f64Const, ...bytes);
  }

  /** A load or store with its memory argument (alignment as log2 bytes, constant offset). */
  memory(opcode: number, alignLog2: number, offset = 0): void {
    this.emit(opcode, ...uleb(alignLog2), ...uleb(offset));
  }

  simd(opcode: number, ...immediates: number[]): void {
    this.emit(0xfd, ...uleb(opcode), ...immediates);
  }

  /** local += by (i32). */
  increment(l: number, by: number): void {
    this.get(l);
    this.i32(by);
    this.emit(op.i32Add);
    this.set(l);
  }

  /** `while (!exit) body`: `exit` pushes an i32 that ends the loop when non-zero. */
  whileNot(exit: () => void, body: () => void): void {
    this.emit(op.block, VOID_BLOCK, op.loop, VOID_BLOCK);
    exit();
    this.emit(op.brIf, 1);
    body();
    this.emit(op.br, 0, op.end, op.end);
  }

  /** `if (cond) then else otherwise` for an i32 condition pushed by `cond`; neither leaves a value. */
  ifElse(cond: () => void, then: () => void, otherwise: () => void): void {
    cond();
    this.emit(op.if, VOID_BLOCK);
    then();
    this.emit(op.else);
    otherwise();
    this.emit(op.end);
  }

  /** `if (cond) body` for an i32 condition pushed by `cond`. */
  when(cond: () => void, body: () => void): void {
    this.emit(op.block, VOID_BLOCK);
    cond();
    this.emit(op.i32Eqz, op.brIf, 0);
    body();
    this.emit(op.end);
  }

  /** The encoded body: local declarations (grouped by consecutive type) and code. */
  encode(): number[] {
    const groups: number[][] = [];
    for (const type of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === type) last[0]!++;
      else groups.push([1, type]);
    }
    const body = [...vector(groups.map(([count, type]) => [...uleb(count!), type!])), ...this.code, op.end];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module exporting `functions` by name, with one linear memory: its own (exported as "memory",
 * `pages` initial pages) or, with `importMemory`, one imported as env.memory.
 */
export function assemble(
  functions: Record<string, FunctionBuilder>,
  memory: { importMemory: boolean; pages: number },
): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const types = entries.map(([, f]) => [
    0x60,
    ...vector(f.params.map((t) => [t])),
    ...vector(f.results.map((t) => [t])),
  ]);
  const limits = [0x00, ...uleb(memory.pages)];
  const exports = entries.map(([label], index) => [...name(label), 0x00, ...uleb(index)]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...(memory.importMemory
      ? section(2, vector([[...name('env'), ...name('memory'), 0x02, ...limits]]))
      : []),
    ...section(
      3,
      entries.map((_, index) => uleb(index)).reduce((all, t) => [...all, ...t], uleb(entries.length)),
    ),
    ...(memory.importMemory ? [] : section(5, vector([limits]))),
    ...section(7, vector(memory.importMemory ? exports : [...exports, [...name('memory'), 0x02, 0x00]])),
    ...section(10, vector(entries.map(([, f]) => f.encode()))),
  ];
  return new Uint8Array(bytes);
}
