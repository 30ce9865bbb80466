import type { AgentManifest } from '../core/index.js';
import { cosine, type Embedder } from './embedder.js';

/** An agent version routing may pick, with what is known of its past runs. */
export interface RouteCandidateInput {
  key: string;
  manifest: AgentManifest;
  /** Finished tasks and their success rate (KPIs); absent or 0 finished: no history yet. */
  history?: { finished: number; succeeded: number };
}

/** One candidate's scores, as `warden route explain` prints them. */
export interface RouteCandidate {
  agent: string;
  name: string;
  version: string;
  /** What ranks the candidates: similarity weighted by fitness. */
  score: number;
  /** Cosine similarity of the intent to the closest of the agent's texts; the threshold applies to it. */
  similarity: number;
  /** The agent's text that matched best (its description, an example, or its name and capabilities). */
  matched: string;
  /** Posterior mean success rate, (succeeded + 1) / (finished + 2): 0.5 without history. */
  fitness: number;
}

export interface RouteExplanation {
  intent: string;
  threshold: number;
  /** The best candidate at or above the threshold; null: no agent matches (NO_MATCHING_AGENT). */
  chosen: RouteCandidate | null;
  /** Every candidate, best first. */
  candidates: RouteCandidate[];
}

export interface SemanticRouterOptions {
  /**
   * Similarity below which no agent is chosen. The default suits the built-in embeddings; a model's
   * embeddings spread differently: measure with `warden route explain`. @default 0.2
   */
  threshold?: number;
  /** How much past success moves the ranking: score = similarity x (1 - w + w x fitness). @default 0.2 */
  fitnessWeight?: number;
}

export const DEFAULT_ROUTE_THRESHOLD = 0.2;

/**
 * Similarity = (1 - w) x (closest single text) + w x (the agent's centroid): one close example counts, and so
 * does the agent's vocabulary as a whole. w = 0.7 was chosen by leave-one-example-out routing of the routing
 * example's agents (examples/routing), not on the held-out intents the tests measure.
 */
const CENTROID_WEIGHT = 0.7;

interface AgentTexts {
  texts: string[];
  vectors: Float32Array[];
  /** The normalised mean of the texts' vectors: the agent's vocabulary as a whole. */
  centroid: Float32Array;
}

/** How many intents' vectors are kept: repeated intents (a client's fixed phrasings) skip the embedder. */
const INTENT_CACHE = 512;

/**
 * Semantic task matching: an intent in users' words is compared with each agent version's description,
 * examples, and name and capabilities; the closest wins, nudged by the version's past success. Versions
 * are immutable, so each version's texts are embedded once.
 */
export class SemanticRouter {
  readonly threshold: number;
  private readonly fitnessWeight: number;
  private readonly agentTexts = new Map<string, Promise<AgentTexts>>();
  private readonly intents = new Map<string, Promise<Float32Array>>();

  constructor(
    readonly embedder: Embedder,
    options: SemanticRouterOptions = {},
  ) {
    this.threshold = options.threshold ?? DEFAULT_ROUTE_THRESHOLD;
    this.fitnessWeight = options.fitnessWeight ?? 0.2;
  }

  async explain(intent: string, candidates: readonly RouteCandidateInput[]): Promise<RouteExplanation> {
    const [query, ...texts] = await Promise.all([
      this.intentVector(intent),
      ...candidates.map((c) => this.textsOf(c)),
    ]);
    const scored = candidates.map((c, i): RouteCandidate => {
      const { texts: own, vectors, centroid } = texts[i]!;
      let closest = -1;
      let matched = '';
      for (let j = 0; j < vectors.length; j++) {
        const s = cosine(query!, vectors[j]!);
        if (s > closest) [closest, matched] = [s, own[j]!];
      }
      const similarity = Math.max(
        0,
        (1 - CENTROID_WEIGHT) * closest + CENTROID_WEIGHT * cosine(query!, centroid),
      );
      const finished = c.history?.finished ?? 0;
      const fitness = ((c.history?.succeeded ?? 0) + 1) / (finished + 2);
      return {
        agent: c.key,
        name: c.manifest.name,
        version: c.manifest.version,
        score: similarity * (1 - this.fitnessWeight + this.fitnessWeight * fitness),
        similarity,
        matched,
        fitness,
      };
    });
    scored.sort((a, b) => b.score - a.score || a.agent.localeCompare(b.agent));
    const chosen = scored.find((c) => c.similarity >= this.threshold) ?? null;
    return { intent, threshold: this.threshold, chosen, candidates: scored };
  }

  private intentVector(intent: string): Promise<Float32Array> {
    let v = this.intents.get(intent);
    if (v) {
      // Refresh its place: the map's order is the eviction order.
      this.intents.delete(intent);
      this.intents.set(intent, v);
      return v;
    }
    v = this.embedder.embed([intent]).then(([vector]) => vector!);
    v.catch(() => this.intents.delete(intent));
    this.intents.set(intent, v);
    if (this.intents.size > INTENT_CACHE) this.intents.delete(this.intents.keys().next().value!);
    return v;
  }

  private textsOf(c: RouteCandidateInput): Promise<AgentTexts> {
    let t = this.agentTexts.get(c.key);
    if (!t) {
      const texts = agentTexts(c.manifest);
      t = this.embedder.embed(texts).then((vectors) => ({ texts, vectors, centroid: centroidOf(vectors) }));
      t.catch(() => this.agentTexts.delete(c.key));
      this.agentTexts.set(c.key, t);
    }
    return t;
  }
}

/** What an agent is matched on: its description, each example, and its name with its capabilities. */
export function agentTexts(m: AgentManifest): string[] {
  const words = (s: string) => s.replace(/[-_.]+/g, ' ');
  const texts = [[words(m.name), ...m.capabilities.map(words)].join(' ')];
  if (m.description) texts.push(m.description);
  for (const e of m.examples ?? []) texts.push(e);
  return texts;
}

function centroidOf(vectors: readonly Float32Array[]): Float32Array {
  const c = new Float32Array(vectors[0]?.length ?? 0);
  for (const v of vectors) for (let i = 0; i < c.length; i++) c[i]! += v[i]!;
  let norm = 0;
  for (const x of c) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < c.length; i++) c[i]! /= norm;
  return c;
}
