import type { LogisticModel } from './logistic.js';

/** One trained head: weights as base64 of little-endian float32, and the decision threshold. */
export interface HeadFile {
  bias: number;
  threshold: number;
  weights: string;
}

/** The shipped detector weights (src/governance/model/detector-model.json), written by scripts/train-detector.ts. */
export interface DetectorModelFile {
  format: 'warden.detector/v1';
  dim: number;
  trainedOn: { file: string; rows: number; sha256: string; at: string };
  /** Jailbreak / prompt injection versus everything else (harmful requests included). */
  jailbreak: HeadFile;
  /** Plain harmful request versus benign (jailbreaks excluded). */
  harmful: HeadFile;
  /** Held-out figures measured by the training script (k-fold), for the record. */
  evaluation?: unknown;
}

export interface Head extends LogisticModel {
  threshold: number;
}

export interface DetectorModel {
  dim: number;
  jailbreak: Head;
  harmful: Head;
}

export function decodeModel(file: DetectorModelFile): DetectorModel {
  const head = (h: HeadFile, what: string): Head => {
    const bytes = Buffer.from(h.weights, 'base64');
    if (bytes.length !== file.dim * 4) throw new Error(`detector model: ${what} weights have the wrong size`);
    const weights = new Float32Array(file.dim);
    for (let i = 0; i < file.dim; i++) weights[i] = bytes.readFloatLE(i * 4);
    return { weights, bias: h.bias, threshold: h.threshold };
  };
  return {
    dim: file.dim,
    jailbreak: head(file.jailbreak, 'jailbreak'),
    harmful: head(file.harmful, 'harmful'),
  };
}

export function encodeHead(h: Head): HeadFile {
  const bytes = Buffer.alloc(h.weights.length * 4);
  for (let i = 0; i < h.weights.length; i++) bytes.writeFloatLE(h.weights[i]!, i * 4);
  return { bias: h.bias, threshold: h.threshold, weights: bytes.toString('base64') };
}
