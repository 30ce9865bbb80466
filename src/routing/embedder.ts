/**
 * Turns texts into vectors for routing and memory. Every implementation returns L2-normalised float32
 * vectors of `dimensions` components, so cosine similarity is a dot product.
 */
export interface Embedder {
  /**
   * Which model and settings made the vectors (`builtin-hash-384`, `openai:text-embedding-3-small`,
   * `llama:<file digest>`): vectors of two ids never meet in one index.
   */
  readonly id: string;
  readonly dimensions: number;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

/** Cosine similarity of two L2-normalised vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}
