import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WardenError } from '../../core/index.js';

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

/** Keys are `provider/model` (preferred) or a bare model name. */
export type PriceTable = Record<string, ModelPrice>;

const priceTableSchema = z.record(
  z.string().min(1),
  z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict(),
);

/** Cost of one completion, or null when the model has no price or the provider reported no token counts. */
export function costUsd(
  prices: PriceTable,
  provider: string,
  model: string,
  promptTokens: number | null,
  completionTokens: number | null,
): number | null {
  const price = prices[`${provider}/${model}`] ?? prices[model];
  if (!price || promptTokens === null || completionTokens === null) return null;
  // Rounded to a nano-dollar: sums over millions of tasks stay exact enough, and the JSON stays short.
  return Math.round((price.input * promptTokens + price.output * completionTokens) * 1e3) / 1e9;
}

/** Reads a price table from a YAML or JSON file (WARDEN_LLM_PRICES). */
export function loadPriceTable(path: string): PriceTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new WardenError('FILE_NOT_FOUND', `Price table ${path} does not exist (WARDEN_LLM_PRICES)`, {
      details: { path },
    });
  }
  const parsed = priceTableSchema.safeParse(parseYaml(text));
  if (!parsed.success)
    throw new WardenError(
      'INVALID_INPUT',
      `Price table ${path} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}. ` +
        'Each entry is `provider/model: { input: <USD per 1M prompt tokens>, output: <USD per 1M completion tokens> }`',
      { details: { path } },
    );
  return parsed.data;
}
