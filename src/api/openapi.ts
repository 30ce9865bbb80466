// What @fastify/swagger needs to publish a usable OpenAPI 3.1 document: named component schemas, tags
// and an operationId on every operation (client generators name their methods after it).
import type { SwaggerOptions } from '@fastify/swagger';

/** The document's tags, in the order the explorer (/docs) shows them. */
export const TAGS = [
  {
    name: 'sessions',
    description: "Sessions (namespaces with their own quotas and policy) of the key's tenant",
  },
  { name: 'tasks', description: 'Submit, list, inspect, follow and cancel tasks' },
  { name: 'agents', description: 'Agent versions: register, status, health' },
  {
    name: 'routing',
    description: 'Semantic task matching (intents) and canary rollouts between agent versions',
  },
  { name: 'traces', description: 'Documents stored in a session and recorded in its provenance chain' },
  { name: 'provenance', description: 'Signed, verifiable exports of a session' },
  { name: 'memory', description: 'Cortex memory of sessions and their agents: put, search, list, forget' },
  { name: 'governance', description: 'Trace flags, quarantine, merge validation' },
  { name: 'dead-letters', description: 'Tasks that failed for good, to replay or purge' },
  { name: 'operations', description: 'Scheduler statistics and Prometheus metrics' },
  { name: 'rate-distortion', description: 'FGW distortion between graphs and refinement knees' },
  { name: 'edge', description: 'Edge nodes: invites, admitted and connected nodes, revocation' },
  { name: 'health', description: 'Liveness, without a key' },
] as const;

/**
 * A default operationId for a route that names none: the method and the literal path segments in camel
 * case (`POST /agents/:id/breaker/reset` → `postAgentsBreakerReset`); routes should name their own.
 */
export function defaultOperationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s !== '' && !s.startsWith(':'))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

/** The first path segment as a tag when it is one of TAGS, else `operations`. */
export function defaultTag(url: string): string {
  const first = url.split('/')[1] ?? '';
  const known = TAGS.find((t) => t.name === first || t.name === `${first}s`);
  return known?.name ?? (first === 'dlq' ? 'dead-letters' : 'operations');
}

export function swaggerOptions(info: { version: string }): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Warden API',
        version: info.version,
        description: 'Secure runtime and orchestrator for AI agents',
      },
      tags: TAGS.map((t) => ({ ...t })),
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas are published under their $id (components/schemas/Task), not def-0, def-1, ...
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `Schema${i}`,
    },
    transform: ({ schema, url, route }) => {
      const method = Array.isArray(route.method) ? route.method[0]! : route.method;
      const s = (schema ?? {}) as Record<string, unknown>;
      return {
        url,
        schema: {
          ...s,
          operationId: s['operationId'] ?? defaultOperationId(method, url),
          tags: s['tags'] ?? [defaultTag(url)],
        } as typeof schema,
      };
    },
  };
}
