import type { DetectorModel, DetectorModelFile } from './model.js';
import { decodeModel } from './model.js';
import shipped from './model/detector-model.json' with { type: 'json' };

let cached: DetectorModel | undefined;

/** The shipped detector weights (retrain: npm run train:detector), decoded on first use. */
export function defaultDetectorModel(): DetectorModel {
  cached ??= decodeModel(shipped as DetectorModelFile);
  return cached;
}
