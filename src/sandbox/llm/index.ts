export { LlmRuntime } from './llm-runtime.js';
export type { LlmRuntimeOptions } from './llm-runtime.js';
export { loadPriceTable, costUsd } from './prices.js';
export type { PriceTable, ModelPrice } from './prices.js';
export type { LocalModelOptions } from './llama.js';
export { loadNodeLlamaCpp, checkGgufHeader } from './llama.js';
export { providerMessage } from './provider.js';
