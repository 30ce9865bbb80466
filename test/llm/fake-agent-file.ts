import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';

// Apart from fake-provider.ts, which must not import vitest (helpers.js does): bench/llm.bench.ts runs the
// fake provider in a plain child process.
/**
 * Writes the manifest of an `llm` agent that talks to a fake provider (OpenAI wire format, key from FAKE_KEY)
 * to a temporary file and returns its path. `spec` adds lines (indented two spaces) to its spec. A version is
 * immutable and the provider's port changes from test to test: give each test's agent its own name.
 */
export function fakeLlmAgentFile(baseUrl: string, name: string, spec = ''): string {
  const path = join(tempDir(), `${name}.yaml`);
  writeFileSync(
    path,
    `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: 1.0.0 }
spec:
  runtime: llm
  model: { provider: openai, model: fake-model, baseUrl: "${baseUrl}", apiKeyEnv: FAKE_KEY }
  prompt: "Repeat: {{input.text}}"
${spec}`,
  );
  return path;
}
