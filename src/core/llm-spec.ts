import { z } from 'zod';
import { WardenError } from './errors.js';

export const LLM_PROVIDERS = ['openai', 'anthropic', 'llama'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `spec.model` of a `runtime: llm` agent. API keys are never written here: `apiKeyEnv` names the
 * environment variable (or secret) the worker reads when it calls the provider.
 */
export const llmModelSchema = z
  .object({
    provider: z.enum(LLM_PROVIDERS, { message: `must be one of ${LLM_PROVIDERS.join(', ')}` }),
    /** The provider's model name, or for `llama` the path of a GGUF file (relative to the manifest). */
    model: z.string().min(1),
    baseUrl: z
      .string()
      .regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL such as http://127.0.0.1:8080/v1')
      .optional(),
    apiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    apiKey: z
      .never({
        message:
          'API keys are never written in manifests: put the key in an environment variable and name it in apiKeyEnv',
      })
      .optional(),
    contextSize: z
      .number()
      .int()
      .min(16)
      .max(1 << 20)
      .optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z
      .number()
      .int()
      .positive()
      .max(1 << 20)
      .optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.number().int().nonnegative().optional(),
    stop: z.array(z.string().min(1)).max(16).optional(),
    /** Stream tokens as task events. @default true */
    stream: z.boolean().optional(),
    /** Longest silence from the provider mid-response before the attempt fails with LLM_STALLED. @default 30000 */
    idleTimeoutMs: z.number().int().positive().max(3_600_000).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.provider === 'llama' && m.baseUrl !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['baseUrl'],
        message: 'is not used by provider llama (a llama.cpp server is provider openai with a baseUrl)',
      });
    if (m.provider === 'llama' && m.apiKeyEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['apiKeyEnv'], message: 'is not used by provider llama' });
  });

export type LlmModelSpec = z.output<typeof llmModelSchema>;

/** `spec.prompt`: a user template, or a system and a user template. */
export const promptSchema = z.union([
  z.string().min(1),
  z.object({ system: z.string().min(1).optional(), user: z.string().min(1) }).strict(),
]);

export interface PromptSpec {
  system?: string;
  user: string;
}

export function normalizePrompt(prompt: string | PromptSpec | undefined): PromptSpec {
  if (prompt === undefined) return { user: '{{input}}' };
  return typeof prompt === 'string' ? { user: prompt } : prompt;
}

type Part = { text: string } | { path: readonly string[] };

/** A prompt template compiled once: `{{input}}` is the whole input as JSON, `{{input.a.b}}` one field. */
export interface CompiledTemplate {
  readonly source: string;
  /** Input fields the template reads, as dotted paths ('' for the whole input). */
  readonly fields: readonly string[];
  render(input: unknown): string;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const FIELD_PATH = /^input((?:\.[A-Za-z_$][\w$-]*|\.\d+)*)$/;

/**
 * Compiles a template, or throws a message naming the bad placeholder. Every `{{…}}` must be `input` or a
 * dotted path under it: a typo fails at registration, not on the first task.
 */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const expr = (m[1] ?? '').trim();
    const path = FIELD_PATH.exec(expr);
    if (!path)
      throw new Error(
        `placeholder {{${m[1]}}} must be {{input}} or {{input.field}} (a dotted path into the task input)`,
      );
    if (m.index > last) parts.push({ text: source.slice(last, m.index) });
    parts.push({ path: (path[1] ?? '').split('.').filter(Boolean) });
    last = m.index + m[0].length;
  }
  if (source.replace(PLACEHOLDER, '').includes('{{'))
    throw new Error('has an unclosed "{{" (placeholders look like {{input.field}})');
  const rest = source.slice(last);
  if (rest) parts.push({ text: rest });
  const fields = parts.filter((p): p is { path: string[] } => 'path' in p).map((p) => p.path.join('.'));
  return {
    source,
    fields,
    render(input: unknown): string {
      let out = '';
      for (const p of parts) out += 'text' in p ? p.text : stringify(lookup(input, p.path));
      return out;
    },
  };
}

function lookup(input: unknown, path: readonly string[]): unknown {
  let at: unknown = input;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !Object.prototype.hasOwnProperty.call(at, key)) {
      throw new WardenError(
        'INVALID_INPUT',
        `The prompt template needs input.${path.join('.')}, which the task input does not have`,
        { details: { field: `input.${path.join('.')}` } },
      );
    }
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function stringify(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The chat messages a prompt renders to for one input. */
export interface RenderedPrompt {
  system?: string;
  user: string;
}

export interface CompiledPrompt {
  readonly system?: CompiledTemplate;
  readonly user: CompiledTemplate;
  render(input: unknown): RenderedPrompt;
}

export function compilePrompt(prompt: PromptSpec): CompiledPrompt {
  const system = prompt.system === undefined ? undefined : compileTemplate(prompt.system);
  const user = compileTemplate(prompt.user);
  return {
    ...(system ? { system } : {}),
    user,
    render(input) {
      return { ...(system ? { system: system.render(input) } : {}), user: user.render(input) };
    },
  };
}
