// Routing: embeddings, the vector index, semantic task matching and canary rollouts (docs/routing.md).
export { cosine, type Embedder } from './embedder.js';
export { VectorIndex, type Quantization, type VectorIndexOptions, type VectorMatch } from './vector-index.js';
export { HashEmbedder, type HashEmbedderOptions } from './hash-embedder.js';
export { OpenAiEmbedder, type OpenAiEmbedderOptions } from './openai-embedder.js';
export { LlamaEmbedder, type LlamaEmbedderOptions } from './llama-embedder.js';
export {
  openEmbedder,
  embeddingsOptionsFromEnv,
  type EmbeddingsOptions,
  type OpenEmbedderContext,
} from './embedder-config.js';
export {
  SemanticRouter,
  DEFAULT_ROUTE_THRESHOLD,
  agentTexts,
  type RouteCandidate,
  type RouteCandidateInput,
  type RouteExplanation,
  type SemanticRouterOptions,
} from './semantic-router.js';
export {
  decideCanary,
  probabilityBetter,
  sampleBeta,
  seededRandom,
  type CanaryDecision,
  type RolloutVerdict,
  type VersionOutcomes,
} from './canary.js';
export {
  RolloutRouter,
  type OutcomeSource,
  type RolloutPort,
  type RolloutRecord,
  type RolloutRouterOptions,
  type RolloutState,
} from './rollouts.js';
